"""Clicking Slack buttons in integration tests: the local Slack server plays Slack (it holds the
messages, mints the response_url, signs the block_actions payload with the app's secret), the
interact function answers under functions-framework's test client, and the act worker is driven
by hand from the `interactions` topic (so a test can hold the worker stopped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from sandbox.slack_api import SlackApiServer
from shared.interaction.request import parse_message
from shared.interaction.worker import Outcome, Worker
from shared.slack.signing import sign
from tests.pipeline import cloud_event

ROOT = Path(__file__).resolve().parents[1]
SECRET = "integration-signing-secret"
ONCALL_GROUP = "S0ONCALL"
ONCALL = "UONCALL"  # in the on-call group: may silence and take over
APPROVER = "UAPPROVER"  # in ALERTLOOP_APPROVERS: may approve (and, by default, nothing more)
INTRUDER = "UINTRUDER"  # in no list
PERMISSIONS = (
    '{"approve": ["S0ONCALL"], "silence": ["S0ONCALL"], "take_over": ["S0ONCALL"], '
    '"acknowledge": ["*"], "verdict": ["*"]}'
)


def configure(slack: SlackApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Slack app's signing secret and the workspace's on-call group, on both sides."""
    from functions.interact import _Clients
    from tests.conftest import reset_settings

    _Clients.groups = None  # interact's per-instance group cache: a fresh instance per test
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("ALERTLOOP_APPROVERS", APPROVER)
    monkeypatch.setenv("ALERTLOOP_SLACK_PERMISSIONS", PERMISSIONS)
    monkeypatch.setenv("ALERTLOOP_SLACK_TEAMS", "T0ALERTLOOP")  # the local Slack's workspace
    slack.signing_secret = SECRET
    slack.usergroups[ONCALL_GROUP] = [ONCALL]
    reset_settings()


def interact_client() -> Any:
    return create_app("interact", str(ROOT / "main.py"), "http").test_client()


# Fixtures of the modules that click: import them by name (pytest finds them in the module).
@pytest.fixture
def slack(topics: Any, slack_api: SlackApiServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The local Slack server, set up as the Slack app: signing secret, on-call group."""
    configure(slack_api, monkeypatch)
    return slack_api


@pytest.fixture
def client(slack: SlackApiServer) -> Any:
    """interact, under functions-framework's test client."""
    return interact_client()


def click(
    client: Any,
    slack: SlackApiServer,
    action_id: str,
    user: str,
    value: str | None = None,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> Any:
    """A person clicks a button on a message the local Slack server holds; interact's answer."""
    body, headers = slack.click_request(action_id, user, value)
    if secret != SECRET or timestamp is not None:
        headers = sign(body, secret, timestamp)
    return client.post("/", data=body, headers=headers)


def queued(topics: Any) -> list[Any]:
    """Clicks waiting in the `interactions` topic (pulled: the test delivers them)."""
    return topics.pull("interactions", timeout=1.5)


def act(topics: Any, worker: Worker | None = None) -> list[Outcome | None]:
    """Deliver every queued click to the act worker, as its push subscription would."""
    worker = worker or Worker()
    return [worker.handle(parse_message(bytes(m.message.data))) for m in queued(topics)]


def deliver(worker: Worker, message: Any) -> None:
    """One pulled message, delivered like a push (for redelivery tests)."""
    worker(cloud_event(message))


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        e["action_id"]
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if "url" not in e
    ]

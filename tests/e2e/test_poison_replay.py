"""A stage that cannot finish is dead-lettered, told to Slack with the exact replay command, and
`alertloop replay` completes the run once the cause is fixed. A malformed message is set aside
and told to Slack, never retried forever."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.stack import Stack, fire, wait_for
from shared.ledger import Ledger
from shared.model import utcnow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    env = {"ALERTLOOP_MAX_STAGE_ATTEMPTS": "2"}
    with Stack(tmp_path_factory.mktemp("stack"), env_overrides=env) as st:
        yield st


def alertloop(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "alertloop"
    env = {**os.environ, **stack.function_env()}
    return subprocess.run(
        [str(cli), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_dead_lettered_stage_is_replayed_to_completion(stack: Stack, monkeypatch) -> None:
    # The fault: the next stage's topic is gone (as if its IAM binding were revoked), so
    # investigate can finish its work but can never publish onward.
    stack.delete_topic("remediate")
    marker = f"replay-{time.monotonic_ns()}"
    body = {
        "event_type": "alert-fired",
        "client_payload": {
            "alert_type": "ApplicationDown",
            "severity": "critical",
            "annotations": {"summary": marker},
        },
    }
    resp = fire(stack.ingest_url, body)
    run_id = resp.json()["results"][0]["run_id"]
    wait_for(lambda: stack.slack.find_parent(marker) is not None, 60, "parent")
    parent = stack.slack.find_parent(marker)

    def notice() -> str:
        return next((r.text for r in stack.slack.replies(parent.ts) if "set aside" in r.text), "")

    wait_for(lambda: bool(notice()), 90, "the dead-letter notice in the thread")
    assert f"alertloop replay {run_id} --from investigate" in notice()
    monkeypatch.setenv("ALERTLOOP_TOPIC_PREFIX", "alertloop-")
    from shared.config import settings

    settings.cache_clear()
    assert Ledger().get_run(run_id)["state"] == "failed"

    stack.create_topic("remediate")  # the fix
    out = alertloop(stack, "replay", run_id, "--from", "investigate")
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for(
        lambda: any(r.text.startswith("Remediation") for r in stack.slack.replies(parent.ts)),
        90,
        "remediation after the replay",
    )
    run = Ledger().get_run(run_id)
    assert run["state"] == "remediated"
    assert run["findings"]["remediate"]["status"] in ("ok", "skipped", "error")


def test_malformed_message_is_set_aside_and_told(stack: Stack) -> None:
    from google.cloud import pubsub_v1

    garbage = f"not an envelope {utcnow().isoformat()}".encode()
    pubsub_v1.PublisherClient().publish(
        "projects/alertloop-local/topics/alertloop-investigate", garbage
    ).result(timeout=30)
    wait_for(
        lambda: any("malformed message" in p.text for p in stack.slack.parents()),
        60,
        "the poison notice",
    )
    listed = alertloop(stack, "replay", "--list-dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert (
        base64.b64encode(garbage).decode()[:10] in listed.stdout
        or "not an envelope" in listed.stdout
    )

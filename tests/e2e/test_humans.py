"""People in the loop on the whole local stack, as `make run` runs it: a real Prometheus rule
fires through a real Alertmanager; the incident's Slack parent carries the buttons; clicks are
sent as Slack sends them (`alertloop click`: signed with the app's secret) to interact; the act
worker acknowledges, silences in that Alertmanager, records a verdict; the alert clears while
silenced (no resolve comes) and the sweeper — fed by the stack's timer — resolves it; loop health
reports the verdict. And a click made while the worker is down waits for it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from sandbox.monitoring import Monitoring, rule
from sandbox.procs import free_port
from sandbox.slack_api import SlackMessage
from sandbox.stack import LOCAL_TOKEN, LOCAL_USER, Stack, wait_for
from shared.cli import main
from shared.ledger import Ledger
from tests.clicks import buttons
from tests.conftest import reset_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Monitoring]]:
    work = tmp_path_factory.mktemp("humans")
    am_port = free_port()
    env = {
        "ALERTMANAGER_URL": f"http://127.0.0.1:{am_port}",
        # Sweep incidents (and trust an Alertmanager) older than 3 s: the test's timescale.
        "ALERTLOOP_SWEEP_MIN_AGE_MINUTES": "0.05",
    }
    stack = Stack(work / "stack", env_overrides=env, sweep_interval=1.0)
    stack.ports["ingest"] = free_port()
    rules = [
        rule(
            "ApplicationDown",
            "sandbox_app_up < 1",
            "critical",
            "api is down",
            namespace="shop",
            deployment="api",
        )
    ]
    mon = Monitoring(work / "monitoring", stack.ingest_url, LOCAL_TOKEN, rules, am_port=am_port)
    with stack, mon:
        yield stack, mon


def click(stack: Stack, action: str, *more: str) -> int:
    """`alertloop click` against this stack (what `make run` users type)."""
    assert stack.slack is not None
    return main(
        [
            "click",
            action,
            "--url",
            stack.interact_url,
            "--slack-url",
            stack.slack.url,
            "--secret",
            stack.slack.signing_secret,
            "--user",
            LOCAL_USER,
            *more,
        ]
    )


def shows(msg: SlackMessage, text: str) -> bool:
    return text in json.dumps(msg.blocks)


def test_buttons_do_what_they_say_and_the_sweeper_resolves_a_silenced_alert(
    loop: tuple[Stack, Monitoring], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, mon = loop
    slack = stack.slack
    assert slack is not None
    mon.exporter.set("sandbox_app_up", 0, namespace="shop", deployment="api")
    wait_for(lambda: slack.find_parent("api is down") is not None, 90, "Slack parent")
    parent = slack.find_parent("api is down")
    assert parent is not None
    for button in ("acknowledge", "silence_1h", "take_over", "verdict_noise"):
        assert button in buttons(parent.blocks), button

    assert click(stack, "acknowledge") == 0
    assert "interact answered 200" in capsys.readouterr().out
    wait_for(lambda: shows(parent, f"Acknowledged by <@{LOCAL_USER}>"), 30, "acknowledged")
    assert "acknowledge" not in buttons(parent.blocks)
    wait_for(lambda: bool(slack.responses_for(LOCAL_USER)), 30, "the reply to the clicker")

    assert click(stack, "silence_1h") == 0
    wait_for(lambda: shows(parent, "Silenced in Alertmanager until"), 30, "silenced")
    silences = requests.get(f"{mon.alertmanager_url}/api/v2/silences", timeout=5).json()
    (mine,) = [s for s in silences if s["createdBy"] == "alertloop"]
    assert {m["name"]: m["value"] for m in mine["matchers"]} == {
        "alertname": "ApplicationDown",
        "namespace": "shop",
        "deployment": "api",
        "severity": "critical",
    }

    # The alert clears while silenced: Alertmanager mutes the resolve; the sweeper sees it gone.
    mon.exporter.set("sandbox_app_up", 1, namespace="shop", deployment="api")
    wait_for(
        lambda: any("seen by the sweeper" in r.text for r in slack.replies(parent.ts)),
        120,
        "the sweeper's resolve",
    )
    wait_for(lambda: parent.text.startswith("[RESOLVED]"), 30, "the parent resolved")

    assert click(stack, "verdict_noise") == 0
    wait_for(lambda: shows(parent, "Verdict: *Noise*"), 30, "the verdict")
    reset_settings()
    capsys.readouterr()
    assert main(["health", "--json", "--days", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["false_positive_verdict_share"] > 0
    assert report["by_alert_type"]["ApplicationDown"]["false_positive_rate"] == 1.0


def test_a_click_waits_in_the_topic_while_the_worker_is_down(
    loop: tuple[Stack, Monitoring], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, _ = loop
    slack = stack.slack
    assert slack is not None
    reset_settings()
    resp = requests.post(
        stack.ingest_url,
        json={
            "event_type": "alert-fired",
            "client_payload": {
                "alert_type": "HighMemoryUsage",
                "labels": {"namespace": "shop", "deployment": "cart"},
                "annotations": {"summary": "cart memory e2e-worker-down"},
            },
        },
        headers={"Authorization": f"Bearer {LOCAL_TOKEN}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    wait_for(lambda: slack.find_parent("e2e-worker-down") is not None, 60, "Slack parent")
    parent = slack.find_parent("e2e-worker-down")
    assert parent is not None
    incident = _incident_of(parent)
    stack.kill_function("act")
    stack.hold_pushes("interactions")
    assert click(stack, "take_over", "--incident", incident) == 0
    assert "interact answered 200" in capsys.readouterr().out
    assert "take_over" in buttons(parent.blocks)  # nothing done yet: the worker is down
    assert not (Ledger().get_incident(incident) or {}).get("hands_off")
    stack.restart_function("act")
    stack.resume_pushes("interactions")
    wait_for(lambda: shows(parent, f"Taken over by <@{LOCAL_USER}>"), 60, "the queued take-over")
    assert "resume_automation" in buttons(parent.blocks)


def _incident_of(msg: SlackMessage) -> str:
    for block in msg.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == "acknowledge":
                return str(element["value"])
    raise AssertionError("the parent has no Acknowledge button")

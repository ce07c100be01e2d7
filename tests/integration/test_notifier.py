"""notify against the local Slack Web API server and the Firestore emulator: it projects the
incident as the ledger holds it, whatever the message says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.bus import Bus
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.ledger import Ledger
from shared.messages import NotifyMessage
from shared.model import Finding, utcnow
from shared.notifier import Notifier
from shared.policy import load_policy
from shared.run import Run
from tests.seed import intake, make_alert, seed_run

pytestmark = pytest.mark.integration


def seed(**annotations: str) -> Run:
    alert = make_alert(
        "ApplicationDown",
        labels={"namespace": "shop", "deployment": "api"},
        annotations=annotations,
    )
    return seed_run(Ledger(), alert)


def note(run: Run) -> NotifyMessage:
    return NotifyMessage(id=run.incident_id, run_id=run.run_id)


def test_one_parent_updated_in_place_and_one_reply_per_finding(topics, slack_api) -> None:
    run = seed(summary="api is down")
    ledger = Ledger()
    notifier = Notifier()
    notifier(note(run))
    notifier(note(run))  # redelivery: nothing new
    assert len(slack_api.parents()) == 1 and slack_api.parents()[0].updates == 0
    finding = Finding(stage="investigate", status="ok", summary="3 pods in CrashLoopBackOff")
    ledger.record_finding(run.run_id, finding)
    for _ in range(3):
        notifier(note(run))
    parent = slack_api.parents()[0]
    assert parent.updates == 1
    assert "INVESTIGATED" in parent.blocks[0]["text"]["text"]
    replies = slack_api.replies(parent.ts)
    assert len(replies) == 1 and "CrashLoopBackOff" in replies[0].text
    incident = ledger.get_incident(run.incident_id)
    assert incident["slack"]["ts"] == parent.ts
    assert incident["slack"]["replies"][f"{run.run_id}:{finding.key}"] == replies[0].ts


def test_a_forced_rerun_of_a_stage_posts_its_new_finding(topics, slack_api) -> None:
    run = seed(summary="x")
    ledger = Ledger()
    first = Finding(stage="investigate", status="ok", summary="first look")
    ledger.record_finding(run.run_id, first)
    Notifier()(note(run))
    again = Finding(
        stage="investigate",
        status="ok",
        summary="second look",
        started=first.started + timedelta(seconds=5),
    )
    ledger.record_finding(run.run_id, again)  # replay --force re-ran the stage
    Notifier()(note(run))
    texts = [r.text for r in slack_api.replies(slack_api.parents()[0].ts)]
    assert ["first look" in t for t in texts] == [True, False]
    assert ["second look" in t for t in texts] == [False, True]


def test_resolution_updates_the_parent_and_says_how_long(topics, slack_api) -> None:
    ledger = Ledger()
    alert = make_alert("ApplicationDown", labels={"namespace": "shop", "deployment": "api"})
    run = seed_run(ledger, alert)
    Notifier()(note(run))
    ends = alert.starts_at + timedelta(minutes=12)
    gone = alert.model_copy(update={"status": "resolved", "ends_at": ends})
    result = dispatch_alert(intake(gone), load_policy(), settings(), ledger, Bus())
    assert result.outcome == "resolved"
    Notifier()(note(run))
    parent = slack_api.parents()[0]
    assert parent.blocks[0]["text"]["text"].startswith("RESOLVED after 12 min")
    assert any("Resolved after 12 min" in r.text for r in slack_api.replies(parent.ts))


def test_the_message_is_a_pointer_the_ledger_is_the_truth(topics, slack_api) -> None:
    """A stale or replayed message cannot post old state: notify renders the ledger."""
    ledger = Ledger()
    alert = make_alert("ApplicationDown", labels={"namespace": "shop", "deployment": "api"})
    run = seed_run(ledger, alert)
    gone = alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), load_policy(), settings(), ledger, Bus())
    Notifier()(note(run))  # the first notify message arrives only now
    header = slack_api.parents()[0].blocks[0]["text"]["text"]
    assert header.startswith("RESOLVED")


def test_rate_limits_and_server_errors_are_retried_by_slack_sdk(topics, slack_api) -> None:
    run = seed(summary="x")
    slack_api.faults = [429, 429, 500]
    Notifier()(note(run))
    assert len(slack_api.parents()) == 1
    statuses = [s for m, s in slack_api.calls if m == "chat.postMessage"]
    assert statuses == [429, 429, 500, 200]


def test_bad_token_is_recorded_not_retried_forever(topics, slack_api, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    settings.cache_clear()
    run = seed(summary="x")
    Notifier()(note(run))  # does not raise: retrying cannot fix a bad token
    assert slack_api.parents() == []
    assert "invalid_auth" in Ledger().get_incident(run.incident_id)["slack"]["error"]


def test_without_a_token_the_message_goes_to_the_log(topics, monkeypatch, caplog) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings.cache_clear()
    run = seed(summary="api is down <!channel>")
    with caplog.at_level("INFO"):
        Notifier()(note(run))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "no token" in logged and "api is down &lt;!channel&gt;" in logged

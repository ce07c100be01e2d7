"""Silences from Slack and the sweeper against a real Alertmanager (Debian's, started here):
the silence carries exact matchers on the alert's labels and hits that alert only; Unsilence
expires it; an alert that clears while silenced (Alertmanager sends no resolve) is resolved by
the sweeper; Alertmanager unreachable or just restarted never leads to a resolve."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.alertmanager import LocalAlertmanager
from sandbox.slack_api import SlackApiServer
from shared.ledger import Ledger
from shared.model import utcnow
from shared.notifier import Notifier
from shared.run import Run
from shared.sweeper import Sweeper
from tests.clicks import ONCALL, act, buttons, click, configure, interact_client
from tests.conftest import reset_settings
from tests.pipeline import notify_all
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlertmanager]:
    with LocalAlertmanager(tmp_path_factory.mktemp("alertmanager")) as am:
        yield am


@pytest.fixture
def slack(
    topics: Any,
    slack_api: SlackApiServer,
    alertmanager: LocalAlertmanager,
    monkeypatch: pytest.MonkeyPatch,
) -> SlackApiServer:
    configure(slack_api, monkeypatch)
    monkeypatch.setenv("ALERTMANAGER_URL", alertmanager.url)
    monkeypatch.setenv("ALERTLOOP_SWEEP_MIN_AGE_MINUTES", "0")
    reset_settings()
    return slack_api


def firing(
    am: LocalAlertmanager, name: str, deployment: str, minutes_ago: float = 10, **extra: str
) -> Run:
    """An alert Prometheus pushed to Alertmanager, and its run as the webhook made it."""
    labels = {
        "alertname": name,
        "namespace": "shop",
        "deployment": deployment,
        "severity": "critical",
        "pod": f"{deployment}-7d9f-x2x",
        **extra,
    }
    starts = (utcnow() - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    am.fire(labels, starts, summary=f"{name} on {deployment}")
    alert = make_alert(
        name,
        labels=labels,
        starts_at=starts,
        fingerprint=am.fingerprint(labels),
    )
    run = seed_run(Ledger(), alert, plan=[], received_at=starts + timedelta(seconds=30))
    Ledger().update_incident(run.incident_id, {"opened_at": starts + timedelta(seconds=30)})
    Notifier().project_incident(run.incident_id)
    return run


def held(am: LocalAlertmanager, run: Run) -> dict[str, Any]:
    return next(a for a in am.alerts() if a["fingerprint"] == run.alert.fingerprint)


def parent_of(slack: SlackApiServer, run: Run) -> Any:
    inc = Ledger().get_incident(run.incident_id) or {}
    msg = slack.message(inc["slack"]["ts"])
    assert msg is not None
    return msg


def test_silence_from_slack_hits_exactly_the_alert_and_unsilence_expires_it(
    slack: SlackApiServer, alertmanager: LocalAlertmanager, topics: Any
) -> None:
    run = firing(alertmanager, "HighErrorRate", "checkout")
    # Another alert of the same rule on another pod: the silence must not hit it.
    sibling = firing(alertmanager, "HighErrorRate", "checkout", pod="checkout-7d9f-other")
    client = interact_client()
    answer = click(client, slack, "silence_4h", ONCALL, run.incident_id).get_json()
    assert answer["outcome"] == "queued"
    # A second click, sent before the parent changed, does not stack a second silence.
    click(client, slack, "silence_1h", ONCALL, run.incident_id)
    outcome, again = act(topics)
    assert outcome is not None and outcome.result == "done", outcome
    assert again is not None and again.result == "unchanged"
    assert "Already silenced until" in again.message
    assert len([s for s in alertmanager.silences() if run.incident_id in s["comment"]]) == 1

    inc = Ledger().get_incident(run.incident_id) or {}
    (record,) = inc["silences"].values()
    mine = next(s for s in alertmanager.silences() if s["id"] == record["id"])
    assert mine["status"]["state"] == "active" and mine["createdBy"] == "alertloop"
    assert sorted(
        (m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in mine["matchers"]
    ) == [(k, v, False, True) for k, v in sorted(run.alert.labels.items())]
    assert ONCALL in mine["comment"] and run.incident_id in mine["comment"]
    ends = datetime.fromisoformat(mine["endsAt"].replace("Z", "+00:00"))
    assert timedelta(hours=3, minutes=59) < ends - utcnow() <= timedelta(hours=4)
    assert held(alertmanager, run)["status"]["state"] == "suppressed"
    assert held(alertmanager, sibling)["status"]["state"] == "active"  # not more than the alert
    parent = parent_of(slack, run)
    assert buttons(parent.blocks)[:1] == ["acknowledge"] and "unsilence" in buttons(parent.blocks)
    assert "silence_1h" not in buttons(parent.blocks)
    assert "Silenced in Alertmanager until" in json.dumps(parent.blocks)
    assert "Silenced 1 alert(s)" in slack.responses_for(ONCALL)[0].text

    click(client, slack, "unsilence", ONCALL, run.incident_id)
    (undone,) = act(topics)
    assert undone is not None and undone.result == "done"
    gone = next(s for s in alertmanager.silences() if s["id"] == record["id"])
    assert gone["status"]["state"] == "expired"
    assert held(alertmanager, run)["status"]["state"] == "active"
    inc = Ledger().get_incident(run.incident_id) or {}
    assert inc["silences"][record["id"]]["status"] == "expired"
    assert "silence_1h" in buttons(parent_of(slack, run).blocks)


def test_a_silenced_alert_that_clears_is_resolved_by_the_sweeper(
    slack: SlackApiServer, alertmanager: LocalAlertmanager, topics: Any
) -> None:
    run = firing(alertmanager, "ApplicationDown", "api")
    still = firing(alertmanager, "ApplicationDown", "cart")
    click(interact_client(), slack, "silence_1h", ONCALL, run.incident_id)
    act(topics)
    # The rule stops firing while silenced: Alertmanager mutes the resolve, alertloop never
    # hears of it — the alert is simply no longer in Alertmanager.
    alertmanager.clear(run.alert.labels, run.alert.starts_at)
    assert not any(a["fingerprint"] == run.alert.fingerprint for a in alertmanager.alerts())

    report = Sweeper().sweep()
    assert report.resolved == [run.run_id] and report.skipped == ""
    swept = Ledger().get_run(run.run_id) or {}
    assert swept["status"] == "resolved" and swept["resolved_by"] == "sweeper"
    assert (Ledger().get_incident(run.incident_id) or {})["status"] == "resolved"
    assert (Ledger().get_run(still.run_id) or {})["status"] == "firing"  # left alone
    notify_all(topics)
    parent = parent_of(slack, run)
    assert parent.blocks[0]["text"]["text"].startswith("RESOLVED")
    (reply,) = slack.replies(parent.ts)
    assert "Resolved" in reply.text and "seen by the sweeper" in reply.text
    assert "Alertmanager sent no resolve" in reply.text
    # Sweeping again changes nothing; a late resolve from Alertmanager is a duplicate.
    assert Sweeper().sweep().resolved == []


def test_a_silence_made_in_alertmanager_is_recorded_and_shown(
    slack: SlackApiServer, alertmanager: LocalAlertmanager, topics: Any
) -> None:
    import requests

    run = firing(alertmanager, "HighMemoryUsage", "search")
    now = datetime.now(UTC)
    body = {
        "matchers": [
            {"name": "deployment", "value": "search", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "HighMemoryUsage", "isRegex": False, "isEqual": True},
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=2)).isoformat(),
        "createdBy": "jane@example.com",
        "comment": "maintenance",
    }
    sid = requests.post(f"{alertmanager.url}/api/v2/silences", json=body, timeout=5).json()[
        "silenceID"
    ]
    report = Sweeper().sweep()
    assert run.run_id in report.silenced and report.resolved == []
    inc = Ledger().get_incident(run.incident_id) or {}
    assert inc["silences"][sid]["source"] == "alertmanager"
    assert inc["silences"][sid]["by_name"] == "jane@example.com"
    assert (Ledger().get_run(run.run_id) or {})["silenced_by"] == [sid]
    notify_all(topics)
    shown = json.dumps(parent_of(slack, run).blocks)
    assert sid in shown and "seen by the sweeper" in shown
    requests.delete(f"{alertmanager.url}/api/v2/silence/{sid}", timeout=5)


def test_alertmanager_unreachable_or_restarted_never_resolves(
    slack: SlackApiServer,
    alertmanager: LocalAlertmanager,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    run = firing(alertmanager, "KubePodCrashLooping", "payments")
    alertmanager.clear(run.alert.labels, run.alert.starts_at)  # gone from Alertmanager
    monkeypatch.setenv("ALERTMANAGER_URL", "http://127.0.0.1:9")
    reset_settings()
    with caplog.at_level(logging.WARNING):
        report = Sweeper(retry_delays=(0.05, 0.05)).sweep()
    assert report.resolved == [] and "unreachable" in report.skipped
    assert "nothing resolved, the next sweep retries" in caplog.text
    assert (Ledger().get_run(run.run_id) or {})["status"] == "firing"

    # An Alertmanager that started a moment ago (without its data) knows nothing yet.
    with LocalAlertmanager(tmp_path / "fresh") as fresh:
        monkeypatch.setenv("ALERTMANAGER_URL", fresh.url)
        monkeypatch.setenv("ALERTLOOP_SWEEP_MIN_AGE_MINUTES", "5")
        reset_settings()
        report = Sweeper().sweep()
        assert report.resolved == [] and "started" in report.skipped
    assert (Ledger().get_run(run.run_id) or {})["status"] == "firing"

    # Without ALERTMANAGER_URL the sweeper says so and does nothing.
    monkeypatch.delenv("ALERTMANAGER_URL")
    reset_settings()
    assert "ALERTMANAGER_URL is not set" in Sweeper().sweep().skipped


def test_a_silence_wider_than_the_incident_needs_a_second_explicit_click(
    slack: SlackApiServer, alertmanager: LocalAlertmanager, topics: Any
) -> None:
    """A sparse alert's exact matchers also match every alert whose labels include them: the
    real Alertmanager is asked (GET /api/v2/alerts?filter=...) first; nothing is silenced until
    a second, explicit click (issue 21, item 7)."""
    run = firing(alertmanager, "KubeDeploymentDown", "search")
    more_specific = {**run.alert.labels, "container": "indexer"}
    alertmanager.fire(more_specific, utcnow() - timedelta(minutes=5), summary="not ours")
    client = interact_client()
    click(client, slack, "silence_4h", ONCALL, run.incident_id)
    (outcome,) = act(topics)
    assert outcome is not None and outcome.result == "unchanged", outcome
    assert "would also mute 1 alert(s)" in outcome.message and "indexer" in outcome.message
    assert [s for s in alertmanager.silences() if run.incident_id in s["comment"]] == []
    parent = parent_of(slack, run)
    assert "silence_wide_4h" in buttons(parent.blocks) and "silence_4h" not in buttons(
        parent.blocks
    )
    assert "would also mute 1 other alert(s)" in json.dumps(parent.blocks)
    # The second, explicit click silences, knowingly.
    click(client, slack, "silence_wide_4h", ONCALL, run.incident_id)
    (confirmed,) = act(topics)
    assert confirmed is not None and confirmed.result == "done", confirmed
    held_states = {
        a["labels"].get("container", ""): a["status"]["state"]
        for a in alertmanager.alerts()
        if a["labels"].get("alertname") == "KubeDeploymentDown"
    }
    assert held_states == {"": "suppressed", "indexer": "suppressed"}
    assert (Ledger().get_incident(run.incident_id) or {}).get("silence_pending") is None

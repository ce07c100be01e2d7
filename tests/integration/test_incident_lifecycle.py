"""Incident lifecycle in Slack: flapping reopens the thread; storms get one digest per group."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.bus import Bus
from shared.config import settings
from shared.envelope import Alert, Envelope, utcnow
from shared.intake import accept
from shared.ledger import Ledger
from shared.notifier import Notifier
from shared.policy import load_policy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())


def webhook(status: str, starts: str, ends: str = "0001-01-01T00:00:00Z") -> dict:
    body = copy.deepcopy(SAMPLE)
    body["status"] = status
    body["alerts"] = [dict(body["alerts"][0], status=status, startsAt=starts, endsAt=ends)]
    return body


def notify_all(topics) -> None:
    notifier = Notifier()
    for m in topics.pull("notify"):
        notifier(Envelope.from_bytes(m.message.data))


def test_refire_within_holddown_reopens_the_same_thread(topics, slack_api) -> None:
    ledger, bus, policy = Ledger(), Bus(), load_policy()
    t0 = utcnow() - timedelta(minutes=20)
    first = accept(webhook("firing", t0.isoformat()), settings(), policy, ledger, bus)
    notify_all(topics)
    ends = (t0 + timedelta(minutes=5)).isoformat()
    accept(webhook("resolved", t0.isoformat(), ends), settings(), policy, ledger, bus)
    notify_all(topics)
    # Alertmanager opens a new alert instance (new startsAt) minutes later: flapping.
    again = (utcnow() - timedelta(minutes=2)).isoformat()
    second = accept(webhook("firing", again), settings(), policy, ledger, bus)
    notify_all(topics)

    run1, run2 = first.results[0]["run_id"], second.results[0]["run_id"]
    assert run1 != run2
    assert ledger.get_run(run2)["reopens"] == run1
    assert len(slack_api.parents()) == 1  # the same thread, not a new incident
    parent = slack_api.parents()[0]
    assert "flapping x2" in parent.blocks[0]["text"]["text"]
    assert parent.blocks[0]["text"]["text"].startswith("FIRING")
    texts = [r.text for r in slack_api.replies(parent.ts)]
    assert any("Firing again" in t and run2 in t for t in texts)
    assert ledger.get_run(run2)["slack"]["ts"] == parent.ts


def test_refire_after_the_holddown_is_a_new_incident(topics, slack_api, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_FLAP_HOLDDOWN_MINUTES", "0")
    settings.cache_clear()
    ledger, bus, policy = Ledger(), Bus(), load_policy()
    t0 = utcnow() - timedelta(hours=2)
    accept(webhook("firing", t0.isoformat()), settings(), policy, ledger, bus)
    accept(
        webhook("resolved", t0.isoformat(), (t0 + timedelta(minutes=5)).isoformat()),
        settings(),
        policy,
        ledger,
        bus,
    )
    second = accept(webhook("firing", utcnow().isoformat()), settings(), policy, ledger, bus)
    notify_all(topics)
    assert "reopens" not in ledger.get_run(second.results[0]["run_id"])
    # Outside the hold-down window a re-fire is a new incident with its own thread.
    assert len(slack_api.parents()) == 2


def storm(n: int, group: str = "storm") -> dict:
    body = copy.deepcopy(SAMPLE)
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    template = body["alerts"][0]
    body["alerts"] = []
    for i in range(n):
        a = copy.deepcopy(template)
        a["labels"] = {
            "alertname": "HighMemoryUsage",
            "namespace": "shop",
            "pod": f"cart-{i}",
            "severity": "warning",
        }
        a["fingerprint"] = f"{group}{i:06d}"
        body["alerts"].append(a)
    return body


def test_storm_records_every_run_and_posts_one_digest(topics, slack_api) -> None:
    ledger, bus, policy = Ledger(), Bus(), load_policy()
    result = accept(storm(60), settings(), policy, ledger, bus)
    assert result.summary()["counts"] == {"accepted": 60}
    run_ids = {r["run_id"] for r in result.results}
    assert len(run_ids) == 60
    assert all(ledger.get_run(r)["dispatched"] for r in list(run_ids)[:10])
    notes = [Envelope.from_bytes(m.message.data) for m in topics.pull("notify")]
    assert len(notes) == 1 and notes[0].digest  # one digest message, not 60
    assert len(topics.pull("investigate")) == 60  # every run still follows its plan
    Notifier()(notes[0])
    # The runs' own findings reach notify too; they are folded into the digest.
    Notifier()(notes[0].model_copy(update={"digest": False, "run_id": result.results[3]["run_id"]}))
    parents = slack_api.parents()
    assert len(parents) == 1
    header = parents[0].blocks[0]["text"]["text"]
    assert header == "ALERT STORM: 60 alerts in one group (60 firing)"
    assert "HighMemoryUsage x60" in parents[0].blocks[1]["text"]["text"]

    # Alertmanager resends the group with everything resolved: the digest is updated in place.
    resolved = storm(60)
    for a in resolved["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = utcnow().isoformat()
    again = accept(resolved, settings(), policy, ledger, bus)
    assert again.summary()["counts"] == {"resolved": 60}
    for m in topics.pull("notify"):
        Notifier()(Envelope.from_bytes(m.message.data))
    assert len(slack_api.parents()) == 1
    assert slack_api.parents()[0].blocks[0]["text"]["text"].startswith("RESOLVED: 60 alerts")


def test_small_groups_are_not_storms(topics, slack_api) -> None:
    result = accept(storm(3, "small"), settings(), load_policy(), Ledger(), Bus())
    assert result.summary()["counts"] == {"accepted": 3}
    notes = [Envelope.from_bytes(m.message.data) for m in topics.pull("notify")]
    assert len(notes) == 3 and not any(n.digest or n.digest_group for n in notes)


def test_alert_model_is_unchanged_by_storm_fields() -> None:
    a = Alert(name="X", starts_at=utcnow(), fingerprint="f")
    env = Envelope(run_id="r", source="dispatch", alert=a, alert_type="X", plan=[])
    assert Envelope.from_bytes(env.to_bytes()).digest_group == ""

"""Incident lifecycle in Slack: flapping continues its incident's thread; storms get one digest
per group, and every action, refusal and proposal of a storm still reaches Slack."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.bus import Bus
from shared.config import settings
from shared.intake import accept
from shared.ledger import Ledger
from shared.messages import NotifyMessage
from shared.model import Finding, utcnow
from shared.notifier import STORM_LINE_LIMIT, Notifier
from tests.pipeline import dispatch_all, notify_all, notify_messages

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())


def webhook(status: str, starts: str, ends: str = "0001-01-01T00:00:00Z") -> dict:
    body = copy.deepcopy(SAMPLE)
    body["status"] = status
    body["alerts"] = [dict(body["alerts"][0], status=status, startsAt=starts, endsAt=ends)]
    return body


def send(topics, body: dict) -> str:
    result = accept(body, settings(), Bus())
    dispatch_all(topics)
    return result.run_ids[0]


def test_refire_within_holddown_continues_the_same_incident(topics, slack_api) -> None:
    ledger = Ledger()
    t0 = utcnow() - timedelta(minutes=20)
    run1 = send(topics, webhook("firing", t0.isoformat()))
    notify_all(topics)
    ends = (t0 + timedelta(minutes=5)).isoformat()
    send(topics, webhook("resolved", t0.isoformat(), ends))
    notify_all(topics)
    # Alertmanager opens a new alert instance (new startsAt) minutes later: flapping.
    run2 = send(topics, webhook("firing", (utcnow() - timedelta(minutes=2)).isoformat()))
    notify_all(topics)

    assert run1 != run2
    inc = ledger.get_run(run1)["incident_id"]
    assert ledger.get_run(run2)["incident_id"] == inc  # one incident: one thread, one set of caps
    incident = ledger.get_incident(inc)
    assert incident["run_order"] == [run1, run2] and incident["status"] == "open"
    assert len(slack_api.parents()) == 1
    parent = slack_api.parents()[0]
    header = parent.blocks[0]["text"]["text"]
    assert "flapping x2" in header and header.startswith("FIRING")
    texts = [r.text for r in slack_api.replies(parent.ts)]
    assert any("Firing again" in t and run2 in t for t in texts)
    assert any("Resolved" in t for t in texts)


def test_refire_after_the_holddown_is_a_new_incident(topics, slack_api, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_FLAP_HOLDDOWN_MINUTES", "0")
    settings.cache_clear()
    t0 = utcnow() - timedelta(hours=2)
    run1 = send(topics, webhook("firing", t0.isoformat()))
    send(topics, webhook("resolved", t0.isoformat(), (t0 + timedelta(minutes=5)).isoformat()))
    run2 = send(topics, webhook("firing", utcnow().isoformat()))
    notify_all(topics)
    ledger = Ledger()
    assert ledger.get_run(run1)["incident_id"] != ledger.get_run(run2)["incident_id"]
    assert len(slack_api.parents()) == 2


def storm(n: int, group: str = "storm", truncated: int = 0) -> dict:
    body = copy.deepcopy(SAMPLE)
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    body["truncatedAlerts"] = truncated
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
        a["fingerprint"] = f"{abs(hash(group)) % 10**6:06d}{i:06d}"
        body["alerts"].append(a)
    return body


def test_a_storm_of_names_firestore_reserves_is_recorded_and_shown(topics, slack_api) -> None:
    body = storm(30, "odd")
    for i, a in enumerate(body["alerts"]):
        a["labels"]["alertname"] = ("__Reserved__", "~tilde", "dots.and`ticks`")[i % 3]
        a["labels"]["namespace"] = "__ns__" if i % 2 else "é" * 1500
        a["labels"]["deployment"] = "cart"
    result = accept(body, settings(), Bus())
    assert dispatch_all(topics) == 31  # the snapshot was stored, not retried forever
    group = Ledger().get_group(result.group_id)
    assert group is not None
    assert group["by_name"] == {"__Reserved__": 10, "~tilde": 10, "dots.and`ticks`": 10}
    assert group["by_workload"]["__ns__/cart"] == 15  # and the other, cut to a storable key
    assert sorted(group["by_workload"].values()) == [15, 15]
    Notifier()(notify_messages(topics)[0])
    digest = json.dumps(slack_api.parents()[0].blocks)
    assert "Reserved" in digest and "tilde" in digest


def test_storm_records_every_run_and_posts_one_digest(topics, slack_api) -> None:
    ledger = Ledger()
    result = accept(storm(60, truncated=40), settings(), Bus())
    assert result.group_id and len(set(result.run_ids)) == 60
    assert dispatch_all(topics) == 61  # 60 alerts and the group's snapshot
    assert all(ledger.get_run(r)["status"] == "firing" for r in result.run_ids[:10])
    notes = notify_messages(topics)
    assert [(n.kind, n.id) for n in notes] == [("group", result.group_id)]  # not 60 parents
    assert len(topics.pull("investigate", max_messages=200)) == 60  # every run follows its plan
    Notifier()(notes[0])
    parents = slack_api.parents()
    assert len(parents) == 1
    header = parents[0].blocks[0]["text"]["text"]
    assert header == "ALERT STORM: 60 alerts in one group (60 firing)"
    body = parents[0].blocks[1]["text"]["text"]
    assert "HighMemoryUsage x60" in body and "40 more alert(s)" in body  # truncatedAlerts

    # Alertmanager resends the group with everything resolved: the digest is updated in place.
    resolved = storm(60)
    for a in resolved["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = utcnow().isoformat()
    accept(resolved, settings(), Bus())
    dispatch_all(topics)
    notify_all(topics)
    assert len(slack_api.parents()) == 1
    assert slack_api.parents()[0].blocks[0]["text"]["text"].startswith("RESOLVED: 60 alerts")


def test_storms_act_visibly_every_action_refusal_and_proposal_reaches_slack(
    topics, slack_api
) -> None:
    ledger = Ledger()
    result = accept(storm(STORM_LINE_LIMIT + 15, "loud"), settings(), Bus())
    dispatch_all(topics)
    notify_all(topics)
    notifier = Notifier()
    proposals = []
    for i, run_id in enumerate(result.run_ids):
        if i % 10 == 9:  # a rollback proposal: its Approve button must never be dropped
            details = {"action": "propose_rollback", "approval_id": f"a{i}", "target": "x"}
            proposals.append(f"a{i}")
        elif i % 2:
            details = {"action": "restart", "target": f"deployment/shop/cart-{i}"}
        else:
            details = {"action": "restart", "refused": {"guard": "cooldown", "reason": "busy"}}
        finding = Finding(stage="remediate", status="ok", summary=f"acted on {i}", details=details)
        ledger.record_finding(run_id, finding)
        notifier(NotifyMessage(kind="group", id=result.group_id, run_id=run_id))
    # A run with nothing to show (no action) posts nothing.
    quiet = Finding(stage="investigate", status="ok", summary="evidence", details={})
    ledger.record_finding(result.run_ids[0], quiet)
    notifier(NotifyMessage(kind="group", id=result.group_id, run_id=result.run_ids[0]))

    parent = slack_api.parents()[0]
    replies = slack_api.replies(parent.ts)
    buttons = [
        e["value"]
        for r in replies
        for b in r.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
    ]
    assert sorted(set(buttons)) == sorted(proposals)  # every proposal, with its buttons
    lines = [r for r in replies if "acted on" in r.text]
    late_proposals = [p for p in proposals if int(p[1:]) >= STORM_LINE_LIMIT]
    assert len(lines) == STORM_LINE_LIMIT + len(late_proposals)
    rollup = [r for r in replies if "more action(s)" in r.text]
    assert len(rollup) == 1  # one message counting the rest, updated in place
    rolled = len(result.run_ids) - len(lines)
    assert rollup[0].text.startswith(f":heavy_plus_sign: {rolled} more action(s)")
    assert "restart x" in rollup[0].text and "refused (cooldown) x" in rollup[0].text


def test_small_groups_are_not_storms(topics, slack_api) -> None:
    result = accept(storm(3, "small"), settings(), Bus())
    assert not result.group_id
    dispatch_all(topics)
    notes = notify_messages(topics)
    assert len(notes) == 3 and all(n.kind == "incident" for n in notes)

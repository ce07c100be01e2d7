"""Durable-first intake against the real emulators: ingest (through functions-framework's app)
publishes to `intake` and touches no Firestore; dispatch does the ledger work."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from functions_framework import create_app

from shared.ledger import Ledger
from shared.model import fingerprint_for, utcnow
from tests.pipeline import dispatch_all, intake_messages, notify_messages, stage_messages

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def client(topics):
    import functions.ingest as ingest_mod

    ingest_mod._ingest.bus = None  # a fresh publisher for this test's topic prefix
    return create_app("ingest", str(ROOT / "main.py"), "http").test_client()


def resolved_body(ends: str = "2026-11-27T06:12:00Z") -> dict:
    body = copy.deepcopy(SAMPLE)
    body["status"] = "resolved"
    body["alerts"] = [dict(body["alerts"][0], status="resolved", endsAt=ends)]
    return body


def test_ingest_publishes_each_alert_to_intake_and_writes_no_ledger(client, topics) -> None:
    resp = client.post("/", json=SAMPLE, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "accepted" and body["received"] == 2
    run_ids = {r["run_id"] for r in body["results"]}
    ledger = Ledger()
    assert all(ledger.get_run(r) is None for r in run_ids)  # nothing on the request path
    messages = intake_messages(topics)
    assert {m.run_id for m in messages} == run_ids
    assert {m.alert.fingerprint for m in messages} == {"a1b2c3d4e5f60718", "0f1e2d3c4b5a6978"}
    for stage in ("notify", "investigate"):
        assert topics.pull(stage, timeout=0.5) == []


def test_dispatch_records_plans_and_publishes_pointers(client, topics) -> None:
    run_ids = {
        r["run_id"] for r in client.post("/", json=SAMPLE, headers=AUTH).get_json()["results"]
    }
    assert dispatch_all(topics) == 2
    investigate = stage_messages(topics, "investigate")
    assert {m.run_id for m in investigate} == run_ids
    assert topics.pull("remediate", timeout=0.5) == []  # only the first stage of the plan
    notes = notify_messages(topics)
    ledger = Ledger()
    runs = {r: ledger.get_run(r) for r in run_ids}
    assert {n.id for n in notes} == {run["incident_id"] for run in runs.values()}
    for run in runs.values():
        assert run["status"] == "firing" and run["plan"] == ["investigate", "remediate"]
        assert run["pending"] == {"stage": None, "notify": False}  # published, then cleared


def test_ha_twins_and_redeliveries_are_deduplicated(client, topics) -> None:
    client.post("/", json=SAMPLE, headers=AUTH)
    twin = copy.deepcopy(SAMPLE)
    twin["receiver"] = "alertloop-replica"  # the second Alertmanager of an HA pair
    client.post("/", json=twin, headers=AUTH)
    client.post("/", json=SAMPLE, headers=AUTH)  # Alertmanager's retry
    assert dispatch_all(topics) == 6
    assert len(stage_messages(topics, "investigate")) == 2
    assert len(notify_messages(topics)) == 2


def test_resolve_then_repeat_and_unresolve_reopens(client, topics) -> None:
    client.post("/", json=SAMPLE, headers=AUTH)
    dispatch_all(topics)
    topics.pull("investigate")
    topics.pull("notify")
    resp = client.post("/", json=resolved_body(), headers=AUTH)
    run_id = resp.get_json()["results"][0]["run_id"]
    dispatch_all(topics)
    ledger = Ledger()
    run = ledger.get_run(run_id)
    assert run["status"] == "resolved" and run["mttr_seconds"] == 720.0
    assert len(notify_messages(topics)) == 1
    client.post("/", json=resolved_body(), headers=AUTH)  # Alertmanager repeats the resolve
    dispatch_all(topics)
    assert notify_messages(topics, timeout=1) == []
    # Firing again with the same startsAt (Alertmanager restored the alert): reopened.
    client.post("/", json=SAMPLE, headers=AUTH)
    dispatch_all(topics)
    run = ledger.get_run(run_id)
    assert run["status"] == "firing" and run["reopened"] == 1 and run["mttr_seconds"] is None
    assert ledger.get_incident(run["incident_id"])["status"] == "open"
    assert [n.id for n in notify_messages(topics)] == [run["incident_id"]]
    assert topics.pull("investigate", timeout=0.5) == []  # the plan already ran


def test_a_late_older_firing_does_not_undo_a_resolve(client, topics) -> None:
    """Delivery order is not receipt order: ingest's receipt time decides."""
    client.post("/", json=SAMPLE, headers=AUTH)
    older = {m.run_id: m for m in intake_messages(topics)}
    client.post("/", json=resolved_body(), headers=AUTH)
    dispatch_all(topics)  # the resolve is dispatched first (creates the run resolved)
    from shared.bus import Bus
    from shared.config import settings
    from shared.dispatch import dispatch_alert
    from shared.policy import load_policy

    for msg in older.values():  # the firing, received earlier, delivered late
        dispatch_alert(msg, load_policy(), settings(), Ledger(), Bus())
    first = resolved_body()["alerts"][0]
    run_id = next(r for r, m in older.items() if m.alert.fingerprint == first["fingerprint"])
    assert Ledger().get_run(run_id)["status"] == "resolved"


def test_invalid_input_publishes_nothing(client, topics) -> None:
    bad = copy.deepcopy(SAMPLE)
    del bad["alerts"][1]["labels"]["alertname"]  # one bad alert rejects the whole group
    assert client.post("/", json=bad, headers=AUTH).status_code == 400
    assert client.post("/", json=SAMPLE, headers={}).status_code == 401
    raw = {**AUTH, "Content-Type": "application/json"}
    assert client.post("/", data="{", headers=raw).status_code == 400
    assert topics.pull("intake", timeout=1) == []


def test_publish_failure_is_503_and_the_retry_ends_with_one_run(client, topics) -> None:
    topics.delete_topic("intake")
    resp = client.post("/", json=SAMPLE, headers=AUTH)
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert "publish" in resp.get_json()["error"]
    topics.recreate_topic("intake")
    assert client.post("/", json=SAMPLE, headers=AUTH).status_code == 200
    assert client.post("/", json=SAMPLE, headers=AUTH).status_code == 200  # a second retry
    dispatch_all(topics)
    assert len(stage_messages(topics, "investigate")) == 2  # exactly one run per alert


def test_odd_fingerprints_are_replaced_by_a_stable_label_hash(client, topics) -> None:
    odd = copy.deepcopy(SAMPLE)
    odd["alerts"][0]["fingerprint"] = "a/b"
    odd["alerts"][1]["fingerprint"] = "ünïcode" * 20
    resp = client.post("/", json=odd, headers=AUTH)
    assert resp.status_code == 200
    messages = intake_messages(topics)
    want = {fingerprint_for(a["labels"]) for a in odd["alerts"]}
    assert {m.alert.fingerprint for m in messages} == want
    client.post("/", json=odd, headers=AUTH)  # the same alerts again: the same runs
    assert {m.run_id for m in intake_messages(topics)} == {m.run_id for m in messages}


def test_a_large_group_is_accepted_and_reported_with_what_alertmanager_left_out(
    client, topics
) -> None:
    body = copy.deepcopy(SAMPLE)
    template = body["alerts"][0]
    body["truncatedAlerts"] = 17
    body["alerts"] = [
        dict(
            template,
            labels={**template["labels"], "pod": f"checkout-{i}"},
            fingerprint=f"{i:016x}",
            annotations={"description": "x" * 1500},
            startsAt=(utcnow() - timedelta(minutes=1)).isoformat(),
        )
        for i in range(800)
    ]
    raw = json.dumps(body).encode()
    assert len(raw) > 1024 * 1024  # over the old 1 MiB limit
    resp = client.post("/", data=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.get_json()
    summary = resp.get_json()
    assert summary["received"] == 800 and summary["truncated_alerts"] == 17
    groups = [m for m in intake_messages(topics) if m.kind == "group"]
    assert len(groups) == 1 and groups[0].snapshot.truncated == 17


def test_a_10000_alert_group_is_accepted_with_one_digest(client, topics, slack_api) -> None:
    from shared.messages import IntakeAlert, IntakeGroup, NotifyMessage
    from shared.notifier import Notifier
    from tests.pipeline import cloud_event

    body = copy.deepcopy(SAMPLE)
    template = body["alerts"][0]
    body["alerts"] = [
        dict(
            template,
            labels={**template["labels"], "pod": f"checkout-{i}"},
            fingerprint=f"{i:016x}",
            annotations={"summary": "x", "description": "y" * 900},
        )
        for i in range(10_000)
    ]
    raw = json.dumps(body).encode()
    resp = client.post("/", data=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.get_json()["received"] == 10_000
    received = []
    while batch := topics.pull("intake", max_messages=1000, timeout=2):
        received.extend(batch)
    messages = [intake_messages_of(m) for m in received]
    alerts = [m for m in messages if isinstance(m, IntakeAlert)]
    groups = [m for m in messages if isinstance(m, IntakeGroup)]
    assert len({m.run_id for m in alerts}) == 10_000 and len(groups) == 1
    from shared.dispatch import dispatch_message

    pairs = list(zip(received, messages, strict=True))
    group_event = next(m for m, parsed in pairs if isinstance(parsed, IntakeGroup))
    sample = [(m, parsed) for m, parsed in pairs if isinstance(parsed, IntakeAlert)][:50]
    dispatch_message(cloud_event(group_event))
    for m, _ in sample:  # a sample of the alerts: each becomes a run of the storm
        dispatch_message(cloud_event(m))
    Notifier()(NotifyMessage(kind="group", id=groups[0].group_id))
    (digest,) = slack_api.parents()
    header = digest.blocks[0]["text"]["text"]
    assert header == "ALERT STORM: 10000 alerts in one group (10000 firing)"
    ledger = Ledger()
    runs = [ledger.get_run(parsed.run_id) for _, parsed in sample]
    assert all(r is not None and r["digest_group"] == groups[0].group_id for r in runs)


def intake_messages_of(received):
    from shared.messages import parse_intake

    return parse_intake(bytes(received.message.data))


def test_one_alert_hitting_a_firestore_error_is_retried_the_others_not_duplicated(
    client, topics
) -> None:
    """Another transaction holds the first alert's run document: its dispatch fails (Firestore
    refuses the contended transaction) and raises, so Pub/Sub keeps the message; the group's
    other alerts are dispatched meanwhile; the redelivery dispatches it once."""
    import threading

    from google.cloud import firestore

    from shared.config import settings
    from shared.dispatch import dispatch_message
    from shared.ledger import LedgerError
    from tests.pipeline import cloud_event

    body = copy.deepcopy(SAMPLE)
    extra = dict(body["alerts"][1], fingerprint="0f1e2d3c4b5a6979")
    extra["labels"] = {**extra["labels"], "deployment": "search"}
    body["alerts"].append(extra)
    assert client.post("/", json=body, headers=AUTH).status_code == 200
    received = topics.pull("intake")
    assert len(received) == 3
    parsed = [intake_messages_of(m) for m in received]
    blocked = parsed[0].run_id

    holding, release = threading.Event(), threading.Event()
    other = firestore.Client(project=settings().project)
    doc = other.collection(f"{settings().collection_prefix}runs").document(blocked)

    def hold(transaction: firestore.Transaction) -> None:
        doc.get(transaction=transaction)  # the emulator locks the document for this transaction
        holding.set()
        release.wait(60)

    holder = threading.Thread(target=lambda: firestore.transactional(hold)(other.transaction()))
    holder.start()
    assert holding.wait(10)
    try:
        with pytest.raises(LedgerError):
            dispatch_message(cloud_event(received[0]))  # raises: the push is not acknowledged
        for m in received[1:]:
            dispatch_message(cloud_event(m))
    finally:
        release.set()
        holder.join(30)
    dispatch_message(cloud_event(received[0]))  # Pub/Sub's redelivery
    dispatch_message(cloud_event(received[1]))  # …and an extra redelivery of another alert
    investigate = stage_messages(topics, "investigate")
    assert sorted(m.run_id for m in investigate) == sorted(p.run_id for p in parsed)
    ledger = Ledger()
    assert all(ledger.get_run(p.run_id)["status"] == "firing" for p in parsed)

"""ingest against the real Pub/Sub and Firestore emulators, through functions-framework's app."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from functions_framework import create_app

from shared.envelope import Envelope
from shared.ledger import Ledger

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def client(topics):
    import functions.ingest as ingest_mod

    # Fresh clients per test so they pick up this test's topic/collection prefix.
    ingest_mod._ledger = None
    ingest_mod._bus = None
    return create_app("ingest", str(ROOT / "main.py"), "http").test_client()


def envelopes(messages) -> list[Envelope]:
    return [Envelope.from_bytes(m.message.data) for m in messages]


def test_webhook_is_split_recorded_and_published(client, topics) -> None:
    resp = client.post("/", json=SAMPLE, headers=AUTH)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["counts"] == {"accepted": 2}
    run_ids = {r["run_id"] for r in body["results"]}

    notify = topics.pull("notify")
    investigate = topics.pull("investigate")
    assert {e.run_id for e in envelopes(notify)} == run_ids
    assert {e.run_id for e in envelopes(investigate)} == run_ids
    assert topics.pull("remediate", timeout=1) == []  # only the first stage of the plan
    msg = notify[0].message
    assert msg.ordering_key in run_ids  # one run's notify messages stay in order
    assert msg.attributes["alert_type"] == "HighErrorRate"
    assert msg.attributes["stage"] == "notify"
    env = envelopes(investigate)[0]
    assert env.plan == ["investigate", "remediate"] and env.source == "alertmanager"

    ledger = Ledger()
    for run_id in run_ids:
        run = ledger.get_run(run_id)
        assert run["state"] == "firing" and run["dispatched"] is True


def test_ha_duplicates_and_retries_are_acknowledged_not_rerun(client, topics) -> None:
    assert client.post("/", json=SAMPLE, headers=AUTH).status_code == 200
    topics.pull("notify")
    topics.pull("investigate")
    # The second Alertmanager of an HA pair sends the same group (its own groupKey text).
    twin = copy.deepcopy(SAMPLE)
    twin["receiver"] = "alertloop-replica"
    resp = client.post("/", json=twin, headers=AUTH)
    assert resp.status_code == 200
    assert resp.get_json()["counts"] == {"duplicate": 2}
    assert topics.pull("notify", timeout=1.5) == []
    assert topics.pull("investigate", timeout=0.5) == []


def test_resolved_alert_updates_its_run(client, topics) -> None:
    client.post("/", json=SAMPLE, headers=AUTH)
    topics.pull("notify")
    topics.pull("investigate")
    resolved = copy.deepcopy(SAMPLE)
    resolved["status"] = "resolved"
    resolved["alerts"] = [
        dict(resolved["alerts"][0], status="resolved", endsAt="2026-11-27T06:12:00Z")
    ]
    resp = client.post("/", json=resolved, headers=AUTH)
    assert resp.get_json()["counts"] == {"resolved": 1}
    run_id = resp.get_json()["results"][0]["run_id"]
    run = Ledger().get_run(run_id)
    assert run["state"] == "resolved"
    assert run["mttr_seconds"] == 720.0
    notes = envelopes(topics.pull("notify"))
    assert [e.alert.status for e in notes] == ["resolved"]
    assert topics.pull("investigate", timeout=0.5) == []
    # Alertmanager repeats the resolved notification: it changes nothing.
    again = client.post("/", json=resolved, headers=AUTH)
    assert again.get_json()["counts"] == {"duplicate": 1}
    assert topics.pull("notify", timeout=1) == []


def test_unknown_alert_type_gets_investigate_then_notify(client, topics) -> None:
    body = {
        "event_type": "alert-fired",
        "client_payload": {"alert_type": "DiskAlmostFull", "severity": "warning"},
    }
    resp = client.post("/", json=body, headers=AUTH)
    assert resp.get_json()["results"][0]["plan"] == ["investigate"]
    env = envelopes(topics.pull("investigate"))[0]
    assert env.alert_type == "DiskAlmostFull" and env.plan == ["investigate"]


def test_invalid_input_publishes_nothing(client, topics) -> None:
    bad = copy.deepcopy(SAMPLE)
    del bad["alerts"][1]["labels"]["alertname"]  # one bad alert rejects the whole group
    assert client.post("/", json=bad, headers=AUTH).status_code == 400
    assert client.post("/", json=SAMPLE, headers={}).status_code == 401
    assert (
        client.post("/", data="{", headers={**AUTH, "Content-Type": "application/json"}).status_code
        == 400
    )
    for stage in ("notify", "investigate"):
        assert topics.pull(stage, timeout=1) == []


def test_publish_failure_is_5xx_and_the_retry_delivers(client, topics) -> None:
    topics.delete_topic("investigate")
    resp = client.post("/", json=SAMPLE, headers=AUTH)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert "publish" in resp.get_json()["error"]
    topics.pull("notify")  # some messages may have gone out; the retry re-sends all
    topics.recreate_topic("investigate")
    retry = client.post("/", json=SAMPLE, headers=AUTH)
    assert retry.status_code == 200
    assert retry.get_json()["counts"] == {"accepted": 2}
    assert len(topics.pull("investigate")) == 2
    # ...and once delivered, a further retry is a duplicate.
    assert client.post("/", json=SAMPLE, headers=AUTH).get_json()["counts"] == {"duplicate": 2}

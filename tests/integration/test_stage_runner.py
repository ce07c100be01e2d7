"""The stage runner on the emulators: pointers in, the run loaded from the ledger; idempotency,
retries, dead letters, poison, stale runs."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from shared.ledger import Ledger
from shared.messages import StageMessage
from shared.model import Finding, utcnow
from shared.run import Run
from shared.stage import RetryLater, StageRunner
from tests.pipeline import notify_messages, stage_messages
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration


def seed(plan=("investigate", "remediate"), **kw) -> Run:
    alert = make_alert("HighErrorRate", labels={"namespace": "shop"})
    return seed_run(Ledger(), alert, plan=list(plan), **kw)


def cloud_event(payload: bytes, **attributes: str) -> SimpleNamespace:
    return SimpleNamespace(
        data={
            "message": {
                "data": base64.b64encode(payload).decode(),
                "attributes": attributes,
                "messageId": "1",
            }
        }
    )


def pointer(run: Run, stage: str = "investigate", **kw) -> SimpleNamespace:
    return cloud_event(StageMessage(run_id=run.run_id, stage=stage, **kw).to_bytes())


class Counter:
    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times
        self.seen: list[Run] = []

    def __call__(self, run: Run) -> Finding:
        self.calls += 1
        self.seen.append(run)
        if self.calls <= self.fail_times:
            raise RuntimeError(f"boom {self.calls}")
        return Finding(stage="investigate", status="ok", summary=f"call {self.calls}")


def test_ten_deliveries_run_the_stage_once_and_forward_once(topics) -> None:
    run = seed()
    handler = Counter()
    runner = StageRunner("investigate", handler)
    for _ in range(10):
        runner(pointer(run))
    assert handler.calls == 1
    assert handler.seen[0].alert == run.alert  # the handler got the run from the ledger
    forwarded = stage_messages(topics, "remediate")
    assert [(m.run_id, m.stage) for m in forwarded] == [(run.run_id, "remediate")]
    assert [n.id for n in notify_messages(topics)] == [run.incident_id]
    doc = Ledger().get_run(run.run_id)
    assert doc["state"] == "investigated"
    assert doc["findings"]["investigate"]["summary"] == "call 1"
    assert doc["timings"]["investigate_seconds"] >= 0


def test_the_next_stage_reads_the_previous_finding_from_the_ledger(topics) -> None:
    run = seed()
    StageRunner("investigate", Counter())(pointer(run))
    seen: list[Run] = []

    def remediate(r: Run) -> Finding:
        seen.append(r)
        return Finding(stage="remediate", status="ok", summary="ok")

    StageRunner("remediate", remediate)(
        cloud_event(stage_messages(topics, "remediate")[0].to_bytes())
    )
    assert seen[0].finding("investigate").summary == "call 1"


def test_fails_twice_then_succeeds(topics) -> None:
    run = seed(plan=["investigate"])
    handler = Counter(fail_times=2)
    runner = StageRunner("investigate", handler)
    for _ in range(2):
        with pytest.raises(RuntimeError):  # raise -> Pub/Sub redelivers with backoff
            runner(pointer(run))
    runner(pointer(run))
    runner(pointer(run))  # a late duplicate changes nothing
    assert handler.calls == 3
    rec = Ledger().idempotency_record(run.run_id, "investigate")
    assert rec["state"] == "completed" and rec["attempts"] == 3
    assert len(topics.pull("notify")) == 1
    assert topics.pull("deadletter", timeout=0.5) == []


def test_exhausted_attempts_go_to_the_dead_letter_topic(topics, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "3")
    from shared.config import settings

    settings.cache_clear()
    run = seed()
    runner = StageRunner("investigate", Counter(fail_times=99))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            runner(pointer(run))
    runner(pointer(run))  # third attempt: acknowledged, dead-lettered
    dead = topics.pull("deadletter")
    assert len(dead) == 1
    record = json.loads(dead[0].message.data)
    assert record["stage"] == "investigate" and record["attempts"] == 3
    assert "boom 3" in record["error"]
    assert record["message"]["run_id"] == run.run_id  # a pointer: replayable as it is
    assert topics.pull("remediate", timeout=0.5) == []


def test_poison_and_pointers_to_nothing_are_dead_lettered_at_once(topics) -> None:
    runner = StageRunner("investigate", Counter())
    runner(cloud_event(b"this is not json", run_id="x"))
    runner(SimpleNamespace(data={"nonsense": True}))
    runner(cloud_event(StageMessage(run_id="no-such-run", stage="investigate").to_bytes()))
    dead = [json.loads(m.message.data) for m in topics.pull("deadletter")]
    assert len(dead) == 3
    assert all(d["stage"] == "investigate" for d in dead)
    assert any(d.get("raw") == "this is not json" for d in dead)
    unknown = [d for d in dead if "message" in d]
    assert unknown and "not in the ledger" in unknown[0]["error"]


def test_in_progress_elsewhere_is_retried_later(topics) -> None:
    run = seed()
    Ledger().begin(run.run_id, "investigate", ttl_seconds=300)  # another instance holds it
    with pytest.raises(RetryLater):
        StageRunner("investigate", Counter())(pointer(run))


def test_expired_in_progress_claim_does_not_block_forever(topics) -> None:
    run = seed(plan=["investigate"])
    Ledger().begin(run.run_id, "investigate", ttl_seconds=0)  # crashed mid-stage, expired
    handler = Counter()
    StageRunner("investigate", handler)(pointer(run))
    assert handler.calls == 1


def test_completed_but_unforwarded_is_forwarded_on_redelivery(topics) -> None:
    run = seed()
    ledger = Ledger()
    ledger.begin(run.run_id, "investigate", ttl_seconds=60)
    done = Finding(stage="investigate", status="ok", summary="done before the crash")
    ledger.record_finding(run.run_id, done, complete=True)
    handler = Counter()
    StageRunner("investigate", handler)(pointer(run))
    assert handler.calls == 0
    assert [m.run_id for m in stage_messages(topics, "remediate")] == [run.run_id]


def test_stale_run_is_reported_not_acted_on(topics) -> None:
    run = seed(received_at=utcnow() - timedelta(days=2))
    handler = Counter()
    StageRunner("investigate", handler)(pointer(run))
    assert handler.calls == 0
    finding = Ledger().get_run(run.run_id)["findings"]["investigate"]
    assert finding["status"] == "skipped" and "old" in finding["summary"]
    assert len(notify_messages(topics)) == 1
    assert topics.pull("remediate", timeout=0.5) == []
    StageRunner("investigate", handler)(pointer(run, force=True))  # replay --force acts
    assert handler.calls == 1


def test_a_finding_after_resolution_keeps_the_run_resolved(topics) -> None:
    from shared.bus import Bus
    from shared.config import settings
    from shared.dispatch import dispatch_alert
    from shared.policy import load_policy
    from tests.seed import intake

    ledger = Ledger()
    alert = make_alert("HighErrorRate", labels={"namespace": "shop"})
    run = seed_run(ledger, alert, plan=["investigate"])
    gone = alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), load_policy(), settings(), ledger, Bus())
    StageRunner("investigate", Counter())(pointer(run))
    doc = ledger.get_run(run.run_id)
    assert doc["status"] == "resolved" and doc["state"] == "resolved"  # not overwritten
    assert doc["findings"]["investigate"]["summary"] == "call 1"
    assert ledger.idempotency_record(run.run_id, "investigate")["state"] == "completed"

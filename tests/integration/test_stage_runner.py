"""The stage runner on the emulators: idempotency, retries, dead letters, stale events."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from shared.envelope import Alert, Envelope, Finding, utcnow
from shared.ledger import Ledger
from shared.stage import RetryLater, StageRunner

pytestmark = pytest.mark.integration


def make_env(plan=("investigate", "remediate"), **kw) -> Envelope:
    alert = Alert(
        name="HighErrorRate",
        severity="critical",
        starts_at=utcnow(),
        fingerprint=kw.pop("fingerprint", "fp"),
        labels={"namespace": "shop"},
    )
    return Envelope(
        run_id=kw.pop("run_id", "run-" + utcnow().strftime("%H%M%S%f")),
        source="dispatch",
        alert=alert,
        alert_type="HighErrorRate",
        plan=list(plan),
        **kw,
    )


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


class Counter:
    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times

    def __call__(self, env: Envelope) -> Finding:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError(f"boom {self.calls}")
        return Finding(stage="investigate", status="ok", summary=f"call {self.calls}")


def register(env: Envelope) -> None:
    Ledger().register_alert(env)


def test_ten_deliveries_run_the_stage_once_and_forward_once(topics) -> None:
    env = make_env()
    register(env)
    handler = Counter()
    runner = StageRunner("investigate", handler)
    for _ in range(10):
        runner(cloud_event(env.to_bytes()))
    assert handler.calls == 1
    forwarded = topics.pull("remediate")
    assert len(forwarded) == 1
    nxt = Envelope.from_bytes(forwarded[0].message.data)
    assert [f.summary for f in nxt.findings] == ["call 1"]
    assert len(topics.pull("notify")) == 1
    run = Ledger().get_run(env.run_id)
    assert run["state"] == "investigated"
    assert run["findings"]["investigate"]["summary"] == "call 1"
    assert run["timings"]["investigate_seconds"] >= 0


def test_fails_twice_then_succeeds(topics) -> None:
    env = make_env(plan=["investigate"])
    register(env)
    handler = Counter(fail_times=2)
    runner = StageRunner("investigate", handler)
    for _ in range(2):
        with pytest.raises(RuntimeError):  # raise -> Pub/Sub redelivers with backoff
            runner(cloud_event(env.to_bytes()))
    runner(cloud_event(env.to_bytes()))
    runner(cloud_event(env.to_bytes()))  # a late duplicate changes nothing
    assert handler.calls == 3
    rec = Ledger().idempotency_record(env.run_id, "investigate")
    assert rec["state"] == "completed" and rec["attempts"] == 3
    assert len(topics.pull("notify")) == 1
    assert topics.pull("deadletter", timeout=0.5) == []


def test_exhausted_attempts_go_to_the_dead_letter_topic(topics, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "3")
    from shared.config import settings

    settings.cache_clear()
    env = make_env()
    register(env)
    runner = StageRunner("investigate", Counter(fail_times=99))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            runner(cloud_event(env.to_bytes()))
    runner(cloud_event(env.to_bytes()))  # third attempt: acknowledged, dead-lettered
    dead = topics.pull("deadletter")
    assert len(dead) == 1
    record = json.loads(dead[0].message.data)
    assert record["stage"] == "investigate" and record["attempts"] == 3
    assert "boom 3" in record["error"]
    assert record["envelope"]["run_id"] == env.run_id
    assert topics.pull("remediate", timeout=0.5) == []


def test_poison_message_is_dead_lettered_at_once(topics) -> None:
    runner = StageRunner("investigate", Counter())
    runner(cloud_event(b"this is not json", run_id="x"))
    runner(SimpleNamespace(data={"nonsense": True}))
    dead = [json.loads(m.message.data) for m in topics.pull("deadletter")]
    assert len(dead) == 2
    assert all(d["stage"] == "investigate" for d in dead)
    assert "not an alertloop envelope" in dead[0]["error"] or "not an alertloop" in dead[1]["error"]
    assert any(d["raw"] == "this is not json" for d in dead)


def test_in_progress_elsewhere_is_retried_later(topics) -> None:
    env = make_env()
    register(env)
    Ledger().begin(env.run_id, "investigate", ttl_seconds=300)  # another instance holds it
    with pytest.raises(RetryLater):
        StageRunner("investigate", Counter())(cloud_event(env.to_bytes()))


def test_expired_in_progress_claim_does_not_block_forever(topics) -> None:
    env = make_env(plan=["investigate"])
    register(env)
    Ledger().begin(env.run_id, "investigate", ttl_seconds=0)  # crashed mid-stage, expired
    handler = Counter()
    StageRunner("investigate", handler)(cloud_event(env.to_bytes()))
    assert handler.calls == 1


def test_completed_but_unforwarded_is_forwarded_on_redelivery(topics) -> None:
    env = make_env()
    register(env)
    ledger = Ledger()
    ledger.begin(env.run_id, "investigate", ttl_seconds=60)
    done = Finding(stage="investigate", status="ok", summary="done before the crash")
    ledger.complete(env.run_id, "investigate", done.model_dump(mode="json"))
    handler = Counter()
    StageRunner("investigate", handler)(cloud_event(env.to_bytes()))
    assert handler.calls == 0
    nxt = Envelope.from_bytes(topics.pull("remediate")[0].message.data)
    assert nxt.findings[-1].summary == "done before the crash"


def test_stale_message_is_reported_not_acted_on(topics) -> None:
    env = make_env(received_at=utcnow() - timedelta(days=2))
    handler = Counter()
    StageRunner("investigate", handler)(cloud_event(env.to_bytes()))
    assert handler.calls == 0
    note = Envelope.from_bytes(topics.pull("notify")[0].message.data)
    assert note.findings[-1].status == "skipped" and "old" in note.findings[-1].summary
    assert topics.pull("remediate", timeout=0.5) == []


def test_a_finding_after_resolution_keeps_the_run_resolved(topics) -> None:
    env = make_env(plan=["investigate"])
    ledger = Ledger()
    ledger.register_alert(env)
    resolved = env.model_copy(
        update={"alert": env.alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})}
    )
    assert ledger.register_alert(resolved) == "resolved"
    StageRunner("investigate", Counter())(cloud_event(env.to_bytes()))
    run = ledger.get_run(env.run_id)
    assert run["state"] == "resolved"  # the late stage did not overwrite the resolution
    assert run["findings"]["investigate"]["summary"] == "call 1"
    assert ledger.idempotency_record(env.run_id, "investigate")["state"] == "completed"

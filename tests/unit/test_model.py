from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.messages import (
    BadMessage,
    IntakeAlert,
    NotifyMessage,
    StageMessage,
    parse_intake,
    parse_notify,
    parse_stage,
)
from shared.model import Alert, Finding, fingerprint_for, run_id_for, valid_fingerprint
from shared.run import Run

T = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(plan: list[str], **kw: object) -> Run:
    alert = Alert(name="X", starts_at=T, fingerprint="f")
    return Run(run_id="r", source="dispatch", alert=alert, alert_type="X", plan=plan, **kw)


def test_run_id_is_stable_across_timezones_and_distinct_per_start() -> None:
    t = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    same = t.astimezone(timezone(timedelta(hours=2)))
    assert run_id_for("abc", t) == run_id_for("abc", same)
    assert run_id_for("abc", t) != run_id_for("abc", t + timedelta(seconds=1))
    assert run_id_for("abc", t) != run_id_for("abd", t)


def test_routing_slip_next_stage() -> None:
    run = make_run(["investigate", "remediate"])
    assert run.next_stage("investigate") == "remediate"
    assert run.next_stage("remediate") is None
    assert run.next_stage("rollback") is None  # never in a plan: it reports to notify only
    assert make_run([]).next_stage("investigate") is None


def test_run_from_the_ledger_document_orders_findings_by_plan() -> None:
    inv = Finding(stage="investigate", status="ok", summary="i", started=T + timedelta(seconds=5))
    rem = Finding(stage="remediate", status="ok", summary="r", started=T)
    doc = {
        "run_id": "r",
        "alert": Alert(name="X", starts_at=T, fingerprint="f").model_dump(mode="json"),
        "alert_type": "X",
        "plan": ["investigate", "remediate"],
        "findings": {
            "remediate": rem.model_dump(mode="json"),
            "investigate": inv.model_dump(mode="json"),
        },
        "status": "resolved",
        "force": True,  # never taken from the ledger: it comes with a message
    }
    run = Run.from_doc(doc)
    assert [f.stage for f in run.findings] == ["investigate", "remediate"]
    assert run.finding("remediate") == rem and run.finding("budget") is None
    assert run.resolved and not run.force


def test_messages_round_trip_and_refuse_anything_else() -> None:
    stage = StageMessage(run_id="r", stage="investigate", force=True)
    assert parse_stage(stage.to_bytes()) == stage
    notify = NotifyMessage(id="i1", run_id="r")
    assert parse_notify(notify.to_bytes()) == notify and notify.ordering_key == "incident-i1"
    alert = Alert(name="X", starts_at=T, fingerprint="f")
    intake = IntakeAlert(run_id="r", source="alertmanager", received_at=T, alert=alert)
    assert parse_intake(intake.to_bytes()) == intake
    for bad in (b"", b"{}", b"[1]", b"not json", b'{"kind": "alert"}'):
        with pytest.raises(BadMessage):
            parse_intake(bad)
    with pytest.raises(BadMessage):
        parse_stage(b'{"run_id": 1}')


@given(st.text(max_size=100))
def test_fingerprints_that_are_not_hex_are_refused(text: str) -> None:
    ok = valid_fingerprint(text)
    assert ok == (0 < len(text) <= 64 and all(c in "0123456789abcdefABCDEF" for c in text))
    assert valid_fingerprint(fingerprint_for({"alertname": text}))

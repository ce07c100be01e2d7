from datetime import UTC, datetime, timedelta, timezone

from shared.envelope import Alert, Envelope, Finding, run_id_for


def make_env(plan: list[str]) -> Envelope:
    alert = Alert(name="X", starts_at=datetime(2026, 1, 1, tzinfo=UTC), fingerprint="f")
    return Envelope(run_id="r", source="dispatch", alert=alert, alert_type="X", plan=plan)


def test_run_id_is_stable_across_timezones_and_distinct_per_start() -> None:
    t = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    same = t.astimezone(timezone(timedelta(hours=2)))
    assert run_id_for("abc", t) == run_id_for("abc", same)
    assert run_id_for("abc", t) != run_id_for("abc", t + timedelta(seconds=1))
    assert run_id_for("abc", t) != run_id_for("abd", t)


def test_routing_slip_next_stage() -> None:
    env = make_env(["investigate", "remediate"])
    assert env.next_stage("investigate") == "remediate"
    assert env.next_stage("remediate") is None
    assert make_env([]).next_stage("investigate") is None


def test_round_trip_and_latest_finding() -> None:
    env = make_env(["investigate"])
    env.findings.append(Finding(stage="investigate", status="error", summary="first"))
    env.findings.append(Finding(stage="investigate", status="ok", summary="second"))
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env
    assert back.finding("investigate").summary == "second"
    assert back.finding("budget") is None
    assert env.attributes("notify") == {
        "run_id": "r",
        "alert_type": "X",
        "severity": "warning",
        "stage": "notify",
        "status": "firing",
    }

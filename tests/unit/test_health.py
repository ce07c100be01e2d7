from datetime import UTC, datetime, timedelta

from shared.health import loop_health, render

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def run(alert_type: str, **kw) -> dict:
    base = {
        "alert_type": alert_type,
        "received_at": NOW - timedelta(days=1),
        "plan": ["investigate"],
        "findings": {"investigate": {"status": "ok", "details": {}}},
        "timings": {"investigate_seconds": 2.0},
        "state": "investigated",
    }
    base.update(kw)
    return base


def test_measures_from_runs() -> None:
    runs = [
        # resolved after 3 min with no change: a false positive
        run("HighCPUUsage", state="resolved", mttr_seconds=180.0),
        # resolved after 40 min
        run(
            "HighCPUUsage",
            state="resolved",
            mttr_seconds=2400.0,
            timings={"investigate_seconds": 8.0},
        ),
        # restarted by alertloop, resolved after 2 min: not a false positive (it acted)
        run(
            "ApplicationDown",
            plan=["investigate", "remediate"],
            state="resolved",
            mttr_seconds=120.0,
            findings={
                "investigate": {"status": "ok"},
                "remediate": {"status": "ok", "details": {"action": "restart"}},
            },
        ),
        # rollback proposed: the team must act
        run(
            "HighErrorRate",
            plan=["investigate", "remediate"],
            findings={
                "investigate": {"status": "ok"},
                "remediate": {"status": "ok", "details": {"action": "propose_rollback"}},
            },
        ),
        # stuck: its plan did not finish
        run("HighErrorRate", plan=["investigate", "remediate"]),
        # outside the window
        run("HighCPUUsage", received_at=NOW - timedelta(days=40)),
    ]
    report = loop_health(runs, NOW, days=30)
    o = report["overall"]
    assert o["runs"] == 5
    assert o["execution_rate"] == 0.8
    assert o["false_positive_rate"] == round(1 / 3, 4)
    assert o["team_action_rate"] == 0.2
    assert o["investigation_max_s"] == 8.0
    assert o["mttr_p50_s"] == 180.0
    cpu = report["by_alert_type"]["HighCPUUsage"]
    assert cpu["false_positive_rate"] == 0.5
    assert any("HighCPUUsage: 50% false positives" in w for w in report["warnings"])
    assert any("did not run their whole plan" in w for w in report["warnings"])
    text = render(report)
    assert "HighCPUUsage" in text and "targets:" in text


def test_database_alerts_and_dead_letters_need_the_team() -> None:
    runs = [run("DatabaseDown"), run("X", state="failed"), run("Y")]
    assert loop_health(runs, NOW)["overall"]["team_action_rate"] == round(2 / 3, 4)


def test_slow_investigations_are_flagged() -> None:
    runs = [run("X", timings={"investigate_seconds": 400.0})]
    assert any("slow" in w for w in loop_health(runs, NOW)["warnings"])


def test_empty_ledger() -> None:
    report = loop_health([], NOW)
    assert report["overall"]["runs"] == 0 and report["warnings"] == []
    assert "—" in render(report)

"""Outcome verdicts, lines and loop health from outcomes (pure parts of shared.outcomes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.outcomes.health import outcome_health
from shared.outcomes.judge import Evidence, judge, line
from shared.outcomes.probes import episode_durations, substitute
from shared.prometheus import Series

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("evidence", "outcome", "by"),
    [
        (Evidence("firing", "ledger", success=True, pods_ready=True), "not_fixed", "ledger"),
        (Evidence("resolved", "alertmanager", success=False), "not_fixed", "success_query"),
        (Evidence("resolved", "ledger", success=True, pods_ready=False), "not_fixed", "pods"),
        (Evidence("resolved", "ledger", usually_clears=True), "cleared_anyway", "baseline"),
        (
            Evidence("resolved", "ledger", success=True, usually_clears=False),
            "fixed",
            "success_query",
        ),
        (Evidence("resolved", "alertmanager"), "fixed", "alertmanager"),
    ],
)
def test_the_first_question_that_decides_is_recorded(
    evidence: Evidence, outcome: str, by: str
) -> None:
    verdict = judge(evidence)
    assert (verdict.outcome, verdict.answered_by) == (outcome, by)


def test_lines_start_with_outcome() -> None:
    assert (
        line("not_fixed", "KubePodCrashLooping", "restart", 10, "still firing")
        == "Outcome: not fixed — KubePodCrashLooping still firing 10 min after the restart"
    )
    assert line("fixed", "HighCPUUsage", "scale_deployment", 0.5, "resolved") == (
        "Outcome: fixed — HighCPUUsage resolved 30 s after the scale-up"
    )


def test_success_query_names_are_escaped() -> None:
    check = {"workload": {"namespace": 'a"b', "name": "web\\x"}}
    assert substitute('up{namespace="$namespace",pod=~"$workload-.*"}', check) == (
        'up{namespace="a\\"b",pod=~"web\\\\x-.*"}'
    )


def test_alerts_history_episodes() -> None:
    s = Series({}, [(0, 1), (60, 1), (120, 1), (1000, 1), (1060, 1)])
    assert episode_durations([s], 60) == [180, 120]


def test_loop_health_comes_from_outcomes() -> None:
    def o(outcome: str, alert: str = "ApplicationDown", automatic: bool = True) -> dict:
        return {
            "status": "done",
            "outcome": outcome,
            "alert_type": alert,
            "automatic": automatic,
            "acted_at": NOW - timedelta(minutes=20),
            "checked_at": NOW - timedelta(minutes=10),
        }

    outcomes = [o("fixed"), o("fixed"), o("not_fixed"), o("relapsed"), o("cleared_anyway"),
                o("fixed", "HighErrorRate", automatic=False)]  # fmt: skip
    report = outcome_health(outcomes, 2, NOW, 1)
    overall = report["overall"]
    assert overall["outcomes"] == 6
    assert overall["verified_fix_rate"] == round(3 / 6, 4)
    assert overall["relapse_rate"] == 0.25
    assert overall["cleared_anyway_rate"] == round(1 / 6, 4)
    assert overall["team_action_rate"] == 0.5  # not fixed, relapsed, the approved rollback
    assert overall["verified_mttr_s"] == 600
    assert report["brake_trips"] == 2
    assert report["by_alert_type"]["HighErrorRate"]["outcomes"] == 1

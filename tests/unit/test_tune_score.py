"""Judging incidents (verdicts, heuristic), scoring alternatives and the recommendation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.tune.analysis import Analysis, analyse, for_grid, threshold_grid
from shared.tune.backtest import Grid, SeriesPoints, label_key
from shared.tune.promql import Split, split_threshold
from shared.tune.rules import parse_rules
from shared.tune.score import Candidate

RULES = """
groups:
  - name: g
    rules:
      - alert: Errors
        expr: x > 0.05
        for: 2m
        labels: {severity: page}
"""
RULE = parse_rules(RULES).named("Errors")[0]
SPLIT = split_threshold(RULE.expr)
assert isinstance(SPLIT, Split)
GRID = Grid(0.0, 60.0, 200)
A = {"service": "a"}
B = {"service": "b"}
# (first index, evaluations above, value): two 4-minute blips, two 20-minute excursions on a.
EXCURSIONS = [(10, 4, 0.09), (30, 4, 0.07), (50, 20, 0.15), (90, 20, 0.058)]


def series() -> list[SeriesPoints]:
    values = {i: 0.01 for i in range(GRID.count)}
    for first, n, v in EXCURSIONS:
        values.update({i: v for i in range(first, first + n)})
    b = {i: (0.2 if 150 <= i < 160 else 0.01) for i in range(GRID.count)}
    return [
        SeriesPoints(label_key(A), sorted(values.items())),
        SeriesPoints(label_key(B), sorted(b.items())),
    ]


def run(
    minute: int,
    labels: dict[str, str],
    verdict: str | None = None,
    action: str = "",
    name: str = "Errors",
) -> dict[str, Any]:
    """A run document as the ledger stores it (only the fields tune reads)."""
    doc: dict[str, Any] = {
        "run_id": f"r{minute}",
        "alert_name": name,
        "alert": {"name": name, "labels": {**labels, "severity": "page", "alertname": name}},
        "starts_at": datetime.fromtimestamp(minute * 60, UTC),
        "resolved_at": None,
        "findings": {},
    }
    if verdict:
        doc["verdict"] = {"value": verdict, "by": "U1", "at": datetime.now(UTC)}
    if action:
        doc["findings"]["remediate"] = {"details": {"action": action}}
    return doc


def analysis(docs: list[dict[str, Any]], **kw: Any) -> Analysis:
    assert isinstance(SPLIT, Split)
    kw.setdefault("thresholds", (0.05, 0.06))
    kw.setdefault("fors", (120, 240))
    return analyse(RULE, SPLIT, series(), GRID, 0.0, docs, **kw)


def table(a: Analysis) -> dict[tuple[float | None, float], tuple[int, int, int, int]]:
    """(threshold, for) -> (incidents, noise, useful caught, useful missed)."""
    return {
        (o.candidate.threshold, o.candidate.for_seconds): (
            len(o.incidents),
            o.noise,
            o.caught,
            len(o.missed),
        )
        for o in a.outcomes
    }


def test_heuristic_only() -> None:
    a = analysis([])
    assert a.by_verdict == 0
    assert [j.kind for j in a.baseline] == ["noise", "noise", "useful", "useful", "useful"]
    assert table(a) == {
        (0.05, 120): (5, 2, 3, 0),  # the current rule: both blips fire for 2 minutes
        (0.05, 240): (3, 0, 3, 0),  # blips never hold 4m; the excursions fire 2m later
        (0.06, 120): (4, 2, 2, 1),  # 0.058 never crosses 0.06: that excursion is missed
        (0.06, 240): (2, 0, 2, 1),
    }
    best = a.recommendation.outcome
    assert best is not None
    assert best.candidate == Candidate(0.05, 240)
    assert best.delays == [120, 120, 120]


def test_a_useful_verdict_on_a_blip_keeps_the_current_rule() -> None:
    a = analysis([run(12, A, verdict="useful")])
    assert a.by_verdict == 1
    assert table(a)[(0.05, 240)] == (3, 0, 3, 1)  # it would miss the blip people needed
    assert a.recommendation.outcome is None
    assert "no alternative opens fewer than the current 1 noise" in a.recommendation.reason


def test_a_manual_verdict_counts_as_useful() -> None:
    assert analysis([run(12, A, verdict="manual")]).recommendation.outcome is None


def test_a_noise_verdict_on_a_long_excursion_moves_the_threshold_too() -> None:
    a = analysis([run(92, A, verdict="noise")])
    assert table(a) == {
        (0.05, 120): (5, 3, 2, 0),
        (0.05, 240): (3, 1, 2, 0),
        (0.06, 120): (4, 2, 2, 0),
        (0.06, 240): (2, 0, 2, 0),
    }
    best = a.recommendation.outcome
    assert best is not None and best.candidate == Candidate(0.06, 240)


def test_a_cluster_change_makes_a_short_incident_useful() -> None:
    a = analysis([run(12, A, action="restart")])
    assert [j.kind for j in a.baseline][:2] == ["useful", "noise"]
    assert a.by_verdict == 0  # still the heuristic, with the run's action as evidence
    assert a.recommendation.outcome is None


def test_runs_of_other_alerts_labels_or_times_are_not_matched() -> None:
    docs = [
        run(12, A, verdict="useful", name="Other"),  # another alert
        run(12, B, verdict="useful"),  # b was quiet at minute 12
        run(180, A, verdict="useful"),  # nothing fired on a then
        {**run(12, A, verdict="useful"), "alert": {"name": "Errors", "labels": {**A}}},  # no sev
    ]
    a = analysis(docs)
    assert a.by_verdict == 0
    assert len(a.runs) == 2  # right name and severity
    assert {r.run_id for r in a.unmatched} == {"r12", "r180"}
    assert a.recommendation.outcome is not None


def test_max_delay_bounds_the_recommendation() -> None:
    a = analysis([], max_delay_seconds=60)
    assert a.recommendation.outcome is None
    assert "misses a useful incident or fires too late" not in a.recommendation.reason
    assert "no alternative opens fewer" in a.recommendation.reason


def test_noise_minutes_decides_the_heuristic() -> None:
    a = analysis([], noise_seconds=60)  # the blips stayed open 2 minutes: not noise now
    assert all(o.noise == 0 for o in a.outcomes)
    assert a.recommendation.outcome is None
    assert a.recommendation.reason == "the current rule opened no noise incident"


def test_for_only_backtest_when_there_is_no_threshold() -> None:
    rule = parse_rules(RULES.replace("x > 0.05", "x == 1")).named("Errors")[0]
    ones = [SeriesPoints(label_key(A), [(i, 1.0) for i in (*range(10, 14), *range(50, 70))])]
    a = analyse(rule, None, ones, GRID, 0.0, [], fors=(240,))
    assert {o.candidate for o in a.outcomes} == {Candidate(None, 120), Candidate(None, 240)}
    best = a.recommendation.outcome
    assert best is not None and best.candidate == Candidate(None, 240)


def test_grids() -> None:
    assert threshold_grid(0.05) == pytest.approx([0.035, 0.04, 0.045, 0.05, 0.055, 0.06, 0.065])
    assert threshold_grid(0.05, [0.1]) == [0.05, 0.1]
    assert threshold_grid(0.0) == [0.0]
    assert for_grid(300) == [300, 600, 900]
    assert for_grid(0) == [0, 60, 120, 300]
    assert for_grid(300, [60]) == [60, 300]

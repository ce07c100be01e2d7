"""One backtest, start to finish, without I/O: the range-query result and the ledger runs in,
the scored alternatives and the recommendation out."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.tune.backtest import Grid, Incident, SeriesPoints, backtest
from shared.tune.promql import Split, format_duration, format_number
from shared.tune.rules import AlertRule
from shared.tune.score import (
    Candidate,
    Judged,
    Outcome,
    Recommendation,
    RunRecord,
    judge,
    recommend,
    runs_for_rule,
    score,
)

THRESHOLD_FACTORS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)  # ±10/20/30 %
FOR_FACTORS = (1, 2, 3)
FOR_WHEN_ZERO = (0.0, 60.0, 120.0, 300.0)


def threshold_grid(current: float, given: Sequence[float] = ()) -> list[float]:
    values = set(given) if given else {float(f"{current * f:.4g}") for f in THRESHOLD_FACTORS}
    # The current value as the rule has it (14.4 * 0.01 is 0.14400000000000002), once.
    others = {v for v in values if not math.isclose(v, current, rel_tol=1e-9, abs_tol=1e-12)}
    return sorted(others | {current})


def for_grid(current: float, given: Sequence[float] = ()) -> list[float]:
    if given:
        values = set(given)
    elif current > 0:
        values = {current * f for f in FOR_FACTORS}
    else:
        values = set(FOR_WHEN_ZERO)
    return sorted(values | {current})


@dataclass
class Analysis:
    rule: AlertRule
    split: Split | None
    grid: Grid
    window_start: float
    series: int
    current: Candidate
    outcomes: list[Outcome]
    baseline: list[Judged]
    runs: list[RunRecord]
    unmatched: list[RunRecord]
    noise_seconds: float
    max_delay_seconds: float
    recommendation: Recommendation
    notes: list[str] = field(default_factory=list)

    @property
    def window_end(self) -> float:
        return self.grid.at(self.grid.count - 1)

    @property
    def now(self) -> Outcome:
        return next(o for o in self.outcomes if o.candidate == self.current)

    @property
    def by_verdict(self) -> int:
        return sum(j.by_verdict for j in self.baseline)


def analyse(
    rule: AlertRule,
    split: Split | None,
    series: Sequence[SeriesPoints],
    grid: Grid,
    window_start: float,
    run_docs: Iterable[Mapping[str, Any]],
    *,
    thresholds: Sequence[float] = (),
    fors: Sequence[float] = (),
    noise_seconds: float = 300.0,
    max_delay_seconds: float = 600.0,
) -> Analysis:
    current = Candidate(split.threshold if split else None, rule.for_seconds)
    levels: list[float | None] = (
        list(threshold_grid(split.threshold, thresholds)) if split else [None]
    )
    keep = rule.keep_firing_for_seconds

    def incidents(threshold: float | None, for_seconds: float) -> list[Incident]:
        found = backtest(series, grid, _condition(split, threshold), for_seconds, keep)
        return [i for i in found if i.fired_at >= window_start]

    baseline_incidents = incidents(current.threshold, current.for_seconds)
    runs = [r for r in runs_for_rule(run_docs, rule) if r.starts_at >= window_start - grid.step]
    baseline, unmatched = judge(baseline_incidents, runs, noise_seconds, 2 * grid.step)
    outcomes = [
        score(Candidate(t, f), incidents(t, f), baseline, noise_seconds)
        for t in levels
        for f in for_grid(rule.for_seconds, fors)
    ]
    return Analysis(
        rule=rule,
        split=split,
        grid=grid,
        window_start=window_start,
        series=len(series),
        current=current,
        outcomes=outcomes,
        baseline=baseline,
        runs=runs,
        unmatched=unmatched,
        noise_seconds=noise_seconds,
        max_delay_seconds=max_delay_seconds,
        recommendation=recommend(outcomes, current, max_delay_seconds),
    )


def _condition(split: Split | None, threshold: float | None) -> Callable[[float], bool]:
    if split is None or threshold is None:
        return lambda _: True  # the whole expression was queried: any sample is an alert
    return lambda v: split.holds(v, threshold)


def describe(c: Candidate, split: Split | None) -> str:
    head = f"{split.op} {format_number(c.threshold)} " if split and c.threshold is not None else ""
    return f"{head}for {format_duration(c.for_seconds)}"

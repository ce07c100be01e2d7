"""Replay an alerting rule's `for:` / `keep_firing_for:` state machine over a range query result.

Prometheus evaluates a rule every interval; per label set (without `__name__`):
- a series in the result while inactive becomes *pending* (active since this evaluation);
- pending turns *firing* at the first evaluation where now - active_since >= `for`
  (`for: 0` fires at once);
- a series missing from the result (condition false, no sample within the lookback, a scrape
  gap — all the same to Prometheus) drops a pending alert and resolves a firing one at that
  evaluation, unless `keep_firing_for` holds it: firing continues while now - (first evaluation
  without it) < keep_firing_for, and the series coming back meanwhile continues the same alert.

So an incident is fired_at -> resolved_at (Alertmanager's startsAt -> endsAt); one still firing
at the end of the range has resolved_at None. Everything here is in evaluation-grid indices
(t = start + i * step), where a run of consecutive true evaluations is all that matters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

LabelKey = tuple[tuple[str, str], ...]
EPS = 1e-9


def label_key(labels: Mapping[str, str]) -> LabelKey:
    """An alert's identity: its labels without the metric name, sorted."""
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


@dataclass(frozen=True)
class Grid:
    start: float  # first evaluation (unix seconds)
    step: float
    count: int

    def at(self, i: int) -> float:
        return self.start + i * self.step

    def index(self, t: float) -> int | None:
        """The evaluation index of timestamp `t`, if `t` is on the grid."""
        i = round((t - self.start) / self.step)
        return i if 0 <= i < self.count and abs(self.at(i) - t) < 1e-3 else None

    def steps(self, seconds: float) -> int:
        """Evaluations until `seconds` have passed: the smallest k with k * step >= seconds."""
        return max(0, math.ceil(seconds / self.step - EPS))


@dataclass(frozen=True)
class Incident:
    key: LabelKey
    active_at: float  # first evaluation of the pending period
    fired_at: float
    resolved_at: float | None  # None: still firing at the end of the range
    last_true_at: float  # last evaluation where the condition held

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.key)

    def duration(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.fired_at

    def overlaps(self, start: float, end: float | None) -> bool:
        """Was this incident firing at some time in [start, end) (end None: open)?"""
        mine_end = math.inf if self.resolved_at is None else self.resolved_at
        other_end = math.inf if end is None else end
        return self.fired_at < other_end and start < mine_end


def true_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive indices: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(indices)):
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def incidents_from_runs(
    key: LabelKey,
    runs: Sequence[tuple[int, int]],
    grid: Grid,
    for_seconds: float,
    keep_firing_for_seconds: float = 0.0,
) -> list[Incident]:
    """The alerts Prometheus would have fired for one label set, given its true runs."""
    hold = grid.steps(for_seconds)
    keep = grid.steps(keep_firing_for_seconds)
    out: list[Incident] = []
    current: tuple[int, int, int] | None = None  # (active, fired, last true) of a firing alert

    def close(active: int, fired: int, last: int) -> None:
        resolved = last + 1 + keep  # first evaluation where keep_firing_for has run out
        out.append(
            Incident(
                key,
                grid.at(active),
                grid.at(fired),
                grid.at(resolved) if resolved < grid.count else None,
                grid.at(last),
            )
        )

    for first, last in runs:
        if current is not None:
            # Back before the resolving evaluation: the same alert goes on firing.
            if first <= current[2] + 1 + keep:
                current = (current[0], current[1], last)
                continue
            close(*current)
            current = None
        if first + hold <= last:  # held for `for`: fires; otherwise the pending alert is dropped
            current = (first, first + hold, last)
    if current is not None:
        close(*current)
    return out


@dataclass(frozen=True)
class SeriesPoints:
    """One label set's samples on the grid: (index, value), as the range query returned them."""

    key: LabelKey
    points: Sequence[tuple[int, float]]


def backtest(
    series: Iterable[SeriesPoints],
    grid: Grid,
    condition: Callable[[float], bool],
    for_seconds: float,
    keep_firing_for_seconds: float = 0.0,
) -> list[Incident]:
    """Every incident over all label sets, ordered by firing time."""
    out: list[Incident] = []
    for s in series:
        runs = true_runs(i for i, v in s.points if condition(v))
        out += incidents_from_runs(s.key, runs, grid, for_seconds, keep_firing_for_seconds)
    return sorted(out, key=lambda inc: (inc.fired_at, inc.key))


def on_grid(
    raw: Iterable[tuple[Mapping[str, str], Sequence[tuple[float, float]]]], grid: Grid
) -> list[SeriesPoints]:
    """Range-query series as grid points, per alert label set. Series that differ only in
    `__name__` are one alert to Prometheus: their samples are pooled (the condition holds at an
    evaluation if it holds for any of them)."""
    merged: dict[LabelKey, list[tuple[int, float]]] = {}
    for labels, values in raw:
        pts = merged.setdefault(label_key(labels), [])
        for t, v in values:
            i = grid.index(t)
            if i is not None:
                pts.append((i, v))
    return [SeriesPoints(k, sorted(p)) for k, p in sorted(merged.items())]

"""The `for:` / `keep_firing_for:` state machine on hand-made series (grid: t = 60 * i)."""

from __future__ import annotations

import math

from shared.tune.backtest import (
    Grid,
    Incident,
    SeriesPoints,
    backtest,
    incidents_from_runs,
    label_key,
    on_grid,
    true_runs,
)

GRID = Grid(0.0, 60.0, 30)
A = label_key({"service": "a"})
B = label_key({"service": "b"})


def above(v: float) -> bool:
    return v > 0.05


def points(values: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(values.items())


def series(key: tuple[tuple[str, str], ...], high: range | list[int], gaps: tuple[int, ...] = ()):
    """0.1 at the `high` indices, 0.01 elsewhere, nothing at all at the `gaps`."""
    return SeriesPoints(
        key,
        points({i: (0.1 if i in high else 0.01) for i in range(GRID.count) if i not in gaps}),
    )


def spans(incidents: list[Incident]) -> list[tuple[int, int, int | None]]:
    """(active, fired, resolved) as grid indices, for readable expectations."""
    return [
        (
            int(i.active_at // 60),
            int(i.fired_at // 60),
            None if i.resolved_at is None else int(i.resolved_at // 60),
        )
        for i in incidents
    ]


def test_true_runs() -> None:
    assert true_runs([7, 1, 2, 3, 3]) == [(1, 3), (7, 7)]
    assert true_runs([]) == []


def test_pending_fires_once_held_for_the_whole_for_duration() -> None:
    # True at 2..9 (8 evaluations), for 5m: pending at 2, firing at 7, resolved at 10.
    got = backtest([series(A, range(2, 10))], GRID, above, 300)
    assert spans(got) == [(2, 7, 10)]
    assert got[0].duration() == 180
    assert got[0].last_true_at == 9 * 60


def test_for_zero_fires_at_the_first_evaluation() -> None:
    assert spans(backtest([series(A, range(2, 4))], GRID, above, 0)) == [(2, 2, 4)]


def test_for_boundary_exactly_held_fires_one_short_does_not() -> None:
    # 6 true evaluations = 5 minutes held: fires at the 6th (now - active == for).
    assert spans(backtest([series(A, range(2, 8))], GRID, above, 300)) == [(2, 7, 8)]
    # 5 evaluations (4 minutes held): dropped while pending.
    assert backtest([series(A, range(2, 7))], GRID, above, 300) == []
    # A `for:` between steps rounds up to the next evaluation: 90s needs 2 steps.
    assert spans(backtest([series(A, range(2, 5))], GRID, above, 90)) == [(2, 4, 5)]


def test_a_gap_resets_pending_and_resolves_firing() -> None:
    # High 0..9 but no sample at all at 4: two runs (0..3, 5..9); for 3m fires in both.
    got = backtest([series(A, range(10), gaps=(4,))], GRID, above, 180)
    assert spans(got) == [(0, 3, 4), (5, 8, 10)]
    # High 0..5 with a gap at 3: neither run holds 3m, so nothing fires at all.
    assert backtest([series(A, range(6), gaps=(3,))], GRID, above, 180) == []


def test_nan_is_not_above_any_threshold() -> None:
    from shared.tune.promql import compare

    pts = SeriesPoints(A, [(0, 0.1), (1, math.nan), (2, 0.1)])
    assert spans(backtest([pts], GRID, lambda v: compare(v, ">", 0.05), 0)) == [
        (0, 0, 1),
        (2, 2, 3),
    ]


def test_flapping_opens_an_incident_per_flap_without_keep_firing_for() -> None:
    flaps = [0, 2, 4, 6]
    got = backtest([series(A, flaps)], GRID, above, 0)
    assert spans(got) == [(0, 0, 1), (2, 2, 3), (4, 4, 5), (6, 6, 7)]


def test_keep_firing_for_bridges_flaps_into_one_incident() -> None:
    # Each flap is back at the evaluation where keep_firing_for (1m) would have run out.
    got = backtest([series(A, [0, 2, 4, 6])], GRID, above, 0, keep_firing_for_seconds=60)
    assert spans(got) == [(0, 0, 8)]
    assert got[0].last_true_at == 6 * 60
    # Three minutes apart, 1m is not enough: resolved at last true + 1 + 1 each time.
    got = backtest([series(A, [0, 3, 6])], GRID, above, 0, keep_firing_for_seconds=60)
    assert spans(got) == [(0, 0, 2), (3, 3, 5), (6, 6, 8)]
    # Keep firing for 2m: still firing at 2 (1 min since), and true again at 3: one incident.
    got = backtest([series(A, [0, 3, 6])], GRID, above, 0, keep_firing_for_seconds=120)
    assert spans(got) == [(0, 0, 9)]


def test_keep_firing_for_does_not_hold_a_pending_alert() -> None:
    assert backtest([series(A, [0, 1])], GRID, above, 120, keep_firing_for_seconds=600) == []
    # The gap resets the pending timer: 0..1 never fires, 3..5 does (then held for 10m).
    assert spans(backtest([series(A, [0, 1, 3, 4, 5])], GRID, above, 120, 600)) == [(3, 5, 16)]


def test_still_firing_at_the_end_has_no_resolution() -> None:
    got = backtest([series(A, range(25, 30))], GRID, above, 60)
    assert spans(got) == [(25, 26, None)]
    assert got[0].duration() is None
    # keep_firing_for running past the end of the range: also still firing.
    got = backtest([series(A, range(20, 27))], GRID, above, 0, keep_firing_for_seconds=600)
    assert spans(got) == [(20, 20, None)]


def test_series_are_independent_and_ordered_by_firing_time() -> None:
    got = backtest([series(A, range(5, 12)), series(B, range(3, 6))], GRID, above, 120)
    assert [(i.key, *spans([i])[0]) for i in got] == [(B, 3, 5, 6), (A, 5, 7, 12)]
    assert got[0].labels == {"service": "b"}


def test_incidents_from_runs_directly() -> None:
    # for 2m, keep 2m: 0..4 fires at 2 and would resolve at 4+1+2 = 7; the run at 6 comes
    # first (resolution moves to 9), then the run from 8 (resolution 20+1+2 = 23).
    got = incidents_from_runs(A, [(0, 4), (6, 6), (8, 20)], GRID, 120, 120)
    assert spans(got) == [(0, 2, 23)]
    # Without keep_firing_for the same runs are three alerts; the run at 6 never fires.
    assert spans(incidents_from_runs(A, [(0, 4), (6, 6), (8, 20)], GRID, 120)) == [
        (0, 2, 5),
        (8, 10, 21),
    ]


def test_on_grid_drops_the_metric_name_and_off_grid_samples() -> None:
    raw = [
        ({"__name__": "x", "service": "a"}, [(0.0, 1.0), (60.0, 2.0), (90.0, 9.0)]),
        ({"__name__": "y", "service": "a"}, [(60.0, 3.0)]),
        ({"service": "b"}, [(120.0, 4.0), (99999.0, 5.0)]),
    ]
    got = on_grid(raw, GRID)
    assert [(s.key, list(s.points)) for s in got] == [
        (A, [(0, 1.0), (1, 2.0), (1, 3.0)]),
        (B, [(2, 4.0)]),
    ]
    # Pooled samples: a's alert holds at 1 because y's sample does (x's does not).
    got_a = backtest(got[:1], GRID, lambda v: v > 2.5, 0)
    assert spans(got_a) == [(1, 1, 2)]


def test_grid_helpers() -> None:
    assert GRID.index(120.0) == 2
    assert GRID.index(130.0) is None
    assert GRID.index(60.0 * 30) is None
    assert GRID.steps(0) == 0
    assert GRID.steps(60) == 1
    assert GRID.steps(61) == 2

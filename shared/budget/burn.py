"""Pure error-budget arithmetic: burn rates, multi-window tiers, exhaustion ETA, spike vs gradual.

No I/O here; everything is unit-tested without servers.

Vocabulary (Google SRE workbook, "Alerting on SLOs"):

- error ratio over a window = errors / requests in that window;
- burn rate = error ratio / (1 - objective): 1.0 spends exactly the budget over the SLO period;
- budget consumed = burn rate over the whole period (1.0 = exhausted); remaining = 1 - consumed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

SECONDS = {"m": 60, "h": 3600, "d": 86400}

# The windows reported, shortest first; the SLO period window is appended by `windows_for`.
SHORT_WINDOWS = ("5m", "30m", "1h", "6h", "1d", "3d")


def window_seconds(window: str) -> int:
    """'5m' -> 300, '6h' -> 21600, '30d' -> 2592000."""
    try:
        return int(window[:-1]) * SECONDS[window[-1]]
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"bad window {window!r}; use <n>m, <n>h or <n>d") from exc


def windows_for(period_days: int) -> tuple[str, ...]:
    period = f"{period_days}d"
    return SHORT_WINDOWS if period in SHORT_WINDOWS else (*SHORT_WINDOWS, period)


def error_ratio(errors_per_s: float | None, requests_per_s: float | None) -> float | None:
    """errors/requests; None without traffic. Missing errors with traffic means 0 errors."""
    if requests_per_s is None or not math.isfinite(requests_per_s) or requests_per_s <= 0:
        return None
    errors = errors_per_s if errors_per_s is not None and math.isfinite(errors_per_s) else 0.0
    return min(1.0, max(0.0, errors / requests_per_s))


def burn_rate(ratio: float | None, objective: float) -> float | None:
    if ratio is None:
        return None
    if not 0 < objective < 1:
        raise ValueError("objective must be between 0 and 1 (exclusive)")
    return ratio / (1 - objective)


@dataclass(frozen=True)
class BudgetState:
    consumed: float  # fraction of the period's budget spent (can exceed 1)
    remaining: float  # 1 - consumed, floored at 0

    @property
    def exhausted(self) -> bool:
        return self.consumed >= 1.0


def budget_state(period_burn: float) -> BudgetState:
    """Over a rolling period, the fraction consumed equals the period's burn rate."""
    return BudgetState(consumed=period_burn, remaining=max(0.0, 1.0 - period_burn))


@dataclass(frozen=True)
class TierRule:
    """Alert when burn >= threshold over BOTH the long and the short window."""

    name: str
    severity: Literal["page", "ticket"]
    long_window: str
    short_window: str
    budget_fraction: float  # share of the period budget the long window may spend

    def threshold(self, period_seconds: int) -> float:
        return self.budget_fraction * period_seconds / window_seconds(self.long_window)


# SRE workbook table 5-8 for a 30-day SLO: 2% in 1h (14.4x), 5% in 6h (6x), 10% in 3d (1x).
# Thresholds are derived from the budget fraction, so other periods scale the same way.
TIER_RULES = (
    TierRule("fast-burn", "page", "1h", "5m", 0.02),
    TierRule("slow-burn", "page", "6h", "30m", 0.05),
    TierRule("chronic-burn", "ticket", "3d", "6h", 0.10),
)


@dataclass(frozen=True)
class TierResult:
    rule: TierRule
    threshold: float
    long_burn: float | None
    short_burn: float | None

    @property
    def breached(self) -> bool:
        return (
            self.long_burn is not None
            and self.short_burn is not None
            and self.long_burn >= self.threshold
            and self.short_burn >= self.threshold
        )

    def describe(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f}x"

        return (
            f"{self.rule.name} ({self.rule.severity}): {fmt(self.long_burn)} over "
            f"{self.rule.long_window} and {fmt(self.short_burn)} over {self.rule.short_window} "
            f"vs {self.threshold:.1f}x"
        )


def evaluate_tiers(
    burns: Mapping[str, float | None], period_seconds: int, rules: Sequence[TierRule] = TIER_RULES
) -> list[TierResult]:
    return [
        TierResult(
            rule,
            rule.threshold(period_seconds),
            burns.get(rule.long_window),
            burns.get(rule.short_window),
        )
        for rule in rules
    ]


def breached_tier(results: Sequence[TierResult]) -> TierResult | None:
    """The most urgent breached tier (rules are ordered most urgent first)."""
    return next((r for r in results if r.breached), None)


def exhaustion_eta_seconds(
    remaining: float, current_burn: float | None, period_seconds: int
) -> float | None:
    """Seconds until the budget is gone if the current burn continues; 0 = already exhausted.

    None when the current burn is sustainable (<= 1x): at that pace the budget lasts the period.
    Simple model: it ignores old errors ageing out of the rolling window.
    """
    if remaining <= 0:
        return 0.0
    if current_burn is None or current_burn <= 1.0:
        return None
    return remaining * period_seconds / current_burn


@dataclass(frozen=True)
class Onset:
    started_at: float | None  # unix seconds of the first point of the current episode
    always_above: bool  # above threshold for the whole looked-at range
    pre_ratio: float | None  # mean ratio in the hour before the onset
    post_ratio: float | None  # mean ratio in the hour after the onset


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def find_onset(
    points: Sequence[tuple[float, float]],
    threshold: float,
    max_gap_seconds: float = 1800.0,
    context_seconds: float = 3600.0,
) -> Onset:
    """Start of the current episode of ratio > threshold, walking back from the newest point.

    Dips below the threshold shorter than `max_gap_seconds` do not end an episode (real data
    is noisy). NaN points (no traffic) are skipped. Returns started_at=None when the newest
    points are not above the threshold.
    """
    pts = [(t, v) for t, v in points if math.isfinite(v)]
    if not pts:
        return Onset(None, False, None, None)
    started: float | None = None
    last_above: float | None = None
    for t, v in reversed(pts):
        if v > threshold:
            started = t
            last_above = t
        elif last_above is None:
            if pts[-1][0] - t > max_gap_seconds:
                break  # nothing above threshold recently
        elif last_above - t > max_gap_seconds:
            break
    if started is None:
        return Onset(None, False, None, None)
    always_above = started <= pts[0][0]
    pre = [v for t, v in pts if started - context_seconds <= t < started]
    post = [v for t, v in pts if started <= t < started + context_seconds]
    return Onset(started, always_above, _mean(pre), _mean(post))


Pattern = Literal["healthy", "recovered", "spike", "gradual", "unknown"]


def classify(
    burns: Mapping[str, float | None],
    onset: Onset,
    threshold_ratio: float,
    period_burn: float | None = None,
    abrupt_factor: float = 4.0,
) -> Pattern:
    """Spike (abrupt onset) or gradual (ramp or chronic) burn; healthy/recovered when not burning.

    - not burning now (1h and 6h burn < 1): "recovered" if the period budget is exhausted,
      else "healthy";
    - burning, onset found: "spike" if the ratio in the hour after the onset is at least
      `abrupt_factor` times the ratio in the hour before (or the threshold when there was no
      traffic before), else "gradual";
    - burning over the whole range looked at: "gradual" (chronic);
    - burning but no range data: compare 1h vs 3d burn (>= `abrupt_factor`x -> spike).
    """
    b1h, b6h = burns.get("1h"), burns.get("6h")
    current = [b for b in (b1h, b6h) if b is not None]
    if not current:
        return "unknown"
    if max(current) < 1.0:
        return "recovered" if period_burn is not None and period_burn >= 1 else "healthy"
    if onset.started_at is None:
        b3d = burns.get("3d")
        if b1h is not None and b3d:
            return "spike" if b1h >= abrupt_factor * b3d else "gradual"
        return "unknown"
    if onset.always_above:
        return "gradual"
    post = onset.post_ratio or 0.0
    base = onset.pre_ratio if onset.pre_ratio else threshold_ratio / abrupt_factor
    return "spike" if post >= abrupt_factor * base else "gradual"

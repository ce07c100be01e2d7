"""Memory trend classification (pure): "leak suspected" | "spike" | "steady".

A leak is only suspected when growth is *sustained and monotonic*: over at least
`min_duration_s` (after the last restart, which shows as a big drop), bucket averages rise
step after step, the linear fit is good, and the total growth is meaningful. A short burst above
the baseline that is not a sustained climb is a "spike"; anything else is "steady".
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Point = tuple[float, float]  # (unix seconds, bytes)


@dataclass(frozen=True)
class TrendParams:
    min_duration_s: float = 1800.0  # at least 30 min of data after the last restart
    min_points: int = 6
    buckets: int = 12
    monotonic_fraction: float = 0.85  # share of bucket-to-bucket steps that do not go down
    min_r2: float = 0.8
    min_relative_growth: float = 0.10  # +10% over the window
    spike_factor: float = 1.25  # peak >= 1.25 x median baseline
    reset_drop: float = 0.30  # a drop of 30%+ between samples = a restart


def _linear_fit(points: Sequence[Point]) -> tuple[float, float]:
    """(slope per second, r squared)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0:
        return 0.0, 0.0
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 0.0
    return slope, r2


def _bucket_means(values: Sequence[float], n: int) -> list[float]:
    n = max(2, min(n, len(values)))
    size = len(values) / n
    out = []
    for i in range(n):
        chunk = values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]
        out.append(statistics.fmean(chunk))
    return out


def _last_segment(points: Sequence[Point], drop: float) -> tuple[list[Point], int]:
    """Points after the last restart (a drop of `drop` or more), and how many restarts."""
    start, resets = 0, 0
    for i in range(1, len(points)):
        prev, cur = points[i - 1][1], points[i][1]
        if prev > 0 and cur < prev * (1 - drop):
            start, resets = i, resets + 1
    return list(points[start:]), resets


def classify_memory(
    points: Sequence[Point],
    limit_bytes: float | None = None,
    params: TrendParams | None = None,
) -> dict[str, Any]:
    """Classify one container's working set. Returns a JSON-serialisable dict with `verdict`."""
    p = params or TrendParams()
    pts = sorted((float(t), float(v)) for t, v in points if v == v)  # drop NaN
    if len(pts) < p.min_points:
        return {"verdict": "steady", "reason": "not enough data", "points": len(pts)}
    segment, resets = _last_segment(pts, p.reset_drop)
    if len(segment) < p.min_points or segment[-1][0] - segment[0][0] < p.min_duration_s:
        segment_used = pts  # too short after a restart: judge the whole window
    else:
        segment_used = segment
    values = [v for _, v in segment_used]
    duration = segment_used[-1][0] - segment_used[0][0]
    slope, r2 = _linear_fit(segment_used)
    means = _bucket_means(values, p.buckets)
    tolerance = 0.002 * statistics.fmean(means)
    steps = [b - a for a, b in itertools.pairwise(means)]
    up_fraction = sum(1 for d in steps if d >= -tolerance) / len(steps) if steps else 0.0
    first, current = values[0], values[-1]
    rel_growth = (current - first) / first if first > 0 else 0.0
    all_values = [v for _, v in pts]  # a spike's fall looks like a restart: judge the window
    baseline = statistics.median(all_values)
    peak = max(all_values)
    leak = (
        slope > 0
        and duration >= p.min_duration_s
        and up_fraction >= p.monotonic_fraction
        and r2 >= p.min_r2
        and rel_growth >= p.min_relative_growth
    )
    if leak:
        verdict = "leak suspected"
    elif baseline > 0 and peak >= baseline * p.spike_factor:
        verdict = "spike"
    else:
        verdict = "steady"
    out: dict[str, Any] = {
        "verdict": verdict,
        "current_bytes": round(current),
        "peak_bytes": round(peak),
        "baseline_bytes": round(baseline),
        "limit_bytes": round(limit_bytes) if limit_bytes else None,
        "usage_ratio": round(current / limit_bytes, 3) if limit_bytes else None,
        "growth_bytes_per_hour": round(slope * 3600),
        "relative_growth": round(rel_growth, 3),
        "r2": round(r2, 3),
        "monotonic_fraction": round(up_fraction, 3),
        "window_minutes": round(duration / 60, 1),
        "restarts_detected": resets,
        "predicted_seconds_to_limit": None,
        "predicted_limit_at": None,
    }
    if limit_bytes and slope > 0 and current < limit_bytes:
        seconds = (limit_bytes - current) / slope
        out["predicted_seconds_to_limit"] = round(seconds)
        at = datetime.fromtimestamp(segment_used[-1][0] + seconds, UTC)
        out["predicted_limit_at"] = at.isoformat().replace("+00:00", "Z")
    elif limit_bytes and current >= limit_bytes:
        out["predicted_seconds_to_limit"] = 0
    return out


def overall_verdict(per_series: Sequence[dict[str, Any]]) -> str:
    verdicts = {s.get("verdict") for s in per_series}
    if "leak suspected" in verdicts:
        return "leak suspected"
    if "spike" in verdicts:
        return "spike"
    return "steady"


def human_bytes(value: float | None) -> str:
    if value is None:
        return "?"
    v = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{v:.0f}{unit}" if unit in ("B", "KiB") else f"{v:.1f}{unit}"
        v /= 1024
    return f"{v:.1f}TiB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


_SUFFIXES = {
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "m": 0.001,
}


def parse_quantity(value: str | None) -> float | None:
    """A Kubernetes quantity ("512Mi", "1", "250m", "1.5Gi") as a number."""
    if not value:
        return None
    text = str(value).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * _SUFFIXES[suffix]
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None

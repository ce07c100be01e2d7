"""History for the local demo's Prometheus, matching the sandbox cluster's `demo` scenario.

- checkout (path A): 0.1% errors until 10 min ago, then /api/checkout fails 12% — right after
  the 1.5.0 rollout the sandbox cluster shows 12 min ago. Its month before that is what
  `alertloop tune HighErrorRate` replays: short bursts of errors from a flaky dependency (5-12
  min; with `for: 5m` most page someone for a few minutes and clear by themselves) and two real
  incidents (a bad deploy at 15% for 45 min, a slow degradation at 8% for 35 min);
- payments (path B): /api/pay's error ratio climbs from 0.2% to 2.5% over 10 days, a gradual
  burn that exhausts the 30-day budget;
- cart (path C): working set grows steadily towards its 512Mi limit on every pod (a leak).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sandbox.kube_scenarios import build
from sandbox.prometheus import (
    SyntheticSeries,
    aligned_end,
    backfill,
    counter_series,
    gauge_series,
    write_openmetrics,
)

DAY = 86400.0
MI = 1024.0 * 1024.0
NAMESPACE = "shop"


def _requests(
    service: str,
    handler: str,
    rps: float,
    ratio: Callable[[float], float],
    start: float,
    end: float,
    step: float,
) -> list[SyntheticSeries]:
    labels = {"job": service, "namespace": NAMESPACE, "service": service, "handler": handler}
    return [
        counter_series(
            "http_requests_total",
            {**labels, "code": "200"},
            lambda t: rps * (1 - ratio(t)),
            start,
            end,
            step,
            initial=1e6,
        ),
        counter_series(
            "http_requests_total",
            {**labels, "code": "500"},
            lambda t: rps * ratio(t),
            start,
            end,
            step,
            initial=1e3,
        ),
    ]


def _pods(app: str) -> list[str]:
    return [
        o["metadata"]["name"]
        for o in build("demo").objects
        if o.get("kind") == "Pod" and o["metadata"]["name"].startswith(f"{app}-")
    ]


# /api/checkout's error bursts before today: (days before the end, minutes long, error ratio).
CHECKOUT_BLIPS = (
    (27.6, 6, 0.20),
    (24.3, 7, 0.25),
    (19.8, 5, 0.30),
    (16.4, 6, 0.18),
    (13.1, 8, 0.15),
    (11.7, 12, 0.10),
    (6.2, 6, 0.22),
    (4.5, 7, 0.20),
    (2.3, 5, 0.35),
)
CHECKOUT_INCIDENTS = ((21.4, 45, 0.15), (8.6, 35, 0.08))


def checkout_error_ratio(end: float) -> Callable[[float], float]:
    """/api/checkout's error ratio at t: the spike of the last 10 min, the month's bursts and
    incidents (each starting on a whole minute), 0.1% otherwise."""
    spike_at = end - 10 * 60
    windows = [
        (start, start + minutes * 60, ratio)
        for days, minutes, ratio in (*CHECKOUT_BLIPS, *CHECKOUT_INCIDENTS)
        for start in [end - round(days * DAY / 60) * 60]
    ]

    def ratio(t: float) -> float:
        if t > spike_at:
            return 0.12
        return next((r for a, b, r in windows if a < t <= b), 0.001)

    return ratio


def demo_series(end: float) -> list[SyntheticSeries]:
    fine, month = 60.0, 300.0
    recent = end - 6 * 3600
    since = end - 30 * DAY - 3600
    ramp_from = end - 10 * DAY

    def ramp(t: float) -> float:
        return 0.002 if t <= ramp_from else 0.002 + 0.023 * (t - ramp_from) / (end - ramp_from)

    series = [
        *_requests("checkout", "/api/checkout", 20.0, checkout_error_ratio(end), since, end, fine),
        *_requests("checkout", "/api/cart", 10.0, lambda t: 0.001, since, end, fine),
        *_requests("payments", "/api/pay", 6.0, ramp, end - 30 * DAY - 3600, end, month),
        *_requests(
            "payments", "/api/refund", 1.0, lambda t: 0.001, end - 30 * DAY - 3600, end, month
        ),
    ]
    for i, pod in enumerate(_pods("cart")):
        labels = {"namespace": NAMESPACE, "pod": pod, "container": "cart"}
        base = (260 + 20 * i) * MI
        series.append(
            gauge_series(
                "container_memory_working_set_bytes",
                labels,
                lambda t, b=base: b + (t - recent) * 180 * MI / 21600,
                recent,
                end,
                fine,
            )
        )
        series.append(
            gauge_series(
                "kube_pod_container_resource_limits",
                {**labels, "resource": "memory", "unit": "byte"},
                lambda t: 512 * MI,
                recent,
                end,
                fine,
            )
        )
    return series


def prepare_tsdb(tsdb: Path, workdir: Path) -> float:
    """Backfill the demo history into a Prometheus data directory; returns seconds taken."""
    t0 = time.monotonic()
    om = write_openmetrics(demo_series(aligned_end(60.0)), workdir / "demo-history.om")
    backfill(om, tsdb)
    om.unlink()  # ~30 MB of text, now in the TSDB
    return time.monotonic() - t0

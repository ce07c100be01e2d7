"""The Prometheus sandbox itself: backfill 30 days, start, query, stop."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from sandbox.prometheus import (
    DAY,
    PrometheusSandbox,
    SyntheticSeries,
    aligned_end,
    counter_series,
    gauge_series,
    openmetrics_text,
    sandbox_unavailable,
)
from shared.prometheus import PrometheusClient, PrometheusSettings

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]


def test_openmetrics_text_format() -> None:
    text = openmetrics_text(
        [
            counter_series("req_total", {"a": 'x"y'}, lambda t: 1.0, 0, 600, 300, initial=5),
            gauge_series("temp", {}, lambda t: math.nan if t else 1.5, 0, 300, 300),
        ]
    )
    assert text.splitlines() == [
        "# TYPE req counter",
        'req_total{a="x\\"y"} 5.0 0',
        'req_total{a="x\\"y"} 305.0 300',
        'req_total{a="x\\"y"} 605.0 600',
        "# TYPE temp gauge",
        "temp 1.5 0",
        "temp NaN 300",
        "# EOF",
    ]
    with pytest.raises(ValueError, match="ordered"):
        openmetrics_text([SyntheticSeries("g", {}, [(2, 1), (1, 1)], "gauge")])


def test_thirty_days_backfill_start_query_stop(tmp_path: Path) -> None:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    step = 300.0
    end = aligned_end(step)
    start = end - 30 * DAY
    series = [
        counter_series(
            "http_requests_total",
            {"service": f"s{i}", "code": code},
            lambda t, r=rate: r,
            start,
            end,
            step,
            initial=1000,
        )
        for i in range(10)
        for code, rate in (("200", 10.0), ("500", 0.1))
    ]
    t0 = time.monotonic()
    with PrometheusSandbox(series, tmp_path) as prom:
        elapsed = time.monotonic() - t0
        print(f"30d x {len(series)} series at {step:g}s: {prom.timings}, total {elapsed:.2f}s")
        pid = prom.pid
        assert pid is not None
        client = PrometheusClient(PrometheusSettings(url=prom.url, timeout_seconds=10))
        # 30 days of increase, evaluated at the last sample: exact (no extrapolation needed).
        total = client.scalar('sum(increase(http_requests_total{service="s3"}[30d]))', time=end)
        assert total is not None
        assert total == pytest.approx(10.1 * 30 * DAY, rel=1e-9)
        # An instant query at real "now" still reaches the history: the newest sample is up to
        # one step plus the margin old (aligned_end), more than Prometheus' 5 min lookback.
        assert len(client.instant('last_over_time(http_requests_total{service="s0"}[10m])')) == 2
    assert prom.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

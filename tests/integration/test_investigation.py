"""Alert-type analysis against a real Prometheus holding backfilled series (sandbox.prometheus),
plus the pure trend classifier (no servers) at the top."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from sandbox.kube_api import KubeApiServer
from sandbox.prometheus import (
    PrometheusSandbox,
    SyntheticSeries,
    aligned_end,
    counter_series,
    gauge_series,
    sandbox_unavailable,
)
from shared.investigation import investigate
from shared.investigation.analysis import errors_started, pod_regex
from shared.investigation.trend import classify_memory, parse_quantity
from shared.model import Alert, Finding
from shared.prometheus import PrometheusClient, PrometheusSettings
from shared.run import Run
from shared.workload.resolve import WorkloadRef

MI = 1024 * 1024
HOUR = 3600.0
STEP = 60.0

# --------------------------------------------------------------------------- pure: trend


def _pts(
    fn: Callable[[float], float], hours: float = 6, step: float = 300
) -> list[tuple[float, float]]:
    n = int(hours * HOUR / step)
    return [(i * step, fn(i * step)) for i in range(n + 1)]


def test_trend_leak_is_sustained_monotonic_growth() -> None:
    r = classify_memory(_pts(lambda t: 200 * MI + t / (6 * HOUR) * 250 * MI), 512 * MI)
    assert r["verdict"] == "leak suspected"
    assert 40 * MI < r["growth_bytes_per_hour"] < 43 * MI
    assert 1.3 * HOUR < r["predicted_seconds_to_limit"] < 1.7 * HOUR
    assert r["usage_ratio"] == pytest.approx(450 / 512, abs=0.01)


def test_trend_noisy_growth_is_still_a_leak_but_a_sawtooth_is_not() -> None:
    noisy = classify_memory(
        _pts(lambda t: 200 * MI + t / (6 * HOUR) * 200 * MI + 3 * MI * math.sin(t / 700)),
        512 * MI,
    )
    assert noisy["verdict"] == "leak suspected"
    # garbage-collected sawtooth: rises and falls every 30 min, no sustained growth
    saw = classify_memory(_pts(lambda t: 200 * MI + (t % 1800) / 1800 * 60 * MI), 512 * MI)
    assert saw["verdict"] != "leak suspected"


def test_trend_spike_and_steady() -> None:
    spike = classify_memory(
        _pts(lambda t: 400 * MI if 3 * HOUR <= t < 3.5 * HOUR else 200 * MI), 512 * MI
    )
    assert spike["verdict"] == "spike"
    steady = classify_memory(_pts(lambda t: 250 * MI + MI * math.sin(t / 900)), 512 * MI)
    assert steady["verdict"] == "steady"
    assert classify_memory([(0, 1.0)], None)["verdict"] == "steady"  # not enough data


def test_trend_short_growth_is_not_a_leak() -> None:
    r = classify_memory(_pts(lambda t: 200 * MI + t * 1000, hours=0.25, step=60), 512 * MI)
    assert r["verdict"] != "leak suspected"


def test_trend_after_restart_judges_the_last_segment() -> None:
    def fn(t: float) -> float:  # OOM restart 4h in, then a fresh climb
        base = t if t < 4 * HOUR else t - 4 * HOUR
        return 150 * MI + base / HOUR * 80 * MI

    r = classify_memory(_pts(fn, hours=7), 512 * MI)
    assert r["restarts_detected"] == 1
    assert r["verdict"] == "leak suspected"


def test_quantities_and_helpers() -> None:
    assert parse_quantity("512Mi") == 512 * MI
    assert parse_quantity("250m") == pytest.approx(0.25)
    assert parse_quantity("1.5Gi") == 1.5 * 1024 * MI
    assert parse_quantity("nonsense") is None
    assert errors_started([(0, 0.0), (60, 0.1), (120, 0.2)], 0.05) == 60
    assert errors_started([(0, 0.1), (60, 0.01)], 0.05) is None
    assert pod_regex(WorkloadRef("Deployment", "cart", "shop"), {}) == "cart-.*"
    assert pod_regex(WorkloadRef("StatefulSet", "pg", "data"), {}) == "pg-[0-9]+"
    assert pod_regex(None, {"deployment": "a.b"}) == "a\\.b-.*"


# --------------------------------------------------------------------------- Prometheus


def _series(end: float) -> list[SyntheticSeries]:
    start = end - 8 * HOUR
    out: list[SyntheticSeries] = []

    def mem(pod: str, fn: Callable[[float], float]) -> None:
        labels = {"namespace": "shop", "pod": pod, "container": pod.split("-")[0]}
        out.append(gauge_series("container_memory_working_set_bytes", labels, fn, start, end, STEP))
        out.append(
            gauge_series(
                "kube_pod_container_resource_limits",
                {**labels, "resource": "memory", "unit": "byte"},
                lambda t: 512.0 * MI,
                start,
                end,
                STEP,
            )
        )

    mem("cart-7d9f8b6c5-x2x4z", lambda t: 150 * MI + (t - start) / (8 * HOUR) * 300 * MI)
    mem(
        "burst-5c6d7e8f9-abcde",
        lambda t: 420 * MI if end - 3 * HOUR <= t < end - 2.5 * HOUR else 200 * MI,
    )
    mem("calm-6b7c8d9e0-fghij", lambda t: 250 * MI + 2 * MI * math.sin(t / 600))
    # checkout: 10 req/s, 5xx starting 6 minutes before the end on one handler
    base = {"namespace": "shop", "service": "checkout", "job": "checkout"}
    out.append(
        counter_series(
            "http_requests_total",
            {**base, "code": "200", "handler": "/api/checkout"},
            lambda t: 10.0,
            start,
            end,
            STEP,
        )
    )
    out.append(
        counter_series(
            "http_requests_total",
            {**base, "code": "500", "handler": "/api/checkout"},
            lambda t: 3.0 if t > end - 6 * 60 else 0.0,
            start,
            end,
            STEP,
        )
    )
    out.append(
        counter_series(
            "http_requests_total",
            {**base, "code": "200", "handler": "/healthz"},
            lambda t: 1.0,
            start,
            end,
            STEP,
        )
    )
    return out


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusSandbox, float]]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    end = aligned_end(STEP)
    with PrometheusSandbox(_series(end), tmp_path_factory.mktemp("prom-investigation")) as sb:
        yield sb, end


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "PROMETHEUS_URL"):
        monkeypatch.delenv(name, raising=False)


def _investigate(
    alert_type: str, labels: dict[str, str], prom: tuple[PrometheusSandbox, float]
) -> Finding:
    sb, end = prom
    alert = Alert(name=alert_type, labels=labels, starts_at=datetime.now(UTC), fingerprint="fp")
    run = Run(
        run_id="r", source="dispatch", alert=alert, alert_type=alert_type, plan=["investigate"]
    )
    client = PrometheusClient(PrometheusSettings(url=sb.url, timeout_seconds=10))
    try:
        return investigate(run, prometheus=client, now=datetime.fromtimestamp(end, UTC))
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.prometheus
def test_memory_leak_detected(prom: tuple[PrometheusSandbox, float]) -> None:
    f = _investigate("HighMemoryUsage", {"namespace": "shop", "deployment": "cart"}, prom)
    trend = f.details["memory_trend"]
    assert trend["verdict"] == "leak suspected"
    assert trend["pod"] == "cart-7d9f8b6c5-x2x4z"
    assert trend["limit_bytes"] == 512 * MI
    assert 0 < trend["predicted_seconds_to_limit"] < 2 * HOUR
    assert 35 * MI < trend["growth_bytes_per_hour"] < 40 * MI
    assert "Memory leak suspected on cart-7d9f8b6c5-x2x4z" in f.summary
    assert "of 512.0MiB limit" in f.summary
    assert f.status == "ok"  # Kubernetes skipped, Prometheus answered


@pytest.mark.integration
@pytest.mark.prometheus
def test_memory_spike(prom: tuple[PrometheusSandbox, float]) -> None:
    f = _investigate("HighMemoryUsage", {"namespace": "shop", "deployment": "burst"}, prom)
    assert f.details["memory_trend"]["verdict"] == "spike"
    assert "Memory spike on burst-" in f.summary


@pytest.mark.integration
@pytest.mark.prometheus
def test_memory_steady(prom: tuple[PrometheusSandbox, float]) -> None:
    f = _investigate("HighMemoryUsage", {"namespace": "shop", "deployment": "calm"}, prom)
    assert f.details["memory_trend"]["verdict"] == "steady"
    assert "leak" not in f.summary.lower().replace("check for memory leaks", "")


@pytest.mark.integration
@pytest.mark.prometheus
def test_error_rate_follows_recent_deploy(
    prom: tuple[PrometheusSandbox, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    with KubeApiServer("recent-deploy") as srv:
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_path)
        f = _investigate("HighErrorRate", {"namespace": "shop", "deployment": "checkout"}, prom)
    p = f.details["prometheus"]
    assert p["error_ratio"] == pytest.approx(3 / 14, abs=0.02)
    assert p["top_error_endpoints"][0]["endpoint"] == "/api/checkout"
    assert p["errors_follow_deploy"] is True
    assert "Error ratio 21" in f.summary or "Error ratio 22" in f.summary
    assert "after revision 4 was rolled out" in f.summary
    assert "Roll back to revision 3" in f.summary
    assert f.details["recent_deploy"]["recent"] is True


@pytest.mark.integration
@pytest.mark.prometheus
def test_prometheus_down_keeps_kubernetes_part(monkeypatch: pytest.MonkeyPatch) -> None:
    with KubeApiServer("oomkilled") as srv:
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_path)
        monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")  # nothing listens
        monkeypatch.setenv("PROMETHEUS_TIMEOUT_SECONDS", "1")
        alert = Alert(
            name="HighMemoryUsage",
            labels={"namespace": "shop", "deployment": "cart"},
            starts_at=datetime.now(UTC),
            fingerprint="fp",
        )
        run = Run(
            run_id="r",
            source="dispatch",
            alert=alert,
            alert_type="HighMemoryUsage",
            plan=["investigate"],
        )
        f = investigate(run)
    assert f.status == "ok"
    assert f.details["prometheus"]["status"] == "error"
    assert "Prometheus query failed" in f.summary
    assert "OOMKilled (exit code 137)" in f.summary
    assert f.details["memory_trend"]["verdict"] == "steady"

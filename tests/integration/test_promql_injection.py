"""PromQL injection through alert labels, against a real Prometheus (sandbox.prometheus).

A `service` label value such as ``x"} or vector(0) or {__name__="up`` used to end its string
literal and rewrite the error-ratio query; the rollback canary uses the same builder, so it could
be made to report healthy. Here every query built from alert labels is sent to Prometheus and
must (a) not error and (b) answer exactly what the series carrying that literal label value
answers — never a different series, never a constant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
from shared.budget import queries
from shared.investigation import investigate
from shared.investigation.analysis import query, request_selector
from shared.k8s.client import load_clients
from shared.model import Alert
from shared.prometheus import PrometheusClient, PrometheusSettings
from shared.rollback import canary
from shared.run import Run
from shared.workload.resolve import WorkloadRef

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

STEP = 60.0
# A label value that exists in the data: its own (high) error ratio.
HOSTILE = 'x"} or vector(0) or {__name__="up'
HOSTILE_RATIO = 3.0 / 10.0
# Label values that exist nowhere: the injection would otherwise turn them into 0 ("healthy").
ABSENT = [
    'checkout"} or vector(0) or {__name__="up',
    'checkout",code!~"5..',
    'checkout"}) or vector(0) #',
    "checkout\\",
    "checkout\n",
]
CHECKOUT_RATIO = 2.0 / 12.0


def _service(service: str, ok: float, errors: float, start: float, end: float) -> list[Any]:
    base = {"namespace": "shop", "service": service, "handler": "/api/pay"}
    return [
        counter_series(
            "http_requests_total", {**base, "code": "200"}, lambda t: ok, start, end, STEP
        ),
        counter_series(
            "http_requests_total", {**base, "code": "500"}, lambda t: errors, start, end, STEP
        ),
    ]


def _series(end: float) -> list[SyntheticSeries]:
    start = end - 2 * 3600
    return [
        *_service("checkout", 10.0, 2.0, start, end),
        *_service(HOSTILE, 7.0, 3.0, start, end),
        gauge_series("up", {"job": "x"}, lambda t: 1.0, start, end, STEP),
    ]


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusClient, float]]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    end = aligned_end(STEP)
    with PrometheusSandbox(_series(end), tmp_path_factory.mktemp("prom-injection")) as sb:
        client = PrometheusClient(PrometheusSettings(url=sb.url, timeout_seconds=10))
        try:
            yield client, end
        finally:
            client.close()


def _ratio(client: PrometheusClient, end: float, labels: dict[str, str]) -> float | None:
    selector = request_selector(None, labels, "shop")
    return client.scalar(query("ERROR_RATIO", selector=selector), time=end)


def test_hostile_value_selects_only_its_own_series(prom: tuple[PrometheusClient, float]) -> None:
    client, end = prom
    assert _ratio(client, end, {"service": "checkout"}) == pytest.approx(CHECKOUT_RATIO)
    assert _ratio(client, end, {"service": HOSTILE}) == pytest.approx(HOSTILE_RATIO)


@pytest.mark.parametrize("value", ABSENT)
def test_hostile_value_without_data_is_no_data(
    prom: tuple[PrometheusClient, float], value: str
) -> None:
    client, end = prom
    assert _ratio(client, end, {"service": value}) is None  # no error, no vector(0)


def test_investigation_reports_the_literal_series(prom: tuple[PrometheusClient, float]) -> None:
    client, end = prom
    for service, expected in ((HOSTILE, HOSTILE_RATIO), (ABSENT[0], None)):
        alert = Alert(
            name="HighErrorRate",
            labels={"namespace": "shop", "service": service},
            starts_at=datetime.now(UTC),
            fingerprint="fp",
        )
        env = Run(run_id="r", source="dispatch", alert=alert, alert_type="HighErrorRate", plan=[])
        finding = investigate(env, prometheus=client, now=datetime.fromtimestamp(end, UTC))
        part = finding.details["prometheus"]
        assert part["status"] == "ok", finding.summary
        if expected is None:
            assert part["error_ratio"] is None
            assert "no request metrics" in finding.summary
        else:
            assert part["error_ratio"] == pytest.approx(expected, abs=1e-4)


def test_budget_matchers_select_only_the_literal_series(
    prom: tuple[PrometheusClient, float],
) -> None:
    client, end = prom
    for service, expected in (
        (HOSTILE, HOSTILE_RATIO),
        ("checkout", CHECKOUT_RATIO),
        (ABSENT[0], None),
    ):
        matchers = queries.alert_matchers({"service": service, "namespace": "shop"}, ["service"])
        errors = queries.with_matchers('http_requests_total{code=~"5.."}', matchers)
        total = queries.with_matchers("http_requests_total", matchers)
        ratio = client.scalar(queries.ratio_query(errors, total, "5m"), time=end)
        assert ratio == (pytest.approx(expected) if expected is not None else None), service


@dataclass
class _AtEnd:
    """The real client, evaluating at the data's end instead of the wall clock (the canary asks
    for "now"; the backfilled data ends a little before the test starts)."""

    client: PrometheusClient
    end: float
    configured: bool = True

    def scalar(self, promql: str, time: float | None = None) -> float | None:
        return self.client.scalar(promql, time=self.end)


def _canary(prometheus: _AtEnd, labels: dict[str, str]) -> dict[str, Any]:
    clients = load_clients()
    try:
        return canary.canary(
            clients,
            WorkloadRef("Deployment", "checkout", "shop"),
            labels,
            timeout=1.0,
            interval=0.1,
            threshold=0.05,
            prometheus=prometheus,
        )
    finally:
        clients.close()


def test_canary_cannot_be_made_to_report_healthy(
    prom: tuple[PrometheusClient, float], remediation_cluster: KubeApiServer
) -> None:
    client, end = prom
    at_end = _AtEnd(client, end)
    control = _canary(at_end, {"service": "checkout"})
    assert control["verdict"] == canary.STILL_ERRORING
    assert control["error_ratio"] == pytest.approx(CHECKOUT_RATIO, abs=1e-4)
    hostile = _canary(at_end, {"service": HOSTILE})
    assert hostile["verdict"] == canary.STILL_ERRORING
    assert hostile["error_ratio"] == pytest.approx(HOSTILE_RATIO, abs=1e-4)
    for value in ABSENT:
        out = _canary(at_end, {"service": value})
        assert out["verdict"] == canary.NOT_VERIFIED, (value, out)
        assert out["error_ratio"] is None
        assert "no request metrics" in out["detail"]

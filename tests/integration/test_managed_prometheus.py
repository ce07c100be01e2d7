"""PROMETHEUS_AUTH=google for real: a real Prometheus behind a proxy that only answers tokens the
local metadata server issued to an identity allowed to read metrics (Managed Prometheus' shape)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.gmp_proxy import ManagedPrometheusProxy
from sandbox.metadata_server import MetadataServer
from sandbox.prometheus import PrometheusSandbox, aligned_end, counter_series, sandbox_unavailable
from shared.clusters.clients import prometheus_for
from shared.clusters.table import ClusterEntry, load_table
from shared.investigation import investigate
from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sNotConfigured
from shared.model import Alert, Finding
from shared.prometheus import GOOGLE_SCOPES, PrometheusAuthError
from shared.run import Run
from tests.integration.google_fakes import PROJECT, isolate_adc, no_identity, sa, use_identity

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

STEP = 60.0
RATIO = (
    'sum(rate(http_requests_total{namespace="shop",service="checkout",code=~"5.."}[5m])) '
    '/ sum(rate(http_requests_total{namespace="shop",service="checkout"}[5m]))'
)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    end = aligned_end(STEP)
    start = end - 3600
    labels = {"namespace": "shop", "service": "checkout"}
    series = [
        counter_series("http_requests_total", {**labels, "code": "200"}, lambda t: 9.0,
                       start, end, STEP),
        counter_series("http_requests_total", {**labels, "code": "500"}, lambda t: 1.0,
                       start, end, STEP),
    ]  # fmt: skip
    with PrometheusSandbox(series, tmp_path_factory.mktemp("gmp")) as sandbox:
        yield sandbox.url, end


@pytest.fixture
def md() -> Iterator[MetadataServer]:
    with MetadataServer({n: sa(n) for n in ("investigate", "remediate")}, project_id=PROJECT) as s:
        yield s


@pytest.fixture
def gmp(prom: tuple[str, float], md: MetadataServer) -> Iterator[ManagedPrometheusProxy]:
    with ManagedPrometheusProxy(
        prom[0], md.resolve, readers={sa("investigate")}, project=PROJECT
    ) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def _adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_adc(monkeypatch, tmp_path)
    for name in ("PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_BEARER_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _entry(url: str) -> ClusterEntry:
    return ClusterEntry.model_validate(
        {
            "name": "east",
            "gke": f"projects/{PROJECT}/locations/europe-west1/clusters/east",
            "prometheus": {"url": url, "auth": "google"},
        }
    )


def _no_kubernetes() -> KubeClients:
    raise K8sNotConfigured("Kubernetes access is not configured", fix="(not in this test)")


def _investigate(entry: ClusterEntry, end: float) -> Finding:
    alert = Alert(
        name="HighErrorRate",
        labels={"namespace": "shop", "service": "checkout", "cluster": "east"},
        starts_at=datetime.now(UTC),
        fingerprint="fp",
    )
    env = Run(
        run_id="r", source="dispatch", alert=alert, alert_type="HighErrorRate", plan=["investigate"]
    )
    return investigate(
        env,
        k8s_factory=_no_kubernetes,
        prometheus=prometheus_for(entry),
        now=datetime.fromtimestamp(end, UTC),
    )


def test_a_reader_queries_through_the_proxy_with_its_own_token(
    gmp: ManagedPrometheusProxy,
    md: MetadataServer,
    prom: tuple[str, float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity(monkeypatch, md, "investigate")
    client = prometheus_for(_entry(gmp.url))
    assert client.settings.auth == "google" and client.settings.url == gmp.url
    assert client.scalar(RATIO, time=prom[1]) == pytest.approx(0.1)
    assert gmp.calls == [(sa("investigate"), f"{gmp.prefix}/api/v1/query", 200)]
    (token,) = md.issued("investigate")
    info = md.resolve(token)
    assert info is not None and info.scopes == GOOGLE_SCOPES  # monitoring.read, as requested
    finding = _investigate(_entry(gmp.url), prom[1])
    assert finding.details["prometheus"]["error_ratio"] == pytest.approx(0.1)


def test_the_global_settings_reach_the_proxy_too(
    gmp: ManagedPrometheusProxy,
    md: MetadataServer,
    prom: tuple[str, float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity(monkeypatch, md, "investigate")
    monkeypatch.setenv("PROMETHEUS_URL", gmp.url)
    monkeypatch.setenv("PROMETHEUS_AUTH", "google")
    (implicit,) = load_table({}).clusters.values()
    assert prometheus_for(implicit).scalar(RATIO, time=prom[1]) == pytest.approx(0.1)


def test_a_revoked_token_is_replaced_once(
    gmp: ManagedPrometheusProxy,
    md: MetadataServer,
    prom: tuple[str, float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity(monkeypatch, md, "investigate")
    client = prometheus_for(_entry(gmp.url))
    assert client.scalar(RATIO, time=prom[1]) is not None
    assert md.revoke("investigate") == 1  # the client still believes its token valid
    assert client.scalar(RATIO, time=prom[1]) == pytest.approx(0.1)
    assert [status for _, _, status in gmp.calls] == [200, 401, 200]
    assert len(md.issued("investigate")) == 2


def test_an_identity_without_monitoring_viewer_gets_a_clear_finding(
    gmp: ManagedPrometheusProxy,
    md: MetadataServer,
    prom: tuple[str, float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_identity(monkeypatch, md, "remediate")
    with pytest.raises(PrometheusAuthError, match=r"HTTP 403.*roles/monitoring.viewer"):
        prometheus_for(_entry(gmp.url)).scalar(RATIO, time=prom[1])
    finding = _investigate(_entry(gmp.url), prom[1])
    assert finding.details["prometheus"]["status"] == "error"
    assert "roles/monitoring.viewer" in finding.summary
    assert "PrometheusAuthError" in finding.summary


def test_no_token_at_all_gets_a_clear_finding(
    gmp: ManagedPrometheusProxy, prom: tuple[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    no_identity(monkeypatch, port)
    finding = _investigate(_entry(gmp.url), prom[1])
    assert finding.details["prometheus"]["status"] == "error"
    assert "Google credentials unavailable" in finding.summary
    assert gmp.calls == []  # nothing was sent without a token

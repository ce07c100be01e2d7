"""The KEDA ScaledObject follow-up read from a real Prometheus (backfilled history): proposed
when a workload's CPU follows its request rate and the alert keeps coming back, never otherwise."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from sandbox.prometheus import PrometheusSandbox, aligned_end, counter_series, sandbox_unavailable
from shared.policy import OwnerPolicy
from shared.prometheus import PrometheusClient, PrometheusSettings
from shared.remediation import keda_proposal as kp
from tests.conftest import reset_settings

pytestmark = pytest.mark.integration

STEP = 60.0
END = aligned_end(STEP)
START = END - 3 * 3600


def rps(t: float) -> float:
    return 100 + 80 * math.sin(2 * math.pi * t / 1200)


def unrelated_cpu(t: float) -> float:
    """A slow climb (a leak, a growing cache): not the request rate's three waves an hour."""
    return 0.1 + (t - START) / 36000


def _series() -> list:
    out = []
    for service, cpu in (("web", lambda t: 0.05 + rps(t) / 400), ("cron", unrelated_cpu)):
        out.append(
            counter_series(
                "http_requests_total",
                {"namespace": "shop", "service": service, "code": "200"},
                rps,
                START,
                END,
                STEP,
            )
        )
        out.append(
            counter_series(
                "container_cpu_usage_seconds_total",
                {"namespace": "shop", "pod": f"{service}-7d9f-x2", "container": service},
                cpu,
                START,
                END,
                STEP,
            )
        )
    return out


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusSandbox]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    with PrometheusSandbox(_series(), tmp_path_factory.mktemp("keda-prom")) as sandbox:
        yield sandbox


def _follow_up(prom: PrometheusSandbox, workload: str) -> list[str]:
    client = PrometheusClient(PrometheusSettings(url=prom.url))
    with client:
        return kp.follow_up(
            client,
            namespace="shop",
            workload=workload,
            query_template=OwnerPolicy().request_rate_query,
            replicas=4,
            max_replicas=20,
            end=datetime.fromtimestamp(END, UTC),
            server_address="http://prometheus.monitoring:9090",
        )


def test_cpu_following_the_request_rate_gets_a_scaled_object_proposal(
    prom: PrometheusSandbox,
) -> None:
    lines = _follow_up(prom, "web")
    assert lines and "CPU of shop/web follows its request rate" in lines[0]
    doc = yaml.safe_load(lines[1])
    assert doc["kind"] == "ScaledObject" and doc["spec"]["scaleTargetRef"] == {"name": "web"}
    [trigger] = doc["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert 'service="web"' in trigger["metadata"]["query"]
    # the peak request rate (~180/s) over 4 replicas
    assert 40 <= float(trigger["metadata"]["threshold"]) <= 50


def test_cpu_that_does_not_follow_gets_nothing(prom: PrometheusSandbox) -> None:
    assert _follow_up(prom, "cron") == []


def test_no_series_gets_nothing(prom: PrometheusSandbox) -> None:
    assert _follow_up(prom, "absent") == []


def test_only_for_recurring_cpu_or_memory_alerts_on_workloads_keda_does_not_scale(
    prom: PrometheusSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", prom.url)
    reset_settings()
    details = {
        "workload": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "workload_class": "gitops",
        "before": {"replicas": 4},
    }

    def lines(investigation: str = "cpu", flaps: int = 1, **extra: object) -> list[str]:
        return kp.follow_up_for_run(
            {**details, **extra},
            investigation=investigation,
            flap_count=flaps,
            query_template=OwnerPolicy().request_rate_query,
            ceiling=20,
            end=datetime.fromtimestamp(END, UTC),
        )

    found = lines()
    assert found and "does not apply it" in found[0]
    assert yaml.safe_load(found[1])["spec"]["triggers"][0]["metadata"]["serverAddress"] == prom.url
    assert lines(flaps=0) == []  # the first time: not recurring
    assert lines(investigation="errors") == []
    assert lines(workload_class="keda") == []  # KEDA scales it already
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")
    reset_settings()
    [problem] = lines()
    assert problem.startswith("KEDA follow-up not evaluated:")


def test_a_hostile_workload_name_never_reaches_promql(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        kp.follow_up(
            object(),
            namespace="shop",
            workload='web"}) or vector(1',
            query_template=OwnerPolicy().request_rate_query,
            replicas=1,
            max_replicas=2,
            end=datetime.now(UTC),
            server_address="x",
        )

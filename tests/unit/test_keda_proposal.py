"""The KEDA ScaledObject follow-up (shared.remediation.keda_proposal): when CPU follows the
request rate, and the manifest it proposes (no servers)."""

from __future__ import annotations

import pytest
import yaml

from shared.policy import OwnerPolicy
from shared.remediation import keda_proposal as kp

RATE = [100.0, 140.0, 220.0, 400.0, 380.0, 250.0, 150.0, 120.0]


def test_cpu_that_follows_the_request_rate() -> None:
    cpu = [0.1 + r / 1000 for r in RATE]
    assert kp.follows_request_rate(cpu, RATE)


@pytest.mark.parametrize(
    "cpu",
    [
        [0.9, 0.2, 0.8, 0.1, 0.95, 0.15, 0.85, 0.2],  # unrelated (a leak, a cron job)
        [0.5] * 8,  # flat: nothing to follow
        [0.1, 0.2, 0.3],  # too short to say
        [0.1, 0.2, float("nan"), 0.4, 0.3, 0.2, 0.1, 0.1],
    ],
)
def test_cpu_that_does_not_follow(cpu: list[float]) -> None:
    assert not kp.follows_request_rate(cpu, RATE)


def test_the_manifest_is_a_scaled_object_with_a_prometheus_trigger() -> None:
    query = kp.request_rate_query(OwnerPolicy().request_rate_query, "shop", "web")
    assert query == 'sum(rate(http_requests_total{namespace="shop",service="web"}[2m]))'
    text = kp.scaled_object_manifest(
        namespace="shop",
        workload="web",
        query=query,
        threshold=kp.threshold_per_replica(400.0, 4),
        min_replicas=2,
        max_replicas=20,
        server_address="http://prometheus.monitoring:9090",
    )
    doc = yaml.safe_load(text)
    assert (doc["apiVersion"], doc["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    assert doc["spec"]["scaleTargetRef"] == {"name": "web"}
    assert (doc["spec"]["minReplicaCount"], doc["spec"]["maxReplicaCount"]) == (2, 20)
    [trigger] = doc["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"] == {
        "serverAddress": "http://prometheus.monitoring:9090",
        "query": query,
        "threshold": "100",
    }
    lines = kp.proposal_lines(text, "shop", "web", 0.93)
    assert "r = 0.93" in lines[0] and "does not apply it" in lines[0]


def test_names_reach_promql_only_validated() -> None:
    with pytest.raises(ValueError):
        kp.request_rate_query(OwnerPolicy().request_rate_query, "shop", 'web"}) or vector(1')

"""investigate (Pub/Sub CloudEvent): evidence from Kubernetes and Prometheus."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.envelope import Finding
from shared.run import Run
from shared.stage import StageRunner


def _handle(run: Run) -> Finding:
    # Imported on first use: the kubernetes client is heavy; cold start stays cheap.
    from shared.clusters import RoutingProblem
    from shared.investigation import investigate as run_investigation
    from shared.routing import cluster_for, kube_factory, prometheus_client, unrouted

    cluster = cluster_for(run)
    if isinstance(cluster, RoutingProblem):
        return unrouted("investigate", cluster)
    return run_investigation(
        run, k8s_factory=kube_factory(cluster), prometheus=prometheus_client(cluster)
    )


_runner = StageRunner("investigate", _handle)


@functions_framework.cloud_event
def investigate(cloud_event: Any) -> None:
    _runner(cloud_event)

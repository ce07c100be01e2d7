"""budget (Pub/Sub CloudEvent): error-budget burn-rate analysis (execution path B)."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.envelope import Finding
from shared.run import Run
from shared.stage import StageRunner


def _handle(run: Run) -> Finding:
    # Imported on first use: the analysis pulls in requests and the Prometheus client.
    from shared.budget import analyse
    from shared.clusters.routing import RoutingProblem, cluster_for, prometheus_client, unrouted

    cluster = cluster_for(run)
    if isinstance(cluster, RoutingProblem):
        return unrouted("budget", cluster)
    return analyse(run, client=prometheus_client(cluster))


_runner = StageRunner("budget", _handle)


@functions_framework.cloud_event
def budget(cloud_event: Any) -> None:
    _runner(cloud_event)

"""budget (Pub/Sub CloudEvent): error-budget burn-rate analysis (execution path B)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

from shared.consumer import on_cluster
from shared.model import Finding
from shared.run import Run
from shared.stage import StageRunner

if TYPE_CHECKING:
    from shared.clusters.table import ClusterEntry


def _work(run: Run, cluster: ClusterEntry) -> Finding:
    # Imported on first use: the analysis pulls in requests and the Prometheus client.
    from shared.budget import analyse
    from shared.clusters.routing import prometheus_client

    return analyse(run, client=prometheus_client(cluster))


_handle = on_cluster("budget", _work)
_runner = StageRunner("budget", _handle)


@functions_framework.cloud_event
def budget(cloud_event: Any) -> None:
    _runner(cloud_event)

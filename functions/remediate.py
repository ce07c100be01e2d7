"""remediate (Pub/Sub CloudEvent): the remediate stage of a run's plan."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.envelope import Finding
from shared.run import Run
from shared.stage import StageRunner


def _handle(run: Run) -> Finding:
    # Imported on first use: remediation pulls in the kubernetes client and Firestore.
    from shared.clusters.routing import RoutingProblem, cluster_for, kube_factory
    from shared.remediation import remediate as run_remediation

    cluster = cluster_for(run)
    if isinstance(cluster, RoutingProblem):
        return run_remediation(run, routing_problem=str(cluster))
    return run_remediation(run, k8s_factory=kube_factory(cluster))


_runner = StageRunner("remediate", _handle)


@functions_framework.cloud_event
def remediate(cloud_event: Any) -> None:
    _runner(cloud_event)

"""remediate (Pub/Sub CloudEvent): the remediate stage of a run's plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

from shared.consumer import on_cluster
from shared.model import Finding
from shared.run import Run
from shared.stage import StageRunner

if TYPE_CHECKING:
    from shared.clusters.routing import RoutingProblem
    from shared.clusters.table import ClusterEntry


def _work(run: Run, cluster: ClusterEntry) -> Finding:
    # Imported on first use: remediation pulls in the kubernetes client and Firestore.
    from shared.clusters.routing import kube_factory
    from shared.remediation import remediate as run_remediation

    return run_remediation(run, k8s_factory=kube_factory(cluster))


def _refuse(run: Run, problem: RoutingProblem) -> Finding:
    # Remediation records (and audits) its own refusal.
    from shared.remediation import remediate as run_remediation

    return run_remediation(run, routing_problem=str(problem))


_handle = on_cluster("remediate", _work, _refuse)
_runner = StageRunner("remediate", _handle)


@functions_framework.cloud_event
def remediate(cloud_event: Any) -> None:
    _runner(cloud_event)

"""rollback (Pub/Sub CloudEvent): execute an approved rollback once, guarded, then a canary
check. Fed only by the approve function (the `rollback` topic); reports to notify."""

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
    # Imported on first use: rollback pulls in the kubernetes client and Firestore.
    from shared.clusters.routing import kube_factory, prometheus_client
    from shared.rollback import rollback as run_rollback

    return run_rollback(
        run,
        k8s_factory=kube_factory(cluster),
        prometheus_factory=lambda: prometheus_client(cluster),
    )


def _refuse(run: Run, problem: RoutingProblem) -> Finding:
    # The rollback records (and audits) its own refusal.
    from shared.rollback import rollback as run_rollback

    return run_rollback(run, routing_problem=str(problem))


_handle = on_cluster("rollback", _work, _refuse)
# "rollback" is never in a plan (no automatic rollback): the runner forwards to notify only.
_runner = StageRunner("rollback", _handle)


@functions_framework.cloud_event
def rollback(cloud_event: Any) -> None:
    _runner(cloud_event)

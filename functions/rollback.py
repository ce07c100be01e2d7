"""rollback (Pub/Sub CloudEvent): execute an approved rollback once, guarded, then a canary
check. Fed only by the approve function (the `rollback` topic); reports to notify."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.envelope import Finding
from shared.run import Run
from shared.stage import StageRunner


def _handle(run: Run) -> Finding:
    # Imported on first use: rollback pulls in the kubernetes client and Firestore.
    from shared.clusters.routing import RoutingProblem, cluster_for, kube_factory, prometheus_client
    from shared.rollback import rollback as run_rollback

    cluster = cluster_for(run)
    if isinstance(cluster, RoutingProblem):
        return run_rollback(run, routing_problem=str(cluster))
    return run_rollback(
        run,
        k8s_factory=kube_factory(cluster),
        prometheus_factory=lambda: prometheus_client(cluster),
    )


# "rollback" is never in a plan (no automatic rollback): the runner forwards to notify only.
_runner = StageRunner("rollback", _handle)


@functions_framework.cloud_event
def rollback(cloud_event: Any) -> None:
    _runner(cloud_event)

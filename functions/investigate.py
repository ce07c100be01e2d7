"""investigate (Pub/Sub CloudEvent): evidence from Kubernetes and Prometheus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

from shared.consumer import on_cluster
from shared.log import get_logger
from shared.model import Finding
from shared.run import Run
from shared.stage import StageRunner

if TYPE_CHECKING:
    from shared.clusters.table import ClusterEntry

log = get_logger(__name__)


def _work(run: Run, cluster: ClusterEntry) -> Finding:
    # Imported on first use: the kubernetes client is heavy; cold start stays cheap.
    from shared.clusters.routing import kube_factory, prometheus_client
    from shared.investigation import investigate as run_investigation

    return run_investigation(
        run,
        k8s_factory=kube_factory(cluster),
        prometheus=prometheus_client(cluster),
        history=_earlier_incidents(run),
    )


def _earlier_incidents(run: Run) -> list[dict[str, Any]]:
    """The workload's earlier incidents; none when the ledger cannot say (never fatal)."""
    from shared.ledger.correlation import correlation_key
    from shared.workload.labels import workload_from_labels

    workload = workload_from_labels(run.alert.labels)
    key = correlation_key(run.cluster, workload.namespace, workload.name)
    try:
        return _runner.ledger.workload_incidents(key, exclude=run.incident_id)
    except Exception as exc:  # memory is a nicety: it never fails the investigation
        log.warning("earlier incidents of %s not read: %s", key, exc)
        return []


_handle = on_cluster("investigate", _work)
_runner = StageRunner("investigate", _handle)


@functions_framework.cloud_event
def investigate(cloud_event: Any) -> None:
    _runner(cloud_event)

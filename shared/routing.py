"""Which cluster a run's stage works on: decided once by dispatch (recorded on the run), checked
again by each stage against the cluster table in force. Never a silent fallback."""

from __future__ import annotations

from typing import Any

from shared.clusters import (
    ClusterConfigError,
    ClusterEntry,
    RoutingProblem,
    cluster_table,
    route,
    route_alert,
)
from shared.k8s.client import ClientFactory
from shared.model import Finding, utcnow
from shared.run import Run


def dispatch_route(labels: dict[str, str]) -> tuple[str, str]:
    """(cluster name, "") or ("", why not) — what dispatch records on a new run."""
    routed = route_alert(labels)
    if isinstance(routed, RoutingProblem):
        return "", str(routed)
    return routed.name, ""


def cluster_for(run: Run) -> ClusterEntry | RoutingProblem:
    try:
        table = cluster_table()
    except ClusterConfigError as exc:
        return RoutingProblem("config", f"the cluster table is invalid: {exc}")
    if run.cluster:
        entry = table.clusters.get(run.cluster)
        if entry is not None:
            return entry
        return RoutingProblem(
            "unknown",
            f"the run was routed to cluster {run.cluster!r}, which is no longer configured "
            f"(configured: {', '.join(table.names) or 'none'}). No action taken on any cluster.",
        )
    routed = route(run.alert.labels, table)
    return routed.cluster if not isinstance(routed, RoutingProblem) else routed


def kube_factory(entry: ClusterEntry) -> ClientFactory:
    from shared.cluster_clients import client_factory

    return client_factory(entry)


def prometheus_client(entry: ClusterEntry) -> Any | None:
    """The cluster's Prometheus client; None lets the stage report a bad setting itself."""
    from shared.cluster_clients import prometheus_for

    try:
        return prometheus_for(entry)
    except ValueError:
        return None


def unrouted(stage: str, problem: RoutingProblem) -> Finding:
    """The finding of a stage that could not tell which cluster the alert is about."""
    now = utcnow()
    return Finding(
        stage=stage,
        status="skipped",
        summary=f"No cluster for this alert: {problem}",
        details={
            "routing": {
                "reason": problem.reason,
                "labels_seen": list(problem.labels_seen),
                # Maps, not pairs: Firestore refuses an array directly inside an array.
                "cluster_labels": [
                    {"label": label, "value": value} for label, value in problem.cluster_labels
                ],
                "configured": list(problem.configured),
            },
            "action": "none",
        },
        started=now,
        finished=now,
    )

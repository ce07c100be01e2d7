"""Which cluster an alert, and then each stage of its run, works on.

`route` is pure: the alert's cluster labels (shared.clusters.table) name one configured cluster,
or the result is a `RoutingProblem`. Dispatch decides once and records it on the run
(`dispatch_route`); each stage checks the run's cluster again against the table in force
(`cluster_for`). Never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from shared.clusters.table import ClusterConfigError, ClusterEntry, ClusterTable, cluster_table
from shared.model import Finding, utcnow

if TYPE_CHECKING:
    from shared.k8s.client import ClientFactory
    from shared.run import Run

MAX_LABELS_NAMED = 20


@dataclass(frozen=True)
class Route:
    """The alert's cluster, and which label chose it (None: the only configured cluster)."""

    cluster: ClusterEntry
    label: str | None = None

    @property
    def name(self) -> str:
        return self.cluster.name


@dataclass(frozen=True)
class RoutingProblem:
    """No cluster for this alert: take no action and say why (names only, plus the values of
    the cluster labels — never other label values)."""

    reason: Literal["no_label", "unknown", "conflict", "config"]
    message: str
    labels_seen: tuple[str, ...] = ()
    cluster_labels: tuple[tuple[str, str], ...] = ()
    configured: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


def _names(values: Sequence[str]) -> str:
    shown = ", ".join(values[:MAX_LABELS_NAMED])
    more = len(values) - MAX_LABELS_NAMED
    return shown + (f" (+{more} more)" if more > 0 else "") if values else "none"


def route(labels: Mapping[str, str], table: ClusterTable) -> Route | RoutingProblem:
    """The one cluster the alert's labels name, or why there is none. Pure."""
    found = tuple(
        (name, str(labels[name]).strip())
        for name in table.labels
        if str(labels.get(name, "")).strip()
    )
    seen = tuple(sorted(labels))
    configured = table.names

    def problem(reason: Literal["no_label", "unknown", "conflict"], why: str) -> RoutingProblem:
        message = (
            f"{why}; configured clusters: {_names(configured)}; alert labels: {_names(seen)}. "
            "No action taken on any cluster."
        )
        return RoutingProblem(reason, message, seen, found, configured)

    tried = ", ".join(table.labels)
    if not found:
        if len(configured) == 1:
            return Route(table.clusters[configured[0]], None)
        return problem(
            "no_label",
            f"the alert has no cluster label (tried: {tried}) and {len(configured)} clusters "
            "are configured, so it cannot be routed; add the label to the alert rule or to "
            "Prometheus' external_labels",
        )
    entries = {value: table.lookup(value) for _, value in found}
    unknown = [v for v, e in entries.items() if e is None]
    if unknown:
        named = ", ".join(f"{k}={v!r}" for k, v in found if v in unknown)
        return problem(
            "unknown",
            f"the alert names a cluster that is not configured ({named}); add it to the "
            "cluster table (or as an alias)",
        )
    chosen = {e.name for e in entries.values() if e is not None}
    if len(chosen) > 1:
        named = ", ".join(f"{k}={v!r}" for k, v in found)
        return problem("conflict", f"the alert's cluster labels disagree ({named})")
    label, value = found[0]
    entry = entries[value]
    assert entry is not None
    return Route(entry, label)


def route_alert(labels: Mapping[str, str]) -> Route | RoutingProblem:
    """`route` against the process's table; a broken table is a RoutingProblem too."""
    try:
        table = cluster_table()
    except ClusterConfigError as exc:
        return RoutingProblem("config", f"the cluster table is invalid: {exc}")
    return route(labels, table)


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
    from shared.clusters.clients import client_factory

    return client_factory(entry)


def prometheus_client(entry: ClusterEntry) -> Any | None:
    """The cluster's Prometheus client; None lets the stage report a bad setting itself."""
    from shared.clusters.clients import prometheus_for

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

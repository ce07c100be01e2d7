"""Which workload an alert belongs to, decided BEFORE its incident is chosen (dispatch).

A label that names a pod (kube-prometheus `KubePodCrashLooping` carries `pod=` only), a service
or an app is not the workload: the pod's name changes after every restart. Such alerts are
resolved against the cluster (ownerReferences: pod -> ReplicaSet -> Deployment;
shared.k8s.workload) so that alerts on different pods of one Deployment share one incident, one
thread and one set of caps. A label naming a Deployment/StatefulSet/DaemonSet/Job is the workload
itself: no API call. When the cluster cannot be read the label's own name is used, and the run
says so (`note`): never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.k8s.workload import WORKLOAD_KINDS, WorkloadRef
from shared.log import event, get_logger
from shared.workload_labels import workload_from_labels

log = get_logger(__name__)

# The label kinds whose value is not the owning workload's name.
NEEDS_OWNER = frozenset({"Pod", "Service", "App"})

Resolver = Callable[[dict[str, str]], WorkloadRef | None]


@dataclass(frozen=True)
class IncidentWorkload:
    namespace: str
    kind: str
    name: str
    source: str  # "labels" | "cluster" | "labels (fallback)"
    note: str = ""  # why the cluster's answer is not used ("" when it is, or not needed)

    def as_dict(self) -> dict[str, str]:
        out = {
            "namespace": self.namespace,
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
        }
        if self.note:
            out["note"] = self.note
        return out


def incident_workload(labels: dict[str, str], resolve: Resolver | None) -> IncidentWorkload:
    """The alert's workload; `resolve` asks the cluster (None: the cluster cannot be asked)."""
    wl = workload_from_labels(labels)
    if not wl.name or wl.kind not in NEEDS_OWNER:
        return IncidentWorkload(wl.namespace, wl.kind, wl.name, "labels")
    if resolve is None:
        return _fallback(wl.namespace, wl.kind, wl.name, "no cluster to ask")
    try:
        ref = resolve(labels)
    except Exception as exc:  # any failure to read the cluster: fall back, and say so
        return _fallback(wl.namespace, wl.kind, wl.name, f"the cluster could not be read: {exc}")
    if ref is None or ref.kind not in WORKLOAD_KINDS:
        return _fallback(wl.namespace, wl.kind, wl.name, "no owning workload found")
    return IncidentWorkload(ref.namespace, ref.kind, ref.name, "cluster")


def _fallback(namespace: str, kind: str, name: str, why: str) -> IncidentWorkload:
    note = (
        f"incident keyed on the label-derived name {kind.lower()}/{name}: {why} "
        "(alerts on other pods of the same workload may open their own incident)"
    )
    event(log, "workload not resolved from the cluster", 30, workload=name, reason=why)
    return IncidentWorkload(namespace, kind, name, "labels (fallback)", note)


def cluster_resolver(cluster: str) -> Resolver | None:
    """Resolve through the named cluster's API (None: no such cluster in the table)."""
    from shared.clusters import ClusterConfigError, cluster_table

    try:
        entry = cluster_table().clusters.get(cluster) if cluster else None
    except ClusterConfigError:
        return None
    if entry is None:
        return None

    def resolve(labels: dict[str, str]) -> WorkloadRef | None:
        from shared.cluster_clients import kube_clients_for
        from shared.k8s.settings import k8s_settings
        from shared.k8s.workload import resolve_workload

        clients = kube_clients_for(entry)
        return resolve_workload(clients, labels, k8s_settings().default_namespace).workload

    return resolve

"""Which workload an alert belongs to, decided BEFORE its incident is chosen (dispatch).

A label that names a pod (kube-prometheus `KubePodCrashLooping` carries `pod=` only), a service
or an app is not the workload: the pod's name changes after every restart. Such alerts are
resolved against the cluster (ownerReferences: pod -> ReplicaSet -> Deployment;
shared.workload.resolve) so that alerts on different pods of one Deployment share one incident, one
thread and one set of caps. A label naming a Deployment/StatefulSet/DaemonSet/Job is the workload
itself: no API call. When the cluster cannot be read the label's own name is used, and the run
says so (`note`): never a silent fallback.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.log import event, get_logger
from shared.workload.labels import workload_from_labels
from shared.workload.resolve import WORKLOAD_KINDS, WorkloadRef

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


# pod -> owning workload, per process: a pod's controller never changes (a new ReplicaSet makes
# new pods), so in an alert storm each pod costs its ownerReferences walk once. Bounded: the
# oldest entries go first. Only pod-named alerts are cached (a service's selector may change).
POD_CACHE_SIZE = 2048
_pod_owners: OrderedDict[tuple[str, str, str], WorkloadRef] = OrderedDict()
_pod_owners_lock = threading.Lock()


def _cached_owner(key: tuple[str, str, str]) -> WorkloadRef | None:
    with _pod_owners_lock:
        ref = _pod_owners.get(key)
        if ref is not None:
            _pod_owners.move_to_end(key)
        return ref


def _remember_owner(key: tuple[str, str, str], ref: WorkloadRef) -> None:
    with _pod_owners_lock:
        _pod_owners[key] = ref
        _pod_owners.move_to_end(key)
        while len(_pod_owners) > POD_CACHE_SIZE:
            _pod_owners.popitem(last=False)


def clear_pod_cache() -> None:
    with _pod_owners_lock:
        _pod_owners.clear()


def cluster_resolver(cluster: str) -> Resolver | None:
    """Resolve through the named cluster's API with dispatch's own read-only identity (None: no
    such cluster in the table). Each call is capped by ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS:
    dispatch is durable-first, so a slow cluster means the label fallback, not a slow intake."""
    from shared.clusters.table import ClusterConfigError, cluster_table

    try:
        entry = cluster_table().clusters.get(cluster) if cluster else None
    except ClusterConfigError:
        return None
    if entry is None:
        return None

    def resolve(labels: dict[str, str]) -> WorkloadRef | None:
        from shared import envvars
        from shared.clusters.clients import kube_clients_for
        from shared.k8s.settings import k8s_settings
        from shared.workload.resolve import resolve_workload

        default_ns = k8s_settings().default_namespace
        wl = workload_from_labels(labels)
        key = (cluster, wl.namespace or default_ns, wl.name) if wl.kind == "Pod" else None
        if key is not None and (hit := _cached_owner(key)) is not None:
            return hit
        cap = envvars.number("ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS", positive=True)
        clients = kube_clients_for(entry, max_timeout=cap)
        res = resolve_workload(clients, labels, default_ns)
        ref = res.workload
        walked = f"pod label names pod/{wl.name}" in res.via  # not another label's answer
        if key is not None and walked and ref is not None and ref.kind in WORKLOAD_KINDS:
            _remember_owner(key, ref)
        return ref

    return resolve

"""Workload resolution: alert labels -> the Deployment/StatefulSet/DaemonSet/Job/Pod behind them.

`candidates_from_labels` is pure (label parsing + DNS-1123 validation, no API call);
`resolve_workload` asks the API: a pod is followed through ownerReferences (ReplicaSet ->
Deployment), a service through its selector, an `app` label through a same-named workload or
the pods carrying that label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sNotFound
from shared.k8s.names import is_label_value, validate_name, validate_namespace
from shared.workload.labels import IGNORED_VALUES, LABEL_KINDS

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass(frozen=True)
class WorkloadRef:
    kind: str  # Deployment | StatefulSet | DaemonSet | Job | Pod | Service
    name: str
    namespace: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace}

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} in {self.namespace}"


@dataclass(frozen=True)
class Candidate:
    label: str
    kind: str  # a WORKLOAD_KINDS entry, "Pod", "Service" or "App"
    name: str


@dataclass
class LabelHints:
    namespace: str
    namespace_from_label: bool
    candidates: list[Candidate]
    problems: list[str]
    container: str = ""


@dataclass
class Resolution:
    workload: WorkloadRef | None
    obj: dict[str, Any] | None = None  # the workload object (API JSON)
    selector: str = ""  # label selector of its pods ("" when unknown)
    pods: list[dict[str, Any]] | None = None  # pods found on the way (None: not listed yet)
    via: list[str] = field(default_factory=list)  # how it was found
    tried: list[str] = field(default_factory=list)  # what was looked up and not found
    problems: list[str] = field(default_factory=list)
    labels_seen: dict[str, str] = field(default_factory=dict)
    container: str = ""

    def explain_unresolved(self) -> str:
        seen = ", ".join(f"{k}={v}" for k, v in sorted(self.labels_seen.items())) or "none"
        parts = ["no workload found for this alert"]
        if self.tried:
            parts.append("tried " + "; ".join(self.tried))
        if self.problems:
            parts.append("; ".join(self.problems))
        parts.append(f"labels seen: {seen}")
        parts.append(
            "add a namespace label and one of deployment/statefulset/daemonset/pod/service/app "
            "to the alert rule"
        )
        return ". ".join(parts)


def candidates_from_labels(labels: dict[str, str], default_namespace: str) -> LabelHints:
    """What the labels name, validated (pure; no API call)."""
    problems: list[str] = []
    ns_label = labels.get("namespace", "").strip()
    namespace = ns_label or default_namespace
    if ns_label and (err := validate_namespace(ns_label)):
        problems.append(err)
        namespace = ""
    candidates: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for label, kind in LABEL_KINDS:
        value = labels.get(label, "").strip()
        if not value or value in IGNORED_VALUES:
            continue
        err = validate_name(value, kind.lower() if kind != "App" else f"{label} label")
        if err:
            problems.append(err)
            continue
        if kind == "App" and not is_label_value(value):
            problems.append(f"{label} value {value!r} is not a valid label value")
            continue
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        candidates.append(Candidate(label, kind, value))
    container = labels.get("container", "").strip()
    return LabelHints(
        namespace=namespace,
        namespace_from_label=bool(ns_label),
        candidates=candidates,
        problems=problems,
        container=container if container not in IGNORED_VALUES else "",
    )


def selector_string(selector: dict[str, Any] | None) -> str:
    """A LabelSelector (matchLabels + matchExpressions) as a labelSelector query string."""
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return dict(ref)
    return dict(refs[0]) if refs else None


# --------------------------------------------------------------------------- API reads


def get_workload(clients: KubeClients, kind: str, namespace: str, name: str) -> dict[str, Any]:
    """Read a Deployment/StatefulSet/DaemonSet/Job/ReplicaSet/Pod/Service (raises K8sNotFound)."""
    readers: dict[str, tuple[str, Any]] = {
        "Deployment": ("deployments", clients.apps.read_namespaced_deployment),
        "StatefulSet": ("statefulsets", clients.apps.read_namespaced_stateful_set),
        "DaemonSet": ("daemonsets", clients.apps.read_namespaced_daemon_set),
        "ReplicaSet": ("replicasets", clients.apps.read_namespaced_replica_set),
        "Job": ("jobs", clients.batch.read_namespaced_job),
        "Pod": ("pods", clients.core.read_namespaced_pod),
        "Service": ("services", clients.core.read_namespaced_service),
    }
    resource, fn = readers[kind]
    result: dict[str, Any] = clients.call(
        "get", resource, namespace, lambda **kw: fn(name, namespace, **kw)
    )
    return result


def list_pods(clients: KubeClients, namespace: str, selector: str) -> list[dict[str, Any]]:
    data = clients.call(
        "list",
        "pods",
        namespace,
        lambda **kw: clients.core.list_namespaced_pod(namespace, label_selector=selector, **kw),
    )
    return list(data.get("items") or [])


def _workload_selector(obj: dict[str, Any]) -> str:
    return selector_string((obj.get("spec") or {}).get("selector"))


def _follow_owner(
    clients: KubeClients, res: Resolution, namespace: str, pod: dict[str, Any]
) -> Resolution:
    """From a pod up to its top controller."""
    pod_name = pod["metadata"]["name"]
    owner = controller_of(pod)
    if owner is None:
        res.workload = WorkloadRef("Pod", pod_name, namespace)
        res.obj = pod
        res.pods = [pod]
        res.via.append(f"pod/{pod_name} has no owner")
        return res
    kind, name = owner.get("kind", ""), owner.get("name", "")
    res.via.append(f"pod/{pod_name} is owned by {kind.lower()}/{name}")
    if kind == "ReplicaSet":
        rs = get_workload(clients, "ReplicaSet", namespace, name)
        rs_owner = controller_of(rs)
        if rs_owner and rs_owner.get("kind") == "Deployment":
            dep_name = rs_owner.get("name", "")
            res.via.append(f"replicaset/{name} is owned by deployment/{dep_name}")
            dep = get_workload(clients, "Deployment", namespace, dep_name)
            res.workload = WorkloadRef("Deployment", dep_name, namespace)
            res.obj = dep
            res.selector = _workload_selector(dep)
            return res
        res.workload = WorkloadRef("ReplicaSet", name, namespace)
        res.obj = rs
        res.selector = _workload_selector(rs)
        return res
    if kind in WORKLOAD_KINDS:
        obj = get_workload(clients, kind, namespace, name)
        res.workload = WorkloadRef(kind, name, namespace)
        res.obj = obj
        res.selector = _workload_selector(obj)
        return res
    # Owned by something we do not read (a CRD operator...): the pod is the workload.
    res.workload = WorkloadRef("Pod", pod_name, namespace)
    res.obj = pod
    res.pods = [pod]
    return res


def _try_direct(
    clients: KubeClients, res: Resolution, kind: str, namespace: str, name: str, label: str
) -> bool:
    try:
        obj = get_workload(clients, kind, namespace, name)
    except K8sNotFound:
        res.tried.append(f"{kind.lower()}/{name} ({label} label): not found")
        return False
    res.workload = WorkloadRef(kind, name, namespace)
    res.obj = obj
    res.selector = _workload_selector(obj)
    res.via.append(f"{label} label names {kind.lower()}/{name}")
    return True


def resolve_workload(
    clients: KubeClients, labels: dict[str, str], default_namespace: str = "default"
) -> Resolution:
    """The workload an alert is about. K8sForbidden/K8sTimeout propagate; 404s move on."""
    hints = candidates_from_labels(labels, default_namespace)
    res = Resolution(
        workload=None,
        problems=list(hints.problems),
        labels_seen=dict(labels),
        container=hints.container,
    )
    ns = hints.namespace
    if not ns:
        return res
    if not hints.namespace_from_label:
        res.via.append(f"no namespace label: using {ns!r}")
    for cand in hints.candidates:
        if cand.kind in WORKLOAD_KINDS:
            if _try_direct(clients, res, cand.kind, ns, cand.name, cand.label):
                return res
        elif cand.kind == "Pod":
            try:
                pod = get_workload(clients, "Pod", ns, cand.name)
            except K8sNotFound:
                res.tried.append(f"pod/{cand.name}: not found")
                continue
            res.via.append(f"pod label names pod/{cand.name}")
            return _follow_owner(clients, res, ns, pod)
        elif cand.kind == "Service":
            try:
                svc = get_workload(clients, "Service", ns, cand.name)
            except K8sNotFound:
                res.tried.append(f"service/{cand.name}: not found")
                continue
            sel = (svc.get("spec") or {}).get("selector") or {}
            if not sel:
                res.tried.append(f"service/{cand.name} has no selector")
                continue
            selector = selector_string({"matchLabels": sel})
            pods = list_pods(clients, ns, selector)
            res.via.append(f"service/{cand.name} selects {selector} ({len(pods)} pods)")
            if pods:
                _follow_owner(clients, res, ns, pods[0])
                if res.workload and res.workload.kind != "Pod":
                    return res
                res.workload = WorkloadRef("Service", cand.name, ns)
                res.obj, res.selector, res.pods = svc, selector, pods
                return res
            res.tried.append(f"service/{cand.name} selects no pods ({selector})")
        elif cand.kind == "App":
            for kind in ("Deployment", "StatefulSet", "DaemonSet"):
                try:
                    obj = get_workload(clients, kind, ns, cand.name)
                except K8sNotFound:
                    continue
                res.workload = WorkloadRef(kind, cand.name, ns)
                res.obj, res.selector = obj, _workload_selector(obj)
                res.via.append(f"{cand.label} label matches {kind.lower()}/{cand.name}")
                return res
            for key in ("app.kubernetes.io/name", "app"):
                pods = list_pods(clients, ns, f"{key}={cand.name}")
                if pods:
                    res.via.append(f"pods labelled {key}={cand.name}")
                    return _follow_owner(clients, res, ns, pods[0])
            res.tried.append(
                f"{cand.label}={cand.name}: no deployment/statefulset/daemonset of that name and "
                "no pods with that app label"
            )
    return res

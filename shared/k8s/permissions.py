"""What each function identity needs in a cluster, and a sample of what it must never be able to
do: the one table. deploy/rbac.yaml is tested against it (tests/unit/test_rbac_table.py) and
`alertloop doctor` asks live clusters about it (SubjectAccessReviews).

`where` says in which namespaces an access is checked:
- ``cluster``: everywhere (cluster-wide; a ClusterRole + ClusterRoleBinding);
- ``allowed``: each namespace of the remediation allow-list (ALERTLOOP_REMEDIATE_NAMESPACES;
  a Role + RoleBinding per namespace);
- ``protected``: kube-system, never changed whatever the allow-list says;
- ``outside``: a namespace that is not in the allow-list (``default`` unless it is listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Where = Literal["cluster", "allowed", "protected", "outside"]
PROTECTED_NAMESPACE = "kube-system"
OUTSIDE_CANDIDATES = ("default",)


@dataclass(frozen=True)
class Access:
    verb: str
    resource: str  # plural; "pods/log" for a subresource
    group: str = ""
    where: Where = "cluster"
    name: str = ""  # a resourceName, when the access is for one object only
    why: str = ""

    @property
    def plural(self) -> str:
        return self.resource.partition("/")[0]

    @property
    def subresource(self) -> str:
        return self.resource.partition("/")[2]

    @property
    def what(self) -> str:
        """e.g. ``patch deployments/scale.apps`` (kubectl's resource.group spelling)."""
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {res}" + (f" {self.name}" if self.name else "")


def _read(verb: str, resource: str, group: str = "", *, name: str = "", why: str) -> Access:
    return Access(verb, resource, group, "cluster", name, why)


# Investigation (and remediation's workload resolution): reads in any namespace an alert names.
READS: tuple[Access, ...] = (
    _read("get", "pods", why="resolve a pod-named alert to its workload"),
    _read("list", "pods", why="the workload's pods and their state; the pod at an IP a log names"),
    _read("get", "pods/log", why="recent logs of troubled containers"),
    _read("list", "events", why="warning events of the workload and its pods"),
    _read("get", "services", why="resolve a service-named alert"),
    _read("get", "deployments", "apps", why="the workload, its template and status"),
    _read("get", "replicasets", "apps", why="walk pod -> ReplicaSet -> Deployment"),
    _read("list", "replicasets", "apps", why="rollout history (revisions)"),
    _read("get", "statefulsets", "apps", why="the workload"),
    _read("get", "daemonsets", "apps", why="the workload"),
    _read("get", "jobs", "batch", why="the workload"),
    _read("get", "horizontalpodautoscalers", "autoscaling", why="the workload's HPA"),
    _read("list", "horizontalpodautoscalers", "autoscaling", why="find the workload's HPA"),
    _read("list", "endpointslices", "discovery.k8s.io", why="a dependency's ready endpoints"),
    _read("list", "services", why="the Service behind a ClusterIP a log names"),
    _read("list", "resourcequotas", why="the quota a FailedCreate names: used and hard"),
    _read("get", "nodes", why="the node a pod ran on: pressure, taints, NotReady"),
    _read(
        "get",
        "apiservices",
        "apiregistration.k8s.io",
        name="v1beta1.metrics.k8s.io",
        why="is metrics-server available",
    ),
)

REMEDIATE_WRITES: tuple[Access, ...] = (
    Access("patch", "deployments", "apps", "allowed", why="rollout restart"),
    Access("get", "deployments/scale", "apps", "allowed", why="current replicas"),
    Access("patch", "deployments/scale", "apps", "allowed", why="scale a deployment"),
    Access("patch", "horizontalpodautoscalers", "autoscaling", "allowed", why="raise maxReplicas"),
    Access("get", "scaledobjects", "keda.sh", "allowed", why="the KEDA owner of an HPA"),
    Access(
        "patch", "scaledobjects", "keda.sh", "allowed", why="raise a ScaledObject's maxReplicaCount"
    ),
)

# Rollback acts on an approved target only, in the allow-list: no cluster-wide reads.
ROLLBACK_ACCESS: tuple[Access, ...] = (
    Access("get", "deployments", "apps", "allowed", why="the live revision and template"),
    Access("list", "pods", "", "allowed", why="the target's pods: is it database-class?"),
    Access("get", "replicasets", "apps", "allowed", why="the approved revision's template"),
    Access("list", "replicasets", "apps", "allowed", why="rollout history"),
    Access("patch", "deployments", "apps", "allowed", why="kubectl rollout undo (JSON patch)"),
)

# Dispatch: resolve a pod-, service- or app-labelled alert to its owning workload before the
# incident is chosen (shared.workload.incident -> shared.workload.resolve.resolve_workload):
# exactly the reads that walk makes, in any namespace an alert names; no logs, events or history.
RESOLVE_READS: tuple[Access, ...] = (
    _read("get", "pods", why="the alert's pod and its ownerReferences"),
    _read("list", "pods", why="the pods a service or an app label selects"),
    _read("get", "services", why="a service-named alert's selector"),
    _read("get", "replicasets", "apps", why="walk pod -> ReplicaSet -> Deployment"),
    _read("get", "deployments", "apps", why="the owning Deployment (or an app-named one)"),
    _read("get", "statefulsets", "apps", why="an owning StatefulSet"),
    _read("get", "daemonsets", "apps", why="an owning DaemonSet"),
    _read("get", "jobs", "batch", why="an owning Job"),
)

# Sweeper: an outcome check's "are the workload's pods ready?" (shared.outcomes.probes:
# the Deployment's spec.replicas against status.readyReplicas).
VERIFY_READS: tuple[Access, ...] = (
    _read("get", "deployments", "apps", why="outcome check: ready replicas of the workload"),
)

NEEDS: dict[str, tuple[Access, ...]] = {
    "investigate": READS,
    "remediate": READS + REMEDIATE_WRITES,
    "rollback": ROLLBACK_ACCESS,
    "dispatch": RESOLVE_READS,
    "sweeper": VERIFY_READS,
}


def _never(verb: str, resource: str, group: str = "", where: Where = "allowed") -> Access:
    return Access(verb, resource, group, where, why="never needed")


# Nobody: no deletes, no creates, no secrets, no exec, no RBAC or impersonation, no nodes.
NEVER_ANYONE: tuple[Access, ...] = (
    _never("delete", "pods"),
    _never("delete", "pods", where="cluster"),
    _never("create", "pods/exec"),
    _never("get", "secrets", where="cluster"),
    _never("list", "secrets"),
    _never("get", "configmaps", where="cluster"),
    _never("create", "deployments", "apps"),
    _never("update", "deployments", "apps"),
    _never("delete", "deployments", "apps"),
    _never("patch", "deployments", "apps", "protected"),
    _never("patch", "deployments", "apps", "cluster"),
    _never("impersonate", "users", where="cluster"),
    _never("create", "clusterrolebindings", "rbac.authorization.k8s.io", "cluster"),
    _never("escalate", "clusterroles", "rbac.authorization.k8s.io", "cluster"),
    _never("patch", "nodes", where="cluster"),
)

# No write anywhere (checked in the allowed namespaces and cluster-wide).
_READ_ONLY: tuple[Access, ...] = (
    _never("patch", "deployments", "apps"),
    _never("patch", "deployments/scale", "apps"),
    _never("patch", "deployments/scale", "apps", "cluster"),
    _never("patch", "horizontalpodautoscalers", "autoscaling"),
    _never("patch", "horizontalpodautoscalers", "autoscaling", "cluster"),
    _never("patch", "pods", where="cluster"),
    _never("update", "pods", where="cluster"),
)

MUST_NOT: dict[str, tuple[Access, ...]] = {
    "investigate": (
        *NEVER_ANYONE,
        _never("patch", "deployments", "apps"),
        _never("patch", "deployments/scale", "apps"),
        _never("patch", "horizontalpodautoscalers", "autoscaling"),
    ),
    "remediate": (*NEVER_ANYONE, _never("patch", "deployments", "apps", "outside")),
    "rollback": (
        *NEVER_ANYONE,
        _never("patch", "deployments/scale", "apps"),
        _never("patch", "horizontalpodautoscalers", "autoscaling"),
        _never("patch", "deployments", "apps", "outside"),
        _never("get", "pods/log", where="cluster"),
        _never("list", "pods", where="cluster"),
    ),
    # The read-only identities: no write of any kind, and none of investigation's wider reads.
    "dispatch": (
        *NEVER_ANYONE,
        *_READ_ONLY,
        _never("get", "pods/log", where="cluster"),
        _never("list", "events", where="cluster"),
        _never("list", "replicasets", "apps", "cluster"),
    ),
    "sweeper": (
        *NEVER_ANYONE,
        *_READ_ONLY,
        _never("get", "pods", where="cluster"),
        _never("list", "pods", where="cluster"),
        _never("get", "pods/log", where="cluster"),
        _never("get", "replicasets", "apps", "cluster"),
    ),
}

IDENTITIES = tuple(NEEDS)


def namespaces_for(where: Where, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The namespaces an access is checked in ("" = cluster-wide / all namespaces)."""
    if where == "cluster":
        return ("",)
    if where == "allowed":
        return tuple(ns for ns in allowed if ns != PROTECTED_NAMESPACE)
    if where == "protected":
        return (PROTECTED_NAMESPACE,)
    return tuple(ns for ns in OUTSIDE_CANDIDATES if ns not in allowed)

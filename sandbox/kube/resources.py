"""The resource types the sandbox serves, as the API's discovery describes them."""

from __future__ import annotations

from dataclasses import dataclass

SANDBOX_GIT_VERSION = "v1.30.2-alertloop-sandbox"
SANDBOX_CLUSTER_NAME = "alertloop-sandbox"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Resource:
    plural: str
    group: str
    version: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    custom: bool = False  # served from a CustomResourceDefinition

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """How error messages name it: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("namespaces", "", "v1", "Namespace", namespaced=False, short_names=("ns",)),
        Resource("pods", "", "v1", "Pod", short_names=("po",), subresources=("log", "status")),
        Resource("services", "", "v1", "Service", short_names=("svc",)),
        Resource("events", "", "v1", "Event", short_names=("ev",)),
        Resource("persistentvolumeclaims", "", "v1", "PersistentVolumeClaim", short_names=("pvc",)),
        Resource(
            "deployments",
            "apps",
            "v1",
            "Deployment",
            short_names=("deploy",),
            subresources=("scale", "status"),
        ),
        Resource(
            "replicasets",
            "apps",
            "v1",
            "ReplicaSet",
            short_names=("rs",),
            subresources=("scale", "status"),
        ),
        Resource(
            "statefulsets",
            "apps",
            "v1",
            "StatefulSet",
            short_names=("sts",),
            subresources=("scale", "status"),
        ),
        Resource(
            "daemonsets", "apps", "v1", "DaemonSet", short_names=("ds",), subresources=("status",)
        ),
        Resource("jobs", "batch", "v1", "Job", subresources=("status",)),
        Resource(
            "horizontalpodautoscalers",
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            short_names=("hpa",),
            subresources=("status",),
        ),
        Resource("apiservices", "apiregistration.k8s.io", "v1", "APIService", namespaced=False),
        # Read by the diagnosis (shared/investigation/diagnose.py): a dependency's ready
        # endpoints, the node a pod ran on, the namespace's quotas.
        Resource("endpointslices", "discovery.k8s.io", "v1", "EndpointSlice"),
        Resource("nodes", "", "v1", "Node", namespaced=False, short_names=("no",)),
        Resource("resourcequotas", "", "v1", "ResourceQuota", short_names=("quota",)),
        # KEDA's CRD (https://keda.sh/docs/latest/reference/scaledobject-spec/): the object that
        # owns the HPA of an event-driven workload.
        Resource(
            "scaledobjects",
            "keda.sh",
            "v1alpha1",
            "ScaledObject",
            short_names=("so",),
            subresources=("status",),
            custom=True,
        ),
    )
}

SCALABLE = frozenset({"deployments", "statefulsets", "replicasets"})
# Kinds whose metadata.generation the API server bumps on a spec change.
GENERATION_TRACKED = frozenset(
    {"deployments", "statefulsets", "daemonsets", "replicasets", "horizontalpodautoscalers"}
)


def plural_for_kind(kind: str) -> str:
    for plural, res in RESOURCES.items():
        if res.kind == kind:
            return plural
    raise KeyError(f"sandbox does not serve kind {kind!r}")

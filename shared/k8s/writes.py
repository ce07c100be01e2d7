"""Kubernetes writes used by remediation: patches only (never create/delete), matching the
verbs granted in deploy/rbac.yaml (patch on deployments, deployments/scale and
horizontalpodautoscalers).

Every patch carries `metadata.resourceVersion` from the read it was computed from, so the API
server refuses it with 409 Conflict if the object changed meanwhile (optimistic concurrency).
`restart_patch`, `scale_patch` and `hpa_max_patch` are pure (unit tested); the `patch_*`
calls go through `KubeClients.call` so failures are typed `K8sError`s naming the permission.
"""

from __future__ import annotations

from typing import Any

from shared.k8s.client import KubeClients

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"  # what `kubectl rollout undo` sends
FIELD_MANAGER = "alertloop"


def restart_patch(resource_version: str, restarted_at: str) -> dict[str, Any]:
    """What `kubectl rollout restart` sends: a pod-template annotation with the time."""
    return {
        "metadata": {"resourceVersion": resource_version},
        "spec": {
            "template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: restarted_at}}}
        },
    }


def scale_patch(resource_version: str, replicas: int) -> dict[str, Any]:
    """A patch of the scale subresource (deployments/scale)."""
    return {"metadata": {"resourceVersion": resource_version}, "spec": {"replicas": replicas}}


def hpa_max_patch(resource_version: str, max_replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"resourceVersion": resource_version},
        "spec": {"maxReplicas": max_replicas},
    }


def patch_deployment(
    clients: KubeClients,
    namespace: str,
    name: str,
    body: dict[str, Any] | list[dict[str, Any]],
    content_type: str = STRATEGIC_MERGE,
) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "patch",
        "deployments",
        namespace,
        lambda **kw: clients.apps.patch_namespaced_deployment(
            name,
            namespace,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=content_type,
            **kw,
        ),
    )
    return result


def patch_deployment_scale(
    clients: KubeClients, namespace: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "patch",
        "deployments/scale",
        namespace,
        lambda **kw: clients.apps.patch_namespaced_deployment_scale(
            name, namespace, body, field_manager=FIELD_MANAGER, _content_type=MERGE, **kw
        ),
    )
    return result


def patch_hpa(
    clients: KubeClients, namespace: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "patch",
        "horizontalpodautoscalers",
        namespace,
        lambda **kw: clients.autoscaling.patch_namespaced_horizontal_pod_autoscaler(
            name, namespace, body, field_manager=FIELD_MANAGER, _content_type=MERGE, **kw
        ),
    )
    return result

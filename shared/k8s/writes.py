"""Kubernetes writes used by remediation: patches only (never create/delete), matching the
verbs granted in deploy/rbac.yaml (patch on deployments, deployments/scale and
horizontalpodautoscalers).

Every patch carries `metadata.resourceVersion` from the read it was computed from, so the API
server refuses it with 409 Conflict if the object changed meanwhile (optimistic concurrency).
`restart_patch`, `scale_patch` and `hpa_max_patch` are pure (unit tested); the `patch_*`
calls go through `KubeClients.call` so failures are typed `K8sError`s naming the permission.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.k8s.client import KubeClients

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
# The id of the write (its audit record) that last changed the object: only our write carries
# it, so a lost response is settled by it — never by images or timestamps a person may set too.
WRITE_ID_ANNOTATION = "alertloop.io/write-id"
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


def marked(body: dict[str, Any], patch_kind: str, write_id: str) -> dict[str, Any]:
    """The patch with our write's marker: on the pod template of a template change (restart:
    a later `kubectl rollout restart` keeps it), on the object's metadata otherwise (an HPA).
    The scale subresource has no annotations: a scale is settled by its replicas."""
    if not write_id or patch_kind == "scale":
        return body
    out = copy.deepcopy(body)
    spec = out.get("spec") if isinstance(out.get("spec"), dict) else None
    if spec is not None and isinstance(spec.get("template"), dict):
        meta = spec["template"].setdefault("metadata", {})
    else:
        meta = out.setdefault("metadata", {})
    meta.setdefault("annotations", {})[WRITE_ID_ANNOTATION] = write_id
    return out


def carries(obj: dict[str, Any], write_id: str) -> bool:
    """Does `obj` carry our write's marker (on its pod template or its own metadata)?"""
    if not write_id:
        return False
    template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    for meta in (template, obj.get("metadata") or {}):
        if (meta.get("annotations") or {}).get(WRITE_ID_ANNOTATION) == write_id:
            return True
    return False


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

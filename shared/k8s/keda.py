"""KEDA ScaledObjects (keda.sh/v1alpha1) through the custom objects API: read one, patch its
``spec.maxReplicaCount``. KEDA owns the HPA it creates and rewrites it from the ScaledObject
(https://keda.sh/docs/latest/reference/scaledobject-spec/), so a raise goes here, never to the
HPA. The verbs match deploy/rbac.yaml (get/patch scaledobjects.keda.sh in allowed namespaces).
"""

from __future__ import annotations

from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.writes import FIELD_MANAGER, MERGE

GROUP = "keda.sh"
VERSION = "v1alpha1"
PLURAL = "scaledobjects"
# KEDA's documented default when spec.maxReplicaCount is not set.
DEFAULT_MAX_REPLICA_COUNT = 100


def get_scaled_object(clients: KubeClients, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get",
        PLURAL,
        namespace,
        lambda **kw: clients.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, **kw
        ),
    )
    return result


def max_replica_count(scaled_object: dict[str, Any]) -> int:
    raw = (scaled_object.get("spec") or {}).get("maxReplicaCount")
    return raw if isinstance(raw, int) and raw >= 0 else DEFAULT_MAX_REPLICA_COUNT


def max_replica_patch(resource_version: str, value: int) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": resource_version}, "spec": {"maxReplicaCount": value}}


def patch_scaled_object(
    clients: KubeClients, namespace: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "patch",
        PLURAL,
        namespace,
        lambda **kw: clients.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE,
            **kw,
        ),
    )
    return result

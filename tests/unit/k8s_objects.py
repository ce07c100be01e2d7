"""Builders for Kubernetes API objects as the API returns them (camelCase JSON dicts)."""

from __future__ import annotations

import copy
from typing import Any

DIGEST = "sha256:" + "3f" * 32


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        **extra,
    }


def pod_spec(
    images: list[tuple[str, str]],
    *,
    init: list[tuple[str, str]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [container(n, i) for n, i in images],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
    }
    if init:
        spec["initContainers"] = [container(n, i) for n, i in init]
    if volumes:
        spec["volumes"] = copy.deepcopy(volumes)  # callers mutate what they get
    return spec


def workload(
    kind: str,
    name: str,
    images: list[tuple[str, str]],
    *,
    namespace: str = "shop",
    init: list[tuple[str, str]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    template_labels: dict[str, str] | None = None,
    annotations: dict[str, Any] | None = None,
    template_annotations: dict[str, Any] | None = None,
    owners: list[dict[str, Any]] | None = None,
    replicas: int = 2,
    claim_templates: list[str] | None = None,
) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": name}
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{kind.lower()}-{name}",
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": "2024-06-01T10:00:00Z",
        "labels": labels if labels is not None else dict(selector),
        "annotations": {"deployment.kubernetes.io/revision": "3", **(annotations or {})},
    }
    if owners:
        meta["ownerReferences"] = owners
    tmeta: dict[str, Any] = {"labels": template_labels or dict(selector)}
    if template_annotations:
        tmeta["annotations"] = template_annotations
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": tmeta, "spec": pod_spec(images, init=init, volumes=volumes)},
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if claim_templates:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": c},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "10Gi"}},
                },
            }
            for c in claim_templates
        ]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def deployment(name: str, images: list[tuple[str, str]], **kw: Any) -> dict[str, Any]:
    return workload("Deployment", name, images, **kw)


def owner_ref(api_version: str, kind: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": f"uid-{kind.lower()}-{name}",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod(
    name: str,
    images: list[tuple[str, str]],
    *,
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    owners: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    init: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-pod-{name}",
        "labels": labels or {},
    }
    if owners:
        meta["ownerReferences"] = owners
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": pod_spec(images, init=init, volumes=volumes),
        "status": {"phase": "Running"},
    }


def pvc_volume(volume: str, claim: str, *, read_only: bool = False) -> dict[str, Any]:
    source: dict[str, Any] = {"claimName": claim}
    if read_only:
        source["readOnly"] = True
    return {"name": volume, "persistentVolumeClaim": source}


def pvc(name: str, *, size: str = "20Gi", namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": "standard-rwo",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }


def hpa(name: str, target: str, *, namespace: str = "shop", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
        "status": {"currentReplicas": 10, "desiredReplicas": 10},
    }


SCRATCH_VOLUMES = [
    {"name": "tmp", "emptyDir": {}},
    {"name": "config", "configMap": {"name": "cart-config"}},
    {"name": "tls", "secret": {"secretName": "cart-tls"}},
    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
]

"""Objects the controller creates (ReplicaSets, pods, events), shaped like the real ones."""

from __future__ import annotations

import copy
import hashlib
import secrets
from typing import Any

from sandbox.kube.resources import REVISION_ANNOTATION
from sandbox.kube.store import POD_TEMPLATE_HASH, now_iso, object_uid, template_hash

# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
# Deployment annotations the controller does not copy onto its ReplicaSets (and kubectl's
# rollout undo does not copy back): kubectl's and the controller's `annotationsToSkip`.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)


def safe_hash(text: str, n: int = 10) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:n])


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(SAFE_ALPHABET) for _ in range(n))


def pod_template_hash(template: dict[str, Any]) -> str:
    return safe_hash(template_hash(template), 10)


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def new_replicaset(deploy: dict[str, Any], revision: int, max_surge: int) -> dict[str, Any]:
    """The ReplicaSet for the deployment's current template, at 0 replicas."""
    template = copy.deepcopy(deploy["spec"]["template"])
    phash = pod_template_hash(template)
    template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = phash
    meta = deploy["metadata"]
    name = f"{meta['name']}-{phash}"
    selector = copy.deepcopy(deploy["spec"]["selector"])
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = phash
    replicas = int(deploy["spec"].get("replicas", 1))
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in ANNOTATIONS_TO_SKIP
    }
    annotations.update(
        {
            REVISION_ANNOTATION: str(revision),
            DESIRED_REPLICAS: str(replicas),
            MAX_REPLICAS: str(replicas + max_surge),
        }
    )
    return {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "uid": object_uid("replicasets", meta["namespace"], name, meta["uid"]),
            "creationTimestamp": now_iso(),
            "generation": 1,
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_ref(deploy)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
        "status": {"replicas": 0, "observedGeneration": 1},
    }


def new_pod(rs: dict[str, Any]) -> dict[str, Any]:
    """A pod the ReplicaSet just created: scheduled, containers still being created."""
    meta = rs["metadata"]
    name = f"{meta['name']}-{random_suffix()}"
    template = rs["spec"]["template"]
    spec = copy.deepcopy(template.get("spec") or {})
    spec.setdefault("nodeName", "gke-sandbox-pool-0")
    spec.setdefault("serviceAccountName", "default")
    now = now_iso()
    pod_meta: dict[str, Any] = {
        "name": name,
        "namespace": meta["namespace"],
        "uid": object_uid("pods", meta["namespace"], name),
        "creationTimestamp": now,
        "labels": dict((template.get("metadata") or {}).get("labels") or {}),
        "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
        "ownerReferences": [owner_ref(rs)],
    }
    # ObjectMeta's labels/annotations are `omitempty` maps: a real API server leaves an empty
    # one out of the JSON (k8s.io/apimachinery/pkg/apis/meta/v1/types.go). imageID, a plain
    # string field, is sent even when empty (core/v1 ContainerStatus).
    for key in ("labels", "annotations"):
        if not pod_meta[key]:
            del pod_meta[key]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": pod_meta,
        "spec": spec,
        "status": {
            "phase": "Pending",
            "startTime": now,
            "qosClass": "Burstable",
            "conditions": _pod_conditions(False, now),
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                    "lastState": {},
                }
                for c in spec.get("containers") or []
            ],
        },
    }


def _pod_conditions(ready: bool, when: str) -> list[dict[str, Any]]:
    flag = "True" if ready else "False"
    return [
        {"type": "Initialized", "status": "True", "lastTransitionTime": when},
        {"type": "Ready", "status": flag, "lastTransitionTime": when},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": when},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": when},
    ]


def start_pod(pod: dict[str, Any], failure: str | None) -> None:
    """The containers started: running and ready, or stuck in `failure` (CrashLoopBackOff...)."""
    now = now_iso()
    status = pod["status"]
    status["phase"] = "Running"
    n = int(hashlib.sha256(pod["metadata"]["name"].encode()).hexdigest()[:4], 16)
    status["podIP"] = f"10.4.{n // 256 % 250}.{n % 250 + 2}"
    status["conditions"] = _pod_conditions(failure is None, now)
    for cs in status.get("containerStatuses") or []:
        image = cs.get("image", "")
        cs["imageID"] = f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
        if failure is None:
            cs.update(ready=True, started=True, state={"running": {"startedAt": now}})
        else:
            message = f"back-off restarting failed container {cs['name']}"
            if failure in ("ImagePullBackOff", "ErrImagePull"):
                message = f'Back-off pulling image "{image}"'
            cs.update(
                ready=False,
                started=False,
                restartCount=1 if failure == "CrashLoopBackOff" else 0,
                state={"waiting": {"reason": failure, "message": message}},
            )


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def controller_event(obj: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    meta = obj["metadata"]
    now = now_iso()
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{meta['name']}.{random_suffix(10)}",
            "namespace": meta["namespace"],
            "creationTimestamp": now,
        },
        "involvedObject": {
            "kind": obj["kind"],
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": obj.get("apiVersion", "apps/v1"),
        },
        "reason": reason,
        "message": message,
        "source": {"component": "deployment-controller"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": "Normal",
        "reportingComponent": "deployment-controller",
        "reportingInstance": "",
    }

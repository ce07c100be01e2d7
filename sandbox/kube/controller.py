"""The deployment controller: a changed pod template rolls the deployment out (a ReplicaSet per
template; an old one re-used, with the next revision, when the template matches it)."""

from __future__ import annotations

from typing import Any

from sandbox.kube.resources import REVISION_ANNOTATION
from sandbox.kube.store import ClusterState, equal_ignore_hash, now_iso


def rollout(state: ClusterState, deploy: dict[str, Any]) -> None:
    """The template changed: reuse or create a ReplicaSet, with the next revision."""
    owned = state.owned_by("replicasets", deploy)
    revisions = [
        int(rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")) for rs in owned
    ]
    next_rev = str(max(revisions, default=0) + 1)
    template = deploy["spec"]["template"]
    match = next((rs for rs in owned if equal_ignore_hash(rs["spec"]["template"], template)), None)
    replicas = int(deploy["spec"].get("replicas", 1))
    for rs in owned:
        if rs is not match:
            rs["spec"]["replicas"] = 0
            rs["status"] = {"replicas": 0, "observedGeneration": 1}
            rs["metadata"]["resourceVersion"] = state.next_rv()
    if match is not None:
        match["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = next_rev
        match["spec"]["replicas"] = replicas
        match["metadata"]["resourceVersion"] = state.next_rv()
    else:
        from sandbox.kube_scenarios import replicaset_for

        rs = replicaset_for(deploy, int(next_rev), created=now_iso(), replicas=replicas)
        state.add(rs)
    deploy["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = next_rev


def sync_status(deploy: dict[str, Any]) -> None:
    status = deploy.setdefault("status", {})
    status["observedGeneration"] = deploy["metadata"].get("generation", 1)

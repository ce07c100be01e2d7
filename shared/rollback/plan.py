"""What `kubectl rollout undo --to-revision=N` sends, and the binding checks, as pure functions.

kubectl replaces the deployment's `spec.template` with the pod template of revision N's
ReplicaSet (without the controller-owned `pod-template-hash` label) in one JSON patch. We add a
`replace` of `metadata.resourceVersion` with the version we read: the API server then refuses
the patch with 409 Conflict if the deployment changed in between (optimistic concurrency).
"""

from __future__ import annotations

import copy
from typing import Any

from shared.k8s.reads import REVISION_ANNOTATION

POD_TEMPLATE_HASH = "pod-template-hash"

# Remediation records rollback proposals with action "rollback" (older records: "propose_rollback").
ROLLBACK_ACTIONS = ("rollback", "propose_rollback")


def undo_template(replicaset: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet's pod template as the deployment's template (hash label removed)."""
    template = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def undo_patch(resource_version: str, template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/spec/template", "value": template},
    ]


def revision_of(obj: dict[str, Any]) -> int | None:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def images_of(template: dict[str, Any]) -> list[str]:
    return [str(c.get("image", "")) for c in (template.get("spec") or {}).get("containers") or []]


def binding_problem(approval: dict[str, Any], run_id: str, target: str) -> tuple[str, str] | None:
    """(guard, reason) when the approval does not bind this run to this exact target."""
    if approval.get("action") not in ROLLBACK_ACTIONS:
        return "approval", f"approval {approval.get('id')} is not a rollback proposal"
    if approval.get("run_id") != run_id:
        return "approval", (
            f"approval {approval.get('id')} belongs to run {approval.get('run_id')}, not {run_id}"
        )
    if approval.get("target") != target:
        return "approval", f"approval names {approval.get('target')}, not {target}"
    for key in ("from_revision", "to_revision"):
        if not isinstance(approval.get(key), int):
            return "approval", f"approval {approval.get('id')} names no {key}"
    return None


def live_problem(approval: dict[str, Any], deploy: dict[str, Any]) -> tuple[str, str] | None:
    """(guard, reason) when the live deployment is no longer what was approved."""
    live = revision_of(deploy)
    want = approval.get("from_revision")
    if live != want:
        return "newer_deploy", (
            f"{approval.get('target')} is at revision {live} now, not {want} as approved: "
            "it was deployed (or rolled back) since; alertloop never rolls back over a newer "
            "deploy — decide again on the current state"
        )
    return None


def replicaset_problem(
    approval: dict[str, Any], deploy: dict[str, Any], replicaset: dict[str, Any] | None
) -> tuple[str, str] | None:
    """(guard, reason) when the target revision's ReplicaSet is not the approved one."""
    to_rev = approval.get("to_revision")
    if replicaset is None:
        return "revision_gone", (
            f"revision {to_rev} of {approval.get('target')} is no longer in its rollout "
            "history (ReplicaSet deleted, revisionHistoryLimit): nothing to roll back to"
        )
    meta = replicaset.get("metadata") or {}
    uid = (deploy.get("metadata") or {}).get("uid")
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
    if uid and not any(o.get("uid") == uid for o in owners):
        return "revision_gone", f"ReplicaSet {meta.get('name')} is not owned by the deployment"
    if revision_of(replicaset) != to_rev:
        return "revision_gone", (
            f"ReplicaSet {meta.get('name')} is revision {revision_of(replicaset)} now, not "
            f"{to_rev} as approved"
        )
    want_images = approval.get("to_images") or []
    have = images_of((replicaset.get("spec") or {}).get("template") or {})
    if want_images and have != list(want_images):
        return "revision_gone", (
            f"revision {to_rev} runs {', '.join(have)}, not the approved {', '.join(want_images)}"
        )
    return None

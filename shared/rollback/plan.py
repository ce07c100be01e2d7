"""What `kubectl rollout undo --to-revision=N` sends, and the binding checks, as pure functions.

kubectl (client side) refuses a paused deployment, finds revision N's ReplicaSet, takes its pod
template without the controller-owned `pod-template-hash` label, and sends one JSON patch that
replaces `spec.template` with it and `metadata.annotations` with the ReplicaSet's annotations
(except those in kubectl's `annotationsToSkip`, whose values are kept from the deployment).
`undo_patch` is exactly that, plus a leading `replace` of `metadata.resourceVersion` with the
version we read: the API server then refuses the patch with 409 Conflict if the deployment
changed in between (optimistic concurrency).

The deployment controller, not the patch, then assigns the new revision (see shared.rollback.
canary): the PATCH response still carries the old one.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.k8s.reads import REVISION_ANNOTATION
from shared.k8s.writes import WRITE_ID_ANNOTATION

POD_TEMPLATE_HASH = "pod-template-hash"

# kubectl's annotationsToSkip: kept from the deployment, never copied from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
        WRITE_ID_ANNOTATION,  # ours: never copied back from an old ReplicaSet
    }
)

# Remediation records rollback proposals with action "rollback" (older records: "propose_rollback").
ROLLBACK_ACTIONS = ("rollback", "propose_rollback")


def undo_template(replicaset: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet's pod template as the deployment's template (hash label removed)."""
    template = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def undo_annotations(deploy: dict[str, Any], replicaset: dict[str, Any]) -> dict[str, str]:
    """The deployment's annotations after the undo, as kubectl computes them."""
    current = (deploy.get("metadata") or {}).get("annotations") or {}
    from_rs = (replicaset.get("metadata") or {}).get("annotations") or {}
    out = {k: str(v) for k, v in current.items() if k in ANNOTATIONS_TO_SKIP}
    out.update({k: str(v) for k, v in from_rs.items() if k not in ANNOTATIONS_TO_SKIP})
    return out


def undo_patch(
    resource_version: str,
    template: dict[str, Any],
    annotations: dict[str, str] | None = None,
    *,
    has_annotations: bool = True,
) -> list[dict[str, Any]]:
    """The JSON patch: the resourceVersion precondition, then kubectl's two operations.
    (`add` instead of `replace` for annotations only when the deployment has none: a JSON
    patch cannot replace a missing member.)"""
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/spec/template", "value": template},
    ]
    if annotations is not None:
        ops.append(
            {
                "op": "replace" if has_annotations else "add",
                "path": "/metadata/annotations",
                "value": annotations,
            }
        )
    return ops


def undo_ops(deploy: dict[str, Any], replicaset: dict[str, Any]) -> list[dict[str, Any]]:
    """`kubectl rollout undo` to this ReplicaSet's revision, bound to the deployment as read."""
    meta = deploy.get("metadata") or {}
    return undo_patch(
        str(meta.get("resourceVersion", "")),
        undo_template(replicaset),
        undo_annotations(deploy, replicaset),
        has_annotations="annotations" in meta,
    )


def with_write_id(ops: list[dict[str, Any]], write_id: str) -> list[dict[str, Any]]:
    """The undo patch with our write's marker in the deployment's annotations (not in the pod
    template: the template must stay the old ReplicaSet's so that the controller reuses it)."""
    out = copy.deepcopy(ops)
    for op in out:
        if op.get("path") == "/metadata/annotations" and isinstance(op.get("value"), dict):
            op["value"][WRITE_ID_ANNOTATION] = write_id
            return out
    out.append(
        {"op": "add", "path": "/metadata/annotations", "value": {WRITE_ID_ANNOTATION: write_id}}
    )
    return out


def deployment_after_undo(deploy: dict[str, Any], replicaset: dict[str, Any]) -> dict[str, Any]:
    """The deployment as it will be once `undo_ops` applied: what the safety rules classify."""
    after = copy.deepcopy(deploy)
    after.setdefault("spec", {})["template"] = undo_template(replicaset)
    after.setdefault("metadata", {})["annotations"] = undo_annotations(deploy, replicaset)
    return after


def paused_problem(deploy: dict[str, Any]) -> tuple[str, str] | None:
    """kubectl refuses to roll back a paused deployment (the controller would not act)."""
    if (deploy.get("spec") or {}).get("paused"):
        return "paused", (
            "you cannot rollback a paused deployment; resume it first with "
            "'kubectl rollout resume' and try again"
        )
    return None


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
    """(guard, reason) when the live deployment is no longer what was approved, or paused."""
    paused = paused_problem(deploy)
    if paused is not None:
        return paused
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
    if undo_template(replicaset) == undo_template(deploy):
        return "no_change", (
            f"skipped rollback (current template already matches revision {to_rev})"
        )
    return None

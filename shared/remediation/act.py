"""Sending one guarded write, and knowing what happened to it.

A write's response can be lost after the API server applied it (a read timeout, a reset
connection, a 5xx from a proxy). Such a write is never assumed failed: the object is read back
and the write is settled as applied, not applied, or unknown — and an unknown write keeps its
reservation (no further write to the target until the cooldown passes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shared.k8s import reads, writes
from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sApiError, K8sError
from shared.k8s.writes import RESTARTED_AT_ANNOTATION
from shared.remediation.decide import Plan

WriteOutcome = Literal["applied", "not_applied", "unknown", "conflict"]


def send(clients: KubeClients, plan: Plan, write_id: str = "") -> dict[str, Any]:
    """Send the plan's patch, marked with `write_id` (writes.marked) so that a lost response
    is settled by the marker only this write carries."""
    assert plan.target is not None and plan.patch is not None
    ns, name = plan.target.namespace, plan.target.name
    body = writes.marked(plan.patch, plan.patch_kind, write_id)
    if plan.workload_version:
        moved = workload_moved(clients, ns, plan)
        if moved:
            raise K8sApiError(moved, 409, reason="Conflict")
    if plan.patch_kind == "deployment":
        return writes.patch_deployment(clients, ns, name, body)
    if plan.patch_kind == "scale":
        return writes.patch_deployment_scale(clients, ns, name, body)
    if plan.patch_kind == "keda":
        from shared.k8s.keda import patch_scaled_object

        return patch_scaled_object(clients, ns, name, body)
    return writes.patch_hpa(clients, ns, name, body)


def workload_moved(clients: KubeClients, namespace: str, plan: Plan) -> str:
    """Why the write may not go on (the Deployment classified for an HPA write changed since:
    a patch of the HPA cannot carry the Deployment's resourceVersion), or ""."""
    deploy = reads.get_deployment(clients, namespace, plan.workload_name or "")
    live = str((deploy.get("metadata") or {}).get("resourceVersion", ""))
    if live == plan.workload_version:
        return ""
    return (
        f"the deployment changed since it was classified (resourceVersion "
        f"{plan.workload_version} -> {live}): the {plan.action} was not sent"
    )


def maybe_applied(exc: K8sError) -> bool:
    """Could the server have applied a write that failed this way?"""
    if exc.status is not None:
        return exc.status >= 500  # 4xx: the server refused it
    return exc.maybe_sent


def read_back(clients: KubeClients, action: str, namespace: str, name: str) -> dict[str, Any]:
    """The object a write of `action` changes, as it is now."""
    if action == "scale_deployment":
        return reads.get_deployment_scale(clients, namespace, name) or {}
    if action == "raise_hpa_max":
        return reads.get_hpa(clients, namespace, name)
    if action == "raise_keda_max":
        from shared.k8s.keda import get_scaled_object

        return get_scaled_object(clients, namespace, name)
    return reads.get_deployment(clients, namespace, name)


def is_applied(action: str, after: dict[str, Any], obj: dict[str, Any], write_id: str = "") -> bool:
    """Does `obj` carry the change `after` describes? With the write's id: does it carry our
    marker (a person's later restart changes restartedAt, never our write id)."""
    spec = obj.get("spec") or {}
    if write_id and action != "scale_deployment":
        return writes.carries(obj, write_id)
    if action == "restart":
        template = (spec.get("template") or {}).get("metadata") or {}
        want = after.get(RESTARTED_AT_ANNOTATION)
        return (
            bool(want) and (template.get("annotations") or {}).get(RESTARTED_AT_ANNOTATION) == want
        )
    if action == "scale_deployment":
        return spec.get("replicas") == after.get("replicas")
    if action == "raise_hpa_max":
        return spec.get("maxReplicas") == after.get("maxReplicas")
    if action == "raise_keda_max":
        return spec.get("maxReplicaCount") == after.get("maxReplicaCount")
    return False


@dataclass
class Settled:
    outcome: WriteOutcome
    plan: Plan
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    notes: list[str] = field(default_factory=list)


def settle_lost_response(
    clients: KubeClients, plan: Plan, exc: K8sError, notes: list[str], write_id: str = ""
) -> Settled:
    """The write may or may not have happened: read the object back and say which.

    Not seeing the change is not proof it failed — the API server may still be processing the
    request. It is proof only once the object's resourceVersion moved on: the patch carries the
    version it was computed from, so it can no longer apply (409).
    """
    assert plan.target is not None
    why = f"the response to the {plan.action} was lost ({exc})"
    try:
        obj = read_back(clients, plan.action, plan.target.namespace, plan.target.name)
    except K8sError as read_exc:
        return Settled(
            "unknown",
            plan,
            error=str(exc),
            notes=[*notes, f"{why}, and reading it back failed too ({read_exc})"],
        )
    if is_applied(plan.action, plan.after, obj, write_id):
        return Settled("applied", plan, obj, str(exc), [*notes, f"{why}; it did apply"])
    live_rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    if plan.resource_version and live_rv and live_rv != plan.resource_version:
        return Settled(
            "not_applied",
            plan,
            obj,
            str(exc),
            [*notes, f"{why}; it did not apply and no longer can (the object moved on)"],
        )
    return Settled(
        "unknown",
        plan,
        obj,
        str(exc),
        [*notes, f"{why}; not visible yet, and the API server may still apply it"],
    )


def conflict(exc: K8sError) -> bool:
    return isinstance(exc, K8sApiError) and exc.status == 409

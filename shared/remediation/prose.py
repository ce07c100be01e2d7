"""What remediation tells people: the lines of its finding (plain text; Slack rendering escapes)."""

from __future__ import annotations

from typing import Any

from shared.remediation.change_gate import Refusal
from shared.remediation.decide import Plan

NEXT_CHECKS = {
    "restart": "watch the new pods become Ready and the alert resolve; if they crash again, "
    "read the previous container logs: a restart does not fix a bad release",
    "scale_deployment": "watch CPU/memory per pod drop and the alert resolve; if it does not, "
    "scaling is not the fix",
    "raise_hpa_max": "watch the HPA scale past its old maximum and the alert resolve; review "
    "the HPA's limits afterwards",
    "raise_keda_max": "watch KEDA raise its HPA's maximum and the replicas follow, and the alert "
    "resolve; put the new maxReplicaCount in Git if the ScaledObject comes from there",
    "propose_rollback": "a human decides: compare the error rate of the new revision with the "
    "previous one, then Approve or Reject below (allowed approvers only), or roll back by hand "
    "(command above)",
}

OUTCOME_WORDS = {
    "applied": "applied",
    "not_applied": "not applied",
    "unknown": "outcome UNKNOWN",
}


def done_line(plan: Plan) -> str:
    return {
        "restart": f"Restarted {plan.target} (rollout restart)",
        "scale_deployment": f"Scaled {plan.target} from {plan.current} to "
        f"{plan.after.get('replicas')} replicas",
        "raise_hpa_max": f"Raised maxReplicas of {plan.target} from {plan.current} to "
        f"{plan.after.get('maxReplicas')}",
        "raise_keda_max": f"Raised maxReplicaCount of {plan.target} from {plan.current} to "
        f"{plan.after.get('maxReplicaCount')}",
    }.get(plan.action, f"{plan.action} {plan.target}")


def describe(plan: Plan) -> str:
    if plan.action == "restart":
        return f"restart {plan.target} (patch {plan.patch})"
    if plan.action in ("scale_deployment", "raise_hpa_max", "raise_keda_max"):
        verb = {"scale_deployment": "scale", "raise_hpa_max": "raise maxReplicas of"}.get(
            plan.action, "raise maxReplicaCount of"
        )
        return (
            f"{verb} "
            f"{plan.target} from {plan.current} to {plan.after.get(plan.count_field)} "
            f"(patch {plan.patch})"
        )
    return plan.reason


def refusal_lines(refusal: Refusal, plan: Plan | None, action: str) -> list[str]:
    if refusal.guard == "dry_run":
        verb = "Would" if plan and plan.mode == "change" else "Would propose:"
        what = describe(plan) if plan else action
        line = f"Dry-run: {verb} {what}. {refusal.reason}."
    else:
        line = f"Refused ({refusal.guard}): {refusal.reason}."
    lines = [line]
    if refusal.how_to_change:
        lines.append(f"To change this: {refusal.how_to_change}")
    if plan is not None:
        lines += plan.notes
    if refusal.audit_error:
        lines.append(f"Warning: the refusal could not be audited: {refusal.audit_error}")
    return lines


def rollback_command(target: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """The exact manual command; nothing here executes it (no automatic rollback, ever)."""
    revision = details.get("to_revision")
    if target.get("kind") != "Deployment" or not revision:
        return []
    return [
        f"To roll back by hand: kubectl -n {target.get('namespace')} rollout undo "
        f"deployment/{target.get('name')} --to-revision={revision}"
    ]

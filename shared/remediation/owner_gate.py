"""Owner-aware actions: never make a change the workload's owner will undo (DESIGN §5).

Pure: the plan, the objects just read and the policy's `owners` section in; a verdict out.
`shared.remediation.core` audits refusals through the guardrails and carries out redirects.

  restart            allowed; the reply says where the owner shows the drift
  scale_deployment   GitOps-managed Deployment: refused, with the change to make in Git
  raise_hpa_max      KEDA-owned HPA: redirected to the ScaledObject's spec.maxReplicaCount
                     (policy owners.keda: scaledobject) or refused with that proposal
                     (owners.keda: refuse); a GitOps-managed HPA: refused with the Git change
  propose_rollback   GitOps owner that self-heals (owners.self_heal): no kubectl rollback, the
                     owner's way instead (argocd app rollback, revert the commit Flux applied)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shared.k8s import owners as own
from shared.policy import OwnerPolicy
from shared.remediation.decide import Plan

Verdict = Literal["allow", "refuse", "keda", "owner_rollback"]


@dataclass
class OwnerVerdict:
    verdict: Verdict
    workload_class: str  # gitops | keda | helm | plain (autonomy is set per class)
    owners: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    guard: str = ""
    reason: str = ""
    how_to_change: str = ""
    proposal: dict[str, Any] = field(default_factory=dict)
    scaled_object: str = ""


def _name(obj: dict[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name") or "")


def workload_class(deploy_owners: own.Owners, scaled_object: str | None) -> str:
    if deploy_owners.gitops is not None:
        return "gitops"
    if scaled_object:
        return "keda"
    if deploy_owners.helm is not None:
        return "helm"
    return "plain"


def judge(
    plan: Plan,
    deploy: dict[str, Any],
    hpa: dict[str, Any] | None,
    policy: OwnerPolicy,
) -> OwnerVerdict:
    keys = policy.argocd_label_keys
    deploy_owners = own.owners_of(deploy, keys, own.DEPLOYMENT)
    scaled_object = own.keda_scaled_object(hpa)
    cls = workload_class(deploy_owners, scaled_object)
    base: dict[str, Any] = {"deployment": deploy_owners.as_dict()}
    if scaled_object:
        base["scaled_object"] = scaled_object
    notes = [f"Possible owner: {p}." for p in deploy_owners.possible]
    helm = deploy_owners.helm
    if helm is not None and deploy_owners.gitops is None:
        notes.append(f"{own.drift_note(helm, 'this change')}: the next helm upgrade resets it.")
    gitops = deploy_owners.gitops
    ns = str((deploy.get("metadata") or {}).get("namespace") or "")
    v = OwnerVerdict("allow", cls, base, notes)

    if plan.action == "restart":
        if gitops is not None:
            v.notes.append(
                "The restart is allowed: "
                + own.drift_note(
                    gitops, "the pod-template annotation kubectl.kubernetes.io/restartedAt"
                )
                + "."
            )
        return v

    if plan.action == "scale_deployment" and gitops is not None:
        value = int(plan.after.get("replicas") or plan.desired or 0)
        change = own.git_change(gitops, "Deployment", ns, _name(deploy), "spec.replicas", value)
        v.verdict, v.guard = "refuse", f"owner/{gitops.tool}"
        v.reason = (
            f"{gitops.label} owns Deployment {ns}/{_name(deploy)} (via {gitops.via}): a scale in "
            "the cluster would be reverted at its next sync"
        )
        v.how_to_change = change
        v.proposal = {"owner": gitops.as_dict(), "git_change": change}
        return v

    if plan.action == "raise_hpa_max":
        value = int(plan.after.get("maxReplicas") or plan.desired or 0)
        if scaled_object:
            v.scaled_object = scaled_object
            if policy.keda == "scaledobject":
                v.verdict = "keda"
                return v
            change = (
                f"raise spec.maxReplicaCount of ScaledObject {ns}/{scaled_object} to {value} "
                "(KEDA rewrites its HPA from it)"
            )
            v.verdict, v.guard = "refuse", "owner/keda"
            v.reason = (
                f"HPA {plan.target.name if plan.target else '?'} is owned by KEDA ScaledObject "
                f"{ns}/{scaled_object}: KEDA would revert its maxReplicas (policy owners.keda: "
                "refuse)"
            )
            v.how_to_change = change
            v.proposal = {"scaled_object": scaled_object, "change": change}
            return v
        hpa_owner = own.owners_of(hpa, keys, own.HPA).gitops
        if hpa_owner is not None:
            name = _name(hpa)
            change = own.git_change(
                hpa_owner, "HorizontalPodAutoscaler", ns, name, "spec.maxReplicas", value
            )
            v.verdict, v.guard = "refuse", f"owner/{hpa_owner.tool}"
            v.reason = (
                f"{hpa_owner.label} owns HPA {ns}/{name} (via {hpa_owner.via}): raising "
                "maxReplicas in the cluster would be reverted at its next sync"
            )
            v.how_to_change = change
            v.proposal = {"owner": hpa_owner.as_dict(), "git_change": change}
        return v

    if plan.action == "propose_rollback" and gitops is not None:
        way = own.rollback_way(gitops)
        self_heals = policy.self_heal.get(gitops.tool, True)
        v.proposal = {"owner": gitops.as_dict(), "owner_rollback": way}
        if self_heals:
            v.verdict, v.guard = "owner_rollback", f"owner/{gitops.tool}"
            v.reason = (
                f"{gitops.label} owns {ns}/{_name(deploy)} and puts its desired state back: a "
                "kubectl rollback would be undone (or fought) at its next sync"
            )
            v.how_to_change = (
                f"roll back the owner's way: {way}; or set owners.self_heal.{gitops.tool}: false "
                "in the policy if it does not self-heal"
            )
        else:
            v.notes.append(
                f"{gitops.label} owns it but does not self-heal (owners.self_heal."
                f"{gitops.tool}: false): the kubectl rollback leaves it OutOfSync; the owner's "
                f"way: {way}."
            )
    return v


def rollback_problem(deploy: dict[str, Any], policy: OwnerPolicy) -> tuple[str, str, str] | None:
    """(guard, reason, how to change) when an approved kubectl rollback would be undone: the
    owner appeared (or self-heal was turned on) after the proposal was made."""
    gitops = own.owners_of(deploy, policy.argocd_label_keys, own.DEPLOYMENT).gitops
    if gitops is None or not policy.self_heal.get(gitops.tool, True):
        return None
    ns = str((deploy.get("metadata") or {}).get("namespace") or "")
    return (
        f"owner/{gitops.tool}",
        f"{gitops.label} owns {ns}/{_name(deploy)} and puts its desired state back: the approved "
        "kubectl rollback would be undone at its next sync",
        f"roll back the owner's way: {own.rollback_way(gitops)}",
    )

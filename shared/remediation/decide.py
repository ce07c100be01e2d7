"""What remediation would do, as pure functions of the policy, the investigation finding and
the objects read from the cluster (no API calls, no Firestore; unit tested without servers).

A `Plan` is a change (restart, scale_deployment, raise_hpa_max), a proposal (propose_rollback,
or a change that needs approval) or nothing (HPA is scaling, no rollback indicated...). The
guardrails (`shared.remediation.change_gate`) then allow, clamp or refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.k8s.reads import REVISION_ANNOTATION, hpa_summary, parse_time
from shared.k8s.writes import (
    RESTARTED_AT_ANNOTATION,
    hpa_max_patch,
    restart_patch,
    scale_patch,
)

Mode = Literal["change", "proposal", "none"]
PatchKind = Literal["", "deployment", "scale", "hpa", "keda"]

LEAK_NOTE = (
    "A memory leak is suspected: scaling only buys time, every replica will grow until it is "
    "OOM-killed. Find and fix the leak (heap profile, recent code changes)."
)


@dataclass(frozen=True)
class Target:
    kind: str  # Deployment | HorizontalPodAutoscaler
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        """A Firestore document id for this target (ids cannot contain '/')."""
        return f"{self.kind.lower()}:{self.namespace}:{self.name}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass
class Plan:
    action: str  # restart | scale_deployment | raise_hpa_max | propose_rollback | none
    mode: Mode
    target: Target | None
    reason: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    patch: dict[str, Any] | None = None
    patch_kind: PatchKind = ""
    resource_version: str = ""
    # Count changes (scale, HPA max): the field, its current value and the wanted value before
    # the replica ceiling is applied (guardrails.apply_ceiling sets `after` and `patch`).
    count_field: str = ""
    current: int | None = None
    desired: int | None = None
    notes: list[str] = field(default_factory=list)
    proposal: dict[str, Any] | None = None
    # The resourceVersion of the workload that was classified, when the write is to another
    # object (an HPA): act.send checks it is still current right before the write.
    workload_version: str = ""
    workload_name: str = ""

    def set_count(self, value: int) -> None:
        """Fix the new count and build the patch for it."""
        self.after = {self.count_field: value}
        if self.patch_kind == "scale":
            self.patch = scale_patch(self.resource_version, value)
        elif self.patch_kind == "hpa":
            self.patch = hpa_max_patch(self.resource_version, value)
        elif self.patch_kind == "keda":
            from shared.k8s.keda import max_replica_patch

            self.patch = max_replica_patch(self.resource_version, value)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def deployment_target(deploy: dict[str, Any]) -> Target:
    meta = _meta(deploy)
    return Target("Deployment", str(meta.get("namespace", "")), str(meta.get("name", "")))


def plan_restart(
    deploy: dict[str, Any], restarted_at: str, alert_started: datetime | None = None
) -> Plan:
    """Rollout restart, unless the workload was already restarted since the alert began."""
    target = deployment_target(deploy)
    meta = _meta(deploy)
    template_meta = ((deploy.get("spec") or {}).get("template") or {}).get("metadata") or {}
    previous = (template_meta.get("annotations") or {}).get(RESTARTED_AT_ANNOTATION)
    prev_time = parse_time(previous)
    if alert_started is not None and prev_time is not None and prev_time >= alert_started:
        return Plan(
            "none",
            "none",
            target,
            f"{target} was already restarted at {previous}, after the alert began: "
            "not restarting it again",
            before={RESTARTED_AT_ANNOTATION: previous},
        )
    rv = str(meta.get("resourceVersion", ""))
    return Plan(
        "restart",
        "change",
        target,
        "pods are failing health checks: a rollout restart replaces them one by one",
        before={RESTARTED_AT_ANNOTATION: previous, "generation": meta.get("generation")},
        after={RESTARTED_AT_ANNOTATION: restarted_at},
        patch=restart_patch(rv, restarted_at),
        patch_kind="deployment",
        resource_version=rv,
    )


def plan_scale(
    deploy: dict[str, Any],
    hpa: dict[str, Any] | None,
    scale: dict[str, Any] | None,
    step: int,
    memory_verdict: str | None = None,
) -> Plan:
    """HPA below max: nothing; HPA at max: raise maxReplicas; no HPA: scale the deployment."""
    workload = deployment_target(deploy)
    notes = [LEAK_NOTE] if memory_verdict == "leak suspected" else []
    if hpa is not None:
        s = hpa_summary(hpa)
        hmeta = _meta(hpa)
        hpa_target = Target("HorizontalPodAutoscaler", workload.namespace, str(hmeta.get("name")))
        state = {
            "current_replicas": s["current_replicas"],
            "desired_replicas": s["desired_replicas"],
            "max_replicas": s["max_replicas"],
        }
        if not s["at_max"]:
            why = (
                f"HPA {hpa_target.name} is scaling {workload} ({s['current_replicas']} replicas, "
                f"desired {s['desired_replicas']}, max {s['max_replicas']}): no action needed"
            )
            if not s["scaling_active"]:
                why += (
                    "; but it cannot read its metrics ("
                    + "; ".join(s["failed_metrics"])
                    + "): check metrics-server"
                )
            return Plan("none", "none", hpa_target, why, before=state, notes=notes)
        rv = str(hmeta.get("resourceVersion", ""))
        plan = Plan(
            "raise_hpa_max",
            "change",
            hpa_target,
            f"HPA {hpa_target.name} is at its maximum ({s['max_replicas']} replicas) and "
            f"still wants more: raising maxReplicas by {step}",
            before=state,
            patch_kind="hpa",
            resource_version=rv,
            count_field="maxReplicas",
            current=s["max_replicas"],
            desired=s["max_replicas"] + step,
            notes=notes,
        )
        plan.set_count(s["max_replicas"] + step)
        return plan
    sc = scale or {}
    current = int((sc.get("spec") or {}).get("replicas") or 0)
    # The precondition is the classified deployment's version (the scale subresource shares
    # it): a deployment changed since it was classified makes the write fail with 409.
    rv = str(_meta(deploy).get("resourceVersion") or _meta(sc).get("resourceVersion", ""))
    plan = Plan(
        "scale_deployment",
        "change",
        workload,
        f"no HPA manages {workload}: scaling it from {current} by {step} replicas",
        before={"replicas": current},
        patch_kind="scale",
        resource_version=rv,
        count_field="replicas",
        current=current,
        desired=current + step,
        notes=notes,
    )
    plan.set_count(current + step)
    return plan


def current_revision(deploy: dict[str, Any]) -> int | None:
    raw = (_meta(deploy).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def plan_rollback(
    deploy: dict[str, Any],
    recent_deploy: dict[str, Any] | None,
    revisions: dict[int, list[str]] | None = None,
) -> Plan:
    """A rollback proposal naming the exact revision to return to (never executed here).

    `revisions` maps the revisions still in the rollout history to their images (None: not
    read); the proposal is only made when the previous revision still exists.
    """
    target = deployment_target(deploy)
    if not recent_deploy or not recent_deploy.get("recent"):
        why = "no recent deploy of " + str(target)
        if recent_deploy and recent_deploy.get("revision") is not None:
            why += (
                f" (revision {recent_deploy['revision']} is {recent_deploy.get('age_minutes')} "
                "minutes old)"
            )
        return Plan("none", "none", target, why + ": no rollback is indicated")
    from_rev = recent_deploy.get("revision")
    to_rev = recent_deploy.get("previous_revision")
    if to_rev is None:
        return Plan(
            "none",
            "none",
            target,
            f"{target} was deployed recently (revision {from_rev}) but has no earlier revision "
            "to roll back to",
        )
    live = current_revision(deploy)
    if live is not None and from_rev is not None and live != int(from_rev):
        return Plan(
            "none",
            "none",
            target,
            f"{target} is at revision {live} now, not {from_rev} as investigated: the rollout "
            "moved on, no rollback proposed (re-investigate)",
        )
    if revisions is not None and int(to_rev) not in revisions:
        return Plan(
            "none",
            "none",
            target,
            f"revision {to_rev} of {target} is no longer in its rollout history "
            "(revisionHistoryLimit): no rollback can be proposed",
        )
    images = recent_deploy.get("images") or []
    previous_images = (
        revisions.get(int(to_rev), []) if revisions else recent_deploy.get("previous_images") or []
    )
    proposal = {
        "from_revision": int(from_rev) if from_rev is not None else None,
        "to_revision": int(to_rev),
        "from_images": list(images),
        "to_images": list(previous_images),
        "from_replicaset": recent_deploy.get("replicaset"),
        "to_replicaset": recent_deploy.get("previous_replicaset"),
        "deployed_at": recent_deploy.get("created"),
        "resource_version": str(_meta(deploy).get("resourceVersion", "")),
    }
    return Plan(
        "propose_rollback",
        "proposal",
        target,
        f"the error rate rose after revision {from_rev} was deployed "
        f"({recent_deploy.get('age_minutes')} minutes ago): propose rolling {target} back to "
        f"revision {to_rev} ({', '.join(previous_images) or 'images unknown'})",
        before={"revision": from_rev, "images": list(images)},
        after={"revision": int(to_rev), "images": list(previous_images)},
        proposal=proposal,
    )

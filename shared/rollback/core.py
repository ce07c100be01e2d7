"""`rollback(envelope) -> Finding`: execute an approved rollback, once, or refuse.

1. the envelope names an approval (approve set `approval_id`); it must be `approved`, for this
   run, this exact target and from->to revision, and not long past its expiry;
2. claim it in one transaction: approved -> executing (a redelivery or a second message finds it
   no longer approved: single use);
3. the remediation guardrails, again: database never, names, namespace allowlist (kube-system
   never), kind, opt-out annotation, dry-run, then cooldown/attempts/fleet rate limit reserved
   atomically (shared.remediation.change_gate);
4. the live deployment must still be at the approved `from_revision` (never roll back over a
   newer deploy) and the target ReplicaSet must still be the approved revision;
5. one JSON patch of spec.template (kubectl rollout undo) with the resourceVersion precondition,
   audited before (in_progress) and after (applied|conflict|failed);
6. the canary check (shared.rollback.canary) within ALERTLOOP_ROLLBACK_VERIFY_SECONDS.

approvals/{id}.status ends as executed | refused | dry_run | failed. Expected failures become
findings (the pipeline goes on and notify reports them); nothing here raises for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.audit import Recorder
from shared.config import settings
from shared.k8s import reads, writes
from shared.k8s.client import ClientFactory, KubeClients, default_factory
from shared.k8s.errors import K8sError, K8sNotConfigured, K8sNotFound
from shared.k8s.writes import JSON_PATCH
from shared.ledger import Ledger, LedgerError
from shared.ledger.guardrails import Outcome as Outcome_
from shared.model import Finding, FindingStatus, utcnow
from shared.policy import PolicyError, cached_policy
from shared.remediation import act
from shared.remediation.change_gate import EarlierWrite, Guardrails, Refusal
from shared.remediation.decide import Plan, Target
from shared.remediation.settings import remediation_settings
from shared.rollback import canary as canary_mod
from shared.rollback.plan import (
    binding_problem,
    deployment_after_undo,
    images_of,
    live_problem,
    replicaset_problem,
    undo_ops,
    undo_template,
    with_write_id,
)
from shared.rollback.settings import RollbackSettings, rollback_settings
from shared.run import Run
from shared.workload.resolve import WorkloadRef

STAGE = "rollback"
ACTION = "rollback"

PrometheusFactory = Callable[[], Any]


@dataclass
class Outcome:
    status: FindingStatus
    lines: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def _prometheus_from_env() -> Any:
    from shared.prometheus import PrometheusClient

    return PrometheusClient.from_env()


def rollback(
    envelope: Run,
    *,
    k8s_factory: ClientFactory | None = None,
    ledger: Ledger | None = None,
    prometheus_factory: PrometheusFactory | None = None,
    sleep: Callable[[float], None] = time.sleep,
    routing_problem: str = "",
) -> Finding:
    started = utcnow()
    run = _Run(
        envelope,
        k8s_factory or default_factory(),
        ledger or Ledger(),
        prometheus_factory or _prometheus_from_env,
        sleep,
    )
    try:
        out = run.refuse_unrouted(routing_problem) if routing_problem else run.execute()
    except LedgerError as exc:
        out = Outcome(
            "error",
            [
                f"Rollback stopped: the approval/guardrail store (Firestore) failed: {exc}. "
                "Nothing was changed after this point; the guardrails fail closed."
            ],
            {"error": str(exc)},
        )
    except PolicyError as exc:
        out = Outcome("error", [f"Rollback skipped: {exc}"], {"error": str(exc)})
    finally:
        run.close()
    return Finding(
        stage=STAGE,
        status=out.status,
        summary="\n".join(out.lines),
        details={"action": ACTION, "approval": run.approval_summary(), **out.details},
        started=started,
        finished=utcnow(),
    )


def _get_replicaset(clients: KubeClients, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = clients.call(
            "get",
            "replicasets",
            namespace,
            lambda **kw: clients.apps.read_namespaced_replica_set(name, namespace, **kw),
        )
    except K8sNotFound:
        return None
    return result


def _find_replicaset(
    clients: KubeClients, deploy: dict[str, Any], approval: dict[str, Any]
) -> dict[str, Any] | None:
    ns = str(approval.get("namespace", ""))
    name = approval.get("to_replicaset")
    if isinstance(name, str) and name:
        return _get_replicaset(clients, ns, name)
    from shared.workload.resolve import selector_string

    selector = selector_string((deploy.get("spec") or {}).get("selector"))
    for rev in reads.rollout_history(clients, deploy, selector):
        if rev.revision == approval.get("to_revision"):
            return _get_replicaset(clients, ns, rev.name)
    return None


class _Run:
    def __init__(
        self,
        env: Run,
        factory: ClientFactory,
        ledger: Ledger,
        prometheus_factory: PrometheusFactory,
        sleep: Callable[[float], None],
    ) -> None:
        self.env = env
        self.factory = factory
        self.ledger = ledger
        self.prometheus_factory = prometheus_factory
        self.sleep = sleep
        self.cfg: RollbackSettings = rollback_settings()
        self.approval: dict[str, Any] = {}
        self.clients: KubeClients | None = None
        self.recorder = Recorder(
            ledger, self.cfg.actor, env.run_id, env.alert_type, env.incident_id
        )

    # ---- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        if self.clients is not None:
            self.clients.close()

    def approval_summary(self) -> dict[str, Any]:
        a = self.approval
        keys = ("id", "status", "target", "from_revision", "to_revision", "approved_by")
        return {k: a.get(k) for k in keys if k in a} or {"id": self.env.approval_id or None}

    def _set_status(self, status: str, **fields: Any) -> None:
        self.approval["status"] = status
        self.ledger.set_approval(
            self.env.approval_id, {"status": status, f"{status}_at": utcnow(), **fields}
        )

    def refuse_unrouted(self, problem: str) -> Outcome:
        target = str(self.approval.get("target", "?")) if self.approval else "?"
        return self._refuse_unbound("routing", f"no cluster for this alert: {problem}", target)

    def _refuse_unbound(self, guard: str, reason: str, target: str) -> Outcome:
        """Refusals before the guardrails exist (no approval, wrong binding): audited too."""
        audit_id = None
        error = ""
        try:
            audit_id = self.recorder.audit(
                action=ACTION,
                target=target,
                outcome="refused",
                reason=reason,
                guard=guard,
                extra={"approval_id": self.env.approval_id},
            )
        except LedgerError as exc:
            error = str(exc)
        lines = [f"Not rolled back ({guard}): {reason}."]
        if error:
            lines.append(f"Warning: the refusal could not be audited: {error}")
        return Outcome(
            "skipped", lines, {"refused": {"guard": guard, "reason": reason}, "audit_id": audit_id}
        )

    def _refused(self, refusal: Refusal, status: str = "refused") -> Outcome:
        self._set_status(status, refused_guard=refusal.guard, refused_reason=refusal.reason)
        if refusal.guard == "dry_run":
            line = f"Dry-run: would roll back {self.approval.get('target')}. {refusal.reason}."
        else:
            line = f"Not rolled back ({refusal.guard}): {refusal.reason}."
        lines = [line]
        if refusal.audit_error:
            lines.append(f"Warning: the refusal could not be audited: {refusal.audit_error}")
        return Outcome(
            "ok" if refusal.guard == "dry_run" else "skipped",
            lines,
            {"refused": refusal.as_dict(), "audit_id": refusal.audit_id},
        )

    # ---- the flow -------------------------------------------------------------------------

    def execute(self) -> Outcome:
        if not self.env.approval_id:
            return self._refuse_unbound(
                "approval",
                "no approval came with this message: alertloop never rolls back without a "
                "human approval (the Approve button on the proposal)",
                "?",
            )
        self.approval = self.ledger.get_approval(self.env.approval_id) or {}
        if not self.approval:
            return self._refuse_unbound(
                "approval", f"approval {self.env.approval_id} does not exist", "?"
            )
        target = Target(
            str(self.approval.get("kind", "")),
            str(self.approval.get("namespace", "")),
            str(self.approval.get("name", "")),
        )
        status = self.approval.get("status")
        if status == "rejected":
            who = self.approval.get("rejected_by", "?")
            return Outcome(
                "skipped",
                [
                    f"Rollback of {target} rejected by <@{who}>: nothing was changed.",
                    f"Manual follow-up: fix forward, or roll back by hand (kubectl -n "
                    f"{target.namespace} rollout undo deployment/{target.name} "
                    f"--to-revision={self.approval.get('to_revision')}).",
                ],
                {"rejected_by": who},
            )
        problem = binding_problem(self.approval, self.env.run_id, str(target))
        if problem is not None:
            return self._refuse_unbound(*problem, str(target))
        if status != "approved":
            return self._refuse_unbound(
                "single_use",
                f"approval {self.env.approval_id} is {status}, not approved: approvals are "
                "single use",
                str(target),
            )
        expires = self.approval.get("expires_at")
        grace = timedelta(minutes=self.cfg.grace_minutes)
        if not isinstance(expires, datetime) or utcnow() > expires + grace:
            return self._refuse_unbound(
                "expired",
                f"approval {self.env.approval_id} expired at {expires}; this message came too "
                "late to act on",
                str(target),
            )
        if not self._claim():
            return self._refuse_unbound(
                "single_use",
                f"approval {self.env.approval_id} is being (or was) executed elsewhere",
                str(target),
            )
        return self._guarded(target)

    def _claim(self) -> bool:
        claimed = self.ledger.claim_approval(self.env.approval_id, self.cfg.actor)
        if claimed:
            self.approval["status"] = "executing"
        return claimed

    def _guarded(self, target: Target) -> Outcome:
        core = settings()
        policy = cached_policy(core.policy_file)
        _, entry = policy.resolve(self.env.alert_type)
        if entry is policy.unknown and self.env.alert.name != self.env.alert_type:
            _, entry = policy.resolve(self.env.alert.name)
        guard = Guardrails(
            self.env,
            entry,
            remediation_settings(),
            self.ledger,
            self.recorder,
            global_dry_run=core.dry_run,
            max_event_age=timedelta(seconds=core.max_event_age_seconds),
            safety=policy.workload_safety,
        )
        refusal = (
            guard.check_database_alert(ACTION, str(target))
            or guard.check_names(ACTION, target.kind, target.namespace, target.name)
            or guard.check_namespace(ACTION, target)
            or guard.check_kind(ACTION, target)
        )
        if refusal is not None:
            return self._refused(refusal)
        try:
            return self._with_cluster(guard, target)
        except K8sNotConfigured as exc:
            self._set_status("failed", failed_reason=exc.message)
            return Outcome(
                "error",
                [f"Not rolled back: Kubernetes access is not configured ({exc.fix})."],
                {"error": exc.message},
            )
        except K8sError as exc:
            self._set_status("failed", failed_reason=str(exc))
            return Outcome(
                "error",
                [f"Not rolled back: {exc}. The approval is used up; propose again if needed."],
                {"error": str(exc), "error_type": type(exc).__name__},
            )

    def _with_cluster(self, guard: Guardrails, target: Target) -> Outcome:
        self.clients = clients = self.factory()
        ns, name = target.namespace, target.name
        deploy = reads.get_deployment(clients, ns, name)
        # The workload decides: a database-class target is never rolled back by alertloop.
        pods = reads.pods_of(clients, deploy)
        refusal = guard.check_workload(ACTION, target, deploy, pods=pods)
        if refusal is not None:
            return self._refused(refusal)
        # The owner decides too: a GitOps owner that self-heals would undo the rollback.
        from shared.remediation.owner_gate import rollback_problem

        owned = rollback_problem(deploy, cached_policy(settings().policy_file).owners)
        if owned is not None:
            return self._refused(
                guard.refuse(
                    owned[0], owned[1], action=ACTION, target=str(target), how_to_change=owned[2]
                )
            )
        # One read of the target ReplicaSet: the object checked against the approval is the
        # object whose template is written (a second read could differ from what was checked).
        rs = _find_replicaset(clients, deploy, self.approval)
        problem = live_problem(self.approval, deploy) or replicaset_problem(
            self.approval, deploy, rs
        )
        if problem is not None:
            return self._refused(
                guard.refuse(problem[0], problem[1], action=ACTION, target=str(target))
            )
        assert rs is not None
        template = undo_template(rs)
        # Classify the deployment as it will be after the write: the old revision's template
        # (redis:7 on a claim) may be database class where the live one is not.
        refusal = guard.check_workload(ACTION, target, deployment_after_undo(deploy, rs))
        if refusal is not None:
            return self._refused(refusal)
        meta = deploy.get("metadata") or {}
        rv = str(meta.get("resourceVersion", ""))
        ops = undo_ops(deploy, rs)  # kubectl rollout undo, bound to the resourceVersion read
        live_template = (deploy.get("spec") or {}).get("template") or {}
        plan = Plan(
            ACTION,
            "change",
            target,
            f"approved by {self.approval.get('approved_by')}: roll {target} back from revision "
            f"{self.approval.get('from_revision')} to {self.approval.get('to_revision')}",
            before={
                "revision": self.approval.get("from_revision"),
                "images": images_of(live_template),
                "resourceVersion": rv,
            },
            after={
                "revision_template": self.approval.get("to_revision"),
                "images": images_of(template),
                "replicaset": (rs.get("metadata") or {}).get("name"),
            },
            patch={"type": JSON_PATCH, "ops": ops},
            patch_kind="deployment",
            resource_version=rv,
        )
        refusal = guard.check_dry_run(plan, target)
        if refusal is not None:
            return self._refused(refusal, status="dry_run")
        reserved = guard.reserve(plan, target, approval=self.env.approval_id)
        if isinstance(reserved, Refusal):
            return self._refused(reserved)
        if isinstance(reserved, EarlierWrite):
            return self._refuse_unbound(
                "single_use",
                f"this rollback was already sent once (audit {reserved.request.audit_id}, "
                f"outcome {reserved.record.get('outcome', '?')}): it is never sent twice",
                str(target),
            )
        audit_id = reserved.audit_id
        try:
            sent = with_write_id(ops, audit_id)
            result = writes.patch_deployment(clients, ns, name, sent, content_type=JSON_PATCH)
        except K8sError as exc:
            outcome = self._lost_or_failed(clients, target, rv, audit_id, exc)
            fields = {"error": str(exc), "conflict": act.conflict(exc)}
            guard.settle(reserved, outcome, fields)
            if outcome == "applied":
                result = reads.get_deployment(clients, ns, name)
            else:
                self._set_status(
                    "failed" if outcome == "not_applied" else "unknown",
                    failed_reason=str(exc),
                    audit_id=audit_id,
                )
                why = (
                    "the deployment changed between the check and the patch (409 Conflict): "
                    "nothing was changed; decide again on the current state"
                    if act.conflict(exc)
                    else str(exc)
                )
                if outcome == "unknown":
                    why += (
                        "; its outcome is UNKNOWN (the response was lost and the deployment "
                        "could not be read back): no further change until the cooldown passes"
                    )
                return Outcome(
                    "error",
                    [f"Rollback of {target} not confirmed: {why}."],
                    {"audit_id": audit_id, "error": str(exc), "outcome": outcome},
                )
        else:
            guard.settle(reserved, "applied")
        # The PATCH response still shows the old revision: the deployment controller assigns
        # the new one afterwards. The canary reads it once the controller observed our write.
        generation: int | None = (result.get("metadata") or {}).get("generation")
        applied = {
            "revision": None,
            "images": images_of((result.get("spec") or {}).get("template") or {}),
            "resourceVersion": (result.get("metadata") or {}).get("resourceVersion"),
            "generation": generation,
        }
        self.recorder.update_audit(audit_id, {"after": applied})
        self._set_status("executed", audit_id=audit_id)
        # Judged by the alert, not by the canary: the outcome check (shared.outcomes).
        from shared.outcomes.schedule import schedule_check

        schedule_check(
            self.ledger,
            run=guard.run,
            entry=guard.entry,
            alert_type=guard.run.alert_type,
            audit_id=audit_id,
            action="rollback",
            target_key=reserved.request.target_key,
            workload={"kind": "Deployment", "namespace": ns, "name": name},
            automatic=False,
        )
        check = self._canary(clients, target, generation)
        applied["revision"] = check.get("revision")
        self.recorder.update_audit(audit_id, {"verification": check, "after": applied})
        self._set_status("executed", audit_id=audit_id, new_revision=applied["revision"])
        verdict = check["verdict"]
        headline = {
            canary_mod.HEALTHY: "Rolled back and healthy",
            canary_mod.STILL_ERRORING: "Rolled back, still erroring",
            canary_mod.ROLLOUT_FAILED: "Rolled back, but the rollout failed",
            canary_mod.ROLLOUT_PROGRESSING: "Rolled back; the rollout is still progressing",
        }.get(verdict, "Rolled back (not verified)")
        lines = [
            f"{headline}: {target} from revision {self.approval.get('from_revision')} "
            f"({', '.join(plan.before['images'])}) to the template of revision "
            f"{self.approval.get('to_revision')} ({', '.join(plan.after['images'])}), "
            f"approved by <@{self.approval.get('approved_by')}>.",
            f"Canary: {check['detail']}.",
        ]
        if verdict == canary_mod.STILL_ERRORING:
            lines.append("Next: the previous release errs too — the cause is elsewhere.")
        elif verdict == canary_mod.ROLLOUT_FAILED:
            lines.append("Next: inspect the pods of the rolled-back revision (events, logs).")
        status: FindingStatus = "ok" if verdict == canary_mod.HEALTHY else "error"
        if verdict == canary_mod.NOT_VERIFIED:
            status = "ok"
        return Outcome(
            status,
            lines,
            {
                "audit_id": audit_id,
                "target": str(target),
                "before": plan.before,
                "after": applied,
                "patch": plan.patch,
                "verdict": verdict,
                "canary": check,
                "attempt": reserved.attempt,
                "cooldown_until": reserved.lock_expires_at.isoformat(),
            },
        )

    def _lost_or_failed(
        self, clients: KubeClients, target: Target, rv: str, write_id: str, exc: K8sError
    ) -> Outcome_:
        """A failed patch: refused (not applied), or its response lost — then read it back and
        settle by our write's marker (never by images: a config-only rollback keeps them)."""
        if act.conflict(exc) or not act.maybe_applied(exc):
            return "not_applied"
        try:
            live = reads.get_deployment(clients, target.namespace, target.name)
        except K8sError:
            return "unknown"
        if writes.carries(live, write_id):
            return "applied"
        live_rv = str((live.get("metadata") or {}).get("resourceVersion", ""))
        # The patch is bound to `rv`: once the object moved on without our marker, it never
        # applies; before that, the API server may still be processing it.
        return "not_applied" if rv and live_rv and live_rv != rv else "unknown"

    def _canary(
        self, clients: KubeClients, target: Target, generation: int | None
    ) -> dict[str, Any]:
        prometheus = None
        try:
            prometheus = self.prometheus_factory()
        except ValueError as exc:  # a bad PROMETHEUS_* setting: still check the rollout
            prometheus = None
            note = f"Prometheus settings invalid: {exc}"
        else:
            note = ""
        try:
            check = canary_mod.canary(
                clients,
                WorkloadRef("Deployment", target.name, target.namespace),
                self.env.alert.labels,
                timeout=self.cfg.verify_seconds,
                interval=self.cfg.verify_interval_seconds,
                threshold=self.cfg.error_ratio_threshold,
                prometheus=prometheus,
                generation=generation,
                sleep=self.sleep,
            )
        finally:
            closer = getattr(prometheus, "close", None)
            if callable(closer):
                closer()
        if note:
            check["note"] = note
        return check

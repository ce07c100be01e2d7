"""`remediate(envelope) -> Finding`: decide, guard, act (or propose), audit, verify.

Never raises for expected failures: no kubeconfig -> a skipped finding saying how to configure
it; API or Firestore errors -> an error finding naming the permission/resource. The pipeline
goes on either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import settings
from shared.envelope import Finding, FindingStatus, utcnow
from shared.k8s import reads, writes
from shared.k8s.client import ClientFactory, KubeClients, default_factory
from shared.k8s.errors import K8sApiError, K8sError, K8sNotConfigured
from shared.k8s.reads import iso
from shared.k8s.settings import k8s_settings
from shared.k8s.workload import WorkloadRef, resolve_workload
from shared.ledger import Ledger, LedgerError
from shared.policy import AlertPolicy, PolicyError, cached_policy
from shared.remediation import decide, verify
from shared.remediation.decide import Plan, Target
from shared.remediation.guardrails import Guardrails, Refusal, Reservation
from shared.remediation.records import Recorder
from shared.remediation.settings import (
    OPT_OUT_ANNOTATION,
    RemediationSettings,
    remediation_settings,
)
from shared.run import Run

STAGE = "remediate"

INTENDED = {
    "restart": "restart",
    "scale": "scale",
    "propose_rollback": "propose_rollback",
    "none": "none",
}

NEXT_CHECKS = {
    "restart": "watch the new pods become Ready and the alert resolve; if they crash again, "
    "read the previous container logs: a restart does not fix a bad release",
    "scale_deployment": "watch CPU/memory per pod drop and the alert resolve; if it does not, "
    "scaling is not the fix",
    "raise_hpa_max": "watch the HPA scale past its old maximum and the alert resolve; review "
    "the HPA's limits afterwards",
    "propose_rollback": "a human decides: compare the error rate of the new revision with the "
    "previous one, then Approve or Reject below (allowed approvers only), or roll back by hand "
    "(command above)",
}


@dataclass
class Outcome:
    status: FindingStatus
    lines: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def remediate(
    envelope: Run,
    *,
    k8s_factory: ClientFactory | None = None,
    ledger: Ledger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
) -> Finding:
    """The remediate stage. `k8s_factory`/`ledger` are injectable (default: the environment)."""
    started = utcnow()
    run = _Run(envelope, k8s_factory or default_factory(), ledger or Ledger(), sleep, now)
    try:
        out = run.execute()
    except LedgerError as exc:
        out = Outcome(
            "error",
            [
                f"Remediation stopped: the guardrail store (Firestore) failed: {exc}. Nothing "
                "was changed after this point; the guardrails fail closed."
            ],
            {"error": str(exc)},
        )
    except PolicyError as exc:
        out = Outcome("error", [f"Remediation skipped: {exc}"], {"error": str(exc)})
    finally:
        run.close()
    details = {**run.base_details(), **out.details}
    lines = list(out.lines)
    if run.entry is not None and run.entry.follow_up:
        lines.append(f"Manual follow-up: {run.entry.follow_up}")
    if details.get("next_check"):
        lines.append(f"Next: {details['next_check']}")
    return Finding(
        stage=STAGE,
        status=out.status,
        summary="\n".join(lines),
        details=details,
        started=started,
        finished=utcnow(),
    )


class _Run:
    def __init__(
        self,
        env: Run,
        factory: ClientFactory,
        ledger: Ledger,
        sleep: Callable[[float], None],
        now: datetime | None,
    ) -> None:
        self.env = env
        self.factory = factory
        self.ledger = ledger
        self.sleep = sleep
        self.now = now or datetime.now(UTC)
        self.cfg: RemediationSettings = remediation_settings()
        self.entry: AlertPolicy | None = None
        self.alert_type = env.alert_type
        self.guard: Guardrails | None = None
        self.clients: KubeClients | None = None

    # ---- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        if self.clients is not None:
            self.clients.close()

    def base_details(self) -> dict[str, Any]:
        return {
            "alert_type": self.alert_type,
            "remediation": self.entry.remediation if self.entry else None,
            "dry_run": self.guard.dry_run if self.guard else self.env.dry_run,
            "dry_run_sources": self.guard.dry_run_sources if self.guard else [],
            "follow_up": self.entry.follow_up if self.entry else "",
        }

    def _clients(self) -> KubeClients:
        if self.clients is None:
            self.clients = self.factory()
        return self.clients

    def _investigation(self) -> dict[str, Any]:
        f = self.env.finding("investigate")
        return dict(f.details) if f is not None else {}

    # ---- the flow -----------------------------------------------------------------------------

    def execute(self) -> Outcome:
        core = settings()
        policy = cached_policy(core.policy_file)
        alert_type, entry = policy.resolve(self.env.alert_type)
        if entry is policy.unknown and self.env.alert.name != self.env.alert_type:
            alert_type, entry = policy.resolve(self.env.alert.name)
        self.alert_type, self.entry = alert_type, entry
        recorder = Recorder(self.ledger, self.cfg.actor, self.env.run_id, alert_type)
        self.guard = guard = Guardrails(
            self.env,
            entry,
            self.cfg,
            self.ledger,
            recorder,
            global_dry_run=core.dry_run,
            now=self.now,
        )
        intended = INTENDED.get(entry.remediation, entry.remediation)
        labels_target = self._label_target_str()

        # Database alerts: never any action, checked before anything else.
        refusal = guard.check_database(intended, labels_target)
        if refusal is not None:
            return self._refused(refusal, intended, labels_target, status="skipped")
        if self.env.alert.status == "resolved":
            return Outcome(
                "skipped", ["The alert has resolved: no remediation."], {"action": "none"}
            )
        if entry.remediation == "none":
            return Outcome(
                "skipped",
                [f"No cluster change for {alert_type} (policy remediation: none)."],
                {"action": "none"},
            )

        workload = self._target_from_investigation(intended)
        if isinstance(workload, Outcome):
            return workload
        try:
            return self._with_cluster(intended, workload)
        except K8sNotConfigured as exc:
            return Outcome(
                "skipped",
                [f"Remediation skipped: Kubernetes access is not configured ({exc.fix})."],
                {"action": "none", "error": exc.message, "how_to_configure": exc.fix},
            )
        except K8sError as exc:
            return Outcome(
                "error",
                [f"Remediation failed: {exc}"],
                {"action": intended, "error": str(exc), "error_type": type(exc).__name__},
            )

    def _label_target_str(self) -> str:
        labels = self.env.alert.labels
        ns = labels.get("namespace", "") or "?"
        for key in ("deployment", "statefulset", "daemonset", "pod", "service", "app"):
            if labels.get(key):
                return f"{key}/{ns}/{labels[key]}"
        return f"alert/{ns}/{self.env.alert.name}"

    def _target_from_investigation(self, intended: str) -> WorkloadRef | Outcome | None:
        """The investigated workload, validated and allowlisted before any API call."""
        assert self.guard is not None
        wl = self._investigation().get("workload")
        if not isinstance(wl, dict):
            return None
        kind, name, ns = (
            str(wl.get("kind", "")),
            str(wl.get("name", "")),
            str(wl.get("namespace", "")),
        )
        refusal = self.guard.check_names(intended, kind or "object", ns, name)
        if refusal is None:
            refusal = self.guard.check_namespace(intended, Target(kind, ns, name))
        if refusal is not None:
            return self._refused(refusal, intended, f"{kind.lower()}/{ns}/{name}")
        return WorkloadRef(kind, name, ns)

    def _resolve(self, intended: str) -> WorkloadRef | Outcome:
        """The workload from the alert labels (names validated by resolve_workload)."""
        assert self.guard is not None
        labels = self.env.alert.labels
        ns_label = labels.get("namespace", "")
        s = k8s_settings()
        from shared.k8s.workload import candidates_from_labels

        hints = candidates_from_labels(labels, s.default_namespace)
        if hints.problems and (not hints.candidates or not hints.namespace):
            bad = self.guard.refuse(
                "invalid_name",
                "; ".join(hints.problems) + ": refused before any API call",
                action=intended,
                target=self._label_target_str(),
            )
            return self._refused(bad, intended, self._label_target_str())
        # Allowlist before any API call (the namespace is known from the labels or the default).
        refusal = self.guard.check_namespace(intended, Target("Workload", hints.namespace, "?"))
        if refusal is not None:
            return self._refused(refusal, intended, f"{hints.namespace}/(unresolved)")
        res = resolve_workload(self._clients(), labels, s.default_namespace)
        if res.workload is None:
            return Outcome(
                "skipped",
                [f"No remediation: {res.explain_unresolved()}."],
                {"action": "none", "workload": None, "namespace_label": ns_label},
            )
        return res.workload

    def _with_cluster(self, intended: str, workload: WorkloadRef | None) -> Outcome:
        assert self.guard is not None and self.entry is not None
        guard = self.guard
        if workload is None:
            resolved = self._resolve(intended)
            if isinstance(resolved, Outcome):
                return resolved
            workload = resolved
        target = Target(workload.kind, workload.namespace, workload.name)
        refusal = guard.check_namespace(intended, target) or guard.check_kind(intended, target)
        if refusal is not None:
            return self._refused(refusal, intended, str(target))
        clients = self._clients()
        plan, objs = self._plan(clients, workload)
        if isinstance(plan, Outcome):
            return plan
        return self._carry_out(clients, workload, target, plan, objs)

    # ---- planning -----------------------------------------------------------------------------

    def _plan(
        self, clients: KubeClients, workload: WorkloadRef
    ) -> tuple[Plan | Outcome, dict[str, Any]]:
        """Read what the decision needs and decide. Returns (plan, objects read)."""
        assert self.entry is not None and self.guard is not None
        ns, name = workload.namespace, workload.name
        deploy = reads.get_deployment(clients, ns, name)
        objs: dict[str, Any] = {"deployment": deploy}
        target = Target("Deployment", ns, name)
        intended = INTENDED.get(self.entry.remediation, self.entry.remediation)
        refusal = self.guard.check_opt_out(intended, target, deploy)
        if refusal is not None:
            return self._refused(refusal, intended, str(target)), objs
        inv = self._investigation()
        remediation = self.entry.remediation
        if remediation == "restart":
            return (
                decide.plan_restart(deploy, iso(self.now) or "", self.env.alert.starts_at),
                objs,
            )
        if remediation == "scale":
            hpa = reads.find_hpa(clients, workload)
            objs["hpa"] = hpa
            if hpa is not None:
                hpa_target = Target("HorizontalPodAutoscaler", ns, str(hpa["metadata"]["name"]))
                refusal = self.guard.check_opt_out("scale", hpa_target, hpa)
                if refusal is not None:
                    return self._refused(refusal, "scale", str(hpa_target)), objs
                scale = None
            else:
                scale = reads.get_deployment_scale(clients, ns, name)
            objs["scale"] = scale
            verdict = (inv.get("memory_trend") or {}).get("verdict")
            return (
                decide.plan_scale(deploy, hpa, scale, self.entry.guardrails.scale_step, verdict),
                objs,
            )
        if remediation == "propose_rollback":
            recent = inv.get("recent_deploy")
            revisions: dict[int, list[str]] | None = None
            if isinstance(recent, dict) and recent.get("recent"):
                from shared.k8s.workload import selector_string

                selector = selector_string((deploy.get("spec") or {}).get("selector"))
                history = reads.rollout_history(clients, deploy, selector)
                revisions = {r.revision: r.images for r in history}
            return decide.plan_rollback(
                deploy, recent if isinstance(recent, dict) else None, revisions
            ), objs
        return Outcome(
            "skipped", [f"Unknown remediation {remediation!r}."], {"action": "none"}
        ), objs

    # ---- acting -------------------------------------------------------------------------------

    def _carry_out(
        self,
        clients: KubeClients,
        workload: WorkloadRef,
        wl_target: Target,
        plan: Plan,
        objs: dict[str, Any],
    ) -> Outcome:
        assert self.guard is not None and self.entry is not None
        guard = self.guard
        if plan.mode == "none":
            lines = [f"No action: {plan.reason}.", *plan.notes]
            return Outcome("ok", lines, self._plan_details(plan, workload))
        if plan.mode == "change":
            refusal = guard.check_ceiling(plan)
            if refusal is not None:
                return self._refused(refusal, plan.action, str(plan.target), plan, workload)
        if plan.mode == "proposal" or self.entry.guardrails.approval_required:
            return self._propose(plan, workload)
        refusal = guard.check_dry_run(plan, wl_target)
        if refusal is not None:
            return self._refused(
                refusal, plan.action, str(plan.target), plan, workload, status="ok"
            )
        reserved = guard.reserve(plan, wl_target)
        if isinstance(reserved, Refusal):
            return self._refused(reserved, plan.action, str(plan.target), plan, workload)
        return self._apply(clients, workload, plan, reserved)

    def _propose(self, plan: Plan, workload: WorkloadRef) -> Outcome:
        assert self.guard is not None and plan.target is not None
        guard = self.guard
        action = "rollback" if plan.action == "propose_rollback" else plan.action
        details = plan.proposal or {"from": plan.before, "to": plan.after, "patch": plan.patch}
        if guard.dry_run:
            refusal = guard.refuse(
                "dry_run",
                f"dry-run ({', '.join(guard.dry_run_sources)}): the proposal was not recorded",
                action=f"propose_{action}" if not action.startswith("propose") else action,
                target=str(plan.target),
                plan=plan,
                outcome="dry_run",
            )
            return self._refused(
                refusal, plan.action, str(plan.target), plan, workload, status="ok"
            )
        audit_id = guard.recorder.audit(
            action=f"propose_{action}",
            target=str(plan.target),
            outcome="proposed",
            reason=plan.reason,
            before=plan.before,
            after=plan.after,
            extra={"proposal": details},
        )
        ttl = timedelta(minutes=self.cfg.approval_ttl_minutes)
        approval_id, doc, created = guard.recorder.propose(
            action=action,
            target=plan.target.as_dict(),
            target_str=str(plan.target),
            details={**details, "audit_id": audit_id},
            ttl=ttl,
            now=utcnow(),
        )
        expires = doc.get("expires_at")
        exp_text = expires.isoformat() if isinstance(expires, datetime) else str(expires)
        lines = [
            f"Proposed (not executed): {plan.reason}.",
            f"Approval required: proposal {approval_id} expires at {exp_text}"
            + ("" if created else " (already proposed for this run)")
            + ".",
            *_rollback_command(plan.target.as_dict(), details),
            *plan.notes,
        ]
        out = self._plan_details(plan, workload)
        out.update(
            action=plan.action if plan.action == "propose_rollback" else f"propose_{plan.action}",
            audit_id=audit_id,
            approval_id=approval_id,
            proposal={**details, "expires_at": exp_text, "status": doc.get("status")},
            next_check=NEXT_CHECKS["propose_rollback"],
        )
        return Outcome("ok", lines, out)

    def _send(self, clients: KubeClients, plan: Plan) -> dict[str, Any]:
        assert plan.target is not None and plan.patch is not None
        ns, name = plan.target.namespace, plan.target.name
        if plan.patch_kind == "deployment":
            return writes.patch_deployment(clients, ns, name, plan.patch)
        if plan.patch_kind == "scale":
            return writes.patch_deployment_scale(clients, ns, name, plan.patch)
        return writes.patch_hpa(clients, ns, name, plan.patch)

    def _apply(
        self, clients: KubeClients, workload: WorkloadRef, plan: Plan, reserved: Reservation
    ) -> Outcome:
        assert self.guard is not None and plan.target is not None
        guard = self.guard
        audit_id = guard.recorder.audit(
            action=plan.action,
            target=str(plan.target),
            outcome="in_progress",
            reason=plan.reason,
            before=plan.before,
            after=plan.after,
            extra={"patch": plan.patch, "attempt": reserved.attempt},
        )
        notes: list[str] = []
        try:
            try:
                self._send(clients, plan)
            except K8sApiError as exc:
                if exc.status != 409:
                    raise
                # Optimistic concurrency: someone changed the object after our read. Re-read
                # once, re-evaluate (guards included), then try once more.
                notes.append(
                    f"409 Conflict on the first patch ({exc.message}); re-read and re-evaluated"
                )
                replanned, _ = self._plan(clients, workload)
                if isinstance(replanned, Outcome):
                    guard.release(reserved)
                    guard.recorder.update_audit(
                        audit_id,
                        {"outcome": "refused", "reason": "after 409: " + replanned.lines[0]},
                    )
                    replanned.lines.insert(0, notes[0] + ".")
                    return replanned
                if replanned.mode == "change":
                    problem = guard.check_ceiling(replanned)
                    if problem is not None:
                        guard.release(reserved)
                        guard.recorder.update_audit(
                            audit_id,
                            {"outcome": "refused", "reason": "after 409: " + problem.reason},
                        )
                        return self._refused(
                            problem, replanned.action, str(replanned.target), replanned, workload
                        )
                if replanned.mode != "change" or replanned.action != plan.action:
                    guard.release(reserved)
                    guard.recorder.update_audit(
                        audit_id,
                        {"outcome": "superseded", "reason": "after 409: " + replanned.reason},
                    )
                    out = self._plan_details(replanned, workload)
                    out.update(audit_id=audit_id, conflict=True, notes=notes)
                    return Outcome(
                        "ok",
                        [f"No action after a conflict: {replanned.reason}.", *notes],
                        out,
                    )
                plan = replanned
                guard.recorder.update_audit(
                    audit_id,
                    {"after": plan.after, "patch": plan.patch, "retried_after_conflict": True},
                )
                self._send(clients, plan)
        except K8sError as exc:
            guard.release(reserved)
            conflict = isinstance(exc, K8sApiError) and exc.status == 409
            guard.recorder.update_audit(
                audit_id,
                {"outcome": "conflict" if conflict else "failed", "reason": str(exc)},
            )
            out = self._plan_details(plan, workload)
            out.update(audit_id=audit_id, error=str(exc), conflict=conflict, notes=notes)
            what = (
                "the object kept changing (409 Conflict twice): not retried"
                if conflict
                else str(exc)
            )
            return Outcome("error", [f"{plan.action} of {plan.target} failed: {what}."], out)
        guard.recorder.update_audit(audit_id, {"outcome": "applied"})
        result = self._verify(clients, workload, plan)
        guard.recorder.update_audit(audit_id, {"verification": result})
        out = self._plan_details(plan, workload)
        out.update(
            audit_id=audit_id,
            verification=result,
            attempt=reserved.attempt,
            cooldown_until=reserved.lock_expires_at.isoformat(),
            next_check=NEXT_CHECKS.get(plan.action, ""),
        )
        if notes:
            out["notes"] = notes + plan.notes
        done = {
            "restart": f"Restarted {plan.target} (rollout restart)",
            "scale_deployment": f"Scaled {plan.target} from {plan.current} to "
            f"{plan.after.get('replicas')} replicas",
            "raise_hpa_max": f"Raised maxReplicas of {plan.target} from {plan.current} to "
            f"{plan.after.get('maxReplicas')}",
        }.get(plan.action, f"{plan.action} {plan.target}")
        lines = [
            f"{done}: {plan.reason}.",
            f"Verification: {result['result']} ({result['detail']}).",
        ]
        lines += notes + plan.notes
        status: FindingStatus = "error" if result["result"] == verify.FAILED else "ok"
        return Outcome(status, lines, out)

    def _verify(self, clients: KubeClients, workload: WorkloadRef, plan: Plan) -> dict[str, Any]:
        hpa = None
        if plan.action == "raise_hpa_max" and plan.target is not None:
            hpa = (plan.target.name, int(plan.current or 0), int(plan.after.get("maxReplicas", 0)))
        return verify.verify(
            clients,
            workload.namespace,
            workload.name,
            timeout=self.cfg.verify_seconds,
            interval=self.cfg.verify_interval_seconds,
            hpa=hpa,
            sleep=self.sleep,
        )

    # ---- reporting ----------------------------------------------------------------------------

    def _plan_details(self, plan: Plan, workload: WorkloadRef | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": plan.action,
            "target": str(plan.target) if plan.target else None,
            "workload": workload.as_dict() if workload else None,
            "reason": plan.reason,
            "before": plan.before,
            "after": plan.after,
            "refused": None,
            "verification": None,
            "audit_id": None,
        }
        if plan.patch is not None:
            out["patch"] = {"kind": plan.patch_kind, "body": plan.patch}
        if plan.notes:
            out["notes"] = list(plan.notes)
        return out

    def _refused(
        self,
        refusal: Refusal,
        action: str,
        target: str,
        plan: Plan | None = None,
        workload: WorkloadRef | None = None,
        *,
        status: FindingStatus = "skipped",
    ) -> Outcome:
        out = (
            self._plan_details(plan, workload)
            if plan
            else {
                "action": action,
                "target": target,
                "before": {},
                "after": {},
                "verification": None,
            }
        )
        out.update(refused=refusal.as_dict(), audit_id=refusal.audit_id)
        if refusal.guard == "dry_run":
            verb = "Would" if plan and plan.mode == "change" else "Would propose:"
            line = f"Dry-run: {verb} {self._describe(plan) if plan else action}. {refusal.reason}."
        elif refusal.guard == "opt_out":
            line = (
                f"Not changed: {refusal.reason} (remove the {OPT_OUT_ANNOTATION} annotation "
                "to allow it)."
            )
        else:
            line = f"Refused ({refusal.guard}): {refusal.reason}."
        lines = [line]
        if plan is not None:
            lines += plan.notes
        if refusal.audit_error:
            lines.append(f"Warning: the refusal could not be audited: {refusal.audit_error}")
        return Outcome(status, lines, out)

    @staticmethod
    def _describe(plan: Plan) -> str:
        if plan.action == "restart":
            return f"restart {plan.target} (patch {plan.patch})"
        if plan.action in ("scale_deployment", "raise_hpa_max"):
            return (
                f"{'scale' if plan.action == 'scale_deployment' else 'raise maxReplicas of'} "
                f"{plan.target} from {plan.current} to {plan.after.get(plan.count_field)} "
                f"(patch {plan.patch})"
            )
        return f"{plan.reason}"


def _rollback_command(target: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """The exact manual command; nothing here executes it (no automatic rollback, ever)."""
    revision = details.get("to_revision")
    if target.get("kind") != "Deployment" or not revision:
        return []
    return [
        f"To roll back by hand: kubectl -n {target.get('namespace')} rollout undo "
        f"deployment/{target.get('name')} --to-revision={revision}"
    ]

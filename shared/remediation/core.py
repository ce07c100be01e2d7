"""`remediate(run) -> Finding`: decide, guard, act (or propose), audit, verify.

Never raises for expected failures: no kubeconfig -> a skipped finding saying how to configure
it; API or Firestore errors -> an error finding naming the permission/resource. The pipeline
goes on either way. Every write goes through the guardrails (shared.remediation.change_gate):
the target workload is classified from the objects just read, and the run is re-checked in the
ledger inside the transaction that reserves the write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.audit import Recorder
from shared.config import settings
from shared.k8s import reads, writes
from shared.k8s.client import ClientFactory, KubeClients, default_factory
from shared.k8s.errors import K8sError, K8sNotConfigured
from shared.k8s.reads import iso
from shared.ledger import Ledger, LedgerError
from shared.model import Finding, FindingStatus, utcnow
from shared.policy import AlertPolicy, OwnerPolicy, PolicyError, cached_policy
from shared.remediation import act, decide, prose, verify
from shared.remediation.change_gate import EarlierWrite, Guardrails, Refusal, Reservation
from shared.remediation.decide import Plan, Target
from shared.remediation.settings import RemediationSettings, remediation_settings
from shared.remediation.target import TargetFinder
from shared.remediation.workload_safety import NOT_LOOKED_UP
from shared.run import Run
from shared.workload.resolve import WorkloadRef

STAGE = "remediate"

INTENDED = {"restart": "restart", "scale": "scale", "propose_rollback": "rollback", "none": "none"}


@dataclass
class Outcome:
    status: FindingStatus
    lines: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def remediate(
    run: Run,
    *,
    k8s_factory: ClientFactory | None = None,
    ledger: Ledger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
    routing_problem: str = "",
) -> Finding:
    """The remediate stage. `k8s_factory`/`ledger` are injectable (default: the environment);
    `routing_problem` says why the alert has no cluster (then nothing is touched, audited)."""
    started = utcnow()
    flow = _Flow(run, k8s_factory or default_factory(), ledger or Ledger(), sleep, now)
    flow.routing_problem = routing_problem
    try:
        out = flow.execute()
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
        flow.close()
    details = {**flow.base_details(), **out.details}
    lines = list(out.lines)
    if flow.entry is not None:
        from shared.remediation.keda_proposal import follow_up_for_run

        lines += follow_up_for_run(
            details,
            investigation=flow.entry.investigation,
            flap_count=run.flap_count,
            query_template=flow.owner_policy.request_rate_query,
            ceiling=flow.entry.guardrails.replica_ceiling,
            end=flow.now,
        )
    if flow.entry is not None and flow.entry.follow_up:
        lines.append(f"Manual follow-up: {flow.entry.follow_up}")
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


class _Flow:
    def __init__(
        self,
        run: Run,
        factory: ClientFactory,
        ledger: Ledger,
        sleep: Callable[[float], None],
        now: datetime | None,
    ) -> None:
        self.run = run
        self.factory = factory
        self.ledger = ledger
        self.sleep = sleep
        self.now = now or datetime.now(UTC)
        self.cfg: RemediationSettings = remediation_settings()
        self.entry: AlertPolicy | None = None
        self.alert_type = run.alert_type
        self.guard: Guardrails | None = None
        self.clients: KubeClients | None = None
        self.routing_problem = ""
        # Who owns the workload's desired state (shared.remediation.owner_gate), once read.
        self.owner_policy = OwnerPolicy()
        self.owner_details: dict[str, Any] = {}
        # An approved proposal this delivery executes (shared.remediation.approved), claimed.
        self.approved: dict[str, Any] | None = None

    # ---- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        if self.clients is not None:
            self.clients.close()

    def base_details(self) -> dict[str, Any]:
        return {
            "alert_type": self.alert_type,
            "remediation": self.entry.remediation if self.entry else None,
            "dry_run": self.guard.dry_run if self.guard else self.run.dry_run,
            "dry_run_sources": self.guard.dry_run_sources if self.guard else [],
            "follow_up": self.entry.follow_up if self.entry else "",
            "cluster": self.run.cluster,
            **self.owner_details,
        }

    def _clients(self) -> KubeClients:
        if self.clients is None:
            self.clients = self.factory()
        return self.clients

    def _investigation(self) -> dict[str, Any]:
        f = self.run.finding("investigate")
        return dict(f.details) if f is not None else {}

    # ---- the flow -----------------------------------------------------------------------------

    def execute(self) -> Outcome:
        if not self.run.approval_id:
            return self._execute()
        from shared.remediation import approved

        recorder = Recorder(
            self.ledger, self.cfg.actor, self.run.run_id, self.run.alert_type, self.run.incident_id
        )
        admitted = approved.admit(self.run, self.ledger, recorder)
        if isinstance(admitted, Outcome):
            return admitted
        self.approved = admitted
        out = self._execute()
        approved.settle(self.ledger, recorder, admitted, out)
        return out

    def _execute(self) -> Outcome:
        core = settings()
        policy = cached_policy(core.policy_file)
        alert_type, entry = policy.resolve(self.run.alert_type)
        if entry is policy.unknown and self.run.alert.name != self.run.alert_type:
            alert_type, entry = policy.resolve(self.run.alert.name)
        self.alert_type, self.entry = alert_type, entry
        self.owner_policy = policy.owners
        recorder = Recorder(
            self.ledger, self.cfg.actor, self.run.run_id, alert_type, self.run.incident_id
        )
        self.guard = guard = Guardrails(
            self.run,
            entry,
            self.cfg,
            self.ledger,
            recorder,
            global_dry_run=core.dry_run,
            max_event_age=timedelta(seconds=core.max_event_age_seconds),
            safety=policy.workload_safety,
            now=self.now,
        )
        intended = INTENDED.get(entry.remediation, entry.remediation)
        finder = TargetFinder(self.run, guard, self._clients)
        # Database alerts: never any action, checked before anything else.
        refusal = guard.check_database_alert(intended, finder.label_target())
        if refusal is not None:
            return self._refused(refusal, intended, finder.label_target())
        if self.routing_problem:
            refusal = guard.refuse(
                "routing",
                f"no cluster for this alert: {self.routing_problem}",
                action=intended,
                target=finder.label_target(),
            )
            return self._refused(refusal, intended, finder.label_target())
        if self.run.resolved:
            return Outcome(
                "skipped",
                ["The alert has resolved (run ledger): no remediation."],
                {"action": "none"},
            )
        if entry.remediation == "none":
            return Outcome(
                "skipped",
                [f"No cluster change for {alert_type} (policy remediation: none)."],
                {"action": "none"},
            )
        try:
            found = finder.find(intended, self._investigation().get("workload"))
            if isinstance(found, Refusal):
                return self._refused(found, intended, finder.label_target())
            if isinstance(found, str):
                return Outcome("skipped", [f"No remediation: {found}."], {"action": "none"})
            return self._with_workload(intended, found)
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

    def _with_workload(self, intended: str, workload: WorkloadRef) -> Outcome:
        assert self.guard is not None
        target = Target(workload.kind, workload.namespace, workload.name)
        refusal = self.guard.check_namespace(intended, target) or self.guard.check_kind(
            intended, target
        )
        if refusal is not None:
            return self._refused(refusal, intended, str(target))
        clients = self._clients()
        plan = self._plan(clients, workload)
        if isinstance(plan, Outcome):
            return plan
        return self._carry_out(clients, workload, target, plan)

    # ---- planning -----------------------------------------------------------------------------

    def _plan(self, clients: KubeClients, workload: WorkloadRef) -> Plan | Outcome:
        """Read what the decision needs, classify the workload, decide."""
        assert self.entry is not None and self.guard is not None
        ns, name = workload.namespace, workload.name
        deploy = reads.get_deployment(clients, ns, name)
        target = Target("Deployment", ns, name)
        remediation = self.entry.remediation
        inv = self._investigation()
        if remediation == "restart":
            plan = decide.plan_restart(deploy, iso(self.now) or "", self.run.alert.starts_at)
            hpa: object = NOT_LOOKED_UP
        elif remediation == "scale":
            hpa = reads.find_hpa(clients, workload)
            scale = None if hpa is not None else reads.get_deployment_scale(clients, ns, name)
            verdict = (inv.get("memory_trend") or {}).get("verdict")
            plan = decide.plan_scale(deploy, hpa, scale, self.entry.guardrails.scale_step, verdict)
        elif remediation == "propose_rollback":
            recent = inv.get("recent_deploy")
            revisions: dict[int, list[str]] | None = None
            if isinstance(recent, dict) and recent.get("recent"):
                from shared.workload.resolve import selector_string

                selector = selector_string((deploy.get("spec") or {}).get("selector"))
                history = reads.rollout_history(clients, deploy, selector)
                revisions = {r.revision: r.images for r in history}
            plan = decide.plan_rollback(
                deploy, recent if isinstance(recent, dict) else None, revisions
            )
            hpa = NOT_LOOKED_UP
        else:
            return Outcome("skipped", [f"Unknown remediation {remediation!r}."], {"action": "none"})
        if plan.mode == "none":
            return plan
        # The workload decides, from the objects themselves: what it is, what it opted into.
        pods = reads.pods_of(clients, deploy)
        refusal = self.guard.check_workload(plan.action, target, deploy, pods=pods, hpa=hpa)
        if refusal is not None:
            return self._refused(refusal, plan.action, str(plan.target or target), plan, workload)
        gated = self._owner_gate(clients, workload, deploy, hpa, plan)
        if isinstance(gated, Plan) and gated.patch_kind in ("hpa", "keda"):
            # The write is to the HPA or its ScaledObject: bind it to this deployment too.
            gated.workload_name = name
            gated.workload_version = str((deploy.get("metadata") or {}).get("resourceVersion", ""))
        return gated

    def _owner_gate(
        self,
        clients: KubeClients,
        workload: WorkloadRef,
        deploy: dict[str, Any],
        hpa: object,
        plan: Plan,
    ) -> Plan | Outcome:
        """Never a change the owner undoes: allow (with where it shows), redirect or refuse."""
        from shared.remediation import owner_gate

        assert self.guard is not None
        v = owner_gate.judge(
            plan, deploy, hpa if isinstance(hpa, dict) else None, self.owner_policy
        )
        # update, not replace: a re-plan after a 409 keeps the autonomy decided before it
        self.owner_details.update(owners=v.owners, workload_class=v.workload_class)
        plan.notes.extend(n for n in v.notes if n not in plan.notes)
        if v.verdict == "allow":
            return plan
        if v.verdict == "keda":
            return self._keda_plan(clients, workload, plan, v.scaled_object)
        action = "rollback" if v.verdict == "owner_rollback" else plan.action
        refusal = self.guard.refuse(
            v.guard,
            v.reason,
            action=action,
            target=str(plan.target),
            plan=plan,
            how_to_change=v.how_to_change,
            details={"owner_proposal": v.proposal},
        )
        out = self._refused(refusal, action, str(plan.target), plan, workload)
        out.details["owner_proposal"] = v.proposal
        if v.verdict == "owner_rollback":
            # A proposal the owner's way: no approval record, so no kubectl rollback button.
            out.status = "ok"
            out.details["action"] = "propose_rollback"
            out.lines.insert(0, f"Proposed (not executed): {plan.reason}.")
        return out

    def _keda_plan(
        self, clients: KubeClients, workload: WorkloadRef, hpa_plan: Plan, scaled_object: str
    ) -> Plan | Outcome:
        """KEDA owns the HPA: raise the ScaledObject's maxReplicaCount instead (never the HPA)."""
        from shared.k8s import keda, owners

        assert self.guard is not None and self.entry is not None
        ns = workload.namespace
        so = keda.get_scaled_object(clients, ns, scaled_object)
        meta = so.get("metadata") or {}
        target = Target("ScaledObject", ns, scaled_object)
        current = keda.max_replica_count(so)
        step = self.entry.guardrails.scale_step
        hpa_name = hpa_plan.target.name if hpa_plan.target else "?"
        plan = Plan(
            "raise_keda_max",
            "change",
            target,
            f"HPA {hpa_name} is at its maximum and is owned by KEDA ScaledObject {scaled_object}: "
            f"raising its spec.maxReplicaCount by {step} (KEDA rewrites the HPA from it; the HPA "
            "itself is not touched)",
            before={**hpa_plan.before, "maxReplicaCount": current},
            patch_kind="keda",
            resource_version=str(meta.get("resourceVersion", "")),
            count_field="maxReplicaCount",
            current=current,
            desired=current + step,
            notes=hpa_plan.notes,
        )
        plan.set_count(current + step)
        aimed = ((so.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        problem, guard, how = "", "", ""
        if aimed != workload.name:
            problem = (
                f"ScaledObject {ns}/{scaled_object} scales {aimed!r}, not {workload.name}: "
                "not raising it"
            )
            guard = "owner/keda"
        else:
            keys = self.owner_policy.argocd_label_keys
            so_owner = owners.owners_of(so, keys, owners.SCALED_OBJECT).gitops
            if so_owner is not None:
                problem = (
                    f"{so_owner.label} owns ScaledObject {ns}/{scaled_object} (via "
                    f"{so_owner.via}): raising it in the cluster would be reverted"
                )
                guard = f"owner/{so_owner.tool}"
                how = owners.git_change(
                    so_owner,
                    "ScaledObject",
                    ns,
                    scaled_object,
                    "spec.maxReplicaCount",
                    int(plan.after.get("maxReplicaCount") or 0),
                )
        if not problem:
            return plan
        refusal = self.guard.refuse(
            guard, problem, action=plan.action, target=str(target), plan=plan, how_to_change=how
        )
        return self._refused(refusal, plan.action, str(target), plan, workload)

    # ---- acting -------------------------------------------------------------------------------

    def _carry_out(
        self, clients: KubeClients, workload: WorkloadRef, wl_target: Target, plan: Plan
    ) -> Outcome:
        assert self.guard is not None and self.entry is not None
        guard = self.guard
        if self.approved is not None:
            return self._carry_out_approved(clients, workload, wl_target, plan, self.approved)
        if plan.mode == "none":
            lines = [f"No action: {plan.reason}.", *plan.notes]
            return Outcome("ok", lines, self._plan_details(plan, workload))
        if plan.mode == "change":
            refusal = guard.check_ceiling(plan)
            if refusal is not None:
                return self._refused(refusal, plan.action, str(plan.target), plan, workload)
        if plan.mode == "change":
            mode = self._autonomy(plan, wl_target)
            if mode == "off":
                refusal = guard.refuse(
                    "autonomy_off",
                    f"the policy sets {plan.action} on {self.owner_details.get('workload_class')} "
                    f"workloads to off for {self.alert_type}",
                    action=plan.action,
                    target=str(plan.target),
                    plan=plan,
                    how_to_change=f"set autonomy.{plan.action} (auto, approve or earned) for "
                    f"{self.alert_type} in the policy",
                )
                return self._refused(refusal, plan.action, str(plan.target), plan, workload)
            if mode == "approve":
                return self._propose(plan, workload)
        if plan.mode == "proposal" or self.entry.guardrails.approval_required:
            return self._propose(plan, workload)
        refusal = guard.check_dry_run(plan, wl_target)
        if refusal is not None:
            return self._refused(refusal, plan.action, str(plan.target), plan, workload, "ok")
        reserved = guard.reserve(plan, wl_target)
        if isinstance(reserved, Refusal):
            return self._refused(reserved, plan.action, str(plan.target), plan, workload)
        if isinstance(reserved, EarlierWrite):
            return self._earlier(clients, workload, plan, reserved)
        return self._apply(clients, workload, wl_target, plan, reserved)

    def _carry_out_approved(
        self,
        clients: KubeClients,
        workload: WorkloadRef,
        wl_target: Target,
        plan: Plan,
        approval: dict[str, Any],
    ) -> Outcome:
        """Exactly the approved change, after every guardrail, or a refusal (audited)."""
        from shared.remediation.approved import mismatch

        assert self.guard is not None
        guard = self.guard
        action, target = str(approval.get("action")), str(approval.get("target"))
        refusal = guard.check_ceiling(plan) if plan.mode == "change" else None
        if refusal is not None:
            return self._refused(refusal, plan.action, str(plan.target), plan, workload)
        problem = mismatch(approval, plan)
        if problem is not None:
            refusal = guard.refuse(
                "approval_changed",
                f"{problem}; nothing was changed — decide again on the current state",
                action=action,
                target=target,
                plan=plan if plan.mode == "change" else None,
            )
            return self._refused(refusal, action, target, plan, workload)
        if self._autonomy(plan, wl_target) == "off":
            refusal = guard.refuse(
                "autonomy_off",
                f"the policy now sets {plan.action} to off for {self.alert_type} on "
                f"{self.owner_details.get('workload_class')} workloads",
                action=plan.action,
                target=str(plan.target),
                plan=plan,
            )
            return self._refused(refusal, plan.action, str(plan.target), plan, workload)
        refusal = guard.check_dry_run(plan, wl_target)
        if refusal is not None:
            return self._refused(refusal, plan.action, str(plan.target), plan, workload, "ok")
        reserved = guard.reserve(plan, wl_target, approval=self.run.approval_id)
        if isinstance(reserved, Refusal):
            return self._refused(reserved, plan.action, str(plan.target), plan, workload)
        if isinstance(reserved, EarlierWrite):
            return self._earlier(clients, workload, plan, reserved)
        who = approval.get("approved_by")
        guard.recorder.update_audit(
            reserved.audit_id,
            {
                "approval_id": self.run.approval_id,
                "approved_by": who,
                "approved_by_name": approval.get("approved_by_name"),
            },
        )
        out = self._apply(clients, workload, wl_target, plan, reserved)
        # Not a plan note: a re-plan after a 409 builds new notes.
        out.lines.insert(1, f"Approved by <@{who}> (proposal {self.run.approval_id}).")
        return out

    def _autonomy(self, plan: Plan, wl_target: Target) -> str:
        """auto | approve | off for this action on this workload (policy, earned record)."""
        from shared.autonomy import configured_mode, effective_mode, record_line, workload_key

        assert self.entry is not None
        cls = str(self.owner_details.get("workload_class") or "plain")
        configured = configured_mode(self.entry, plan.action, cls)
        key = workload_key(self.run.cluster, wl_target.kind, wl_target.namespace, wl_target.name)
        state = None
        if configured == "earned":
            state = self.ledger.autonomy_state(self.alert_type, plan.action, key)
        mode = effective_mode(configured, state)
        self.owner_details["autonomy"] = {
            "configured": configured,
            "mode": mode,
            "workload": key,
            "workload_class": cls,
        }
        if configured == "earned":
            record = record_line(state) if state is not None else "no outcomes yet"
            plan.notes.append(f"Autonomy earned: {mode} ({record}).")
        return mode

    def _earlier(
        self, clients: KubeClients, workload: WorkloadRef, plan: Plan, earlier: EarlierWrite
    ) -> Outcome:
        """An earlier delivery of this stage reserved this write: never write twice. Settle a
        write it left in progress from the object itself."""
        assert self.guard is not None and plan.target is not None
        rec = earlier.record
        outcome = str(rec.get("outcome", "in_progress"))
        notes = [
            f"An earlier attempt of this stage already reserved this {plan.action} "
            f"(audit {earlier.request.audit_id}); it is not sent again."
        ]
        if outcome == "in_progress":
            try:
                obj = act.read_back(clients, plan.action, plan.target.namespace, plan.target.name)
                outcome = (
                    "applied"
                    if act.is_applied(
                        plan.action, rec.get("after") or {}, obj, earlier.request.audit_id
                    )
                    else "unknown"
                )
            except K8sError:
                outcome = "unknown"
            self.guard.recorder.update_audit(
                earlier.request.audit_id,
                {"outcome": outcome, "settled_by": "a redelivery of the stage (read back)"},
            )
        if outcome in ("applied", "unknown"):  # its check, if the crash came before it
            self._schedule_outcome(Reservation(earlier.request, "", 0, self.now), workload, plan)
        out = self._plan_details(plan, workload)
        out.update(audit_id=earlier.request.audit_id, outcome=outcome, notes=notes)
        word = prose.OUTCOME_WORDS.get(outcome, outcome)
        return Outcome(
            "ok" if outcome == "applied" else "error",
            [f"{plan.action} of {plan.target}: {word}.", *notes],
            out,
        )

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
            return self._refused(refusal, plan.action, str(plan.target), plan, workload, "ok")
        audit_id = guard.recorder.audit(
            action=f"propose_{action}",
            target=str(plan.target),
            outcome="proposed",
            reason=plan.reason,
            before=plan.before,
            after=plan.after,
            extra={"proposal": details, "cluster": self.run.cluster},
        )
        ttl = timedelta(minutes=self.cfg.approval_ttl_minutes)
        approval_id, doc, created = guard.recorder.propose(
            action=action,
            target={**plan.target.as_dict(), "cluster": self.run.cluster},
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
            *prose.rollback_command(plan.target.as_dict(), details),
            *plan.notes,
        ]
        out = self._plan_details(plan, workload)
        out.update(
            action=plan.action if plan.action == "propose_rollback" else f"propose_{plan.action}",
            audit_id=audit_id,
            approval_id=approval_id,
            proposal={**details, "expires_at": exp_text, "status": doc.get("status")},
            next_check=prose.NEXT_CHECKS["propose_rollback"],
        )
        return Outcome("ok", lines, out)

    def _apply(
        self,
        clients: KubeClients,
        workload: WorkloadRef,
        wl_target: Target,
        plan: Plan,
        reserved: Reservation,
    ) -> Outcome:
        assert self.guard is not None and plan.target is not None
        guard = self.guard
        notes: list[str] = []
        settled = self._send(clients, workload, plan, notes, reserved.audit_id, reserved)
        if isinstance(settled, Outcome):
            # The re-read after a 409 decided against writing: nothing was changed.
            guard.settle(reserved, "not_applied", {"reason": "after 409: " + settled.lines[0]})
            settled.lines.insert(0, notes[0] + ".")
            settled.details.update(audit_id=reserved.audit_id, outcome="not_applied")
            return settled
        plan = settled.plan
        sent = writes.marked(plan.patch or {}, plan.patch_kind, reserved.audit_id)
        fields: dict[str, Any] = {"after": plan.after, "patch": sent}
        if settled.error:
            fields["error"] = settled.error
        if settled.notes:
            fields["notes"] = settled.notes
        if settled.outcome == "conflict":
            guard.settle(reserved, "not_applied", {**fields, "conflict": True})
        else:
            guard.settle(reserved, settled.outcome, fields)
        out = self._plan_details(plan, workload)
        out.update(audit_id=reserved.audit_id, attempt=reserved.attempt, outcome=settled.outcome)
        if settled.notes:
            out["notes"] = settled.notes + plan.notes
        if settled.outcome in ("not_applied", "conflict"):
            out.update(error=settled.error, conflict=settled.outcome == "conflict")
            what = (
                "the object kept changing (409 Conflict twice): not retried"
                if settled.outcome == "conflict"
                else settled.error
            )
            return Outcome(
                "error", [f"{plan.action} of {plan.target} failed: {what}.", *settled.notes], out
            )
        if settled.outcome == "unknown":
            # It may have happened: judged by the alert like any other action.
            check = self._schedule_outcome(reserved, workload, plan)
            out.update(
                error=settled.error,
                cooldown_until=reserved.lock_expires_at.isoformat(),
                outcome_due_at=check["due_at"].isoformat(),
            )
            return Outcome(
                "error",
                [
                    f"{plan.action} of {plan.target}: outcome UNKNOWN ({settled.error}).",
                    *settled.notes,
                    "The target stays reserved (no further change) until "
                    f"{reserved.lock_expires_at.isoformat()}; check it by hand.",
                ],
                out,
            )
        result = self._verify(clients, workload, plan)
        guard.recorder.update_audit(reserved.audit_id, {"verification": result})
        check = self._schedule_outcome(reserved, workload, plan)
        out.update(
            verification=result,
            cooldown_until=reserved.lock_expires_at.isoformat(),
            next_check=prose.NEXT_CHECKS.get(plan.action, ""),
            outcome_due_at=check["due_at"].isoformat(),
        )
        # The rollout finishing is not success: the outcome check judges by the alert.
        rollout = (
            "rollout completed"
            if result["result"] == verify.SUCCEEDED
            else f"rollout {result['result']}"
        )
        lines = [
            f"{prose.done_line(plan)}: {plan.reason}.",
            f"Rollout: {rollout} ({result['detail']}); whether it fixed "
            f"{self.run.alert.name} is checked {_after(check['window_seconds'])} after it "
            "(an Outcome line follows).",
            *settled.notes,
            *plan.notes,
        ]
        status: FindingStatus = "error" if result["result"] == verify.FAILED else "ok"
        return Outcome(status, lines, out)

    def _schedule_outcome(
        self, reserved: Reservation, workload: WorkloadRef, plan: Plan
    ) -> dict[str, Any]:
        from shared.outcomes.schedule import schedule_check

        assert self.entry is not None
        return schedule_check(
            self.ledger,
            run=self.run,
            entry=self.entry,
            alert_type=self.alert_type,
            audit_id=reserved.audit_id,
            action=plan.action,
            target_key=reserved.request.target_key,
            workload=workload.as_dict(),
            automatic=reserved.request.automatic,
            workload_class=str(self.owner_details.get("workload_class") or "plain"),
        )

    def _send(
        self,
        clients: KubeClients,
        workload: WorkloadRef,
        plan: Plan,
        notes: list[str],
        write_id: str = "",
        reserved: Reservation | None = None,
    ) -> act.Settled | Outcome:
        """Send the write; on a 409 re-read and re-evaluate once (guards included)."""
        from shared.remediation.approved import mismatch as approved_mismatch

        assert self.guard is not None
        try:
            return act.Settled("applied", plan, act.send(clients, plan, write_id))
        except K8sError as exc:
            if not act.conflict(exc):
                if act.maybe_applied(exc):
                    return act.settle_lost_response(clients, plan, exc, notes, write_id)
                return act.Settled("not_applied", plan, error=str(exc), notes=notes)
            notes.append(f"409 Conflict on the first patch ({exc}); re-read and re-evaluated")
        replanned = self._plan(clients, workload)
        if isinstance(replanned, Outcome):
            return replanned
        if replanned.mode == "change":
            problem = self.guard.check_ceiling(replanned)
            if problem is not None:
                return self._refused(
                    problem, replanned.action, str(replanned.target), replanned, workload
                )
        unapproved = self.approved is not None and approved_mismatch(self.approved, replanned)
        if replanned.mode != "change" or replanned.action != plan.action or unapproved:
            out = self._plan_details(replanned, workload)
            out.update(conflict=True, notes=notes)
            return Outcome(
                "ok", [f"No action after a conflict: {replanned.reason}.", *notes[1:]], out
            )
        # The resend is a new decision: the run is re-checked in the ledger (resolved, taken
        # over, superseded meanwhile?) under the reservation it still holds.
        refusal = self.guard.recheck(plan, reserved) if reserved is not None else None
        if refusal is not None:
            return self._refused(
                refusal, replanned.action, str(replanned.target), replanned, workload
            )
        try:
            sent = act.send(clients, replanned, write_id)
            return act.Settled("applied", replanned, sent, notes=notes)
        except K8sError as exc:
            if act.conflict(exc):
                return act.Settled("conflict", replanned, error=str(exc), notes=notes)
            if act.maybe_applied(exc):
                return act.settle_lost_response(clients, replanned, exc, notes, write_id)
            return act.Settled("not_applied", replanned, error=str(exc), notes=notes)

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
        status: FindingStatus = "skipped",
    ) -> Outcome:
        out: dict[str, Any] = (
            self._plan_details(plan, workload)
            if plan
            else {"action": action, "target": target, "before": {}, "after": {}}
        )
        out.update(refused=refusal.as_dict(), audit_id=refusal.audit_id, verification=None)
        return Outcome(status, prose.refusal_lines(refusal, plan, action), out)


def _after(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"

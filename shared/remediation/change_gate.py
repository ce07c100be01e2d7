"""The one module that decides whether alertloop may change something in a cluster (DESIGN §5).
Every refusal is audited here, so nothing can be refused (or allowed) silently.

Static guards (no API call, no Firestore):
  database_alert  alert types marked `database: true` in the embedded default policy (or the
                  policy in force) never get any action, whatever a policy file says
  invalid_name    target names are DNS-1123 valid before any API call
  namespace       the target's namespace is in ALERTLOOP_REMEDIATE_NAMESPACES; kube-system never
  kind            only Deployments (and their HPAs) are changed (what deploy/rbac.yaml allows)
  ceiling         replica counts never go above guardrails.replica_ceiling
  dry_run         ALERTLOOP_DRY_RUN, the policy's guardrails.dry_run or the run's dry_run:
                  the exact change is reported and nothing is sent

The workload decides (objects read from the cluster right before the write;
shared.remediation.workload_safety): database / stateful-data workloads are never written,
whatever the alert; `alertloop.io/remediation: disabled|enabled` opts out / in; a Deployment
without an HPA is scaled only when opted in. Refusals name the rule and how to change it.

Durable guards (shared.ledger.guardrails; one Firestore transaction, right before the write):
  the run re-checked in the ledger: resolved, taken over, superseded or stale -> no write;
  attempts per incident and target (rolling window), cooldown per cluster and target, the
  fleet-wide rate limit; the write's audit record is created in the same transaction.
A write whose response is lost keeps its reservation until its outcome is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from shared.audit import Recorder
from shared.k8s.names import validate_name, validate_namespace
from shared.ledger import Denied, Earlier, Ledger, LedgerError, Reserved, WriteRequest
from shared.ledger.guardrails import Outcome
from shared.model import utcnow
from shared.policy import AlertPolicy, WorkloadSafety, default_policy_data
from shared.remediation.decide import Plan, Target
from shared.remediation.settings import RemediationSettings
from shared.remediation.workload_safety import NOT_LOOKED_UP, classify, may_write
from shared.run import Run

SUPPORTED_KINDS = ("Deployment",)

WriteAction = Literal["restart", "scale_deployment", "raise_hpa_max", "rollback"]


@dataclass
class Refusal:
    guard: str
    reason: str
    audit_id: str | None = None
    audit_error: str = ""
    how_to_change: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guard": self.guard, "reason": self.reason}
        if self.how_to_change:
            out["how_to_change"] = self.how_to_change
        if self.audit_error:
            out["audit_error"] = self.audit_error
        out.update(self.details)
        return out


@dataclass
class Reservation:
    """A write the guardrails allowed; settle it with its outcome."""

    request: WriteRequest
    token: str
    attempt: int
    lock_expires_at: datetime

    @property
    def audit_id(self) -> str:
        return self.request.audit_id


@dataclass
class EarlierWrite:
    """This run already reserved this write (its stage crashed or was redelivered)."""

    request: WriteRequest
    record: dict[str, Any]


@lru_cache(maxsize=1)
def database_alert_names() -> frozenset[str]:
    """Alert types and aliases that are database alerts in the embedded default policy."""
    names: set[str] = set()
    for name, entry in (default_policy_data().get("alerts") or {}).items():
        if isinstance(entry, dict) and entry.get("database"):
            names.add(name)
            names.update(str(a) for a in entry.get("aliases") or [])
    return frozenset(names)


def is_database_alert(alert_type: str, alert_name: str, entry: AlertPolicy) -> bool:
    if entry.database:
        return True
    names = database_alert_names()
    return alert_type in names or alert_name in names


def dry_run_sources(run: Run, entry: AlertPolicy, global_dry_run: bool) -> list[str]:
    sources = []
    if global_dry_run:
        sources.append("ALERTLOOP_DRY_RUN")
    if entry.guardrails.dry_run:
        sources.append(f"policy {entry.name or run.alert_type}: guardrails.dry_run")
    if run.dry_run:
        sources.append("the run's dry_run flag")
    return sources


def namespace_problem(namespace: str, cfg: RemediationSettings) -> tuple[str, str] | None:
    """(guard, reason) when the namespace may not be changed."""
    if namespace in cfg.protected_namespaces:
        return "protected_namespace", f'namespace "{namespace}" is never changed by alertloop'
    if not cfg.namespaces:
        return "namespace", (
            f'namespace "{namespace}" is not allowed: ALERTLOOP_REMEDIATE_NAMESPACES is empty, '
            "so alertloop changes nothing (list the namespaces it may change, comma-separated)"
        )
    if namespace not in cfg.namespaces:
        return "namespace", (
            f'namespace "{namespace}" is not in ALERTLOOP_REMEDIATE_NAMESPACES '
            f"({', '.join(cfg.namespaces)})"
        )
    return None


def ceiling_problem(plan: Plan, ceiling: int) -> str | None:
    """Clamp a count change to the replica ceiling; the reason when nothing is left to do."""
    if plan.current is None or plan.desired is None:
        return None
    if plan.current >= ceiling:
        return (
            f"{plan.count_field} of {plan.target} is {plan.current}, already at or above the "
            f"replica ceiling {ceiling} (guardrails.replica_ceiling)"
        )
    value = min(plan.desired, ceiling)
    if value < plan.desired:
        plan.notes.append(
            f"capped at the replica ceiling {ceiling} (wanted {plan.desired}, "
            "guardrails.replica_ceiling)"
        )
    plan.set_count(value)
    return None


class Guardrails:
    """Checks for one run; refusals are audited through the recorder."""

    def __init__(
        self,
        run: Run,
        entry: AlertPolicy,
        cfg: RemediationSettings,
        ledger: Ledger,
        recorder: Recorder,
        *,
        global_dry_run: bool = False,
        max_event_age: timedelta | None = None,
        safety: WorkloadSafety | None = None,
        now: datetime | None = None,
    ) -> None:
        self.run = run
        self.entry = entry
        self.cfg = cfg
        self.ledger = ledger
        self.recorder = recorder
        self.max_event_age = max_event_age
        self.safety = safety
        self.now = now or utcnow()
        self.dry_run_sources = dry_run_sources(run, entry, global_dry_run)

    @property
    def dry_run(self) -> bool:
        return bool(self.dry_run_sources)

    # ---- refusals ---------------------------------------------------------------------------

    def refuse(
        self,
        guard: str,
        reason: str,
        *,
        action: str,
        target: str,
        plan: Plan | None = None,
        outcome: str = "refused",
        how_to_change: str = "",
        details: dict[str, Any] | None = None,
    ) -> Refusal:
        refusal = Refusal(guard, reason, how_to_change=how_to_change, details=details or {})
        try:
            refusal.audit_id = self.recorder.audit(
                action=action,
                target=target,
                outcome=outcome,
                reason=reason,
                before=plan.before if plan else None,
                after=plan.after if plan else None,
                dry_run=self.dry_run,
                guard=guard,
                extra={
                    **({"patch": plan.patch} if plan and plan.patch else {}),
                    **({"how_to_change": how_to_change} if how_to_change else {}),
                    "cluster": self.run.cluster,
                },
            )
        except LedgerError as exc:
            refusal.audit_error = str(exc)
        return refusal

    # ---- static guards ----------------------------------------------------------------------

    def check_database_alert(self, action: str, target: str) -> Refusal | None:
        if not is_database_alert(self.run.alert_type, self.run.alert.name, self.entry):
            return None
        return self.refuse(
            "database_alert",
            f"{self.run.alert_type} is a database alert: alertloop never acts on databases "
            "(whatever the policy file says); ops handle failover and recovery",
            action=action,
            target=target,
        )

    def check_names(self, action: str, kind: str, namespace: str, name: str) -> Refusal | None:
        problems = [p for p in (validate_namespace(namespace), validate_name(name, kind)) if p]
        if not problems:
            return None
        return self.refuse(
            "invalid_name",
            "; ".join(problems) + ": refused before any API call",
            action=action,
            target=f"{kind.lower()}/{namespace}/{name}",
        )

    def check_namespace(self, action: str, target: Target) -> Refusal | None:
        problem = namespace_problem(target.namespace, self.cfg)
        if problem is None:
            return None
        return self.refuse(problem[0], problem[1], action=action, target=str(target))

    def check_kind(self, action: str, target: Target) -> Refusal | None:
        if target.kind in SUPPORTED_KINDS:
            return None
        if target.kind == "StatefulSet":
            return self.refuse(
                "database_class/statefulset",
                f"{target} is a StatefulSet: database / stateful-data workloads are never "
                "changed by alertloop",
                action=action,
                target=str(target),
                how_to_change="nothing can allow it; ops change it by hand",
            )
        return self.refuse(
            "kind",
            f"{target} is a {target.kind}: alertloop only changes Deployments (and their HPAs)",
            action=action,
            target=str(target),
        )

    def check_workload(
        self,
        action: str,
        target: Target,
        workload: dict[str, Any],
        *,
        pods: list[dict[str, Any]] | None = None,
        hpa: dict[str, Any] | object | None = NOT_LOOKED_UP,
    ) -> Refusal | None:
        """The workload decides: classify what is about to be written, from the objects."""
        classification = classify(workload, pods=pods or (), extra=self.safety)
        verdict = may_write(action, classification, workload, hpa=hpa)  # type: ignore[arg-type]
        if verdict.allowed:
            return None
        return self.refuse(
            verdict.rule,
            verdict.reason,
            action=action,
            target=str(target),
            how_to_change=verdict.how_to_change,
            details={"classification": classification.as_dict()},
        )

    def check_ceiling(self, plan: Plan) -> Refusal | None:
        problem = ceiling_problem(plan, self.entry.guardrails.replica_ceiling)
        if problem is None:
            return None
        return self.refuse(
            "ceiling", problem, action=plan.action, target=str(plan.target), plan=plan
        )

    def check_dry_run(self, plan: Plan, workload: Target) -> Refusal | None:
        """In dry-run: report the exact change, what the durable guards would say; send nothing."""
        if not self.dry_run:
            return None
        would = self.ledger.peek_write(self.write_request(plan, workload))
        reason = f"dry-run ({', '.join(self.dry_run_sources)}): nothing was changed"
        if would is not None:
            reason += f"; it would also be refused: {would}"
        return self.refuse(
            "dry_run",
            reason,
            action=plan.action,
            target=str(plan.target),
            plan=plan,
            outcome="dry_run",
            details={"would_be_refused": would} if would else None,
        )

    # ---- durable guards -----------------------------------------------------------------------

    def write_request(self, plan: Plan, workload: Target, *, approval: str = "") -> WriteRequest:
        g = self.entry.guardrails
        record: dict[str, Any] = {
            "reason": plan.reason,
            "before": plan.before,
            "after": plan.after,
            "patch": plan.patch,
            "patch_kind": plan.patch_kind,
            "workload": str(workload),
        }
        if approval:
            record["approval_id"] = approval
        return WriteRequest(
            run_id=self.run.run_id,
            incident_id=self.run.incident_id,
            cluster=self.run.cluster,
            target_key=workload.key,
            target=str(plan.target),
            action=plan.action,
            actor=self.cfg.actor,
            alert_type=self.run.alert_type,
            max_attempts=g.max_attempts,
            attempt_window=timedelta(hours=g.attempt_window_hours),
            cooldown=timedelta(minutes=g.cooldown_minutes),
            max_changes_per_hour=self.cfg.max_changes_per_hour,
            max_age=None if self.run.force else self.max_event_age,
            epoch=self.run_epoch(),
            record=record,
            automatic=not approval,
        )

    def run_epoch(self) -> int:
        """Forced replays get a fresh write identity (their reservation is checked anew)."""
        return self.run.force_count if self.run.force else 0

    def reserve(
        self, plan: Plan, workload: Target, *, approval: str = ""
    ) -> Reservation | Refusal | EarlierWrite:
        """Re-check the run in the ledger and take the reservation, atomically."""
        req = self.write_request(plan, workload, approval=approval)
        result = self.ledger.reserve_write(req)
        if isinstance(result, Reserved):
            return Reservation(req, result.token, result.attempt, result.lock_expires_at)
        if isinstance(result, Earlier):
            return EarlierWrite(req, result.record)
        assert isinstance(result, Denied)
        return Refusal(result.guard, result.reason, audit_id=result.audit_id)

    def recheck(self, plan: Plan, reservation: Reservation) -> Refusal | None:
        """Before a resend: the run re-checked in the ledger under the reservation it holds."""
        denied = self.ledger.recheck_write(reservation.request, reservation.token)
        if denied is None:
            return None
        return self.refuse(denied.guard, denied.reason, action=plan.action, target=str(plan.target))

    def settle(
        self, reservation: Reservation, outcome: Outcome, fields: dict[str, Any] | None = None
    ) -> None:
        self.ledger.settle_write(reservation.request, reservation.token, outcome, fields)

"""The one module that enforces every remediation guardrail (DESIGN §5). Every refusal is
written to the audit trail here, so nothing can be refused (or allowed) silently.

Static guards (no API call, no Firestore):
  database      database alerts (policy `database: true`, or an alert type/alias that is a
                database alert in the embedded default policy) never get any action, whatever
                a policy file says
  names         target names are DNS-1123 valid before any API call
  namespace     the target's namespace is in ALERTLOOP_REMEDIATE_NAMESPACES; kube-system never
  kind          only Deployments (and their HPAs) are changed (what deploy/rbac.yaml allows)
  opt-out       workloads annotated `alertloop.io/remediate: "false"` are never changed
  ceiling       replica counts never go above guardrails.replica_ceiling
  dry-run       ALERTLOOP_DRY_RUN, the policy's guardrails.dry_run or the envelope's dry_run:
                the exact change is reported and nothing is sent

Durable guards (Firestore, one transaction; hold across restarts and instances):
  attempts      attempts/{run_id}:{target}     count of changes per incident per target,
                                               capped by guardrails.max_attempts
  cooldown      locks/{target}                 expires_at = now + guardrails.cooldown_minutes
  rate limit    ratelimit/remediate-changes    the changes of the last hour (fleet-wide),
                                               capped by ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.envelope import utcnow
from shared.k8s.names import validate_name, validate_namespace
from shared.ledger import Ledger, LedgerError
from shared.policy import AlertPolicy, default_policy_data
from shared.remediation.decide import Plan, Target
from shared.remediation.records import Recorder
from shared.remediation.settings import (
    OPT_OUT_ANNOTATION,
    OPT_OUT_VALUES,
    RemediationSettings,
)
from shared.run import Run

RATE_DOC = "remediate-changes"
# Instances racing for one target contend on the same documents: retry the transaction more
# often than the client's default 5 before failing closed.
TXN_ATTEMPTS = 25
RATE_WINDOW = timedelta(hours=1)
SUPPORTED_KINDS = ("Deployment",)
ALWAYS_DATABASE = frozenset({"DatabaseDown"})


@dataclass
class Refusal:
    guard: str  # database|invalid_name|namespace|protected_namespace|kind|opt_out|ceiling|
    #             dry_run|attempts|cooldown|rate_limit
    reason: str
    audit_id: str | None = None
    audit_error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guard": self.guard, "reason": self.reason}
        if self.audit_error:
            out["audit_error"] = self.audit_error
        out.update(self.details)
        return out


@dataclass
class Reservation:
    token: str
    key: str
    run_id: str
    attempt: int
    lock_expires_at: datetime


def database_alert_names() -> frozenset[str]:
    """Alert types and aliases that are database alerts in the embedded default policy."""
    names = set(ALWAYS_DATABASE)
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


def dry_run_sources(env: Run, entry: AlertPolicy, global_dry_run: bool) -> list[str]:
    sources = []
    if global_dry_run:
        sources.append("ALERTLOOP_DRY_RUN")
    if entry.guardrails.dry_run:
        sources.append(f"policy {entry.name or env.alert_type}: guardrails.dry_run")
    if env.dry_run:
        sources.append("the envelope's dry_run flag")
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


def opted_out(obj: dict[str, Any] | None) -> str | None:
    """The annotation value when the object opts out of remediation."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = str(annotations.get(OPT_OUT_ANNOTATION, "")).strip().lower()
    return value if value in OPT_OUT_VALUES else None


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
        env: Run,
        entry: AlertPolicy,
        cfg: RemediationSettings,
        ledger: Ledger,
        recorder: Recorder,
        *,
        global_dry_run: bool = False,
        now: datetime | None = None,
    ) -> None:
        self.env = env
        self.entry = entry
        self.cfg = cfg
        self.ledger = ledger
        self.recorder = recorder
        self.now = now or utcnow()
        self.dry_run_sources = dry_run_sources(env, entry, global_dry_run)

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
        details: dict[str, Any] | None = None,
    ) -> Refusal:
        refusal = Refusal(guard, reason, details=details or {})
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
                extra={"patch": plan.patch} if plan and plan.patch else None,
            )
        except LedgerError as exc:
            refusal.audit_error = str(exc)
        return refusal

    # ---- static guards ----------------------------------------------------------------------

    def check_database(self, action: str, target: str) -> Refusal | None:
        if not is_database_alert(self.env.alert_type, self.env.alert.name, self.entry):
            return None
        return self.refuse(
            "database",
            f"{self.env.alert_type} is a database alert: alertloop never acts on databases "
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
        return self.refuse(
            "kind",
            f"{target} is a {target.kind}: alertloop only changes Deployments (and their HPAs)",
            action=action,
            target=str(target),
        )

    def check_opt_out(self, action: str, target: Target, obj: dict[str, Any]) -> Refusal | None:
        value = opted_out(obj)
        if value is None:
            return None
        return self.refuse(
            "opt_out",
            f'{target} is annotated {OPT_OUT_ANNOTATION}: "{value}": it opted out of '
            "automatic remediation",
            action=action,
            target=str(target),
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
        would = self.peek(workload)
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

    def _refs(self, key: str) -> tuple[Any, Any, Any]:
        return (
            self.ledger._col("locks").document(key),
            self.ledger._col("attempts").document(f"{self.env.run_id}:{key}"),
            self.ledger._col("ratelimit").document(RATE_DOC),
        )

    def _evaluate(
        self, lock: dict[str, Any], attempts: dict[str, Any], rate: dict[str, Any], now: datetime
    ) -> tuple[str, str, list[dict[str, Any]]] | tuple[None, None, list[dict[str, Any]]]:
        g = self.entry.guardrails
        count = int(attempts.get("count", 0))
        window = [c for c in rate.get("changes") or [] if _after(c.get("at"), now - RATE_WINDOW)]
        if count >= g.max_attempts:
            return (
                "attempts",
                f"{count} change(s) already made for this incident on this target "
                f"(guardrails.max_attempts = {g.max_attempts})",
                window,
            )
        expires = lock.get("expires_at")
        if isinstance(expires, datetime) and expires > now:
            return (
                "cooldown",
                f"target is cooling down until {expires.isoformat()} after a change by run "
                f"{lock.get('run_id', '?')} ({lock.get('action', '?')}); "
                f"guardrails.cooldown_minutes = {g.cooldown_minutes}",
                window,
            )
        if len(window) >= self.cfg.max_changes_per_hour:
            return (
                "rate_limit",
                f"{len(window)} cluster change(s) in the last hour across the fleet "
                f"(ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR = {self.cfg.max_changes_per_hour})",
                window,
            )
        return None, None, window

    def peek(self, workload: Target) -> str | None:
        """What the durable guards would say now (read only; for dry-runs)."""
        lock_ref, att_ref, rate_ref = self._refs(workload.key)
        try:
            docs = [_doc(r.get()) for r in (lock_ref, att_ref, rate_ref)]
        except Exception as exc:
            return f"(cannot read the guardrail state: {exc})"
        guard, reason, _ = self._evaluate(docs[0], docs[1], docs[2], utcnow())
        return f"{guard}: {reason}" if guard else None

    def reserve(self, plan: Plan, workload: Target) -> Reservation | Refusal:
        """Take the cooldown lock, count the attempt and the fleet-wide change, atomically."""
        lock_ref, att_ref, rate_ref = self._refs(workload.key)
        g = self.entry.guardrails
        token = uuid.uuid4().hex
        run_id = self.env.run_id

        def txn(transaction: Any) -> Reservation | tuple[str, str]:
            lock = _doc(lock_ref.get(transaction=transaction))
            attempts = _doc(att_ref.get(transaction=transaction))
            rate = _doc(rate_ref.get(transaction=transaction))
            now = utcnow()
            guard, reason, window = self._evaluate(lock, attempts, rate, now)
            if guard is not None and reason is not None:
                return guard, reason
            count = int(attempts.get("count", 0)) + 1
            expires = now + timedelta(minutes=g.cooldown_minutes)
            transaction.set(
                lock_ref,
                {
                    "target": str(workload),
                    "run_id": run_id,
                    "action": plan.action,
                    "token": token,
                    "taken_at": now,
                    "expires_at": expires,
                },
            )
            transaction.set(
                att_ref,
                {
                    "run_id": run_id,
                    "target": str(workload),
                    "count": count,
                    "last_at": now,
                    "expires_at": now + timedelta(days=7),
                },
            )
            transaction.set(
                rate_ref,
                {
                    "changes": [
                        *window,
                        {"at": now, "token": token, "target": str(workload), "run_id": run_id},
                    ],
                    "updated_at": now,
                },
            )
            return Reservation(token, workload.key, run_id, count, expires)

        result = self._transaction(txn)
        if isinstance(result, Reservation):
            return result
        guard, reason = result
        return self.refuse(guard, reason, action=plan.action, target=str(plan.target), plan=plan)

    def release(self, reservation: Reservation) -> None:
        """Nothing changed (the API refused): free the cooldown lock and the rate-limit slot.

        The attempt stays counted: a target that keeps failing must not be retried forever.
        """
        lock_ref, _, rate_ref = self._refs(reservation.key)

        def txn(transaction: Any) -> None:
            lock = _doc(lock_ref.get(transaction=transaction))
            rate = _doc(rate_ref.get(transaction=transaction))
            if lock.get("token") == reservation.token:
                transaction.delete(lock_ref)
            changes = [c for c in rate.get("changes") or [] if c.get("token") != reservation.token]
            transaction.set(rate_ref, {"changes": changes, "updated_at": utcnow()})

        self._transaction(txn)

    def _transaction(self, fn: Any) -> Any:
        """Run `fn(transaction)` atomically; LedgerError when Firestore fails or stays contended
        (the caller fails closed: no change without the guardrails' say-so)."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        client = self.ledger.client
        try:
            return firestore.transactional(fn)(client.transaction(max_attempts=TXN_ATTEMPTS))
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc
        except ValueError as exc:  # the client's "Failed to commit transaction in N attempts"
            raise LedgerError(f"Firestore transaction contended: {exc}") from exc


def _doc(snap: Any) -> dict[str, Any]:
    return (snap.to_dict() or {}) if snap.exists else {}


def _after(value: Any, since: datetime) -> bool:
    return isinstance(value, datetime) and value > since

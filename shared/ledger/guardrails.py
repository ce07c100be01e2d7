"""The durable half of the guardrails: cluster-change reservations and the audit trail.

  locks/{cluster}:{target}           cooldown: expires_at, the write that holds it, its outcome
  attempts/{cluster}:{target}        the changes made to one workload (rolling window, whatever
                                     the incident), capped by guardrails.max_attempts
  ratelimit/remediate-changes        the fleet's changes in the last hour
  audit/{id}                         one record per cluster write (deterministic id: a retried
                                     stage finds its earlier write instead of writing again),
                                     and one per refusal, proposal and human decision

`reserve_write` re-checks the run in the same transaction that takes the reservation and
creates the write's audit record: a resolved, taken-over, superseded or stale run gets an
audited refusal and no reservation.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.ledger.base import LedgerBase, as_dt, snap_dict
from shared.ledger.outcomes import FLEET_BRAKE, brake_id, brake_problem
from shared.ledger.schema import escaped_keys, unescaped_keys
from shared.model import utcnow

RATE_DOC = "remediate-changes"
RATE_WINDOW = timedelta(hours=1)
# Instances racing for one target contend on the same documents: retry the transaction more
# often than the client's default before failing closed.
TXN_ATTEMPTS = 50  # the reservation now also reads the workload and fleet brakes

Outcome = Literal["applied", "not_applied", "unknown"]


@dataclass(frozen=True)
class WriteRequest:
    """One intended cluster write, with the limits that apply to it."""

    run_id: str
    incident_id: str
    cluster: str
    target_key: str  # the workload the write is about (cooldown / attempts key)
    target: str  # what is patched, for people
    action: str
    actor: str
    alert_type: str
    max_attempts: int
    attempt_window: timedelta
    cooldown: timedelta
    max_changes_per_hour: int
    max_age: timedelta | None  # None: a forced replay may act on an old run
    epoch: int = 0  # forced replays of a run get a fresh write identity
    record: dict[str, Any] = field(default_factory=dict)  # before, after, patch, reason, …
    automatic: bool = True  # False: a person approved it (the outcome brakes do not apply)

    @property
    def audit_id(self) -> str:
        key = f"{self.run_id}|{self.action}|{self.cluster}|{self.target_key}|{self.epoch}"
        return "w" + hashlib.sha256(key.encode()).hexdigest()[:23]

    @property
    def lock_id(self) -> str:
        return f"{self.cluster or 'default'}:{self.target_key}"

    @property
    def attempts_id(self) -> str:
        """Per workload, never per incident or pod: a new pod name, a new incident or a flap
        past every window does not reset the cap (issue 20)."""
        return f"{self.cluster or 'default'}:{self.target_key}"


@dataclass
class Reserved:
    audit_id: str
    token: str
    attempt: int  # this write's number among the incident's changes to the target
    lock_expires_at: datetime


@dataclass
class Denied:
    guard: str  # resolved|taken_over|superseded|brake|fleet_brake|stale|attempts|cooldown|…
    reason: str
    audit_id: str = ""


@dataclass
class Earlier:
    """This run already reserved this write (a crashed attempt): settle it, never write again."""

    audit_id: str
    record: dict[str, Any]


class GuardrailLedger(LedgerBase):
    def _refs(self, req: WriteRequest) -> dict[str, Any]:
        return {
            "run": self._doc("runs", req.run_id),
            "incident": self._doc("incidents", req.incident_id or "-"),
            "lock": self._doc("locks", req.lock_id),
            "attempts": self._doc("attempts", req.attempts_id),
            "rate": self._doc("ratelimit", RATE_DOC),
            "audit": self._doc("audit", req.audit_id),
            # The outcome brakes (shared.ledger.outcomes), read in the same transaction.
            "brake": self._doc("brakes", brake_id(req.cluster, req.target_key, req.action)),
            "fleet": self._doc("brakes", FLEET_BRAKE),
        }

    def _judge(
        self, req: WriteRequest, docs: dict[str, dict[str, Any]], fp: dict[str, Any], now: datetime
    ) -> tuple[str, str] | None:
        """(guard, reason) when the write may not happen; the ledger is the truth here."""
        problem = self._run_problem(req, docs, fp, now)
        if problem is not None:
            return problem
        return self._limits_problem(req, docs, now)

    def _run_problem(
        self, req: WriteRequest, docs: dict[str, dict[str, Any]], fp: dict[str, Any], now: datetime
    ) -> tuple[str, str] | None:
        """The run's own state: unknown, resolved, taken over, superseded or stale."""
        run = docs["run"]
        if not run:
            return "unknown_run", f"run {req.run_id} is not in the ledger"
        if run.get("status") == "resolved":
            return "resolved", (
                f"the alert resolved at {_iso(run.get('resolved_at'))} (recorded in the run "
                "ledger): nothing is changed for a resolved alert"
            )
        hands_off = _holding(docs["incident"].get("hands_off"), now) or _holding(
            docs.get("workload", {}).get("hands_off"), now
        )
        if hands_off:
            return "taken_over", (
                f"{hands_off.get('by', 'a person')} took the workload over at "
                f"{_iso(hands_off.get('at'))}: automation makes no further changes until "
                f"{_iso(hands_off.get('expires_at')) if hands_off.get('expires_at') else 'resumed'}"
                " (Resume automation in Slack gives it back)"
            )
        if fp.get("last_run_id") and fp.get("last_run_id") != req.run_id:
            return "superseded", (
                f"the alert fired again since (run {fp.get('last_run_id')}): this run's picture "
                "is out of date, the newer run decides"
            )
        braked = brake_problem(docs["brake"], docs["fleet"]) if req.automatic else None
        if braked is not None:
            return braked
        received = as_dt(run.get("received_at"))
        if req.max_age is not None and received is not None and now - received > req.max_age:
            return "stale", (
                f"the run is {(now - received).total_seconds() / 3600:.1f} h old (limit "
                f"{req.max_age.total_seconds() / 3600:.1f} h): acting on an old picture is worse "
                "than not acting (replay with --force if it still matters)"
            )
        return None

    def _limits_problem(
        self, req: WriteRequest, docs: dict[str, dict[str, Any]], now: datetime
    ) -> tuple[str, str] | None:
        """Attempts, cooldown and the fleet rate limit."""
        window = [
            c
            for c in docs["attempts"].get("changes") or []
            if _after(c.get("at"), now - req.attempt_window)
        ]
        if len(window) >= req.max_attempts:
            return "attempts", (
                f"{len(window)} change(s) already made to this workload in the "
                f"last {req.attempt_window.total_seconds() / 3600:g} h "
                f"(guardrails.max_attempts = {req.max_attempts}); flapping does not reset it"
            )
        lock = docs["lock"]
        expires = as_dt(lock.get("expires_at"))
        if expires is not None and expires > now:
            unknown = lock.get("outcome") == "unknown"
            why = (
                "an earlier change's outcome is unknown (its response was lost)"
                if unknown
                else f"a change by run {lock.get('run_id', '?')} ({lock.get('action', '?')})"
            )
            return "cooldown", (
                f"target is cooling down until {expires.isoformat()} after {why}; "
                f"guardrails.cooldown_minutes = {req.cooldown.total_seconds() / 60:g}"
            )
        rate = [
            c for c in docs["rate"].get("changes") or [] if _after(c.get("at"), now - RATE_WINDOW)
        ]
        if len(rate) >= req.max_changes_per_hour:
            return "rate_limit", (
                f"{len(rate)} cluster change(s) in the last hour across the fleet "
                f"(ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR = {req.max_changes_per_hour})"
            )
        return None

    def reserve_write(self, req: WriteRequest) -> Reserved | Denied | Earlier:
        """Re-check the run and take the cooldown lock, the incident attempt and the fleet
        slot, and create the write's audit record (in_progress) — atomically."""
        refs = self._refs(req)

        def txn(transaction: Any) -> Reserved | Denied | Earlier:
            docs = {k: snap_dict(r.get(transaction=transaction)) for k, r in refs.items()}
            fp_key = fingerprint_key(docs["run"])
            fp_ref = self._doc("fingerprints", fp_key) if fp_key else None
            fp = snap_dict(fp_ref.get(transaction=transaction)) if fp_ref is not None else {}
            wl_ref = self._workload_ref(docs["incident"])
            docs["workload"] = snap_dict(wl_ref.get(transaction=transaction)) if wl_ref else {}
            now = utcnow()
            if docs["audit"]:
                return Earlier(req.audit_id, docs["audit"])
            problem = self._judge(req, docs, fp, now)
            if problem is not None:
                guard, reason = problem
                ref = self._col("audit").document()
                transaction.set(ref, self._audit_doc(req, "refused", reason, now, guard=guard))
                return Denied(guard, reason, str(ref.id))
            token = uuid.uuid4().hex
            window = [
                c
                for c in docs["attempts"].get("changes") or []
                if _after(c.get("at"), now - req.attempt_window)
            ]
            entry = {
                "at": now,
                "run_id": req.run_id,
                "action": req.action,
                "audit_id": req.audit_id,
            }
            expires = now + req.cooldown
            transaction.set(
                refs["lock"],
                {
                    "target": req.target,
                    "cluster": req.cluster,
                    "run_id": req.run_id,
                    "action": req.action,
                    "token": token,
                    "audit_id": req.audit_id,
                    "outcome": "in_progress",
                    "taken_at": now,
                    "expires_at": expires,
                },
            )
            transaction.set(
                refs["attempts"],
                {
                    "incident_id": req.incident_id,
                    "target": req.target,
                    "changes": [*window, entry],
                    "updated_at": now,
                    "expires_at": now + req.attempt_window,
                },
            )
            rate = [
                c
                for c in docs["rate"].get("changes") or []
                if _after(c.get("at"), now - RATE_WINDOW)
            ]
            transaction.set(
                refs["rate"],
                {
                    "changes": [*rate, {"at": now, "token": token, "target": req.target}],
                    "updated_at": now,
                },
            )
            transaction.set(
                refs["audit"],
                self._audit_doc(
                    req,
                    "in_progress",
                    str(req.record.get("reason", "")),
                    now,
                    attempt=len(window) + 1,
                ),
            )
            return Reserved(req.audit_id, token, len(window) + 1, expires)

        result: Reserved | Denied | Earlier = self._transaction(txn, attempts=TXN_ATTEMPTS)
        return result

    def recheck_write(self, req: WriteRequest, token: str) -> Denied | None:
        """Before a resend (after a 409): the run re-checked in the ledger, and the reservation
        still ours — the same checks a new reservation makes, in one transaction."""
        refs = self._refs(req)

        def txn(transaction: Any) -> Denied | None:
            docs = {k: snap_dict(r.get(transaction=transaction)) for k, r in refs.items()}
            fp_key = fingerprint_key(docs["run"])
            fp_ref = self._doc("fingerprints", fp_key) if fp_key else None
            fp = snap_dict(fp_ref.get(transaction=transaction)) if fp_ref is not None else {}
            problem = self._run_problem(req, docs, fp, utcnow())
            if problem is None and docs["lock"].get("token") != token:
                problem = ("cooldown", "the reservation of this write is no longer held")
            return Denied(*problem) if problem is not None else None

        result: Denied | None = self._transaction(txn, attempts=TXN_ATTEMPTS)
        return result

    def settle_write(
        self,
        req: WriteRequest,
        token: str,
        outcome: Outcome,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Record how the write ended. Only a write known not to have happened gives back its
        cooldown lock and fleet slot; an unknown one keeps them until the cooldown passes."""
        refs = self._refs(req)
        extra = dict(fields or {})

        def txn(transaction: Any) -> None:
            lock = snap_dict(refs["lock"].get(transaction=transaction))
            rate = snap_dict(refs["rate"].get(transaction=transaction))
            now = utcnow()
            transaction.set(
                refs["audit"], {**extra, "outcome": outcome, "updated_at": now}, merge=True
            )
            if lock.get("token") != token:
                return
            if outcome == "not_applied":
                transaction.delete(refs["lock"])
                changes = [c for c in rate.get("changes") or [] if c.get("token") != token]
                transaction.set(refs["rate"], {"changes": changes, "updated_at": now})
            else:
                transaction.set(refs["lock"], {"outcome": outcome}, merge=True)

        self._transaction(txn, attempts=TXN_ATTEMPTS)

    def peek_write(self, req: WriteRequest) -> str | None:
        """What the durable guards would say now (read only; for dry-runs)."""
        refs = self._refs(req)
        try:
            docs = {k: snap_dict(r.get()) for k, r in refs.items()}
            fp_key = fingerprint_key(docs["run"])
            fp = (self._get("fingerprints", fp_key) or {}) if fp_key else {}
            wl_ref = self._workload_ref(docs["incident"])
            docs["workload"] = snap_dict(wl_ref.get()) if wl_ref else {}
        except Exception as exc:
            return f"(cannot read the guardrail state: {exc})"
        problem = self._judge(req, docs, fp, utcnow())
        return f"{problem[0]}: {problem[1]}" if problem else None

    def _workload_ref(self, incident: dict[str, Any]) -> Any:
        """The incident's workload document (a take-over holds for the workload)."""
        from shared.ledger.correlation import workload_doc_id

        key = str(incident.get("workload_key") or "")
        return self._doc("workloads", workload_doc_id(key)) if key else None

    # ---- the audit trail --------------------------------------------------------------------

    def _audit_doc(
        self,
        req: WriteRequest,
        outcome: str,
        reason: str,
        now: datetime,
        *,
        guard: str = "",
        attempt: int | None = None,
    ) -> dict[str, Any]:
        doc = {
            "at": now,
            "actor": f"{req.actor} (run {req.run_id})",
            "identity": req.actor,
            "run_id": req.run_id,
            "incident_id": req.incident_id,
            "cluster": req.cluster,
            "alert_type": req.alert_type,
            "action": req.action,
            "target": req.target,
            "outcome": outcome,
            "reason": reason,
            "guard": guard,
            "dry_run": False,
            "updated_at": now,
            **{k: v for k, v in req.record.items() if k != "reason"},
        }
        if attempt is not None:
            doc["attempt"] = attempt
        return doc

    def audit(self, record: dict[str, Any]) -> str:
        """A new audit record (a refusal, dry-run, proposal or human decision); its id."""
        now = utcnow()
        ref = self._col("audit").document()
        self._call(ref.set, {"at": now, "updated_at": now, **escaped_keys(record)})
        return str(ref.id)

    def update_audit(self, audit_id: str, fields: dict[str, Any]) -> None:
        self._call(
            self._doc("audit", audit_id).set,
            {**escaped_keys(fields), "updated_at": utcnow()},
            merge=True,
        )

    def get_audit(self, audit_id: str) -> dict[str, Any] | None:
        doc = self._get("audit", audit_id)
        return unescaped_keys(doc) if doc is not None else None

    def writes_to(self, workload: str) -> list[dict[str, Any]]:
        """The write audit records (reservations) about one workload (`kind/ns/name`)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("audit").where(filter=FieldFilter("workload", "==", workload))
        docs: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
        )
        return [d for d in docs if "attempt" in d]

    def audit_for_run(self, run_id: str) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("audit").where(filter=FieldFilter("run_id", "==", run_id))
        docs: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
        )
        return docs


def fingerprint_key(run: dict[str, Any]) -> str:
    """The fingerprints/ document of a run (as dispatch keyed it: per cluster)."""
    fp = str(run.get("fingerprint") or "")
    cluster = str(run.get("cluster") or "")
    return f"{cluster}:{fp}" if cluster and fp else fp


def _holding(hands_off: Any, now: datetime) -> dict[str, Any]:
    """A take-over that still holds: until resumed, or until its expiry (when it has one)."""
    if not isinstance(hands_off, dict) or not hands_off:
        return {}
    expires = as_dt(hands_off.get("expires_at"))
    return hands_off if expires is None or expires > now else {}


def _after(value: Any, since: datetime) -> bool:
    return isinstance(value, datetime) and value > since


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else "?"

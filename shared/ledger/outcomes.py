"""Outcome checks and the brakes they trip (issue 20; docs/outcomes.md).

  outcomes/{id}    one per automatic action or approved rollback (id from the write's audit id:
                   a redelivered stage schedules the same check). status pending -> done once;
                   the outcome (fixed | not_fixed | cleared_anyway; fixed -> relapsed once),
                   what answered, the `Outcome:` line posted in the thread
  brakes/{id}      per (cluster, workload, action): tripped after N automatic actions that did
                   not fix the alert; brakes/fleet: all automatic writes. Held until resumed.

The brake is read by `GuardrailLedger.reserve_write` inside the reservation transaction
(`brake_problem`): a tripped brake refuses the write there, audited like every refusal.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.ledger.base import LedgerBase, LedgerError, as_dt, snap_dict
from shared.model import utcnow

FLEET_BRAKE = "fleet"
FLEET_TALLY = "fleet-tally"
RELAPSE_CURSOR = "relapse-cursor"
# Incidents written just before the previous scan's cursor may commit after it.
CURSOR_OVERLAP = timedelta(seconds=5)
PENDING = "pending"
DONE = "done"


def outcome_id(audit_id: str) -> str:
    return "o" + hashlib.sha256(audit_id.encode()).hexdigest()[:23]


def brake_id(cluster: str, target_key: str, action: str) -> str:
    key = f"{cluster or 'default'}|{target_key}|{action}"
    return "b" + hashlib.sha256(key.encode()).hexdigest()[:23]


def brake_problem(workload: dict[str, Any], fleet: dict[str, Any]) -> tuple[str, str] | None:
    """(guard, reason) when a tripped brake stops this automatic write."""
    if fleet.get("tripped"):
        return "fleet_brake", (
            f"the fleet brake tripped at {_iso(fleet.get('tripped_at'))}: {fleet.get('reason', '')}"
            "; no automatic write anywhere until a person resumes it"
        )
    if workload.get("tripped"):
        return "brake", (
            f"the brake for {workload.get('action', '?')} on {workload.get('workload', '?')} "
            f"tripped at {_iso(workload.get('tripped_at'))}: {workload.get('reason', '')}; "
            "no automatic action on this workload until a person resumes it"
        )
    return None


class OutcomesLedger(LedgerBase):
    # ---- outcome checks -----------------------------------------------------------------------

    def schedule_outcome(self, record: dict[str, Any]) -> bool:
        """Create the check for one action (needs `audit_id`, `due_at`); False if it exists."""
        from google.api_core import exceptions as gexc

        ref = self._doc("outcomes", outcome_id(str(record["audit_id"])))
        now = utcnow()
        try:
            ref.create({**record, "status": PENDING, "created_at": now})
        except gexc.Conflict:  # already scheduled (AlreadyExists is a Conflict)
            return False
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc
        return True

    def get_outcome(self, audit_id: str) -> dict[str, Any] | None:
        return self._get("outcomes", outcome_id(audit_id))

    def due_outcomes(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("outcomes").where(filter=FieldFilter("status", "==", PENDING)).limit(500)
        docs: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
        )
        due = [d for d in docs if (as_dt(d.get("due_at")) or now) <= now]
        return sorted(due, key=lambda d: d["due_at"])[:limit]

    def outcomes_since(
        self, since: datetime, *, target_key: str = "", outcome: str = ""
    ) -> list[dict[str, Any]]:
        """Recorded outcomes whose check ran after `since`, optionally of one workload
        (guardrail target key) or one outcome. One equality filter at most (single-field
        indexes only); the rest is filtered here."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        col = self._col("outcomes")
        if target_key:
            query = col.where(filter=FieldFilter("target_key", "==", target_key))
        elif outcome:
            query = col.where(filter=FieldFilter("outcome", "==", outcome))
        else:
            query = col.where(filter=FieldFilter("checked_at", ">=", since))
        docs: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
        )
        return [
            d
            for d in docs
            if (as_dt(d.get("checked_at")) or since) >= since
            and d.get("status") == DONE
            and (not outcome or d.get("outcome") == outcome)
        ]

    def record_outcome(
        self, audit_id: str, fields: dict[str, Any], fleet_window: timedelta | None = None
    ) -> bool:
        """Settle a pending check, once: False when it was already recorded (a second sweep).
        An automatic action's outcome is also added to the fleet's rolling tally
        (brakes/fleet-tally, entries older than `fleet_window` dropped) in the same
        transaction: the fleet brake reads one document, not every outcome."""
        ref = self._doc("outcomes", outcome_id(audit_id))
        tally_ref = self._doc("brakes", FLEET_TALLY)

        def txn(transaction: Any) -> bool:
            doc = snap_dict(ref.get(transaction=transaction))
            tally = snap_dict(tally_ref.get(transaction=transaction)) if fleet_window else {}
            if not doc or doc.get("status") != PENDING:
                return False
            now = utcnow()
            transaction.set(ref, {**fields, "status": DONE, "checked_at": now}, merge=True)
            if fleet_window is not None and doc.get("automatic"):
                since = now - fleet_window
                kept = [
                    e for e in tally.get("entries") or [] if (as_dt(e.get("at")) or now) > since
                ]
                failed = fields.get("outcome") in ("not_fixed", "relapsed")
                transaction.set(
                    tally_ref,
                    {"entries": [*kept, {"at": now, "failed": failed}], "updated_at": now},
                )
            return True

        done: bool = self._transaction(txn)
        return done

    def relapse_scan(self, now: datetime) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(fixed outcome still inside its relapse window, its incident) for the incidents that
        changed since the previous scan (a cursor in brakes/relapse-cursor): a sweep reads what
        changed, not every outcome of the last 24 h."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        cursor_ref = self._doc("brakes", RELAPSE_CURSOR)
        cursor = snap_dict(self._call(cursor_ref.get))
        since = as_dt(cursor.get("at")) or now - timedelta(days=1)
        changed = self._col("incidents").where(
            filter=FieldFilter("updated_at", ">=", since - CURSOR_OVERLAP)
        )
        incidents: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in changed.stream()]
        )
        out = []
        for inc in incidents:
            if not any(
                isinstance(e, dict) and e.get("status") == "firing"
                for e in (inc.get("runs") or {}).values()
            ):
                continue
            query = self._col("outcomes").where(
                filter=FieldFilter("incident_id", "==", str(inc["id"]))
            )
            for snap in self._call(lambda q=query: list(q.stream())):
                o = {"id": snap.id, **(snap.to_dict() or {})}
                if o.get("outcome") == "fixed" and (as_dt(o.get("relapse_until")) or now) > now:
                    out.append((o, inc))
        self._call(cursor_ref.set, {"at": now, "updated_at": now})
        return out

    def mark_relapsed(self, audit_id: str, fields: dict[str, Any]) -> bool:
        """fixed -> relapsed, once."""
        ref = self._doc("outcomes", outcome_id(audit_id))

        def txn(transaction: Any) -> bool:
            doc = snap_dict(ref.get(transaction=transaction))
            if doc.get("outcome") != "fixed":
                return False
            transaction.set(
                ref,
                {**fields, "outcome": "relapsed", "relapsed_at": utcnow(), "relapse_until": None},
                merge=True,
            )
            return True

        done: bool = self._transaction(txn)
        return done

    def add_outcome_line(self, run_id: str, key: str, line: str) -> None:
        """The `Outcome:` line notify posts in the incident thread (once per key)."""
        now = utcnow()
        self._merge(
            "runs",
            run_id,
            {f"outcome_lines.{key}": line, f"outcome_at.{key}": now, "updated_at": now},
        )

    # ---- brakes -------------------------------------------------------------------------------

    def fleet_tally(self, since: datetime) -> tuple[int, int]:
        """(automatic outcomes, of which not fixed) recorded after `since`."""
        doc = self._get("brakes", FLEET_TALLY) or {}
        recent = [e for e in doc.get("entries") or [] if (as_dt(e.get("at")) or since) > since]
        return len(recent), sum(1 for e in recent if e.get("failed"))

    def get_brake(self, brake: str) -> dict[str, Any] | None:
        return self._get("brakes", brake)

    def tripped_brakes(self) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("brakes").where(filter=FieldFilter("tripped", "==", True))
        docs: list[dict[str, Any]] = self._call(
            lambda: [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
        )
        return docs

    def brake_trips(self, since: datetime) -> int:
        docs = self._call(lambda: [s.to_dict() or {} for s in self._col("brakes").stream()])
        return sum(1 for d in docs for t in d.get("trips") or [] if (as_dt(t) or since) > since)

    def trip_brake(self, brake: str, fields: dict[str, Any], audit: dict[str, Any]) -> bool:
        """Trip (idempotent: False when already tripped); the trip is audited in the same
        transaction (shared.ledger.guardrails' audit/ collection)."""
        ref = self._doc("brakes", brake)

        def txn(transaction: Any) -> bool:
            doc = snap_dict(ref.get(transaction=transaction))
            if doc.get("tripped"):
                return False
            now = utcnow()
            trips = [t for t in doc.get("trips") or [] if isinstance(t, datetime)][-20:]
            transaction.set(
                ref,
                {
                    **fields,
                    "tripped": True,
                    "tripped_at": now,
                    "trips": [*trips, now],
                    "resumed": None,
                    "updated_at": now,
                },
                merge=True,
            )
            audit_ref = self._col("audit").document()
            transaction.set(
                audit_ref, {"at": now, "updated_at": now, "outcome": "brake_tripped", **audit}
            )
            return True

        done: bool = self._transaction(txn)
        return done

    def resume_brake(self, brake: str, who: dict[str, Any], audit: dict[str, Any]) -> bool:
        """A person resumes: automatic writes may happen again (audited); False if not tripped.
        Outcomes recorded before the resume no longer count towards the next trip."""
        ref = self._doc("brakes", brake)

        def txn(transaction: Any) -> bool:
            doc = snap_dict(ref.get(transaction=transaction))
            if not doc.get("tripped"):
                return False
            now = utcnow()
            transaction.set(
                ref,
                {
                    "tripped": False,
                    "resumed": {**who, "at": now},
                    "resumed_at": now,
                    "updated_at": now,
                },
                merge=True,
            )
            audit_ref = self._col("audit").document()
            transaction.set(
                audit_ref,
                {
                    "at": now,
                    "updated_at": now,
                    "outcome": "brake_resumed",
                    "actor": str(who.get("by_name") or who.get("by") or "a person"),
                    "brake": brake,
                    **audit,
                },
            )
            return True

        done: bool = self._transaction(txn)
        return done


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else "?"

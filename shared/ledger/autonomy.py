"""Earned autonomy per (alert type, action, workload): autonomy/{id}.

  alert_type, action, workload (cluster|namespace|kind|name), workload_class, state (mode,
  streak, fixed, not_fixed, relapsed, cleared_anyway), last_outcome, updated_at, applied (the
  outcome ids already folded in: each outcome counts once)

The transitions are the pure `shared.autonomy.step`; this part only applies it in a
transaction and audits every change of mode (audit/ — the same trail as cluster writes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.autonomy import AutonomyState, ModeChange, OutcomeKind, step
from shared.ledger.base import LedgerBase, snap_dict
from shared.model import utcnow

COLLECTION = "autonomy"
# Outcome ids remembered per document (idempotency of redelivered outcome records).
APPLIED_KEEP = 50


def autonomy_key(alert_type: str, action: str, workload: str) -> str:
    return f"{alert_type}|{action}|{workload}"


def autonomy_doc_id(key: str) -> str:
    return "a" + hashlib.sha256(key.encode()).hexdigest()[:23]


@dataclass(frozen=True)
class AutonomyUpdate:
    state: AutonomyState
    change: ModeChange | None
    counted: bool  # False: this outcome id was already folded in
    audit_id: str = ""


class AutonomyLedger(LedgerBase):
    def autonomy_state(self, alert_type: str, action: str, workload: str) -> AutonomyState | None:
        doc = self._get(COLLECTION, autonomy_doc_id(autonomy_key(alert_type, action, workload)))
        return AutonomyState.from_dict(doc.get("state")) if doc else None

    def record_autonomy_outcome(
        self,
        *,
        alert_type: str,
        action: str,
        workload: str,
        workload_class: str,
        outcome: OutcomeKind,
        outcome_id: str,
        approved: bool,
        promote_after: int,
        actor: str = "alertloop",
    ) -> AutonomyUpdate:
        """Fold one outcome into the record, once per `outcome_id`; audit a change of mode."""
        key = autonomy_key(alert_type, action, workload)
        ref = self._doc(COLLECTION, autonomy_doc_id(key))

        def txn(transaction: Any) -> AutonomyUpdate:
            current = snap_dict(ref.get(transaction=transaction))
            state = AutonomyState.from_dict(current.get("state"))
            applied = [str(x) for x in current.get("applied") or []]
            if outcome_id in applied:
                return AutonomyUpdate(state, None, counted=False)
            new, change = step(state, outcome, approved=approved, promote_after=promote_after)
            transaction.set(
                ref,
                {
                    "alert_type": alert_type,
                    "action": action,
                    "workload": workload,
                    "workload_class": workload_class,
                    "state": new.as_dict(),
                    "last_outcome": outcome,
                    "updated_at": utcnow(),
                    "applied": [*applied, outcome_id][-APPLIED_KEEP:],
                },
            )
            return AutonomyUpdate(new, change, counted=True)

        result: AutonomyUpdate = self._transaction(txn)
        if result.change is None:
            return result
        audit_id = self._audit_record(
            {
                "actor": actor,
                "identity": actor,
                "action": "autonomy_mode",
                "target": workload,
                "alert_type": alert_type,
                "before": {"mode": result.change.before, "for_action": action},
                "after": {"mode": result.change.after, "for_action": action},
                "outcome": "changed",
                "reason": result.change.reason,
                "guard": "",
                "dry_run": False,
                "outcome_id": outcome_id,
            }
        )
        return AutonomyUpdate(result.state, result.change, True, audit_id)

    def autonomy_records(self, limit: int = 200) -> list[dict[str, Any]]:
        """Every action's record (health, console), newest first."""
        docs = self._call(lambda: list(self._col(COLLECTION).limit(limit).stream()))
        out = [d.to_dict() or {} for d in docs]
        out.sort(key=lambda r: str(r.get("updated_at") or ""), reverse=True)
        return [{k: v for k, v in r.items() if k != "applied"} for r in out]

    def _audit_record(self, record: dict[str, Any]) -> str:
        now = utcnow()
        ref = self._col("audit").document()
        self._call(ref.set, {"at": now, "updated_at": now, **record})
        return str(ref.id)

"""Remediation's Firestore records, through the run ledger's client (collections prefixed by
ALERTLOOP_COLLECTION_PREFIX):

  audit/{auto id}        one per action, proposal, dry-run and refusal:
                         at, actor, identity, run_id, alert_type, action, target, before, after,
                         dry_run, outcome (in_progress|applied|failed|conflict|refused|dry_run|
                         proposed), reason, guard, patch, verification, updated_at
  approvals/{id}         proposals a later approve function binds an approval to:
                         run_id, alert_type, action, target, kind, namespace, name,
                         from_revision, to_revision, from_images, to_images, ..., created_at,
                         expires_at, status "proposed", proposed_by, audit_id

Locks, attempts and the rate-limit window live in `guardrails` (the one module enforcing them).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.envelope import utcnow
from shared.ledger import Ledger, LedgerError


def _wrap(exc: Exception) -> LedgerError:
    return LedgerError(f"Firestore: {exc}")


class Recorder:
    """Writes the audit trail and proposals for one run."""

    def __init__(self, ledger: Ledger, identity: str, run_id: str, alert_type: str) -> None:
        self.ledger = ledger
        self.identity = identity
        self.run_id = run_id
        self.alert_type = alert_type

    @property
    def actor(self) -> str:
        return f"{self.identity} (run {self.run_id})"

    def audit(
        self,
        *,
        action: str,
        target: str,
        outcome: str,
        reason: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        dry_run: bool = False,
        guard: str = "",
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A new audit record; returns its id. Raises LedgerError when Firestore fails."""
        from google.api_core import exceptions as gexc

        now = utcnow()
        doc: dict[str, Any] = {
            "at": now,
            "actor": self.actor,
            "identity": self.identity,
            "run_id": self.run_id,
            "alert_type": self.alert_type,
            "action": action,
            "target": target,
            "before": before or {},
            "after": after or {},
            "dry_run": dry_run,
            "outcome": outcome,
            "reason": reason,
            "guard": guard,
            "updated_at": now,
            **(extra or {}),
        }
        try:
            ref = self.ledger._col("audit").document()
            ref.set(doc)
        except gexc.GoogleAPIError as exc:
            raise _wrap(exc) from exc
        return str(ref.id)

    def update_audit(self, audit_id: str, fields: dict[str, Any]) -> None:
        from google.api_core import exceptions as gexc

        try:
            self.ledger._col("audit").document(audit_id).set(
                {**fields, "updated_at": utcnow()}, merge=True
            )
        except gexc.GoogleAPIError as exc:
            raise _wrap(exc) from exc

    def propose(
        self,
        *,
        action: str,
        target: dict[str, str],
        target_str: str,
        details: dict[str, Any],
        ttl: timedelta,
        now: datetime | None = None,
    ) -> tuple[str, dict[str, Any], bool]:
        """Record a proposal once per (run, target, action, details): (id, doc, created)."""
        key = "|".join(
            [
                self.run_id,
                action,
                target_str,
                str(details.get("from_revision", details.get("from", ""))),
                str(details.get("to_revision", details.get("to", ""))),
            ]
        )
        approval_id = hashlib.sha256(key.encode()).hexdigest()[:24]
        ref = self.ledger._col("approvals").document(approval_id)
        created_at = now or utcnow()
        doc = {
            "id": approval_id,
            "run_id": self.run_id,
            "alert_type": self.alert_type,
            "action": action,
            "target": target_str,
            **target,
            **details,
            "status": "proposed",
            "created_at": created_at,
            "expires_at": created_at + ttl,
            "proposed_by": self.actor,
        }

        def txn(transaction: Any) -> tuple[dict[str, Any], bool]:
            snap = ref.get(transaction=transaction)
            if snap.exists:
                return snap.to_dict() or {}, False
            transaction.set(ref, doc)
            return doc, True

        stored, created = self.ledger._transaction(txn)
        return approval_id, stored, created

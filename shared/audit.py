"""The audit trail, the domain side: what an audit record says, and building and settling the
records of one run. Storage is the ledger's (shared.ledger: `audit`, `update_audit`,
`get_audit`, `audit_for_run`); approval, interaction, rollback and remediation all write
through here.

audit/{id}        one per cluster write (created with the guardrail reservation in the same
                  transaction, shared.ledger.guardrails, then settled: applied, not_applied,
                  unknown, verification, approval), and one per refusal, dry-run, proposal and
                  human decision (`Recorder.audit`). Fields: at, actor, identity, run_id,
                  incident_id, alert_type, action, target, before, after, dry_run, outcome,
                  reason, guard, …
approvals/{id}    proposals a later approve function binds an approval to (`Recorder.propose`)
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.ledger import Ledger
from shared.model import utcnow


class Recorder:
    """Writes the audit trail and proposals for one run."""

    def __init__(
        self, ledger: Ledger, identity: str, run_id: str, alert_type: str, incident_id: str = ""
    ) -> None:
        self.ledger = ledger
        self.identity = identity
        self.run_id = run_id
        self.alert_type = alert_type
        self.incident_id = incident_id

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
        return self.ledger.audit(
            {
                "actor": self.actor,
                "identity": self.identity,
                "run_id": self.run_id,
                "incident_id": self.incident_id,
                "alert_type": self.alert_type,
                "action": action,
                "target": target,
                "before": before or {},
                "after": after or {},
                "dry_run": dry_run,
                "outcome": outcome,
                "reason": reason,
                "guard": guard,
                **(extra or {}),
            }
        )

    def update_audit(self, audit_id: str, fields: dict[str, Any]) -> None:
        self.ledger.update_audit(audit_id, fields)

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
        created_at = now or utcnow()
        doc = {
            "id": approval_id,
            "run_id": self.run_id,
            "incident_id": self.incident_id,
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
        stored, created = self.ledger.propose(approval_id, doc)
        return approval_id, stored, created

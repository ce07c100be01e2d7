"""Rollback proposals and their single-use approvals: approvals/{id}.

proposed --approve--> approved --rollback claims--> executing --> executed|refused|failed|dry_run
proposed --reject---> rejected        (an expired proposal is marked expired when clicked)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shared.ledger.base import LedgerBase, snap_dict
from shared.model import utcnow

PROPOSED = "proposed"
DecideResult = Literal["ok", "status", "expired"]


class ApprovalsLedger(LedgerBase):
    def propose(self, approval_id: str, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the proposal once: (stored document, created)."""
        ref = self._doc("approvals", approval_id)

        def txn(transaction: Any) -> tuple[dict[str, Any], bool]:
            snap = ref.get(transaction=transaction)
            if snap.exists:
                return snap.to_dict() or {}, False
            transaction.set(ref, doc)
            return doc, True

        result: tuple[dict[str, Any], bool] = self._transaction(txn)
        return result

    def get_approval(self, approval_id: str) -> dict[str, Any] | None:
        return self._get("approvals", approval_id)

    def decide_approval(
        self, approval_id: str, status: str, fields: dict[str, Any], now: datetime | None = None
    ) -> tuple[DecideResult, dict[str, Any]]:
        """proposed -> status (approved|rejected), once; refused when no longer proposed or
        expired (an expired proposal is marked so)."""
        ref = self._doc("approvals", approval_id)

        def txn(transaction: Any) -> tuple[DecideResult, dict[str, Any]]:
            current = snap_dict(ref.get(transaction=transaction))
            at = now or utcnow()
            if current.get("status") != PROPOSED:
                return "status", current
            expires = current.get("expires_at")
            if not isinstance(expires, datetime) or expires <= at:
                transaction.update(ref, {"status": "expired", "expired_seen_at": at})
                return "expired", current
            transaction.update(ref, {"status": status, **fields})
            return "ok", {**current, "status": status, **fields}

        result: tuple[DecideResult, dict[str, Any]] = self._transaction(txn)
        return result

    def revert_approval(self, approval_id: str) -> None:
        """An approval that could not be queued goes back to proposed (the button works again)."""
        ref = self._doc("approvals", approval_id)

        def txn(transaction: Any) -> None:
            doc = snap_dict(ref.get(transaction=transaction))
            if doc.get("status") == "approved":
                transaction.update(
                    ref, {"status": PROPOSED, "approved_by": "", "publish_failed_at": utcnow()}
                )

        self._transaction(txn)

    def claim_approval(self, approval_id: str, executor: str) -> bool:
        """approved -> executing, once: a redelivery finds it no longer approved."""
        ref = self._doc("approvals", approval_id)

        def txn(transaction: Any) -> bool:
            doc = snap_dict(ref.get(transaction=transaction))
            if doc.get("status") != "approved":
                return False
            transaction.update(
                ref, {"status": "executing", "executing_at": utcnow(), "executor": executor}
            )
            return True

        claimed: bool = self._transaction(txn)
        return claimed

    def set_approval(self, approval_id: str, fields: dict[str, Any]) -> None:
        self._call(self._doc("approvals", approval_id).set, fields, merge=True)

"""Poison messages set aside: deadletters/{message id} (stage, error, raw, at, reason)."""

from __future__ import annotations

from typing import Any

from shared.ledger.base import LedgerBase
from shared.model import utcnow


class DeadLettersLedger(LedgerBase):
    def store_poison(self, message_id: str, record: dict[str, Any]) -> None:
        """Keyed by the Pub/Sub message id: storing the same message twice is a no-op."""
        doc_id = message_id or utcnow().strftime("%Y%m%dT%H%M%S%f")
        self._call(
            self._doc("deadletters", doc_id).set,
            {
                "stage": record.get("stage", ""),
                "error": record.get("error", ""),
                "raw": record.get("raw", ""),
                "at": utcnow(),
                "reason": record.get("reason", ""),
            },
        )

    def poison_messages(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        docs = self._call(lambda: list(self._col("deadletters").limit(limit).stream()))
        return [(d.id, d.to_dict() or {}) for d in docs]

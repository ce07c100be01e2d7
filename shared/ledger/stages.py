"""Per-(run, stage) idempotency records and short leases.

idempotency/{run_id}:{stage}  in_progress (expiring) | completed | failed; attempts; forwarded
leases/{name}                 short mutual-exclusion leases (notify's per-incident Slack lock)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from shared.ledger.base import LedgerBase, as_dt, snap_dict
from shared.ledger.runs import completed_record
from shared.model import utcnow

BeginOutcome = Literal["started", "completed", "in_progress"]


@dataclass
class Claim:
    outcome: BeginOutcome
    attempts: int
    record: dict[str, Any]


class StagesLedger(LedgerBase):
    def begin(self, run_id: str, key: str, ttl_seconds: int, force: bool = False) -> Claim:
        """Claim (run, key). completed -> skip; in progress and not expired -> retry later."""
        ref = self._doc("idempotency", f"{run_id}:{key}")

        def txn(transaction: Any) -> Claim:
            rec = snap_dict(ref.get(transaction=transaction))
            now = utcnow()
            state = rec.get("state")
            expires = as_dt(rec.get("expires_at"))
            if state == "completed" and not force:
                return Claim("completed", int(rec.get("attempts", 0)), rec)
            if state == "in_progress" and expires and expires > now and not force:
                return Claim("in_progress", int(rec.get("attempts", 0)), rec)
            attempts = int(rec.get("attempts", 0)) + 1
            new = {
                "run_id": run_id,
                "key": key,
                "state": "in_progress",
                "attempts": attempts,
                "started_at": now,
                "expires_at": now + timedelta(seconds=ttl_seconds),
            }
            transaction.set(ref, new)
            return Claim("started", attempts, new)

        claim: Claim = self._transaction(txn)
        return claim

    def complete(self, run_id: str, key: str, result: dict[str, Any] | None = None) -> None:
        self._call(
            self._doc("idempotency", f"{run_id}:{key}").set,
            completed_record(result or {}, utcnow()),
            merge=True,
        )

    def mark(self, run_id: str, key: str, fields: dict[str, Any]) -> None:
        self._call(self._doc("idempotency", f"{run_id}:{key}").set, fields, merge=True)

    def fail(self, run_id: str, key: str, error: str) -> None:
        """Release a claim after a crash so the retry may start again (attempts are kept)."""
        now = utcnow()
        self.mark(
            run_id,
            key,
            {"state": "failed", "error": error[:2000], "finished_at": now, "expires_at": now},
        )

    def idempotency_record(self, run_id: str, key: str) -> dict[str, Any] | None:
        return self._get("idempotency", f"{run_id}:{key}")

    # ---- leases -------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: int) -> bool:
        ref = self._doc("leases", name)

        def txn(transaction: Any) -> bool:
            rec = snap_dict(ref.get(transaction=transaction))
            now = utcnow()
            expires = as_dt(rec.get("expires_at"))
            if rec and rec.get("holder") != holder and expires and expires > now:
                return False
            transaction.set(
                ref, {"holder": holder, "expires_at": now + timedelta(seconds=ttl_seconds)}
            )
            return True

        acquired: bool = self._transaction(txn)
        return acquired

    def release_lease(self, name: str, holder: str) -> None:
        ref = self._doc("leases", name)
        snap = self._call(ref.get)
        if snap.exists and (snap.to_dict() or {}).get("holder") == holder:
            self._call(ref.delete)

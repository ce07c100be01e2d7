"""The run ledger on Firestore: runs, per-(run, stage) idempotency records, and leases.

Collections (prefixed by ALERTLOOP_COLLECTION_PREFIX):
  runs/{run_id}                 state, alert, plan, findings by stage, Slack ts, timings, outcome
  idempotency/{run_id}:{key}    in_progress | completed | failed, attempts, expires_at (TTL field)
  leases/{name}                 short mutual-exclusion leases (notify's per-run Slack lock)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.config import Settings, settings
from shared.envelope import Envelope, Finding, utcnow

RegisterOutcome = Literal["accepted", "duplicate", "resolved", "redispatch"]
BeginOutcome = Literal["started", "completed", "in_progress"]

# How long one ingest instance holds the right to publish a run's messages; a crash mid-publish
# releases it by expiry, a failed publish releases it at once.
DISPATCH_CLAIM = timedelta(seconds=30)

# Completed idempotency records are kept this long (a Firestore TTL policy deletes them after).
COMPLETED_RETENTION = timedelta(days=7)

# Run states, in the order the parent Slack message shows them.
STAGE_STATE = {
    "investigate": "investigated",
    "remediate": "remediated",
    "budget": "analysed",
}


class LedgerError(RuntimeError):
    """Firestore could not be reached or refused the write; the caller should retry."""


@dataclass
class Claim:
    outcome: BeginOutcome
    attempts: int
    record: dict[str, Any]


class Ledger:
    def __init__(self, cfg: Settings | None = None, client: Any = None) -> None:
        self._cfg = cfg
        self._client = client

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import firestore

            self._client = firestore.Client(
                project=self.cfg.project, database=self.cfg.firestore_database
            )
        return self._client

    def _col(self, name: str) -> Any:
        return self.client.collection(f"{self.cfg.collection_prefix}{name}")

    def _transaction(self, fn: Any, *args: Any, attempts: int = 10) -> Any:
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        try:
            transaction = self.client.transaction(max_attempts=attempts)
            return firestore.transactional(fn)(transaction, *args)
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc
        except ValueError as exc:
            # The client gives up on a contended transaction with a bare ValueError.
            if "Failed to commit transaction" not in str(exc):
                raise
            raise LedgerError(f"Firestore transaction contended: {exc}") from exc

    # ---- runs -------------------------------------------------------------------------------

    def register_alert(self, env: Envelope) -> RegisterOutcome:
        """Record an incoming alert. Idempotent: HA duplicates and retries map to one run."""
        ref = self._col("runs").document(env.run_id)
        fp_ref = self._col("fingerprints").document(env.alert.fingerprint)
        alert = env.alert
        holddown = timedelta(minutes=self.cfg.flap_holddown_minutes)

        def txn(transaction: Any) -> RegisterOutcome:
            # Firestore transactions read everything before they write.
            snap = ref.get(transaction=transaction)
            fp_snap = fp_ref.get(transaction=transaction)
            fp = (fp_snap.to_dict() or {}) if fp_snap.exists else {}
            now = utcnow()
            if not snap.exists:
                doc = _new_run(env, now)
                if alert.status == "firing":
                    resolved_at = _as_dt(fp.get("resolved_at"))
                    if (
                        fp.get("state") == "resolved"
                        and resolved_at
                        and (now - resolved_at <= holddown)
                    ):
                        # Fired again soon after resolving: flapping, reopen the same thread.
                        doc["reopens"] = fp.get("last_run_id")
                        doc["flap_count"] = int(fp.get("flap_count", 0)) + 1
                    transaction.set(
                        fp_ref,
                        {
                            "last_run_id": env.run_id,
                            "state": "firing",
                            "flap_count": doc.get("flap_count", 0),
                            "updated_at": now,
                        },
                    )
                transaction.set(ref, doc)
                return "resolved" if alert.status == "resolved" else "accepted"
            run = snap.to_dict() or {}
            if alert.status == "resolved":
                if run.get("state") == "resolved":
                    # Re-send the resolution if its earlier publish failed (and nobody else is).
                    if run.get("resolved_dispatched") or _claimed(run, "resolved_claim", now):
                        return "duplicate"
                    transaction.update(ref, {"resolved_claim": now + DISPATCH_CLAIM})
                    return "resolved"
                ends = alert.ends_at or now
                starts = _as_dt(run.get("starts_at")) or alert.starts_at
                transaction.update(
                    ref,
                    {
                        "state": "resolved",
                        "resolved_at": ends,
                        "mttr_seconds": max(0.0, (ends - starts).total_seconds()),
                        "resolved_dispatched": False,
                        "resolved_claim": now + DISPATCH_CLAIM,
                        "updated_at": now,
                    },
                )
                if fp.get("last_run_id") == env.run_id:
                    transaction.set(
                        fp_ref,
                        {"state": "resolved", "resolved_at": ends, "updated_at": now},
                        merge=True,
                    )
                return "resolved"
            if run.get("state") == "resolved":
                # Same fingerprint and startsAt firing again after resolving: Alertmanager
                # resends; the run stays resolved.
                return "duplicate"
            if run.get("dispatched") or _claimed(run, "dispatch_claim", now):
                return "duplicate"  # done, or being published right now by another request
            transaction.update(ref, {"dispatch_claim": now + DISPATCH_CLAIM})
            return "redispatch"

        # Few attempts: the client backs off exponentially between them, and contention here
        # means a duplicate is already being registered — a quick 503 (sender retries) beats
        # holding the webhook for tens of seconds.
        outcome: RegisterOutcome = self._transaction(txn, attempts=3)
        return outcome

    def release_dispatch(self, runs: list[tuple[str, bool]]) -> None:
        """A publish failed: let the sender's retry dispatch these runs without waiting."""
        from google.api_core import exceptions as gexc

        now = utcnow()
        try:
            batch = self.client.batch()
            for run_id, resolved in runs:
                field = "resolved_claim" if resolved else "dispatch_claim"
                batch.set(self._col("runs").document(run_id), {field: now}, merge=True)
            batch.commit()
        except gexc.GoogleAPIError:
            pass  # the claims expire on their own

    def mark_many_dispatched(self, runs: list[tuple[str, bool]]) -> None:
        """One batched write per 400 runs (storms), instead of a round trip per run."""
        from google.api_core import exceptions as gexc

        try:
            for i in range(0, len(runs), 400):
                batch = self.client.batch()
                for run_id, resolved in runs[i : i + 400]:
                    field = "resolved_dispatched" if resolved else "dispatched"
                    batch.set(self._col("runs").document(run_id), {field: True}, merge=True)
                batch.commit()
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc

    def record_group(self, group_id: str, snapshot: dict[str, Any]) -> None:
        """The latest view of an alert-storm group, as Alertmanager last sent it."""
        from google.api_core import exceptions as gexc

        try:
            self._col("groups").document(group_id).set(
                {**snapshot, "updated_at": utcnow()}, merge=True
            )
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        snap = self._col("groups").document(group_id).get()
        return snap.to_dict() if snap.exists else None

    def update_group(self, group_id: str, fields: dict[str, Any]) -> None:
        self._col("groups").document(group_id).set(_nest(fields), merge=True)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        snap = self._col("runs").document(run_id).get()
        return snap.to_dict() if snap.exists else None

    def runs_since(self, since: datetime) -> list[dict[str, Any]]:
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("runs").where(filter=FieldFilter("received_at", ">=", since))
        try:
            # Bounded: a person is waiting on this (alertloop health), not a retrying pipeline.
            return [s.to_dict() for s in query.stream(retry=Retry(timeout=20), timeout=20)]
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc

    def record_finding(self, run_id: str, finding: Finding, complete: bool = False) -> None:
        """Put a stage's finding on its run; with `complete`, close the stage's claim in the
        same transaction. Atomic, so a resolution landing meanwhile is never overwritten and a
        crash cannot leave a recorded finding behind an open claim."""
        data = finding.model_dump(mode="json")
        run_ref = self._col("runs").document(run_id)
        claim_ref = self._col("idempotency").document(f"{run_id}:{finding.stage}")
        state = STAGE_STATE.get(finding.stage)

        def txn(transaction: Any) -> None:
            snap = run_ref.get(transaction=transaction)
            run = (snap.to_dict() or {}) if snap.exists else {}
            now = utcnow()
            update: dict[str, Any] = {
                f"findings.{finding.stage}": data,
                f"timings.{finding.stage}_seconds": finding.duration_seconds,
                "updated_at": now,
            }
            if state and run.get("state") != "resolved":
                update["state"] = state
            transaction.set(run_ref, _nest(update), merge=True)
            if complete:
                transaction.set(claim_ref, _completed(data, now), merge=True)

        self._transaction(txn)

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        self._update_run(run_id, fields)

    def _update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        from google.api_core import exceptions as gexc

        try:
            self._col("runs").document(run_id).set(_nest(fields), merge=True)
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc

    # ---- idempotency --------------------------------------------------------------------------

    def begin(self, run_id: str, key: str, ttl_seconds: int, force: bool = False) -> Claim:
        """Claim (run, key). completed -> skip; in progress and not expired -> retry later."""
        ref = self._col("idempotency").document(f"{run_id}:{key}")

        def txn(transaction: Any) -> Claim:
            snap = ref.get(transaction=transaction)
            now = utcnow()
            rec = snap.to_dict() if snap.exists else {}
            state = rec.get("state")
            expires = _as_dt(rec.get("expires_at"))
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
        self._col("idempotency").document(f"{run_id}:{key}").set(
            _completed(result or {}, utcnow()), merge=True
        )

    def mark(self, run_id: str, key: str, fields: dict[str, Any]) -> None:
        self._col("idempotency").document(f"{run_id}:{key}").set(fields, merge=True)

    def fail(self, run_id: str, key: str, error: str) -> None:
        """Release a claim after a crash so the retry may start again (attempts are kept)."""
        now = utcnow()
        self._col("idempotency").document(f"{run_id}:{key}").set(
            {"state": "failed", "error": error[:2000], "finished_at": now, "expires_at": now},
            merge=True,
        )

    def idempotency_record(self, run_id: str, key: str) -> dict[str, Any] | None:
        snap = self._col("idempotency").document(f"{run_id}:{key}").get()
        return snap.to_dict() if snap.exists else None

    # ---- leases -------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: int) -> bool:
        ref = self._col("leases").document(name)

        def txn(transaction: Any) -> bool:
            snap = ref.get(transaction=transaction)
            now = utcnow()
            if snap.exists:
                rec = snap.to_dict() or {}
                expires = _as_dt(rec.get("expires_at"))
                if rec.get("holder") != holder and expires and expires > now:
                    return False
            transaction.set(
                ref, {"holder": holder, "expires_at": now + timedelta(seconds=ttl_seconds)}
            )
            return True

        acquired: bool = self._transaction(txn)
        return acquired

    def release_lease(self, name: str, holder: str) -> None:
        ref = self._col("leases").document(name)
        snap = ref.get()
        if snap.exists and (snap.to_dict() or {}).get("holder") == holder:
            ref.delete()


def _new_run(env: Envelope, now: datetime) -> dict[str, Any]:
    alert = env.alert
    resolved = alert.status == "resolved"
    return {
        "run_id": env.run_id,
        "alert_type": env.alert_type,
        "alert_name": alert.name,
        "severity": alert.severity,
        "alert": alert.model_dump(mode="json"),
        "source": env.source,
        "plan": env.plan,
        "action": env.action,
        "dry_run": env.dry_run,
        "group_key": alert.group_key,
        "digest_group": env.digest_group,
        "state": "resolved" if resolved else "firing",
        "starts_at": alert.starts_at,
        "received_at": env.received_at,
        "resolved_at": (alert.ends_at or now) if resolved else None,
        "dispatched": False,
        "dispatch_claim": now + DISPATCH_CLAIM,
        "resolved_dispatched": False,
        "resolved_claim": (now + DISPATCH_CLAIM) if resolved else None,
        "findings": {},
        "timings": {},
        "slack": {},
        "updated_at": now,
    }


def _completed(result: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "state": "completed",
        "finished_at": now,
        "expires_at": now + COMPLETED_RETENTION,
        "result": result,
    }


def _claimed(run: dict[str, Any], field: str, now: datetime) -> bool:
    until = _as_dt(run.get(field))
    return until is not None and until > now


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """Turn {"a.b": 1} into {"a": {"b": 1}} so set(merge=True) merges nested maps."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        parts = key.split(".")
        cur = out
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = value
    return out


def _as_dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None

"""What people did from Slack, on the incident they did it to.

interactions/{id}      one per click: in_progress (expiring) -> completed, so a redelivered
                       message is acted on once (a second *click* is a new interaction)
incidents/{id}         acknowledged {by, by_name, at}; hands_off {by, by_name, at} (Take over;
                       None = automation allowed); silences {<id>: {id, matchers, by, at,
                       ends_at, status, source}}; verdict {value, by, by_name, at}
runs/{id}              verdict (mirrored from the incident: `alertloop tune` and loop health
                       read it per run); approval_decision {id, outcome, by, at}

Each change is made in a transaction that reads the incident first, so two people clicking at
once get one change and one "already done".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.ledger.base import LedgerBase, as_dt, snap_dict
from shared.ledger.schema import CheckedWrites
from shared.model import utcnow

ClaimOutcome = Literal["started", "completed", "in_progress"]
Change = Literal["changed", "unchanged", "unknown"]
COMPLETED_RETENTION = timedelta(days=7)
# Firestore allows 500 writes per batch; runs of an incident are mirrored in chunks.
_BATCH = 400


@dataclass
class InteractionClaim:
    outcome: ClaimOutcome
    attempts: int
    record: dict[str, Any]


@dataclass
class HumanChange:
    outcome: Change
    incident: dict[str, Any]  # the incident as it is after the change (or as it was found)
    previous: Any = None  # the field's value before


class InteractionsLedger(LedgerBase):
    # ---- one execution per click ------------------------------------------------------------

    def claim_interaction(
        self, interaction_id: str, fields: dict[str, Any], ttl_seconds: int
    ) -> InteractionClaim:
        ref = self._doc("interactions", interaction_id)

        def txn(transaction: Any) -> InteractionClaim:
            rec = snap_dict(ref.get(transaction=transaction))
            now = utcnow()
            expires = as_dt(rec.get("lease_until"))
            if rec.get("state") == "completed":
                return InteractionClaim("completed", int(rec.get("attempts", 0)), rec)
            if rec.get("state") == "in_progress" and expires is not None and expires > now:
                return InteractionClaim("in_progress", int(rec.get("attempts", 0)), rec)
            attempts = int(rec.get("attempts", 0)) + 1
            new = {
                **fields,
                "id": interaction_id,
                "state": "in_progress",
                "attempts": attempts,
                "started_at": now,
                "lease_until": now + timedelta(seconds=ttl_seconds),
                "expires_at": now + COMPLETED_RETENTION,
            }
            transaction.set(ref, new)
            return InteractionClaim("started", attempts, new)

        claim: InteractionClaim = self._transaction(txn)
        return claim

    def finish_interaction(self, interaction_id: str, result: dict[str, Any]) -> None:
        now = utcnow()
        self._merge(
            "interactions",
            interaction_id,
            {
                "state": "completed",
                "finished_at": now,
                "expires_at": now + COMPLETED_RETENTION,
                "result": result,
            },
        )

    def release_interaction(self, interaction_id: str, error: str) -> None:
        """A crash: let the redelivery start again (attempts are kept)."""
        self._merge(
            "interactions",
            interaction_id,
            {"state": "failed", "error": error[:2000], "lease_until": utcnow()},
        )

    def get_interaction(self, interaction_id: str) -> dict[str, Any] | None:
        return self._get("interactions", interaction_id)

    # ---- the incident's human state ------------------------------------------------------------

    def _change_incident(
        self, incident_id: str, field: str, value: Any, *, only_if_unset: bool
    ) -> HumanChange:
        """Set `field` (None clears it). With `only_if_unset`, an existing value wins."""
        ref = self._doc("incidents", incident_id)

        def txn(transaction: Any) -> HumanChange:
            inc = snap_dict(ref.get(transaction=transaction))
            if not inc:
                return HumanChange("unknown", {})
            previous = inc.get(field)
            if only_if_unset and previous:
                return HumanChange("unchanged", inc, previous)
            if not only_if_unset and _same(previous, value):
                return HumanChange("unchanged", inc, previous)
            transaction.update(ref, {field: value, "updated_at": utcnow()})
            return HumanChange("changed", {**inc, field: value}, previous)

        change: HumanChange = self._transaction(txn)
        return change

    def acknowledge_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange:
        """The first acknowledgement stands (a second click is told who owns it)."""
        return self._change_incident(incident_id, "acknowledged", who, only_if_unset=True)

    def take_over_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange:
        """hands_off: every later write for the incident is refused by the guardrail re-check
        (shared.ledger.guardrails), including writes already queued. It holds for the workload
        too (workloads/, whatever incident its next alert opens) until resumed or
        `who["expires_at"]`."""
        change = self._change_incident(incident_id, "hands_off", who, only_if_unset=True)
        self._workload_hands_off(change, who)
        return change

    def resume_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange:
        change = self._change_incident(incident_id, "hands_off", None, only_if_unset=False)
        if change.outcome == "changed":
            self._merge("incidents", incident_id, {"resumed": who})
        self._workload_hands_off(change, None)
        return change

    def _workload_hands_off(self, change: HumanChange, value: dict[str, Any] | None) -> None:
        from shared.ledger.correlation import workload_doc_id

        key = str(change.incident.get("workload_key") or "")
        if change.outcome == "changed" and key:
            self._doc("workloads", workload_doc_id(key)).set(
                {"hands_off": value, "updated_at": utcnow()}, merge=True
            )

    def judge_incident(self, incident_id: str, verdict: dict[str, Any]) -> HumanChange:
        """The verdict (changeable), mirrored onto every run of the incident."""
        ref = self._doc("incidents", incident_id)

        def txn(transaction: Any) -> HumanChange:
            inc = snap_dict(ref.get(transaction=transaction))
            if not inc:
                return HumanChange("unknown", {})
            previous = inc.get("verdict") or {}
            if previous.get("value") == verdict.get("value"):
                return HumanChange("unchanged", inc, previous)
            transaction.update(ref, {"verdict": verdict, "updated_at": utcnow()})
            return HumanChange("changed", {**inc, "verdict": verdict}, previous)

        change: HumanChange = self._transaction(txn)
        if change.outcome == "changed":
            self._mirror_to_runs(change.incident, {"verdict": verdict})
        return change

    def _mirror_to_runs(self, incident: dict[str, Any], fields: dict[str, Any]) -> None:
        run_ids = [str(r) for r in incident.get("run_order") or incident.get("runs") or []]
        for start in range(0, len(run_ids), _BATCH):
            batch = CheckedWrites(self.client.batch())
            for run_id in run_ids[start : start + _BATCH]:
                batch.set(self._doc("runs", run_id), fields, merge=True)
            self._call(batch.commit)

    # ---- silences ------------------------------------------------------------------------------

    def add_silences(self, incident_id: str, silences: dict[str, dict[str, Any]]) -> None:
        """Record silences (alertloop's own, or found in Alertmanager by the sweeper)."""
        if silences:
            self._merge(
                "incidents",
                incident_id,
                {
                    **{f"silences.{sid}": doc for sid, doc in silences.items()},
                    "updated_at": utcnow(),
                },
            )

    def set_silence_status(
        self, incident_id: str, silence_ids: list[str], status: str, fields: dict[str, Any]
    ) -> None:
        if not silence_ids:
            return
        update: dict[str, Any] = {"updated_at": utcnow()}
        for sid in silence_ids:
            update[f"silences.{sid}.status"] = status
            for key, value in fields.items():
                update[f"silences.{sid}.{key}"] = value
        self._merge("incidents", incident_id, update)

    # ---- the sweeper's view --------------------------------------------------------------------

    def open_incidents(self, limit: int = 500) -> list[dict[str, Any]]:
        """Incidents still open (a single-field query: no composite index needed)."""
        from google.api_core.retry import Retry
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("incidents").where(filter=FieldFilter("status", "==", "open"))
        docs: list[dict[str, Any]] = self._call(
            lambda: [
                s.to_dict() or {}
                for s in query.limit(limit).stream(retry=Retry(timeout=20), timeout=20)
            ]
        )
        return docs

    def mark_run_silenced(self, run_id: str, silence_ids: list[str], at: datetime) -> None:
        self._merge("runs", run_id, {"silenced_by": silence_ids, "silence_seen_at": at})


def _same(a: Any, b: Any) -> bool:
    if not a and not b:
        return True
    return bool(a == b)


__all__ = ["Change", "HumanChange", "InteractionClaim", "InteractionsLedger"]

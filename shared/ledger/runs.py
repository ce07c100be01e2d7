"""Runs, their fingerprints and incidents: what dispatch records, what every stage loads.

runs/{run_id}          the alert, plan, status (firing|resolved, the truth stages re-check),
                       display state, findings by stage, timings, pending publishes
fingerprints/{fp}      the fingerprint's latest run and incident (flap chains)
incidents/{id}         runs about the same thing that share one Slack thread, guardrail caps
groups/{group_id}      an alert storm's latest snapshot and its Slack digest
workloads/{id}         a workload's latest incident (shared.ledger.correlation)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.ledger.base import LedgerBase, LedgerError, as_dt, nest, snap_dict
from shared.ledger.correlation import joinable, workload_doc_id
from shared.ledger.guardrails import fingerprint_key
from shared.ledger.schema import storable_finding
from shared.messages import GroupSnapshot, IntakeAlert
from shared.model import Finding, utcnow
from shared.run import Run

DispatchOutcome = Literal["accepted", "duplicate", "resolved", "reopened", "redispatch"]

# Run display states, in the order the Slack parent shows them.
STAGE_STATE = {
    "investigate": "investigated",
    "remediate": "remediated",
    "budget": "analysed",
}


@dataclass
class Dispatch:
    """What dispatch must publish for one intake alert (and then clear with `dispatched`)."""

    outcome: DispatchOutcome
    run_id: str
    incident_id: str
    first_stage: str | None = None  # publish a StageMessage to it
    notify: bool = False  # publish a NotifyMessage for the incident
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NewRun:
    """The parts of a new run dispatch decides from the policy (the ledger decides the rest)."""

    alert_type: str
    plan: list[str]
    dry_run: bool
    cluster: str = ""
    routing_problem: str = ""  # why no cluster could be chosen ("" when one was)
    # One incident per workload (shared.ledger.correlation): "" = this alert is not correlated.
    correlation_key: str = ""
    correlation_window: timedelta = timedelta(0)
    # The owning workload as dispatch resolved it (shared.workload.incident); {} for resolves.
    workload: dict[str, str] = field(default_factory=dict)


def incident_id_for(chain_key: str, first_run: str) -> str:
    return "i" + hashlib.sha256(f"{chain_key}|{first_run}".encode()).hexdigest()[:19]


def display_state(findings: dict[str, Any], plan: list[str]) -> str:
    state = "firing"
    for stage in plan:
        if stage in findings and stage in STAGE_STATE:
            state = STAGE_STATE[stage]
    return state


class RunsLedger(LedgerBase):
    # ---- dispatch ---------------------------------------------------------------------------

    def dispatch_alert(self, msg: IntakeAlert, new: NewRun, holddown: timedelta) -> Dispatch:
        """Record one intake alert, idempotently, and say what must be published.

        Ordering is by the time ingest received each message (not by delivery): Pub/Sub may
        deliver a webhook's messages late or twice, and a firing → resolved → firing sequence
        with one startsAt (Alertmanager restoring an alert) must end firing.
        """
        alert = msg.alert
        run_ref = self._doc("runs", msg.run_id)
        fp_key = fingerprint_key({"cluster": new.cluster, "fingerprint": alert.fingerprint})
        fp_ref = self._doc("fingerprints", fp_key)
        storm = bool(msg.group_id)

        def txn(transaction: Any) -> Dispatch:
            run = snap_dict(run_ref.get(transaction=transaction))
            fp = snap_dict(fp_ref.get(transaction=transaction))
            now = utcnow()
            t = msg.received_at
            if not run:
                return self._new_run(transaction, msg, new, fp, fp_ref, fp_key, holddown, now)
            pending = run.get("pending") or {}
            inc_id = str(run.get("incident_id", ""))
            seen_firing = as_dt(run.get("firing_seen_at"))
            seen_resolved = as_dt(run.get("resolved_seen_at"))
            if alert.status == "firing":
                if run.get("status") == "resolved" and (seen_resolved is None or t > seen_resolved):
                    # Un-resolved: Alertmanager restored the alert with its old startsAt.
                    inc_ref = self._doc("incidents", inc_id)
                    inc = snap_dict(inc_ref.get(transaction=transaction))
                    transaction.update(
                        run_ref,
                        {
                            "status": "firing",
                            "state": display_state(run.get("findings") or {}, run.get("plan", [])),
                            "resolved_at": None,
                            "mttr_seconds": None,
                            "resolved_by": None,
                            "reopened": int(run.get("reopened", 0)) + 1,
                            "firing_seen_at": t,
                            "pending.notify": not storm,
                            "updated_at": now,
                        },
                    )
                    self._incident_run_status(transaction, inc_ref, inc, msg.run_id, "firing", now)
                    if fp.get("last_run_id") == msg.run_id:
                        transaction.set(fp_ref, {"status": "firing", "updated_at": now}, merge=True)
                    return Dispatch(
                        "reopened", msg.run_id, inc_id, pending.get("stage"), notify=not storm
                    )
                # A repeat, an HA twin or a redelivery: publish only what is still pending.
                return self._redispatch(run, pending, inc_id)
            # resolved
            if run.get("status") == "resolved" or (seen_firing is not None and t < seen_firing):
                return self._redispatch(run, pending, inc_id)
            inc_ref = self._doc("incidents", inc_id)
            inc = snap_dict(inc_ref.get(transaction=transaction))
            ends = alert.ends_at or now
            starts = as_dt(run.get("starts_at")) or alert.starts_at
            transaction.update(
                run_ref,
                {
                    "status": "resolved",
                    "state": "resolved",
                    "resolved_at": ends,
                    "mttr_seconds": max(0.0, (ends - starts).total_seconds()),
                    "resolved_by": msg.resolved_by or None,
                    "resolved_seen_at": t,
                    "pending.notify": not storm,
                    "updated_at": now,
                },
            )
            self._incident_run_status(transaction, inc_ref, inc, msg.run_id, "resolved", now)
            if fp.get("last_run_id") == msg.run_id:
                transaction.set(
                    fp_ref,
                    {"status": "resolved", "resolved_at": ends, "updated_at": now},
                    merge=True,
                )
            # A stage still pending (a crash before its publish) runs anyway: its evidence is
            # still wanted, and remediation re-checks the status before any write.
            return Dispatch("resolved", msg.run_id, inc_id, pending.get("stage"), notify=not storm)

        result: Dispatch = self._transaction(txn)
        return result

    def _redispatch(self, run: dict[str, Any], pending: dict[str, Any], inc_id: str) -> Dispatch:
        stage = pending.get("stage")
        notify = bool(pending.get("notify"))
        if not stage and not notify:
            return Dispatch("duplicate", str(run["run_id"]), inc_id)
        return Dispatch(
            "redispatch",
            str(run["run_id"]),
            inc_id,
            first_stage=str(stage) if stage else None,
            notify=notify,
        )

    def _new_run(
        self,
        transaction: Any,
        msg: IntakeAlert,
        new: NewRun,
        fp: dict[str, Any],
        fp_ref: Any,
        fp_key: str,
        holddown: timedelta,
        now: datetime,
    ) -> Dispatch:
        alert = msg.alert
        firing = alert.status == "firing"
        storm = bool(msg.group_id)
        # Flap chain: a fingerprint firing again while its incident is open, or soon after it
        # resolved, continues that incident (one thread, one set of guardrail caps).
        resolved_at = as_dt(fp.get("resolved_at"))
        chained = bool(fp.get("incident_id")) and (
            fp.get("status") == "firing"
            or (resolved_at is not None and now - resolved_at <= holddown)
        )
        inc_id = str(fp["incident_id"]) if chained else incident_id_for(fp_key, msg.run_id)
        flapping = chained and fp.get("status") == "resolved"
        inc_ref = self._doc("incidents", inc_id)
        inc = snap_dict(inc_ref.get(transaction=transaction)) if chained else {}
        # Otherwise, another alert about the same workload: join its incident (all reads
        # happen before the first write of the transaction).
        wl_ref = None
        joined = False
        held: dict[str, Any] = {}  # a take-over of the workload that a new incident inherits
        if new.correlation_key and not storm:
            wl_ref = self._doc("workloads", workload_doc_id(new.correlation_key))
            if not chained:
                wl = snap_dict(wl_ref.get(transaction=transaction))
                held = wl.get("hands_off") or {}
                candidate = str(wl.get("incident_id") or "")
                # The same alert firing again is the flap hold-down's call, not correlation's.
                if candidate and candidate != fp.get("incident_id"):
                    cand_ref = self._doc("incidents", candidate)
                    cand = snap_dict(cand_ref.get(transaction=transaction))
                    if joinable(cand, now, new.correlation_window):
                        inc_id, inc_ref, inc, joined = candidate, cand_ref, cand, True
        flaps = int(inc.get("flaps", 0)) + (1 if flapping else 0)
        status = "firing" if firing else "resolved"
        ends = (alert.ends_at or now) if not firing else None
        run_doc = {
            "run_id": msg.run_id,
            "incident_id": inc_id,
            "fingerprint": alert.fingerprint,
            "cluster": new.cluster,
            "routing_problem": new.routing_problem,
            "workload": new.workload,
            "alert_type": new.alert_type,
            "alert_name": alert.name,
            "severity": alert.severity,
            "alert": stored_alert(alert.model_dump(mode="json")),
            "source": msg.source,
            "plan": new.plan if firing else [],
            "action": msg.action,
            "dry_run": new.dry_run,
            "group_key": alert.group_key,
            "digest_group": msg.group_id,
            "status": status,
            "state": status,
            "starts_at": alert.starts_at,
            "received_at": msg.received_at,
            "dispatched_at": now,
            "firing_seen_at": msg.received_at if firing else None,
            "resolved_seen_at": None if firing else msg.received_at,
            "resolved_at": ends,
            "mttr_seconds": (
                max(0.0, (ends - alert.starts_at).total_seconds()) if ends is not None else None
            ),
            "flap_count": flaps if flapping else 0,
            "reopened": 0,
            "pending": {
                "stage": new.plan[0] if firing and new.plan else None,
                "notify": not storm,
            },
            "findings": {},
            "timings": {},
            "updated_at": now,
        }
        transaction.set(self._doc("runs", msg.run_id), run_doc)
        entry = {
            "alert_name": alert.name,
            "alert_type": new.alert_type,
            "severity": alert.severity,
            "status": status,
            "starts_at": alert.starts_at,
            "added_at": now,
        }
        if inc:
            runs = dict(inc.get("runs") or {})
            runs[msg.run_id] = entry
            transaction.update(
                inc_ref,
                {
                    f"runs.{msg.run_id}": entry,
                    "run_order": [*(inc.get("run_order") or []), msg.run_id],
                    "status": _incident_status(runs),
                    "resolved_at": None if _incident_status(runs) == "open" else now,
                    "flaps": flaps,
                    "updated_at": now,
                },
            )
        else:
            transaction.set(
                inc_ref,
                {
                    "incident_id": inc_id,
                    "chain_key": fp_key,
                    "cluster": new.cluster,
                    "namespace": alert.labels.get("namespace", ""),
                    "title": alert.name,
                    "alert_type": new.alert_type,
                    "severity": alert.severity,
                    "status": "open" if firing else "resolved",
                    "opened_at": now,
                    "resolved_at": None if firing else now,
                    "runs": {msg.run_id: entry},
                    "run_order": [msg.run_id],
                    "flaps": 0,
                    "digest_group": msg.group_id,
                    "workload_key": new.correlation_key if wl_ref is not None else "",
                    "slack": {},
                    "updated_at": now,
                    **({"hands_off": held} if _still_held(held, now) else {}),
                },
            )
        if wl_ref is not None:
            transaction.set(
                wl_ref,
                {"incident_id": inc_id, "key": new.correlation_key, "updated_at": now},
                merge=True,
            )
        fp_doc: dict[str, Any] = {
            "last_run_id": msg.run_id,
            "incident_id": inc_id,
            "status": status,
            "updated_at": now,
        }
        if not firing:
            fp_doc["resolved_at"] = ends
        transaction.set(fp_ref, fp_doc, merge=True)
        first = new.plan[0] if firing and new.plan else None
        return Dispatch(
            "accepted" if firing else "resolved",
            msg.run_id,
            inc_id,
            first_stage=first,
            notify=not storm,
            notes=(["flapping: continues its incident"] if flapping else [])
            + (["joined the incident of its workload"] if joined else []),
        )

    def _incident_run_status(
        self,
        transaction: Any,
        inc_ref: Any,
        inc: dict[str, Any],
        run_id: str,
        status: str,
        now: Any,
    ) -> None:
        if not inc:
            return
        runs = dict(inc.get("runs") or {})
        entry = dict(runs.get(run_id) or {})
        entry["status"] = status
        runs[run_id] = entry
        overall = _incident_status(runs)
        transaction.update(
            inc_ref,
            {
                f"runs.{run_id}.status": status,
                "status": overall,
                "resolved_at": now if overall == "resolved" else None,
                "updated_at": now,
            },
        )

    def dispatched(self, run_id: str) -> None:
        """Dispatch's publishes were acknowledged: nothing is pending for this run."""
        self._call(
            self._doc("runs", run_id).update, {"pending.stage": None, "pending.notify": False}
        )

    # ---- storm groups -------------------------------------------------------------------------

    def record_group(self, group_id: str, snapshot: GroupSnapshot, received_at: datetime) -> None:
        """Keep the newest snapshot Alertmanager sent for a storm group."""
        ref = self._doc("groups", group_id)

        def txn(transaction: Any) -> None:
            doc = snap_dict(ref.get(transaction=transaction))
            seen = as_dt(doc.get("received_at"))
            if seen is not None and seen >= received_at:
                return
            data = snapshot.model_dump()
            for key in GROUP_MAPS:  # alert names and workloads are map keys here
                data[key] = _escape_keys(data[key])
            data.update(received_at=received_at, updated_at=utcnow())
            transaction.set(ref, data, merge=True)

        self._transaction(txn)

    def get_group(self, group_id: str) -> dict[str, Any] | None:
        doc = self._get("groups", group_id)
        if doc is not None:
            for key in GROUP_MAPS:
                if isinstance(doc.get(key), dict):
                    doc[key] = _unescape_keys(doc[key])
        return doc

    def update_group(self, group_id: str, fields: dict[str, Any]) -> None:
        self._merge("groups", group_id, fields)

    # ---- runs ---------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._get("runs", run_id)

    def load_run(self, run_id: str) -> Run | None:
        doc = self.get_run(run_id)
        return Run.from_doc(doc) if doc else None

    def get_runs(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        refs = [self._doc("runs", r) for r in run_ids]
        if not refs:
            return {}
        snaps = self._call(lambda: list(self.client.get_all(refs)))
        return {s.id: snap_dict(s) for s in snaps if s.exists}

    def runs_since(self, since: datetime) -> list[dict[str, Any]]:
        from google.api_core.retry import Retry
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("runs").where(filter=FieldFilter("received_at", ">=", since))
        # Bounded: a person is waiting on this (alertloop health), not a retrying pipeline.
        docs: list[dict[str, Any]] = self._call(
            lambda: [s.to_dict() for s in query.stream(retry=Retry(timeout=20), timeout=20)]
        )
        return docs

    def record_finding(
        self, run_id: str, finding: Finding, complete: bool = False, claim_key: str = ""
    ) -> None:
        """Put a stage's finding on its run; with `complete`, close the stage's claim in the
        same transaction. Atomic, so a resolution landing meanwhile is never overwritten and a
        crash cannot leave a recorded finding behind an open claim."""
        data = finding.model_dump(mode="json")
        run_ref = self._doc("runs", run_id)
        claim_ref = self._doc("idempotency", f"{run_id}:{claim_key or finding.stage}")
        state = STAGE_STATE.get(finding.stage)

        def txn(transaction: Any) -> None:
            run = snap_dict(run_ref.get(transaction=transaction))
            if not run:
                raise LedgerError(f"run {run_id} is not in the ledger")
            now = utcnow()
            stored = storable_finding(run_ref.path, run, finding.stage, data)
            update: dict[str, Any] = {
                f"findings.{finding.stage}": stored,
                f"timings.{finding.stage}_seconds": finding.duration_seconds,
                "updated_at": now,
            }
            if state and run.get("status") != "resolved":
                update["state"] = state
            transaction.update(run_ref, update)
            if complete:
                transaction.set(claim_ref, completed_record(stored, now), merge=True)

        self._transaction(txn)

    def record_failure(
        self, run_id: str, stage: str, finding: Finding, attempts: int, replay: str
    ) -> None:
        now = utcnow()
        self._call(
            self._doc("runs", run_id).update,
            {
                "state": "failed",
                f"failures.{stage}": {
                    "error": str(finding.details.get("error", ""))[:2000],
                    "attempts": attempts,
                    "at": now,
                    "replay": replay,
                },
                "findings.deadletter": storable_finding(
                    "", {}, "deadletter", finding.model_dump(mode="json")
                ),
                "updated_at": now,
            },
        )

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None:
        self._merge("runs", run_id, fields)

    # ---- incidents ----------------------------------------------------------------------------

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return self._get("incidents", incident_id)

    def update_incident(self, incident_id: str, fields: dict[str, Any]) -> None:
        self._merge("incidents", incident_id, fields)


# Completed idempotency records are kept this long (a Firestore TTL policy deletes them after).
COMPLETED_RETENTION = timedelta(days=7)


def completed_record(result: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "state": "completed",
        "finished_at": now,
        "expires_at": now + COMPLETED_RETENTION,
        "result": result,
    }


# Firestore refuses map keys like __name__ (reserved); label names may be anything Alertmanager
# sends. Such keys (and keys starting with the escape itself) are stored with a "~" in front.
_RESERVED = re.compile(r"^(__.*__|~.*)$")


GROUP_MAPS = ("by_name", "by_workload")


def _escape_keys(m: dict[str, Any]) -> dict[str, Any]:
    return {("~" + k if _RESERVED.match(k) else k): v for k, v in m.items()}


def _unescape_keys(m: dict[str, Any]) -> dict[str, Any]:
    return {(k[1:] if k.startswith("~") else k): v for k, v in m.items()}


def stored_alert(alert: dict[str, Any]) -> dict[str, Any]:
    out = dict(alert)
    for key in ("labels", "annotations"):
        if isinstance(out.get(key), dict):
            out[key] = _escape_keys(out[key])
    return out


def loaded_alert(alert: dict[str, Any]) -> dict[str, Any]:
    out = dict(alert)
    for key in ("labels", "annotations"):
        if isinstance(out.get(key), dict):
            out[key] = _unescape_keys(out[key])
    return out


def _still_held(hands_off: dict[str, Any], now: datetime) -> bool:
    expires = as_dt(hands_off.get("expires_at")) if hands_off else None
    return bool(hands_off) and (expires is None or expires > now)


def _incident_status(runs: dict[str, Any]) -> str:
    return "open" if any((r or {}).get("status") == "firing" for r in runs.values()) else "resolved"


__all__ = ["Dispatch", "NewRun", "RunsLedger", "display_state", "incident_id_for", "nest"]

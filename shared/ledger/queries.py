"""Read-only, bounded queries for people looking at the loop (the console, /metrics).

Every query has a limit and an index it can use (shared/registry.py FIRESTORE_INDEXES, which
Terraform mirrors); none scans a collection. Nothing here writes.

  incidents_page    incidents/ newest first, filtered, cursor-paginated
  incident_record   one incident with its runs, audit records and approvals
  runs_window       runs/ received since a time, projected to the fields a caller reads
  runs_updated_since  runs/ changed since a time (incremental refresh), projected
  audit_window      audit/ records since a time, projected
  poison_since      deadletters/ (poison messages) recorded since a time
  workload_incidents  a workload's earlier incidents: what was named, done, and judged
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.ledger.base import LedgerBase, snap_dict

# Firestore's `in` filter takes at most 30 values.
IN_LIMIT = 30
# A person is waiting on these queries, not a retrying pipeline.
READ_TIMEOUT_SECONDS = 20.0

INCIDENT_LIST_FIELDS = (
    "incident_id",
    "status",
    "title",
    "alert_type",
    "severity",
    "cluster",
    "namespace",
    "opened_at",
    "resolved_at",
    "flaps",
    "run_order",
    "runs",
    "hands_off",
    "acknowledged",
    "verdict",
    "silences",
)


@dataclass(frozen=True)
class IncidentFilter:
    """Equality filters (empty = any) and an opened_at range."""

    status: str = ""  # open | resolved
    alert_type: str = ""
    cluster: str = ""
    namespace: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def equalities(self) -> list[tuple[str, str]]:
        fields = (
            ("status", self.status),
            ("alert_type", self.alert_type),
            ("cluster", self.cluster),
            ("namespace", self.namespace),
        )
        return [(k, v) for k, v in fields if v]


@dataclass
class IncidentPage:
    incidents: list[dict[str, Any]]
    next_cursor: str = ""  # the last incident's id; "" when this is the last page


@dataclass
class IncidentRecord:
    incident: dict[str, Any]
    runs: list[dict[str, Any]]  # in run_order
    audit: list[dict[str, Any]] = field(default_factory=list)  # oldest first, with "id"
    approvals: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    truncated_runs: int = 0  # runs beyond the limit that are not shown


class QueriesLedger(LedgerBase):
    def _stream(self, query: Any) -> list[Any]:
        from google.api_core.retry import Retry

        snaps: list[Any] = self._call(
            lambda: list(
                query.stream(
                    retry=Retry(timeout=READ_TIMEOUT_SECONDS), timeout=READ_TIMEOUT_SECONDS
                )
            )
        )
        return snaps

    # ---- incidents ----------------------------------------------------------------------------

    def incidents_page(
        self, flt: IncidentFilter, cursor: str = "", limit: int = 50
    ) -> IncidentPage:
        """Incidents newest first (opened_at, then id), `limit` per page; `cursor` is the
        previous page's next_cursor. Each equality filter has an (eq, opened_at) index, which
        Firestore merges when several are combined."""
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._col("incidents")
        for name, value in flt.equalities():
            query = query.where(filter=FieldFilter(name, "==", value))
        if flt.since is not None:
            query = query.where(filter=FieldFilter("opened_at", ">=", flt.since))
        if flt.until is not None:
            query = query.where(filter=FieldFilter("opened_at", "<", flt.until))
        query = query.order_by("opened_at", direction=firestore.Query.DESCENDING)
        if cursor:
            last = self._call(self._doc("incidents", cursor).get)
            if last.exists:
                query = query.start_after(last)
        query = query.select(list(INCIDENT_LIST_FIELDS)).limit(limit + 1)
        snaps = self._stream(query)
        docs = [{**snap_dict(s), "incident_id": s.id} for s in snaps]
        more = len(docs) > limit
        docs = docs[:limit]
        return IncidentPage(docs, docs[-1]["incident_id"] if more and docs else "")

    def incident_record(
        self, incident_id: str, max_runs: int = 100, max_audit: int = 500
    ) -> IncidentRecord | None:
        """The incident, its runs (first `max_runs`), every audit record about them and
        their approvals — what its timeline is made of."""
        incident = self._get("incidents", incident_id)
        if incident is None:
            return None
        order = [str(r) for r in incident.get("run_order") or []]
        shown = order[:max_runs]
        docs = self._get_all("runs", shown)
        runs = [docs[r] for r in shown if r in docs]
        audit = self._by_incident("audit", incident_id, shown, max_audit)
        audit.sort(key=lambda a: _sort_time(a.get("at")))
        approvals = self._by_incident("approvals", incident_id, shown, max_runs * 5)
        approvals.sort(key=lambda a: _sort_time(a.get("created_at")))
        return IncidentRecord(incident, runs, audit, approvals, len(order) - len(shown))

    def _get_all(self, collection: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        refs = [self._doc(collection, i) for i in ids]
        if not refs:
            return {}
        snaps = self._call(lambda: list(self.client.get_all(refs)))
        return {s.id: snap_dict(s) for s in snaps if s.exists}

    def _by_incident(
        self, collection: str, incident_id: str, run_ids: list[str], limit: int
    ) -> list[dict[str, Any]]:
        """Records naming the incident, or one of its runs (older records carry only the run),
        merged by document id."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        col = self._col(collection)
        queries = [col.where(filter=FieldFilter("incident_id", "==", incident_id)).limit(limit)]
        for i in range(0, len(run_ids), IN_LIMIT):
            chunk = run_ids[i : i + IN_LIMIT]
            queries.append(col.where(filter=FieldFilter("run_id", "in", chunk)).limit(limit))
        found: dict[str, dict[str, Any]] = {}
        for query in queries:
            for snap in self._stream(query):
                found[snap.id] = {"id": snap.id, **snap_dict(snap)}
        return list(found.values())[:limit]

    # ---- a workload's memory, for the investigation ---------------------------------------------

    def workload_incidents(
        self, workload_key: str, *, exclude: str = "", limit: int = 3, scan: int = 20
    ) -> list[dict[str, Any]]:
        """Earlier incidents of one workload (incidents.workload_key = the correlation key),
        newest first, at most `limit`: when, the cause investigate named, what remediate did,
        and the verdict people gave. A single-field equality (Firestore indexes it on its own);
        the newest `scan` are sorted here, so no composite index is needed."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        if not workload_key:
            return []
        query = (
            self._col("incidents")
            .where(filter=FieldFilter("workload_key", "==", workload_key))
            .select(["opened_at", "title", "run_order", "verdict", "status"])
            .limit(scan)
        )
        found = [{**snap_dict(s), "incident_id": s.id} for s in self._stream(query)]
        found = [i for i in found if i["incident_id"] != exclude]
        found.sort(key=lambda i: _sort_time(i.get("opened_at")), reverse=True)
        out = []
        for inc in found[:limit]:
            order = [str(r) for r in inc.get("run_order") or []][:5]
            runs = self._get_all("runs", order)
            cause = action = ""
            for rid in order:
                findings = (runs.get(rid) or {}).get("findings") or {}
                inv = ((findings.get("investigate") or {}).get("details") or {}).get(
                    "likely_cause"
                ) or []
                cause = cause or (str(inv[0]) if inv else "")
                rem = str((findings.get("remediate") or {}).get("summary") or "")
                action = action or rem.splitlines()[0] if rem else action
            out.append(
                {
                    "incident_id": inc["incident_id"],
                    "opened_at": inc.get("opened_at"),
                    "title": inc.get("title", ""),
                    "cause": cause,
                    "action": action,
                    "verdict": str((inc.get("verdict") or {}).get("value") or ""),
                }
            )
        return out

    # ---- windows, for loop health and /metrics -----------------------------------------------

    def runs_window(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """Runs received at or after `since`, newest first, at most `limit`, projected to
        `fields` (all fields when empty)."""
        return self._window("runs", "received_at", since, fields, limit)

    def runs_updated_since(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """Runs whose `updated_at` is at or after `since` (what changed since a read)."""
        return self._window("runs", "updated_at", since, fields, limit)

    def audit_window(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """Audit records made at or after `since`, newest first, projected to `fields`."""
        return self._window("audit", "at", since, fields, limit)

    def poison_since(self, since: datetime, limit: int = 10_000) -> list[dict[str, Any]]:
        """Poison messages (set aside unparsed) recorded at or after `since`."""
        return self._window("deadletters", "at", since, ("stage", "at", "reason"), limit)

    def _window(
        self,
        collection: str,
        time_field: str,
        since: datetime,
        fields: tuple[str, ...],
        limit: int,
    ) -> list[dict[str, Any]]:
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._col(collection)
            .where(filter=FieldFilter(time_field, ">=", since))
            .order_by(time_field, direction=firestore.Query.DESCENDING)
        )
        if fields:
            query = query.select(list(fields))
        return [{"id": s.id, **snap_dict(s)} for s in self._stream(query.limit(limit))]


def _sort_time(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


__all__ = ["IncidentFilter", "IncidentPage", "IncidentRecord", "QueriesLedger"]

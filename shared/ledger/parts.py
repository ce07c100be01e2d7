"""The ledger's parts as typed interfaces: callers can depend on the narrow part they use.

`shared.ledger.Ledger` implements every part; its storage is Firestore, or the in-memory
stand-in (`Ledger(client=MemoryFirestore())`, shared.ledger.memory) in tests. The same ledger
code runs on both, so the parts have one implementation and cannot drift. Signatures mirror the
mixins (shared.ledger.runs, .stages, …); mypy checks that `Ledger` satisfies each (below).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.autonomy import AutonomyState, OutcomeKind
from shared.ledger.approvals import DecideResult
from shared.ledger.autonomy import AutonomyUpdate
from shared.ledger.guardrails import Denied, Earlier, Outcome, Reserved, WriteRequest
from shared.ledger.interactions import HumanChange, InteractionClaim
from shared.ledger.queries import IncidentFilter, IncidentPage, IncidentRecord
from shared.ledger.runs import Dispatch, NewRun
from shared.ledger.stages import Claim
from shared.messages import GroupSnapshot, IntakeAlert
from shared.model import Finding
from shared.run import Run


class Runs(Protocol):
    """Runs, fingerprints, incidents and alert groups: dispatch and the record of each stage."""

    def dispatch_alert(self, msg: IntakeAlert, new: NewRun, holddown: timedelta) -> Dispatch: ...

    def dispatched(self, run_id: str) -> None: ...

    def record_group(
        self, group_id: str, snapshot: GroupSnapshot, received_at: datetime
    ) -> None: ...

    def get_group(self, group_id: str) -> dict[str, Any] | None: ...

    def update_group(self, group_id: str, fields: dict[str, Any]) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def load_run(self, run_id: str) -> Run | None: ...

    def get_runs(self, run_ids: list[str]) -> dict[str, dict[str, Any]]: ...

    def runs_since(self, since: datetime) -> list[dict[str, Any]]: ...

    def record_finding(
        self, run_id: str, finding: Finding, complete: bool = False, claim_key: str = ""
    ) -> None: ...

    def record_failure(
        self, run_id: str, stage: str, finding: Finding, attempts: int, replay: str
    ) -> None: ...

    def update_run(self, run_id: str, fields: dict[str, Any]) -> None: ...

    def get_incident(self, incident_id: str) -> dict[str, Any] | None: ...

    def update_incident(self, incident_id: str, fields: dict[str, Any]) -> None: ...


class Stages(Protocol):
    """Per-(run, stage) idempotency claims and short leases."""

    def begin(self, run_id: str, key: str, ttl_seconds: int, force: bool = False) -> Claim: ...

    def complete(self, run_id: str, key: str, result: dict[str, Any] | None = None) -> None: ...

    def mark(self, run_id: str, key: str, fields: dict[str, Any]) -> None: ...

    def fail(self, run_id: str, key: str, error: str) -> None: ...

    def idempotency_record(self, run_id: str, key: str) -> dict[str, Any] | None: ...

    def acquire_lease(self, name: str, holder: str, ttl_seconds: int) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...


class Reservations(Protocol):
    """Cluster-write reservations and the audit trail (one audit record per write identity)."""

    def reserve_write(self, req: WriteRequest) -> Reserved | Denied | Earlier: ...

    def recheck_write(self, req: WriteRequest, token: str) -> Denied | None: ...

    def settle_write(
        self,
        req: WriteRequest,
        token: str,
        outcome: Outcome,
        fields: dict[str, Any] | None = None,
    ) -> None: ...

    def peek_write(self, req: WriteRequest) -> str | None: ...

    def audit(self, record: dict[str, Any]) -> str: ...

    def update_audit(self, audit_id: str, fields: dict[str, Any]) -> None: ...

    def get_audit(self, audit_id: str) -> dict[str, Any] | None: ...

    def writes_to(self, workload: str) -> list[dict[str, Any]]: ...

    def audit_for_run(self, run_id: str) -> list[dict[str, Any]]: ...


class Approvals(Protocol):
    """Proposed changes awaiting a person, decided and claimed once."""

    def propose(self, approval_id: str, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...

    def get_approval(self, approval_id: str) -> dict[str, Any] | None: ...

    def decide_approval(
        self, approval_id: str, status: str, fields: dict[str, Any], now: datetime | None = None
    ) -> tuple[DecideResult, dict[str, Any]]: ...

    def revert_approval(self, approval_id: str) -> None: ...

    def claim_approval(self, approval_id: str, executor: str) -> bool: ...

    def set_approval(self, approval_id: str, fields: dict[str, Any]) -> None: ...


class Interactions(Protocol):
    """One execution per Slack click; people's changes to incidents; silences."""

    def claim_interaction(
        self, interaction_id: str, fields: dict[str, Any], ttl_seconds: int
    ) -> InteractionClaim: ...

    def finish_interaction(self, interaction_id: str, result: dict[str, Any]) -> None: ...

    def release_interaction(self, interaction_id: str, error: str) -> None: ...

    def get_interaction(self, interaction_id: str) -> dict[str, Any] | None: ...

    def acknowledge_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange: ...

    def take_over_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange: ...

    def resume_incident(self, incident_id: str, who: dict[str, Any]) -> HumanChange: ...

    def judge_incident(self, incident_id: str, verdict: dict[str, Any]) -> HumanChange: ...

    def add_silences(self, incident_id: str, silences: dict[str, dict[str, Any]]) -> None: ...

    def set_silence_status(
        self, incident_id: str, silence_ids: list[str], status: str, fields: dict[str, Any]
    ) -> None: ...

    def open_incidents(self, limit: int = 500) -> list[dict[str, Any]]: ...

    def mark_run_silenced(self, run_id: str, silence_ids: list[str], at: datetime) -> None: ...


class Queries(Protocol):
    """Read-only views for the console, /metrics and the investigation's memory."""

    def incidents_page(
        self, flt: IncidentFilter, cursor: str = "", limit: int = 50
    ) -> IncidentPage: ...

    def incident_record(
        self, incident_id: str, max_runs: int = 100, max_audit: int = 500
    ) -> IncidentRecord | None: ...

    def workload_incidents(
        self, workload_key: str, *, exclude: str = "", limit: int = 3, scan: int = 20
    ) -> list[dict[str, Any]]: ...

    def runs_window(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]: ...

    def runs_updated_since(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]: ...

    def audit_window(
        self, since: datetime, fields: tuple[str, ...] = (), limit: int = 100_000
    ) -> list[dict[str, Any]]: ...

    def poison_since(self, since: datetime, limit: int = 10_000) -> list[dict[str, Any]]: ...


class Outcomes(Protocol):
    """Did the action work? Scheduled checks, outcomes, brakes."""

    def schedule_outcome(self, record: dict[str, Any]) -> bool: ...

    def get_outcome(self, audit_id: str) -> dict[str, Any] | None: ...

    def due_outcomes(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]: ...

    def outcomes_since(
        self, since: datetime, *, target_key: str = "", outcome: str = ""
    ) -> list[dict[str, Any]]: ...

    def record_outcome(
        self, audit_id: str, fields: dict[str, Any], fleet_window: timedelta | None = None
    ) -> bool: ...

    def relapse_scan(self, now: datetime) -> list[tuple[dict[str, Any], dict[str, Any]]]: ...

    def mark_relapsed(self, audit_id: str, fields: dict[str, Any]) -> bool: ...

    def add_outcome_line(self, run_id: str, key: str, line: str) -> None: ...

    def fleet_tally(self, since: datetime) -> tuple[int, int]: ...

    def get_brake(self, brake: str) -> dict[str, Any] | None: ...

    def tripped_brakes(self) -> list[dict[str, Any]]: ...

    def brake_trips(self, since: datetime) -> int: ...

    def trip_brake(self, brake: str, fields: dict[str, Any], audit: dict[str, Any]) -> bool: ...

    def resume_brake(self, brake: str, who: dict[str, Any], audit: dict[str, Any]) -> bool: ...


class Autonomy(Protocol):
    """Earned autonomy per alert type, action and workload."""

    def autonomy_state(
        self, alert_type: str, action: str, workload: str
    ) -> AutonomyState | None: ...

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
    ) -> AutonomyUpdate: ...

    def autonomy_records(self, limit: int = 200) -> list[dict[str, Any]]: ...


class DeadLetters(Protocol):
    """Poison messages set aside."""

    def store_poison(self, message_id: str, record: dict[str, Any]) -> None: ...

    def poison_messages(self, limit: int) -> list[tuple[str, dict[str, Any]]]: ...


if TYPE_CHECKING:
    from shared.ledger import Ledger

    def _ledger_has_every_part(ledger: Ledger) -> None:
        parts: tuple[
            Runs,
            Stages,
            Reservations,
            Approvals,
            Interactions,
            Queries,
            Outcomes,
            Autonomy,
            DeadLetters,
        ] = (ledger,) * 9
        del parts


__all__ = [
    "Approvals",
    "Autonomy",
    "DeadLetters",
    "Interactions",
    "Outcomes",
    "Queries",
    "Reservations",
    "Runs",
    "Stages",
]

"""What travels on Pub/Sub. Every message after intake is a *pointer*: the ledger holds the run.

intake      IntakeAlert (the alert itself: nothing is in the ledger yet) and IntakeGroup (a
            storm's snapshot of its Alertmanager group), published by ingest
stages      StageMessage: run id, the stage to run, and what routing needs (force, approval)
notify      NotifyMessage: which incident (or storm group) to project onto Slack
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.model import SCHEMA_VERSION, Alert, Source, utcnow


class BadMessage(ValueError):
    """Not one of our messages: it can never be processed (set aside at once)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class IntakeAlert(_Message):
    kind: Literal["alert"] = "alert"
    run_id: str
    source: Source
    received_at: datetime
    alert: Alert
    action: str = "auto"
    dry_run: bool = False
    # Set when the alert arrived in a storm (a group of ALERTLOOP_STORM_THRESHOLD+ alerts): its
    # run is reported through the group's digest instead of a Slack parent of its own.
    group_id: str = ""
    # "sweeper": a resolve alertloop inferred (Alertmanager no longer holds the alert).
    resolved_by: str = ""


class GroupSnapshot(BaseModel):
    group_key: str = ""
    total: int = 0
    firing: int = 0
    resolved: int = 0
    truncated: int = 0  # alerts Alertmanager left out of the webhook (truncatedAlerts)
    by_name: dict[str, int] = Field(default_factory=dict)
    by_workload: dict[str, int] = Field(default_factory=dict)
    severity: str = ""
    run_ids_sample: list[str] = Field(default_factory=list)


class IntakeGroup(_Message):
    kind: Literal["group"] = "group"
    group_id: str
    received_at: datetime
    snapshot: GroupSnapshot


IntakeMessage = Annotated[IntakeAlert | IntakeGroup, Field(discriminator="kind")]
_INTAKE: TypeAdapter[IntakeAlert | IntakeGroup] = TypeAdapter(IntakeMessage)


class StageMessage(_Message):
    run_id: str
    stage: str
    force: bool = False  # replay --force: re-run a completed stage (guardrails still apply)
    approval_id: str = ""  # rollback: the approvals/{id} record a human decided
    sent_at: datetime = Field(default_factory=utcnow)


class NotifyMessage(_Message):
    kind: Literal["incident", "group"] = "incident"
    id: str  # incident id, or storm group id
    run_id: str = ""  # the run whose change caused this message (for logs)

    @property
    def ordering_key(self) -> str:
        return f"{self.kind}-{self.id}"


def parse_intake(raw: bytes) -> IntakeAlert | IntakeGroup:
    try:
        return _INTAKE.validate_json(raw)
    except (ValidationError, ValueError) as exc:
        raise BadMessage(f"not an intake message: {str(exc)[:500]}") from exc


def parse_stage(raw: bytes) -> StageMessage:
    try:
        return StageMessage.model_validate_json(raw)
    except (ValidationError, ValueError) as exc:
        raise BadMessage(f"not a stage message: {str(exc)[:500]}") from exc


def parse_notify(raw: bytes) -> NotifyMessage:
    try:
        return NotifyMessage.model_validate_json(raw)
    except (ValidationError, ValueError) as exc:
        raise BadMessage(f"not a notify message: {str(exc)[:500]}") from exc


def as_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def message_data(cloud_event: Any) -> tuple[bytes, dict[str, str], str]:
    """(payload, attributes, message id) from a Pub/Sub CloudEvent (push-converted or Eventarc)."""
    import base64
    import binascii

    data = cloud_event.data if hasattr(cloud_event, "data") else cloud_event
    try:
        message = data["message"]
        raw = base64.b64decode(message.get("data") or "", validate=True)
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise BadMessage(f"not a Pub/Sub message: {exc}") from exc
    attributes = {str(k): str(v) for k, v in (message.get("attributes") or {}).items()}
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    return raw, attributes, message_id

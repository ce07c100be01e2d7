"""The envelope: the one message shape that travels between functions (the routing slip)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Stage(StrEnum):
    INVESTIGATE = "investigate"
    REMEDIATE = "remediate"
    BUDGET = "budget"
    NOTIFY = "notify"
    DEADLETTER = "deadletter"
    ROLLBACK = "rollback"


# Stages a plan may contain; notify is implicit (every stage publishes to it).
PLAN_STAGES = (Stage.INVESTIGATE, Stage.REMEDIATE, Stage.BUDGET)

Source = Literal["alertmanager", "dispatch", "replay"]
FindingStatus = Literal["ok", "skipped", "error"]


class Alert(BaseModel):
    """One normalised alert (Alertmanager's alert, or a manual dispatch made to look like one)."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: Literal["firing", "resolved"] = "firing"
    severity: str = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    fingerprint: str
    generator_url: str = ""
    group_key: str = ""

    @property
    def namespace(self) -> str:
        return self.labels.get("namespace", "")


class Finding(BaseModel):
    stage: str
    status: FindingStatus
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    started: datetime = Field(default_factory=utcnow)
    finished: datetime = Field(default_factory=utcnow)

    @property
    def duration_seconds(self) -> float:
        return (self.finished - self.started).total_seconds()


class Envelope(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    source: Source
    received_at: datetime = Field(default_factory=utcnow)
    alert: Alert
    alert_type: str  # the policy entry the alert resolved to (after aliases)
    plan: list[str]
    action: str = "auto"
    dry_run: bool = False
    findings: list[Finding] = Field(default_factory=list)
    # Set by replay: re-run stages even if they completed (guardrails still apply).
    force: bool = False
    # Alert storms: runs of a big group share one Slack digest instead of a parent each.
    digest_group: str = ""
    digest: bool = False  # this message asks notify to re-render the group's digest
    # Set by approve: the approvals/{id} record a human decided (the rollback stage acts on it).
    approval_id: str = ""

    def finding(self, stage: str) -> Finding | None:
        """The latest finding a stage appended, if any."""
        for f in reversed(self.findings):
            if f.stage == stage:
                return f
        return None

    def next_stage(self, after: str) -> str | None:
        """The stage that follows `after` in the plan (None at the end of the plan)."""
        if after not in self.plan:
            return self.plan[0] if self.plan else None
        i = self.plan.index(after)
        return self.plan[i + 1] if i + 1 < len(self.plan) else None

    def attributes(self, stage: str) -> dict[str, str]:
        """Pub/Sub attributes, for filtering and logs."""
        return {
            "run_id": self.run_id,
            "alert_type": self.alert_type,
            "severity": self.alert.severity,
            "stage": stage,
            "status": self.alert.status,
        }

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        return cls.model_validate_json(data)


def run_id_for(fingerprint: str, starts_at: datetime) -> str:
    """Stable id: Alertmanager HA duplicates and repeats of one alert map to one run."""
    key = f"{fingerprint}|{starts_at.astimezone(UTC).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def fingerprint_for(labels: dict[str, str]) -> str:
    """A fingerprint for alerts that came without one (manual dispatch)."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]

"""The domain values every function shares: an alert, a stage finding, stage names, run ids.

What travels on Pub/Sub is in `shared.messages` (pointers); what a stage works on is the run as
the ledger holds it (`shared.run.Run`).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


class Stage(StrEnum):
    INTAKE = "intake"
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

# Alertmanager fingerprints are 16 hex digits; accept any hex id up to a sha256. Anything else
# (slashes, dots, unicode) could not be a Firestore document id, so it is replaced.
_FINGERPRINT = re.compile(r"^[0-9a-fA-F]{1,64}$")


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

    @property
    def key(self) -> str:
        """Identifies this finding among re-runs of its stage (a forced replay adds another)."""
        return f"{self.stage}:{int(self.started.timestamp() * 1000)}"


def run_id_for(fingerprint: str, starts_at: datetime) -> str:
    """Stable id: Alertmanager HA duplicates and repeats of one alert map to one run."""
    key = f"{fingerprint}|{starts_at.astimezone(UTC).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def fingerprint_for(labels: dict[str, str]) -> str:
    """A fingerprint from the labels (alerts that came without a usable one)."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def valid_fingerprint(fingerprint: str) -> bool:
    # fullmatch: `$` alone also matches before a trailing newline ("abc\n" is not an id).
    return bool(_FINGERPRINT.fullmatch(fingerprint))

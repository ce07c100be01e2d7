"""A run as the ledger holds it: what every stage loads, re-checks and works on.

Stages never act on a message's copy of an alert: the message names the run, the stage reads it
here (`Ledger.load_run`), and whatever it finds goes back to the ledger only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.model import Alert, Finding, Source, utcnow

Status = Literal["firing", "resolved"]


class Run(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    incident_id: str = ""
    source: Source = "alertmanager"
    received_at: datetime = Field(default_factory=utcnow)
    alert: Alert
    alert_type: str  # the policy entry the alert resolved to (after aliases)
    plan: list[str] = Field(default_factory=list)
    action: str = "auto"
    dry_run: bool = False
    status: Status = "firing"
    state: str = "firing"  # display progress: firing|investigated|remediated|analysed|…
    resolved_at: datetime | None = None
    mttr_seconds: float | None = None
    resolved_by: str | None = None  # "sweeper": Alertmanager sent no resolve, the sweeper saw it
    cluster: str = ""
    digest_group: str = ""
    reopened: int = 0
    flap_count: int = 0
    force_count: int = 0  # forced replays so far (each gets a fresh write identity)
    findings: list[Finding] = Field(default_factory=list)
    # The `Outcome:` / brake lines posted in the thread, by key (shared.outcomes.sweep).
    outcome_lines: dict[str, str] = Field(default_factory=dict)
    # From the message, not the ledger: what this delivery asks for.
    force: bool = False
    approval_id: str = ""

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Run:
        from shared.ledger.runs import loaded_alert

        data = dict(doc)
        if isinstance(data.get("alert"), dict):
            data["alert"] = loaded_alert(data["alert"])
        found = data.get("findings") or {}
        plan = [str(s) for s in data.get("plan") or []]
        order = {s: i for i, s in enumerate(plan)}
        findings = [Finding.model_validate(f) for f in found.values() if isinstance(f, dict)]
        findings.sort(key=lambda f: (order.get(f.stage, 99), f.started))
        data["findings"] = findings
        data.setdefault("status", "resolved" if data.get("state") == "resolved" else "firing")
        data.setdefault("alert_type", (data.get("alert") or {}).get("name", ""))
        for key in ("force", "approval_id"):
            data.pop(key, None)
        return cls.model_validate(data)

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"

    def finding(self, stage: str) -> Finding | None:
        """The latest finding a stage recorded, if any."""
        for f in reversed(self.findings):
            if f.stage == stage:
                return f
        return None

    def next_stage(self, after: str) -> str | None:
        """The stage that follows `after` in the plan (None at the end of the plan)."""
        if after not in self.plan:
            return None
        i = self.plan.index(after)
        return self.plan[i + 1] if i + 1 < len(self.plan) else None

    def attributes(self, stage: str) -> dict[str, str]:
        """Pub/Sub attributes, for filtering and logs."""
        return {
            "run_id": self.run_id,
            "alert_type": self.alert_type,
            "severity": self.alert.severity,
            "stage": stage,
            "status": self.status,
        }

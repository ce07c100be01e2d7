"""Resuming a brake from Slack: the incident's *Resume automation* button (interact -> the act
worker, `take_over` permission) releases the workload brake its thread announced. The resume
is audited by the ledger in the same transaction (shared.ledger.outcomes.resume_brake)."""

from __future__ import annotations

from typing import Any

# A take-over holds for the workload (whatever incident its next alert opens) until a person
# resumes it or this long after it began; the parent shows the expiry.
TAKE_OVER_HOURS = 24


def resume_incident_brake(ledger: Any, incident: dict[str, Any], who: dict[str, Any]) -> str:
    """What was resumed, for the clicker ("" when no brake held this incident's workload)."""
    brake = incident.get("brake") or {}
    bid = str(brake.get("id") or "")
    if not bid:
        return ""
    inc_id = str(incident.get("incident_id") or "")
    resumed = ledger.resume_brake(
        bid,
        {k: v for k, v in who.items() if k != "at"},
        {"incident_id": inc_id, "action": "resume_brake", "target": str(brake.get("workload", ""))},
    )
    ledger.update_incident(inc_id, {"brake": None})
    if not resumed:
        return ""
    return (
        f"<@{who.get('by', '?')}> resumed automation: the brake on "
        f"{brake.get('action', '?')} for {brake.get('workload', '?')} is released; alertloop may "
        "act automatically again, within its guardrails."
    )

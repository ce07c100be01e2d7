"""After an automatic action or an approved rollback: schedule its outcome check.

No function waits for the world: the check is a ledger document due after the verification
window (the policy's, per alert type and action; ALERTLOOP_VERIFY_AFTER_SECONDS overrides every
window), evaluated by the scheduled sweeper (shared.outcomes.sweep).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared import envvars
from shared.log import event, get_logger
from shared.model import utcnow
from shared.policy import AlertPolicy

log = get_logger(__name__)


def verify_window(entry: AlertPolicy, action: str) -> timedelta:
    if envvars.is_set("ALERTLOOP_VERIFY_AFTER_SECONDS"):
        return timedelta(seconds=envvars.number("ALERTLOOP_VERIFY_AFTER_SECONDS", minimum=0))
    v = entry.verification
    return timedelta(minutes=v.action_windows.get(action, v.window_minutes))


def schedule_check(
    ledger: Any,
    *,
    run: Any,
    entry: AlertPolicy,
    alert_type: str,
    audit_id: str,
    action: str,
    target_key: str,
    workload: dict[str, str],
    automatic: bool,
    workload_class: str = "plain",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The check's record (created once per write audit id: redeliveries find it)."""
    acted = now or utcnow()
    window = verify_window(entry, action)
    record = {
        "audit_id": audit_id,
        "run_id": run.run_id,
        "incident_id": run.incident_id,
        "cluster": run.cluster,
        "fingerprint": run.alert.fingerprint,
        "alert_name": run.alert.name,
        "alert_type": alert_type,
        "action": action,
        "automatic": automatic,
        "target_key": target_key,
        "workload": workload,
        "workload_class": workload_class,  # owners (shared.k8s.owners): earned autonomy's key
        "acted_at": acted,
        "window_seconds": window.total_seconds(),
        "due_at": acted + window,
    }
    created = ledger.schedule_outcome(record)
    event(
        log,
        "outcome check scheduled" if created else "outcome check already scheduled",
        run_id=run.run_id,
        action=action,
        due_at=record["due_at"].isoformat(),
    )
    return record

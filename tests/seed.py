"""Runs put in the ledger the way dispatch puts them there (the real ledger code path)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.ledger import Ledger, NewRun
from shared.messages import IntakeAlert
from shared.model import Alert, Finding, fingerprint_for, run_id_for, utcnow
from shared.policy import load_policy
from shared.run import Run

HOLDDOWN = timedelta(minutes=30)


def make_alert(
    name: str = "ApplicationDown",
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    severity: str = "critical",
    status: str = "firing",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    fingerprint: str = "",
) -> Alert:
    all_labels = {"alertname": name, "severity": severity, **(labels or {})}
    return Alert(
        name=name,
        status=status,  # type: ignore[arg-type]
        severity=severity,
        labels=all_labels,
        annotations=annotations or {},
        starts_at=starts_at or utcnow(),
        ends_at=ends_at,
        fingerprint=fingerprint or fingerprint_for({**all_labels, "_": uuid.uuid4().hex}),
    )


def intake(alert: Alert, *, received_at: datetime | None = None, group_id: str = "") -> IntakeAlert:
    return IntakeAlert(
        run_id=run_id_for(alert.fingerprint, alert.starts_at),
        source="alertmanager",
        received_at=received_at or utcnow(),
        alert=alert,
        group_id=group_id,
    )


def seed_run(
    ledger: Ledger,
    alert: Alert | None = None,
    *,
    plan: list[str] | None = None,
    dry_run: bool = False,
    received_at: datetime | None = None,
    group_id: str = "",
    findings: list[Finding] = (),  # type: ignore[assignment]
    **alert_kw: Any,
) -> Run:
    """Dispatch an alert into the ledger; returns the run as stages load it."""
    alert = alert or make_alert(**alert_kw)
    policy = load_policy()
    alert_type, _ = policy.resolve(alert.name)
    msg = intake(alert, received_at=received_at, group_id=group_id)
    new = NewRun(
        alert_type=alert_type,
        plan=policy.plan_for(alert.name) if plan is None else plan,
        dry_run=dry_run,
    )
    ledger.dispatch_alert(msg, new, HOLDDOWN)
    ledger.dispatched(msg.run_id)
    for finding in findings:
        ledger.record_finding(msg.run_id, finding)
    run = ledger.load_run(msg.run_id)
    assert run is not None
    return run


def resolve_run(
    ledger: Ledger,
    run: Run,
    *,
    ends_at: datetime | None = None,
    received_at: datetime | None = None,
) -> Run:
    """Dispatch Alertmanager's resolved notification for a run; returns the run as it is now."""
    alert = run.alert.model_copy(update={"status": "resolved", "ends_at": ends_at or utcnow()})
    msg = intake(alert, received_at=received_at)
    assert msg.run_id == run.run_id
    new = NewRun(alert_type=run.alert_type, plan=[], dry_run=run.dry_run, cluster=run.cluster)
    ledger.dispatch_alert(msg, new, HOLDDOWN)
    ledger.dispatched(msg.run_id)
    resolved = ledger.load_run(msg.run_id)
    assert resolved is not None
    return resolved

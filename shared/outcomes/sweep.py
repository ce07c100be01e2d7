"""The sweeper's outcome part: evaluate every due check once, post its `Outcome:` line, trip
the brakes (docs/outcomes.md). Called on every sweep (shared.sweeper); nothing here sleeps.

Evidence is gathered with injectable sources (tests pass their own at the network boundary
only): the alert from the ledger's runs of the incident (the same alert on the same workload,
whatever pod it named), else Alertmanager API v2 for the fingerprint; the policy's success
query and the `ALERTS` baseline from the cluster's Prometheus; pod readiness from the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.bus import Bus, Outgoing
from shared.ledger.base import as_dt
from shared.ledger.outcomes import FLEET_BRAKE, brake_id
from shared.log import event, get_logger
from shared.messages import NotifyMessage
from shared.outcomes.judge import Evidence, judge, line
from shared.policy import Policy

log = get_logger(__name__)

RELAPSE_WINDOW = timedelta(hours=24)

# (check record) -> (held: True/False, note) or None when it cannot be asked.
Probe = Callable[[dict[str, Any]], tuple[bool, str] | None]


@dataclass
class Probes:
    """Where the evidence comes from (None: that question is not asked)."""

    alertmanager_firing: Probe | None = None  # is the fingerprint still active in Alertmanager?
    success: Callable[[dict[str, Any], str], tuple[bool, str] | None] | None = None
    pods_ready: Probe | None = None
    usually_clears: Probe | None = None


@dataclass
class OutcomeReport:
    checked: list[str] = field(default_factory=list)  # audit ids recorded this sweep
    relapsed: list[str] = field(default_factory=list)
    brakes: list[str] = field(default_factory=list)  # brake ids tripped


def alert_state(ledger: Any, check: dict[str, Any], probes: Probes) -> tuple[str, str]:
    """("firing"|"resolved", who answered): the same alert on the same workload, any pod."""
    inc = ledger.get_incident(str(check.get("incident_id") or "")) or {}
    name = check.get("alert_name")
    runs = inc.get("runs") or {}
    same = [e for e in runs.values() if isinstance(e, dict) and e.get("alert_name") == name]
    if any(e.get("status") == "firing" for e in same):
        if probes.alertmanager_firing is not None:
            answer = probes.alertmanager_firing(check)
            if answer is not None and not answer[0]:
                return "resolved", "alertmanager"
        return "firing", "ledger"
    return "resolved", "ledger"


def evaluate(
    ledger: Any, check: dict[str, Any], policy: Policy, probes: Probes, now: datetime
) -> dict[str, Any]:
    """The outcome record of one due check (not yet written)."""
    _, entry = policy.resolve(str(check.get("alert_type") or check.get("alert_name") or ""))
    state, source = alert_state(ledger, check, probes)
    success: tuple[bool, str] | None = None
    pods: tuple[bool, str] | None = None
    baseline: tuple[bool, str] | None = None
    if state == "resolved":
        query = entry.verification.success_query
        if query and probes.success is not None:
            success = probes.success(check, query)
        if probes.pods_ready is not None:
            pods = probes.pods_ready(check)
        if probes.usually_clears is not None:
            baseline = probes.usually_clears(check)
    verdict = judge(
        Evidence(
            alert=state,
            alert_source=source,
            success=success[0] if success else None,
            success_note=success[1] if success else "",
            pods_ready=pods[0] if pods else None,
            pods_note=pods[1] if pods else "",
            usually_clears=baseline[0] if baseline else None,
            baseline_note=baseline[1] if baseline else "",
        )
    )
    acted = as_dt(check.get("acted_at")) or now
    minutes = (now - acted).total_seconds() / 60
    return {
        "outcome": verdict.outcome,
        "answered_by": verdict.answered_by,
        "detail": verdict.detail,
        "line": line(
            verdict.outcome,
            str(check.get("alert_name", "")),
            str(check.get("action", "")),
            minutes,
            verdict.detail,
        ),
        "evidence": {
            "alert": state,
            "alert_source": source,
            "success": success[0] if success else None,
            "pods_ready": pods[0] if pods else None,
            "usually_clears": baseline[0] if baseline else None,
        },
    }


def sweep_outcomes(
    ledger: Any, bus: Bus, policy: Policy, probes: Probes, now: datetime
) -> OutcomeReport:
    report = OutcomeReport()
    for check in ledger.due_outcomes(now):
        audit_id = str(check["audit_id"])
        fields = evaluate(ledger, check, policy, probes, now)
        if fields["outcome"] == "fixed":
            fields["relapse_until"] = now + RELAPSE_WINDOW
        fleet_window = timedelta(hours=policy.fleet_brake.window_hours)
        if not ledger.record_outcome(audit_id, fields, fleet_window):
            continue  # another sweep recorded it first: exactly one outcome per action
        report.checked.append(audit_id)
        event(log, "outcome recorded", audit_id=audit_id, outcome=fields["outcome"])
        _post(ledger, bus, check, f"1-outcome:{audit_id[:12]}", fields["line"])
        fold_autonomy(ledger, bus, policy, check, str(fields["outcome"]))
        if fields["outcome"] == "not_fixed" and check.get("automatic"):
            tripped = trip_if_due(ledger, bus, policy, check, now)
            if tripped:
                report.brakes.append(tripped)
    report.relapsed = sweep_relapses(ledger, bus, now, policy)
    fleet = trip_fleet_if_due(ledger, bus, policy, check_now=now)
    if fleet:
        report.brakes.append(fleet)
    return report


def _post(ledger: Any, bus: Bus, check: dict[str, Any], key: str, text: str) -> None:
    run_id = str(check.get("run_id") or "")
    if not run_id:
        return
    ledger.add_outcome_line(run_id, key, text)
    incident = str(check.get("incident_id") or run_id)
    bus.publish(Outgoing.notify(NotifyMessage(id=incident, run_id=run_id)))


def _workload_text(check: dict[str, Any]) -> str:
    wl = check.get("workload") or {}
    return f"{str(wl.get('kind', '?')).lower()}/{wl.get('name', '?')} in {wl.get('namespace', '?')}"


def trip_if_due(ledger: Any, bus: Bus, policy: Policy, check: dict[str, Any], now: datetime) -> str:
    """The per-workload brake: N automatic actions that did not fix the alert in the window."""
    _, entry = policy.resolve(str(check.get("alert_type") or ""))
    v = entry.verification
    limit = v.brake_after or max(1, entry.guardrails.max_attempts)
    bid = brake_id(str(check.get("cluster") or ""), str(check["target_key"]), str(check["action"]))
    brake = ledger.get_brake(bid) or {}
    since = now - timedelta(hours=v.brake_window_hours)
    resumed = as_dt(brake.get("resumed_at"))
    if resumed is not None and resumed > since:
        since = resumed  # outcomes before a resume do not count again
    failed = [
        o
        for o in ledger.outcomes_since(since, target_key=str(check["target_key"]))
        if o.get("automatic")
        and o.get("outcome") in ("not_fixed", "relapsed")
        and o.get("target_key") == check["target_key"]
        and (o.get("cluster") or "") == (check.get("cluster") or "")
        and o.get("action") == check["action"]
    ]
    if len(failed) < limit:
        return ""
    workload = _workload_text(check)
    reason = (
        f"{len(failed)} automatic {check['action']}(s) did not fix the alert within "
        f"{v.brake_window_hours:g} h (limit {limit})"
    )
    tripped = ledger.trip_brake(
        bid,
        {
            "scope": "workload",
            "cluster": check.get("cluster") or "",
            "target_key": check["target_key"],
            "action": check["action"],
            "workload": workload,
            "reason": reason,
            "incident_id": check.get("incident_id") or "",
            "run_id": check.get("run_id") or "",
        },
        {
            "actor": "alertloop (outcomes)",
            "action": "brake",
            "target": workload,
            "reason": reason,
            "brake": bid,
            "run_id": check.get("run_id") or "",
            "incident_id": check.get("incident_id") or "",
            "cluster": check.get("cluster") or "",
        },
    )
    if not tripped:
        return ""
    if check.get("incident_id"):  # the parent shows it, and its Resume automation releases it
        ledger.update_incident(
            str(check["incident_id"]),
            {"brake": {"id": bid, "action": check["action"], "workload": workload, "at": now}},
        )
    oncall = _oncall()
    _post(
        ledger,
        bus,
        check,
        f"2-brake:{bid[:12]}",
        f"Brake: no more automatic {check['action']} on {workload} — {reason}. "
        f"{oncall}: a person decides now; Resume automation on this incident gives it back "
        f"(brake {bid}).",
    )
    event(log, "brake tripped", 30, brake=bid, workload=workload, reason=reason)
    return bid


def trip_fleet_if_due(ledger: Any, bus: Bus, policy: Policy, check_now: datetime) -> str:
    fb = policy.fleet_brake
    brake = ledger.get_brake(FLEET_BRAKE) or {}
    if brake.get("tripped"):
        return ""
    since = check_now - timedelta(hours=fb.window_hours)
    resumed = as_dt(brake.get("resumed_at"))
    if resumed is not None and resumed > since:
        since = resumed
    total, failed = ledger.fleet_tally(since)
    if total < fb.min_outcomes:
        return ""
    share = failed / total
    if share < fb.not_fixed_share:
        return ""
    reason = (
        f"{failed} of {total} automatic actions in the last {fb.window_hours:g} h did not "
        f"fix their alert ({share:.0%} >= {fb.not_fixed_share:.0%})"
    )
    ledger.trip_brake(
        FLEET_BRAKE,
        {"scope": "fleet", "reason": reason},
        {
            "actor": "alertloop (outcomes)",
            "action": "fleet_brake",
            "target": "fleet",
            "reason": reason,
            "brake": FLEET_BRAKE,
        },
    )
    event(log, "fleet brake tripped", 40, reason=reason)
    return FLEET_BRAKE


def fold_autonomy(
    ledger: Any, bus: Bus, policy: Policy, check: dict[str, Any], outcome: str
) -> None:
    """Earned autonomy learns from every outcome of its action on the workload (counted once per
    outcome: a relapse is a second outcome of the same action); a change of mode is posted."""
    from shared.autonomy import OUTCOMES, change_line, workload_key

    if outcome not in OUTCOMES:
        return
    alert_type, entry = policy.resolve(str(check.get("alert_type") or ""))
    wl = check.get("workload") or {}
    key = workload_key(
        str(check.get("cluster") or ""),
        str(wl.get("kind") or "deployment"),
        str(wl.get("namespace") or ""),
        str(wl.get("name") or ""),
    )
    action = str(check.get("action") or "")
    update = ledger.record_autonomy_outcome(
        alert_type=alert_type,
        action=action,
        workload=key,
        workload_class=str(check.get("workload_class") or "plain"),
        outcome=outcome,
        outcome_id=f"{check.get('audit_id')}:{outcome}",
        approved=not check.get("automatic"),
        promote_after=entry.guardrails.promote_after,
    )
    if update.change is not None:
        text = change_line(update.change, alert_type, action, _workload_text(check))
        _post(ledger, bus, check, f"4-autonomy:{str(check.get('audit_id'))[:12]}:{outcome}", text)


def sweep_relapses(ledger: Any, bus: Bus, now: datetime, policy: Policy | None = None) -> list[str]:
    """fixed -> relapsed when the same alert fires again on the workload within 24 h."""
    out: list[str] = []
    for o, inc in ledger.relapse_scan(now):
        checked = as_dt(o.get("checked_at"))
        again = [
            e
            for e in (inc.get("runs") or {}).values()
            if isinstance(e, dict)
            and e.get("alert_name") == o.get("alert_name")
            and e.get("status") == "firing"
            and checked is not None
            and (as_dt(e.get("added_at")) or checked) > checked
        ]
        if not again:
            continue
        hours = (now - (as_dt(o.get("acted_at")) or now)).total_seconds() / 3600
        text = (
            f"Outcome: relapsed — {o.get('alert_name')} firing again {hours:.1f} h after "
            f"{o.get('action')} (it had resolved)"
        )
        if ledger.mark_relapsed(str(o["audit_id"]), {"relapse_line": text}):
            out.append(str(o["audit_id"]))
            _post(ledger, bus, o, f"3-relapse:{str(o['audit_id'])[:12]}", text)
            if policy is not None:
                fold_autonomy(ledger, bus, policy, o, "relapsed")
    return out


def _oncall() -> str:
    """The groups that may take over / resume (shared.interaction.permissions), mentioned."""
    try:
        from shared.interaction.permissions import permissions

        grant = permissions().grant("take_over")
        groups = sorted(g for g in grant.groups)
    except Exception:  # no permissions file: the channel's on-call
        groups = []
    return " ".join(f"<!subteam^{g}>" for g in groups) or "<!here> on-call"

"""`investigate(envelope) -> Finding`: Kubernetes evidence + Prometheus analysis, summarised."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.config import settings
from shared.investigation import analysis, diagnose, k8s_evidence
from shared.k8s.client import ClientFactory
from shared.k8s.reads import parse_time as reads_time
from shared.model import Finding, FindingStatus, utcnow
from shared.policy import AlertPolicy, cached_policy
from shared.run import Run
from shared.untrusted import redact

MAX_DETAILS_BYTES = 60_000
MAX_SUMMARY_LINES = 12


def _prometheus_client() -> Any:
    from shared.prometheus import PrometheusClient

    return PrometheusClient.from_env()


def investigate(
    envelope: Run,
    *,
    k8s_factory: ClientFactory | None = None,
    prometheus: Any | None = None,
    now: datetime | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Finding:
    """Investigate the envelope's alert. Never raises for expected failures.

    `history`: the workload's earlier incidents (shared.ledger `workload_incidents`), told in
    the reply as what happened, what fixed it and the verdict people gave.

    `k8s_factory` builds Kubernetes clients (default: from the environment); `prometheus` is a
    `shared.prometheus.PrometheusClient` (default: from the environment).
    """
    started = utcnow()
    now = now or datetime.now(UTC)
    alert = envelope.alert
    alert_type = envelope.alert_type
    _, entry = cached_policy(settings().policy_file).resolve(alert_type)
    ev = k8s_evidence.collect(alert, k8s_factory, now=now)
    details = ev.details()
    details["alert_type"] = alert_type
    details["kubernetes"]["memory_limits"] = analysis.memory_limits_from_template(
        ev.resolution.obj if ev.resolution and ev.workload else None
    )

    own_client = prometheus is None
    prom: analysis.PromPart
    try:
        client = _prometheus_client() if own_client else prometheus
    except ValueError as exc:  # a bad PROMETHEUS_* setting
        client = None
        prom = analysis.PromPart(
            status="error",
            lines=[f"Prometheus: bad setting: {exc}"],
            details={"status": "error", "error": str(exc)},
        )
    else:
        try:
            prom = analysis.analyse(
                entry.investigation, alert.labels, ev.workload, details, client, now
            )
        finally:
            if own_client and client is not None:
                client.close()
    details["prometheus"] = prom.details
    if prom.memory_trend is not None or entry.investigation == "memory":
        details["memory_trend"] = prom.memory_trend or {
            "verdict": "steady",
            "reason": "no memory data (Prometheus not available)",
        }

    database = entry.database or _database_class(ev)
    diagnosis = diagnose.diagnose(
        diagnose.Evidence.from_details(details, alert.starts_at), database=database
    )
    causes = [h.cause for h in ([diagnosis.best] if diagnosis.best else [])]
    causes += [h.cause for h in diagnosis.runner_ups()]
    follow_up = _follow_up(entry, ev, prom, diagnosis)
    details["likely_cause"] = causes
    details["diagnosis"] = diagnosis.as_dict()
    details["earlier_incidents"] = history or []
    details["follow_up"] = follow_up

    status = _status(ev.status, prom.status)
    summary = _summary(envelope, entry, ev, prom, diagnosis, follow_up, memory(history, now))
    details = _bound(details)
    return Finding(
        stage="investigate",
        status=status,
        summary=summary,
        details=details,
        started=started,
        finished=utcnow(),
    )


def _status(k8s: str, prom: str) -> FindingStatus:
    if k8s == "error":
        return "error"
    if k8s == "skipped" and prom in ("skipped", "error"):
        return "skipped" if prom == "skipped" else "error"
    return "ok"


def _database_class(ev: k8s_evidence.K8sEvidence) -> bool:
    """Judged from the workload itself (shared.remediation.workload_safety), not the alert."""
    from shared.remediation.workload_safety import classify

    res = ev.resolution
    if res is None or res.obj is None:
        return False
    return classify(res.obj, pods=res.pods or []).data_class


def _follow_up(
    entry: AlertPolicy,
    ev: k8s_evidence.K8sEvidence,
    prom: analysis.PromPart,
    diagnosis: diagnose.Diagnosis,
) -> list[str]:
    if entry.database or diagnosis.database:
        return [f"{entry.follow_up or 'Ops handle database alerts'}; alertloop takes no action."]
    items = [diagnosis.fix()] if diagnosis.best else []
    items += [i for i in prom.follow_up if i not in items]
    rd = ev.recent_deploy
    if (
        entry.recent_deploy == "rollback"
        and rd
        and rd.get("recent")
        and not any("Roll back" in i for i in items)
    ):
        items.append(
            f"Roll back to revision {rd.get('previous_revision')} if the deploy of revision "
            f"{rd['revision']} is the cause (needs approval)"
        )
    if entry.follow_up and not items:
        items.append(entry.follow_up)
    return items


def _summary(
    envelope: Run,
    entry: AlertPolicy,
    ev: k8s_evidence.K8sEvidence,
    prom: analysis.PromPart,
    diagnosis: diagnose.Diagnosis,
    follow_up: list[str],
    before: list[str],
) -> str:
    alert = envelope.alert
    target = str(ev.workload) if ev.workload else alert.labels.get("namespace", "?")
    lines = [f"{envelope.alert_type} ({alert.severity}) on {target}"]
    if ev.sandbox:
        # Never let demo evidence pass for a real cluster's.
        lines[0] += " [SANDBOX cluster: demo data, not a real cluster]"
    lines.extend(line[:400] for line in diagnosis.lines())
    lines.extend(line[:300] for line in before)
    body = ev.lines[:] + prom.lines
    if entry.database:
        body.append("Database alert: facts only, no automatic action.")
    room = MAX_SUMMARY_LINES - len(lines) - (1 if follow_up else 0)
    lines.extend(line[:300] for line in body[: max(room, 1)])
    if follow_up:
        lines.append("Fix: " + follow_up[0] if diagnosis.best else "Follow-up: " + follow_up[0])
    return "\n".join(lines)


def _ago(then: Any, now: datetime) -> str:
    if isinstance(then, str):
        then = reads_time(then)
    if not isinstance(then, datetime):
        return "earlier"
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    minutes = (now - then).total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min ago"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h ago"
    return f"{minutes / 1440:.0f} days ago"


def memory(history: list[dict[str, Any]] | None, now: datetime) -> list[str]:
    """ "Before: 3 days ago: OOMKilled …; fixed by …; verdict useful" for the earlier incidents
    of the same workload (at most two)."""
    out = []
    for inc in (history or [])[:2]:
        text = f"Before: {_ago(inc.get('opened_at'), now)}: {inc.get('title') or 'an incident'}"
        if inc.get("cause"):
            text += f": {inc['cause']}"
        if inc.get("action"):
            text += f"; done: {inc['action']}"
        text += f"; verdict {inc['verdict']}" if inc.get("verdict") else "; no verdict given"
        out.append(redact(text))
    return out


def _bound(details: dict[str, Any]) -> dict[str, Any]:
    """Keep details JSON-serialisable and under MAX_DETAILS_BYTES (trim logs, then events)."""
    details = json.loads(json.dumps(details, default=str))
    for trim in (40, 15, 5, 0):
        if len(json.dumps(details)) <= MAX_DETAILS_BYTES:
            break
        for entry in details.get("logs") or []:
            for key in ("current", "previous", "init"):
                if key in entry:
                    entry[key] = entry[key][-trim:] if trim else []
        details["events"] = (details.get("events") or [])[: max(trim, 3)]
        diag = details.get("diagnosis_evidence") or {}
        if isinstance(diag.get("events"), list):
            diag["events"] = diag["events"][: max(trim, 3)]
        trend = details.get("memory_trend") or {}
        if isinstance(trend.get("series"), list):
            trend["series"] = trend["series"][: max(trim // 5, 1)]
    return details

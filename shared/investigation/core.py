"""`investigate(envelope) -> Finding`: Kubernetes evidence + Prometheus analysis, summarised."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.config import settings
from shared.envelope import Finding, FindingStatus, utcnow
from shared.investigation import analysis, k8s_evidence
from shared.k8s.client import ClientFactory
from shared.policy import AlertPolicy, cached_policy
from shared.run import Run

MAX_DETAILS_BYTES = 60_000
MAX_SUMMARY_LINES = 8


def _prometheus_client() -> Any:
    from shared.prometheus import PrometheusClient

    return PrometheusClient.from_env()


def investigate(
    envelope: Run,
    *,
    k8s_factory: ClientFactory | None = None,
    prometheus: Any | None = None,
    now: datetime | None = None,
) -> Finding:
    """Investigate the envelope's alert. Never raises for expected failures.

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

    causes = _likely_causes(entry, ev, prom)
    follow_up = _follow_up(entry, ev, prom)
    details["likely_cause"] = causes
    details["follow_up"] = follow_up

    status = _status(ev.status, prom.status)
    summary = _summary(envelope, entry, ev, prom, causes, follow_up)
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


def _likely_causes(
    entry: AlertPolicy, ev: k8s_evidence.K8sEvidence, prom: analysis.PromPart
) -> list[str]:
    causes: list[str] = []
    reasons = {
        (c.get("waiting_reason"), (c.get("last_termination") or {}).get("reason"))
        for p in ev.pods
        for c in p["containers"]
    }
    waiting = {w for w, _ in reasons if w}
    terminated = {t for _, t in reasons if t}
    if "OOMKilled" in terminated:
        causes.append("containers are OOMKilled: memory limit reached (too low, or a leak)")
    if "CrashLoopBackOff" in waiting:
        causes.append("the container crashes on start (CrashLoopBackOff): see the previous log")
    if waiting & {"ImagePullBackOff", "ErrImagePull"}:
        causes.append("the image cannot be pulled (ImagePullBackOff)")
    causes.extend(prom.causes)
    rd = ev.recent_deploy
    deploy_matters = entry.recent_deploy != "ignore"
    if (
        rd
        and rd.get("recent")
        and not any("deploy" in c for c in causes)
        and (deploy_matters or waiting)
    ):
        causes.append(f"the recent deploy (revision {rd['revision']})")
    h = ev.hpa
    if h and h.get("at_max") and not any("maximum" in c for c in causes):
        causes.append("capacity: the HPA is at its maximum")
    if h and ev.metrics_server_available is False:
        causes.append("metrics-server is unavailable, so the HPA cannot scale")
    elif h and not h.get("scaling_active", True) and not any("metrics" in c for c in causes):
        causes.append("the HPA cannot read its metrics, so it does not scale")
    if entry.database:
        # Facts only for databases: no cause that invites touching it.
        return [c for c in causes if "deploy" not in c and "HPA" not in c]
    return causes


def _follow_up(
    entry: AlertPolicy, ev: k8s_evidence.K8sEvidence, prom: analysis.PromPart
) -> list[str]:
    if entry.database:
        return [f"{entry.follow_up or 'Ops handle database alerts'}; alertloop takes no action."]
    items = list(prom.follow_up)
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
    causes: list[str],
    follow_up: list[str],
) -> str:
    alert = envelope.alert
    target = str(ev.workload) if ev.workload else alert.labels.get("namespace", "?")
    lines = [f"{envelope.alert_type} ({alert.severity}) on {target}"]
    if ev.sandbox:
        # Never let demo evidence pass for a real cluster's.
        lines[0] += " [SANDBOX cluster: demo data, not a real cluster]"
    if causes:
        lines.append("Likely cause: " + "; ".join(causes[:2]))
    body = ev.lines[:] + prom.lines
    if entry.database:
        body.append("Database alert: facts only, no automatic action.")
    room = MAX_SUMMARY_LINES - len(lines) - (1 if follow_up else 0)
    lines.extend(line[:300] for line in body[: max(room, 1)])
    if follow_up:
        lines.append("Follow-up: " + follow_up[0])
    return "\n".join(lines)


def _bound(details: dict[str, Any]) -> dict[str, Any]:
    """Keep details JSON-serialisable and under MAX_DETAILS_BYTES (trim logs, then events)."""
    details = json.loads(json.dumps(details, default=str))
    for trim in (40, 15, 5, 0):
        if len(json.dumps(details)) <= MAX_DETAILS_BYTES:
            break
        for entry in details.get("logs") or []:
            for key in ("current", "previous"):
                if key in entry:
                    entry[key] = entry[key][-trim:] if trim else []
        details["events"] = (details.get("events") or [])[: max(trim, 3)]
        trend = details.get("memory_trend") or {}
        if isinstance(trend.get("series"), list):
            trend["series"] = trend["series"][: max(trim // 5, 1)]
    return details

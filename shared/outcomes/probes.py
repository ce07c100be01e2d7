"""The default evidence sources of an outcome check: Alertmanager API v2, the cluster's
Prometheus (success query, `ALERTS` baseline) and its Kubernetes API (pod readiness). Each
answers None when it cannot be asked: that question is then left out, and the record says so."""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from shared import promql
from shared.log import event, get_logger
from shared.outcomes.sweep import Probes

log = get_logger(__name__)

BASELINE_DAYS = 7
BASELINE_MIN_EPISODES = 3


def _entry(check: dict[str, Any]) -> Any:
    from shared.clusters.table import cluster_table

    try:
        return cluster_table().clusters.get(str(check.get("cluster") or ""))
    except Exception:
        return None


def _prometheus(check: dict[str, Any]) -> Any:
    entry = _entry(check)
    if entry is None:
        return None
    from shared.clusters.clients import prometheus_for

    try:
        prom = prometheus_for(entry)
    except ValueError:
        return None
    return prom if prom.configured else None


def substitute(query: str, check: dict[str, Any]) -> str:
    wl = check.get("workload") or {}
    return query.replace("$namespace", promql.escape(str(wl.get("namespace", "")))).replace(
        "$workload", promql.escape(str(wl.get("name", "")))
    )


def success(check: dict[str, Any], query: str) -> tuple[bool, str] | None:
    prom = _prometheus(check)
    if prom is None:
        return None
    try:
        samples = prom.instant(substitute(query, check))
    except Exception as exc:
        event(log, "outcome: success query failed", 30, error=str(exc))
        return None
    return (bool(samples), "policy success_query" if samples else "success_query returned nothing")


def pods_ready(check: dict[str, Any]) -> tuple[bool, str] | None:
    wl = check.get("workload") or {}
    entry = _entry(check)
    if entry is None or wl.get("kind") != "Deployment":
        return None
    from shared.clusters.clients import kube_clients_for
    from shared.k8s.reads import get_deployment

    try:
        deploy = get_deployment(kube_clients_for(entry), str(wl["namespace"]), str(wl["name"]))
    except Exception as exc:
        event(log, "outcome: cannot read the workload", 30, error=str(exc))
        return None
    want = (deploy.get("spec") or {}).get("replicas")
    want = 1 if want is None else int(want)
    ready = int((deploy.get("status") or {}).get("readyReplicas") or 0)
    return ready >= want, f"{ready}/{want} ready"


def usually_clears(check: dict[str, Any]) -> tuple[bool, str] | None:
    """From Prometheus' `ALERTS` history: did earlier episodes of this alert on this namespace
    mostly end within the verification window?"""
    prom = _prometheus(check)
    acted = check.get("acted_at")
    if prom is None or acted is None:
        return None
    wl = check.get("workload") or {}
    query = "ALERTS" + promql.matchers(
        [
            promql.equal("alertname", str(check.get("alert_name", ""))),
            promql.equal("alertstate", "firing"),
            promql.equal("namespace", str(wl.get("namespace", ""))),
        ]
    )
    step = 60.0
    try:
        series = prom.range(query, acted - timedelta(days=BASELINE_DAYS), acted, step)
    except Exception as exc:
        event(log, "outcome: ALERTS baseline unavailable", 30, error=str(exc))
        return None
    durations = episode_durations(series, step)
    if len(durations) < BASELINE_MIN_EPISODES:
        return None
    window = float(check.get("window_seconds") or 0)
    median = statistics.median(durations)
    return median <= window, (
        f"median {median / 60:.0f} min over {len(durations)} earlier episodes in {BASELINE_DAYS} d"
    )


def episode_durations(series: list[Any], step: float) -> list[float]:
    out: list[float] = []
    for s in series:
        times = sorted(t for t, _ in s.values)
        start = prev = None
        for t in times:
            if prev is None or t - prev > 2 * step:
                if start is not None and prev is not None:
                    out.append(prev - start + step)
                start = t
            prev = t
        if start is not None and prev is not None:
            out.append(prev - start + step)
    return out


def default_probes(alertmanager: Any | None) -> Probes:
    def am_firing(check: dict[str, Any]) -> tuple[bool, str] | None:
        if alertmanager is None or not alertmanager.cfg.configured:
            return None
        try:
            held = alertmanager.alerts()
        except Exception as exc:
            event(log, "outcome: Alertmanager unreachable", 30, error=str(exc))
            return None
        fp = str(check.get("fingerprint") or "")
        return any(a.fingerprint == fp for a in held), "Alertmanager API v2"

    return Probes(
        alertmanager_firing=am_firing,
        success=success,
        pods_ready=pods_ready,
        usually_clears=usually_clears,
    )

"""Alert-type-specific analysis over the Prometheus HTTP API (shared.prometheus).

Queries are `string.Template`s (PromQL is full of braces) with these placeholders:
$namespace, $pod_regex (an RE2 regex for the workload's pods), $container — each must stand
inside a double-quoted string (`namespace="$namespace"`): its value is escaped for that literal
by shared.promql — and $selector (request-metric label matchers, built by shared.promql; it
stands inside braces). Each can be overridden by an env var (metric names differ between setups):
ALERTLOOP_QUERY_<NAME> for each name of DEFAULT_QUERIES. The other settings (the service label,
the error-ratio threshold, the look-back windows) are the "investigation" section of
shared/envvars.py; a malformed one is reported as a bad setting, never silently replaced.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from string import Template
from typing import Any, Literal

from shared import envvars, promql
from shared.investigation.trend import (
    classify_memory,
    human_bytes,
    human_duration,
    overall_verdict,
    parse_quantity,
)
from shared.workload.resolve import WorkloadRef

PartStatus = Literal["ok", "skipped", "error"]

DEFAULT_QUERIES = {
    "ERROR_RATIO": (
        'sum(rate(http_requests_total{$selector,code=~"5.."}[5m])) '
        "/ sum(rate(http_requests_total{$selector}[5m]))"
    ),
    "ERROR_ENDPOINTS": (
        "topk(5, sum by (handler, path, route, endpoint, method) "
        '(rate(http_requests_total{$selector,code=~"5.."}[5m])))'
    ),
    "MEMORY": (
        'container_memory_working_set_bytes{namespace="$namespace",pod=~"$pod_regex",'
        'container!="",container!="POD"}'
    ),
    "MEMORY_LIMIT": (
        'kube_pod_container_resource_limits{namespace="$namespace",pod=~"$pod_regex",'
        'resource="memory"}'
    ),
    "CPU_USAGE": (
        'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="$namespace",'
        'pod=~"$pod_regex",container!="",container!="POD"}[5m]))'
    ),
    "CPU_REQUEST": (
        'sum by (pod) (kube_pod_container_resource_requests{namespace="$namespace",'
        'pod=~"$pod_regex",resource="cpu"})'
    ),
    "CPU_LIMIT": (
        'sum by (pod) (kube_pod_container_resource_limits{namespace="$namespace",'
        'pod=~"$pod_regex",resource="cpu"})'
    ),
    "CPU_THROTTLED": (
        'sum(rate(container_cpu_cfs_throttled_periods_total{namespace="$namespace",'
        'pod=~"$pod_regex",container!=""}[5m])) / '
        'sum(rate(container_cpu_cfs_periods_total{namespace="$namespace",'
        'pod=~"$pod_regex",container!=""}[5m]))'
    ),
}


# Placeholders whose values stand inside a double-quoted string literal of the template.
QUOTED_PLACEHOLDERS = ("namespace", "pod_regex", "container")


def query(name: str, **values: str) -> str:
    """The named query with `values` substituted; quoted values are escaped (shared.promql), so a
    label value cannot end its string and add PromQL of its own. A template that puts a quoted
    placeholder outside a double-quoted string, or $selector inside one, is a PromQLError."""
    template = envvars.read(f"ALERTLOOP_QUERY_{name}") or DEFAULT_QUERIES[name]
    where = _placeholder_quotes(template)
    safe: dict[str, str] = {}
    for key, value in values.items():
        inside = where.get(key, set())
        if key in QUOTED_PLACEHOLDERS:
            if inside - {'"'}:
                raise promql.PromQLError(
                    f"ALERTLOOP_QUERY_{name}: ${key} must stand inside a double-quoted string"
                )
            safe[key] = promql.escape(value)
        else:
            if inside - {""}:
                raise promql.PromQLError(
                    f"ALERTLOOP_QUERY_{name}: ${key} must not stand inside a quoted string"
                )
            safe[key] = value
    return Template(template).safe_substitute(safe)


_PLACEHOLDER = re.compile(r"\$(?:([a-zA-Z_][a-zA-Z0-9_]*)|\{([a-zA-Z_][a-zA-Z0-9_]*)\})")


def _placeholder_quotes(template: str) -> dict[str, set[str]]:
    """For each placeholder of the template, the quote characters its occurrences stand inside
    ("" for outside any string literal)."""
    out: dict[str, set[str]] = {}
    quote = ""
    i = 0
    while i < len(template):
        c = template[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        if c == "$" and template.startswith("$$", i):
            i += 2
            continue
        m = _PLACEHOLDER.match(template, i) if c == "$" else None
        if m:
            out.setdefault(m.group(1) or m.group(2), set()).add(quote)
            i = m.end()
            continue
        i += 1
    return out


def _hours(name: str) -> float:
    return envvars.number(name, positive=True)


@dataclass
class PromPart:
    status: PartStatus
    lines: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    causes: list[str] = field(default_factory=list)
    follow_up: list[str] = field(default_factory=list)
    memory_trend: dict[str, Any] | None = None


def pod_regex(workload: WorkloadRef | None, labels: dict[str, str]) -> str:
    """A regex for the workload's pods, stable across restarts and rollouts."""
    if workload is None:
        pod = labels.get("pod", "")
        if pod:
            return promql.regex_literal(pod)
        name = labels.get("deployment") or labels.get("statefulset") or labels.get("app") or ""
        return f"{promql.regex_literal(name)}-.*" if name else ""
    name = promql.regex_literal(workload.name)
    if workload.kind == "Pod":
        return name
    if workload.kind == "StatefulSet":
        return f"{name}-[0-9]+"
    return f"{name}-.*"


def request_selector(workload: WorkloadRef | None, labels: dict[str, str], namespace: str) -> str:
    """Matchers (`namespace="shop",service="checkout"`) for the request metrics of a workload."""
    label = promql.label_name(envvars.read("ALERTLOOP_PROM_SERVICE_LABEL"))
    value = labels.get(label) or labels.get("service") or (workload.name if workload else "")
    parts = [promql.equal("namespace", namespace)] if namespace else []
    if value:
        parts.append(promql.equal(label, value))
    return promql.matchers(parts)


def analyse(
    kind: str,
    labels: dict[str, str],
    workload: WorkloadRef | None,
    k8s_details: dict[str, Any],
    client: Any,
    now: datetime,
) -> PromPart:
    """Run the analysis the policy names for the alert type (`kind`: errors, memory, cpu, down,
    database, generic). `client` is a shared.prometheus.PrometheusClient or None."""
    from shared.prometheus import PrometheusError, PrometheusNotConfigured

    if kind in ("down", "database", "generic"):
        # Kubernetes evidence answers these; Prometheus adds nothing we rely on.
        return PromPart(status="skipped", details={"analysis": kind})
    if client is None or not getattr(client, "configured", False):
        return PromPart(
            status="skipped",
            lines=["Prometheus: not configured (set PROMETHEUS_URL) — no metric analysis."],
            details={"analysis": kind, "status": "skipped"},
        )
    namespace = workload.namespace if workload else labels.get("namespace", "")
    part = PromPart(status="ok", details={"analysis": kind, "status": "ok"})
    try:
        if kind == "errors":
            _errors(part, client, labels, workload, namespace, k8s_details, now)
        elif kind == "memory":
            _memory(part, client, labels, workload, namespace, k8s_details, now)
        elif kind == "cpu":
            _cpu(part, client, labels, workload, namespace, k8s_details, now)
    except promql.PromQLError as exc:
        part.status = "error"
        part.details["status"] = "error"
        part.details["error"] = str(exc)[:300]
        part.lines.append(f"Prometheus query not built: {str(exc)[:200]}.")
    except envvars.EnvError as exc:  # refused like every other setting, never a silent default
        part.status = "error"
        part.details["status"] = "error"
        part.details["error"] = str(exc)[:300]
        part.lines.append(f"Prometheus analysis: bad setting: {str(exc)[:200]}.")
    except PrometheusNotConfigured as exc:
        part.status = "skipped"
        part.lines.append(f"Prometheus: not configured ({exc}).")
    except PrometheusError as exc:
        part.status = "error"
        part.details["status"] = "error"
        part.details["error"] = str(exc)[:300]
        part.lines.append(
            f"Prometheus query failed ({type(exc).__name__}: {str(exc)[:200]}); "
            "check PROMETHEUS_URL and that Prometheus is up. Kubernetes evidence above still holds."
        )
    return part


# --------------------------------------------------------------------------- errors


def _errors(
    part: PromPart,
    client: Any,
    labels: dict[str, str],
    workload: WorkloadRef | None,
    namespace: str,
    k8s: dict[str, Any],
    now: datetime,
) -> None:
    selector = request_selector(workload, labels, namespace)
    threshold = envvars.number("ALERTLOOP_ERROR_RATIO_THRESHOLD", minimum=0)
    ratio = client.scalar(query("ERROR_RATIO", selector=selector), time=now)
    part.details["error_ratio"] = round(ratio, 5) if ratio is not None else None
    part.details["error_ratio_threshold"] = threshold
    part.details["selector"] = selector
    if ratio is None:
        part.lines.append(f"Prometheus: no request metrics for {{{selector}}}.")
        return
    endpoints = []
    for s in client.instant(query("ERROR_ENDPOINTS", selector=selector), time=now):
        if math.isnan(s.value) or s.value <= 0:
            continue
        ep = next(
            (s.labels[k] for k in ("handler", "route", "path", "endpoint") if s.labels.get(k)),
            "(all)",
        )
        method = s.labels.get("method", "")
        endpoints.append({"endpoint": f"{method} {ep}".strip(), "errors_per_second": s.value})
    part.details["top_error_endpoints"] = [
        {**e, "errors_per_second": round(e["errors_per_second"], 4)} for e in endpoints[:5]
    ]
    text = f"Error ratio {ratio:.1%} (threshold {threshold:.0%})"
    if endpoints and endpoints[0]["endpoint"] != "(all)":
        text += "; most errors on " + ", ".join(
            f"{e['endpoint']} ({e['errors_per_second']:.2f}/s)" for e in endpoints[:3]
        )
    part.lines.append(text)
    # When did it start?
    hours = _hours("ALERTLOOP_ERROR_LOOKBACK_HOURS")
    series = client.range(
        query("ERROR_RATIO", selector=selector), now - timedelta(hours=hours), now, 60
    )
    started = errors_started(series[0].values if series else [], threshold)
    part.details["errors_started"] = (
        datetime.fromtimestamp(started, UTC).isoformat().replace("+00:00", "Z") if started else None
    )
    rd = k8s.get("recent_deploy")
    if started is not None:
        mins = (now.timestamp() - started) / 60
        line = f"Errors above {threshold:.0%} since {mins:.0f} min ago"
        deploy_time = _parse(rd.get("created")) if rd else None
        if rd and deploy_time is not None:
            delta = (started - deploy_time.timestamp()) / 60
            follows = -2 <= delta <= 30
            part.details["errors_follow_deploy"] = follows
            if follows:
                line += f", {max(delta, 0):.0f} min after revision {rd['revision']} was rolled out"
                part.causes.append(f"the deploy of revision {rd['revision']}")
                if rd.get("recent"):
                    part.follow_up.append(
                        f"Roll back to revision {rd.get('previous_revision')} if the deploy is "
                        "the cause (needs approval)"
                    )
            else:
                line += f" (last deploy: revision {rd['revision']}, not aligned with the errors)"
        part.lines.append(line + ".")


def errors_started(values: list[tuple[float, float]], threshold: float) -> float | None:
    """Start of the latest run of samples above the threshold (None if the last is below)."""
    clean = [(t, v) for t, v in values if not math.isnan(v)]
    if not clean or clean[-1][1] <= threshold:
        return None
    start = clean[-1][0]
    for t, v in reversed(clean):
        if v > threshold:
            start = t
        else:
            break
    return start


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


# --------------------------------------------------------------------------- memory


def _template_memory_limit(k8s: dict[str, Any]) -> float | None:
    limits = (k8s.get("kubernetes") or {}).get("memory_limits") or {}
    values = [v for v in limits.values() if v]
    return float(values[0]) if values else None


def _memory(
    part: PromPart,
    client: Any,
    labels: dict[str, str],
    workload: WorkloadRef | None,
    namespace: str,
    k8s: dict[str, Any],
    now: datetime,
) -> None:
    regex = pod_regex(workload, labels)
    if not regex or not namespace:
        part.lines.append("Prometheus: no workload or pod to analyse memory for.")
        part.status = "skipped"
        return
    hours = _hours("ALERTLOOP_MEMORY_TREND_HOURS")
    values = {"namespace": namespace, "pod_regex": regex}
    series = client.range(query("MEMORY", **values), now - timedelta(hours=hours), now, 300)
    limits: dict[tuple[str, str], float] = {}
    for s in client.instant(query("MEMORY_LIMIT", **values), time=now):
        limits[(s.labels.get("pod", ""), s.labels.get("container", ""))] = s.value
    fallback_limit = _template_memory_limit(k8s)
    per: list[dict[str, Any]] = []
    for s in series[:20]:
        pod, container = s.labels.get("pod", ""), s.labels.get("container", "")
        limit = limits.get((pod, container)) or fallback_limit
        result = classify_memory(s.values, limit)
        per.append({"pod": pod, "container": container, **result})
    if not per:
        part.lines.append(
            f'Prometheus: no working-set series for pods matching "{regex}" in {namespace}.'
        )
        part.memory_trend = {"verdict": "steady", "reason": "no data", "series": []}
        return
    verdict = overall_verdict(per)
    worst = max(per, key=lambda p: (p["verdict"] == verdict, p.get("usage_ratio") or 0))
    part.memory_trend = {
        "verdict": verdict,
        "pod": worst["pod"],
        "container": worst["container"],
        "current_bytes": worst.get("current_bytes"),
        "limit_bytes": worst.get("limit_bytes"),
        "usage_ratio": worst.get("usage_ratio"),
        "growth_bytes_per_hour": worst.get("growth_bytes_per_hour"),
        "predicted_seconds_to_limit": worst.get("predicted_seconds_to_limit"),
        "predicted_limit_at": worst.get("predicted_limit_at"),
        "window_minutes": worst.get("window_minutes"),
        "series": per,
    }
    usage = (
        f"{human_bytes(worst.get('current_bytes'))} of {human_bytes(worst.get('limit_bytes'))} "
        f"limit ({worst['usage_ratio']:.0%})"
        if worst.get("usage_ratio") is not None
        else f"{human_bytes(worst.get('current_bytes'))} (no limit found)"
    )
    line = f"Memory {verdict} on {worst['pod']}: {usage}"
    if verdict == "leak suspected":
        line += (
            f", growing {human_bytes(worst.get('growth_bytes_per_hour'))}/h steadily for "
            f"{human_duration((worst.get('window_minutes') or 0) * 60)}"
        )
        if worst.get("predicted_seconds_to_limit") is not None:
            line += f"; reaches the limit in ~{human_duration(worst['predicted_seconds_to_limit'])}"
        part.causes.append("a memory leak (sustained, monotonic growth)")
        part.follow_up.append(
            "Check for a memory leak (heap profile); restarts only buy time until the limit"
        )
    elif verdict == "spike":
        line += f", peak {human_bytes(worst.get('peak_bytes'))} vs baseline " + human_bytes(
            worst.get("baseline_bytes")
        )
        part.causes.append("a memory spike (not sustained growth)")
        part.follow_up.append("Monitor the trend; look at what the spike coincided with")
    else:
        part.follow_up.append("Memory is steady: the limit may simply be too low for the load")
    part.lines.append(line + ".")


# --------------------------------------------------------------------------- CPU


def _cpu(
    part: PromPart,
    client: Any,
    labels: dict[str, str],
    workload: WorkloadRef | None,
    namespace: str,
    k8s: dict[str, Any],
    now: datetime,
) -> None:
    regex = pod_regex(workload, labels)
    if not regex or not namespace:
        part.status = "skipped"
        part.lines.append("Prometheus: no workload or pod to analyse CPU for.")
        return
    values = {"namespace": namespace, "pod_regex": regex}
    usage = {
        s.labels.get("pod", ""): s.value
        for s in client.instant(query("CPU_USAGE", **values), time=now)
    }
    requests_ = {
        s.labels.get("pod", ""): s.value
        for s in client.instant(query("CPU_REQUEST", **values), time=now)
    }
    limits = {
        s.labels.get("pod", ""): s.value
        for s in client.instant(query("CPU_LIMIT", **values), time=now)
    }
    throttled = client.scalar(query("CPU_THROTTLED", **values), time=now)
    past = now - timedelta(minutes=30)
    usage_before = {
        s.labels.get("pod", ""): s.value
        for s in client.instant(query("CPU_USAGE", **values), time=past)
    }
    pods = sorted(usage)
    total = sum(usage.values())
    total_req = sum(requests_.get(p, 0.0) for p in pods)
    per_pod_now = total / len(pods) if pods else None
    per_pod_before = sum(usage_before.values()) / len(usage_before) if usage_before else None
    part.details["cpu"] = {
        "pods": len(pods),
        "usage_cores": round(total, 3),
        "requests_cores": round(total_req, 3) if total_req else None,
        "usage_vs_requests": round(total / total_req, 3) if total_req else None,
        "limits_cores": round(sum(limits.get(p, 0.0) for p in pods), 3) if limits else None,
        "throttled_ratio": round(throttled, 3) if throttled is not None else None,
        "per_pod_usage_now": round(per_pod_now, 3) if per_pod_now is not None else None,
        "per_pod_usage_30m_ago": round(per_pod_before, 3) if per_pod_before is not None else None,
        "pods_30m_ago": len(usage_before),
    }
    if not pods:
        part.lines.append(f'Prometheus: no CPU series for pods matching "{regex}" in {namespace}.')
        return
    text = f"CPU {total:.2f} cores over {len(pods)} pods"
    if total_req:
        text += f" ({total / total_req:.0%} of requests)"
    if throttled is not None:
        text += f"; throttled {throttled:.0%} of periods"
    part.lines.append(text + ".")
    hpa = k8s.get("hpa")
    scaled = len(pods) > len(usage_before) if usage_before else False
    helps: bool | None = None
    if scaled and per_pod_now is not None and per_pod_before:
        helps = per_pod_now < per_pod_before * 0.9
    part.details["cpu"]["scaled_out_last_30m"] = scaled
    part.details["cpu"]["scaling_helps"] = helps
    if hpa:
        if hpa.get("at_max"):
            part.causes.append("capacity: the HPA is at its maximum")
            part.follow_up.append("Investigate why scaling is not enough (HPA at max)")
        elif not hpa.get("scaling_active", True):
            part.causes.append("the HPA cannot read metrics, so it does not scale")
        if scaled:
            part.lines.append(
                "Scaling "
                + (
                    "helps: per-pod CPU fell"
                    if helps
                    else "does not help: per-pod CPU did not fall"
                )
                + f" ({len(usage_before)} -> {len(pods)} pods in 30 min)."
            )
    else:
        part.lines.append("No HPA targets this workload: nothing scales it automatically.")
    if throttled is not None and throttled > 0.25:
        part.causes.append("CPU throttling by the container limit")


def memory_limits_from_template(obj: dict[str, Any] | None) -> dict[str, float]:
    """Container memory limits (bytes) from a workload's pod template."""
    if not obj:
        return {}
    spec = obj.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or spec).get("containers") or []
    out = {}
    for c in containers:
        limit = parse_quantity(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit:
            out[str(c.get("name", ""))] = limit
    return out

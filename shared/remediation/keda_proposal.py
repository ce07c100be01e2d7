"""The follow-up for CPU or memory alerts that keep coming back on a workload whose load follows
its request rate: scale on the request rate with a KEDA ScaledObject (Prometheus trigger).

Pure: the decision (does CPU follow the request rate?) and the manifest text. The manifest is
posted in the thread for people to put in Git; alertloop never applies it.

ScaledObject fields and the Prometheus scaler's metadata (serverAddress, query, threshold) are
KEDA's documented ones (https://keda.sh/docs/latest/reference/scaledobject-spec/ and
https://keda.sh/docs/latest/scalers/prometheus/).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import yaml

from shared.k8s.names import validate_name, validate_namespace

# CPU "follows" the request rate when their Pearson correlation is at least this.
FOLLOWS_AT = 0.8
MIN_POINTS = 6


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson's r of two aligned series; None when it is undefined (too short, flat)."""
    n = min(len(a), len(b))
    if n < MIN_POINTS:
        return None
    xs, ys = list(a[:n]), list(b[:n])
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def follows_request_rate(cpu: Sequence[float], rate: Sequence[float]) -> bool:
    r = correlation(cpu, rate)
    return r is not None and r >= FOLLOWS_AT


def request_rate_query(template: str, namespace: str, workload: str) -> str:
    """The policy's query with validated names in it (names reach PromQL only validated)."""
    problems = [
        p for p in (validate_namespace(namespace), validate_name(workload, "workload")) if p
    ]
    if problems:
        raise ValueError("; ".join(problems))
    return template.format(namespace=namespace, workload=workload)


def threshold_per_replica(peak_rate: float, replicas: int) -> str:
    """Requests per second one replica handled at the peak: KEDA's target per replica."""
    per = peak_rate / max(replicas, 1)
    return f"{max(per, 0.01):.2f}".rstrip("0").rstrip(".")


def scaled_object_manifest(
    *,
    namespace: str,
    workload: str,
    query: str,
    threshold: str,
    min_replicas: int,
    max_replicas: int,
    server_address: str,
) -> str:
    """A ScaledObject scaling `workload` on its request rate (a proposal; never applied)."""
    doc = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": workload, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": workload},
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": server_address,
                        "query": query,
                        "threshold": threshold,
                    },
                }
            ],
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def proposal_lines(manifest: str, namespace: str, workload: str, r: float) -> list[str]:
    return [
        f"Follow-up proposal: CPU of {namespace}/{workload} follows its request rate (r = "
        f"{r:.2f}) and this alert keeps coming back: scale it on the request rate with KEDA "
        "(put this in Git; alertloop does not apply it; remove the existing HPA, KEDA creates "
        "its own):",
        manifest.rstrip(),
    ]


# ---- reading the two series and deciding (Prometheus) -----------------------------------------

CPU_QUERY = (
    'sum(rate(container_cpu_usage_seconds_total{{namespace="{namespace}",'
    'pod=~"{workload}-.*",container!=""}}[5m]))'
)
LOOKBACK = timedelta(hours=1)
STEP_SECONDS = 60.0


def wants_follow_up(investigation: str, flap_count: int, workload_class: str) -> bool:
    """A CPU or memory alert that came back (a flap of the same alert), on a workload KEDA does
    not scale yet."""
    return investigation in ("cpu", "memory") and flap_count > 0 and workload_class != "keda"


def _values(series: list[Any]) -> list[float]:
    return [v for _, v in series[0].values] if len(series) == 1 else []


def follow_up(
    client: Any,
    *,
    namespace: str,
    workload: str,
    query_template: str,
    replicas: int,
    max_replicas: int,
    end: datetime,
    server_address: str,
) -> list[str]:
    """The proposal lines, or [] when CPU does not follow the request rate (or no data)."""
    rate_query = request_rate_query(query_template, namespace, workload)
    cpu_query = CPU_QUERY.format(namespace=namespace, workload=workload)
    start = end - LOOKBACK
    cpu = _values(client.range(cpu_query, start, end, STEP_SECONDS))
    rate = _values(client.range(rate_query, start, end, STEP_SECONDS))
    r = correlation(cpu, rate)
    if r is None or r < FOLLOWS_AT:
        return []
    manifest = scaled_object_manifest(
        namespace=namespace,
        workload=workload,
        query=rate_query,
        threshold=threshold_per_replica(max(rate), replicas),
        min_replicas=max(1, min(replicas, 2)),
        max_replicas=max_replicas,
        server_address=server_address,
    )
    return proposal_lines(manifest, namespace, workload, r)


def follow_up_for_run(
    details: dict[str, Any],
    *,
    investigation: str,
    flap_count: int,
    query_template: str,
    ceiling: int,
    end: datetime,
) -> list[str]:
    """The remediate finding's follow-up lines (never raises: a problem is one line)."""
    from shared.prometheus import PrometheusClient, PrometheusError

    wl = details.get("workload") or {}
    if not isinstance(wl, dict) or wl.get("kind") != "Deployment":
        return []
    if not wants_follow_up(investigation, flap_count, str(details.get("workload_class") or "")):
        return []
    client = PrometheusClient.from_env()
    if not client.configured:
        return []
    before = details.get("before") or {}
    replicas = before.get("replicas") or before.get("current_replicas") or 1
    try:
        with client:
            return follow_up(
                client,
                namespace=str(wl.get("namespace", "")),
                workload=str(wl.get("name", "")),
                query_template=query_template,
                replicas=int(replicas),
                max_replicas=ceiling,
                end=end,
                server_address=client.settings.url,
            )
    except (PrometheusError, ValueError) as exc:
        return [f"KEDA follow-up not evaluated: {exc}"]

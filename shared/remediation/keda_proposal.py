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

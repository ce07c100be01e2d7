"""The investigate stage: evidence from Kubernetes and Prometheus, as one Finding.

    from shared.investigation import investigate
    finding = investigate(envelope)          # never raises for expected failures

Kubernetes clients come from `shared.k8s.client.load_clients` unless a factory is injected;
the Prometheus client from `shared.prometheus.PrometheusClient.from_env` unless one is injected.
Both are imported lazily.
"""

from __future__ import annotations

from shared.investigation.core import investigate

__all__ = ["investigate"]

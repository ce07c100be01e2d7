"""Clients for one entry of the cluster table, created once per cluster per process.

    from shared.clusters.routing import route_alert, RoutingProblem
    from shared.clusters.clients import client_factory, prometheus_for

    routed = route_alert(envelope.alert.labels)
    if isinstance(routed, RoutingProblem):
        ...  # a finding saying str(routed); no action
    finding = investigate(envelope, k8s_factory=client_factory(routed.cluster),
                          prometheus=prometheus_for(routed.cluster))

- `kube_clients_for(entry)`: `KubeClients` (GKE via the process's Google identity, a kubeconfig
  context, or the environment), cached: the Container API is asked once per cluster per process.
  A failure is not cached. Callers may `close()` them: that drops idle connections only.
- `client_factory(entry)`: the same as a `ClientFactory` (what the stages take).
- `prometheus_for(entry)`: the cluster's own Prometheus (its `prometheus:` entry) or the global
  PROMETHEUS_* settings; cached per cluster (the client refreshes its Google token itself).
  `prometheus_factory(entry)` for rollback's `prometheus_factory`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from shared import envvars
from shared.clusters.table import ClusterEntry
from shared.k8s.client import ClientFactory, KubeClients, load_clients
from shared.k8s.errors import K8sConfigError
from shared.k8s.settings import k8s_settings
from shared.prometheus import PrometheusClient, PrometheusSettings

_lock = threading.Lock()
_kube: dict[tuple[ClusterEntry, float | None], KubeClients] = {}
_prom: dict[ClusterEntry, PrometheusClient] = {}


def kube_clients_for(entry: ClusterEntry, max_timeout: float | None = None) -> KubeClients:
    """Kubernetes clients for the cluster (raises K8sError subclasses, like `load_clients`).
    `max_timeout` caps ALERTLOOP_K8S_TIMEOUT_SECONDS (dispatch's short reads); such clients are
    cached apart."""
    key = (entry, max_timeout)
    with _lock:
        cached = _kube.get(key)
    if cached is not None:
        return cached
    try:
        settings = k8s_settings()
    except ValueError as exc:  # a bad ALERTLOOP_K8S_* value: a configuration error, not a crash
        raise K8sConfigError(f"Kubernetes: bad setting: {exc}", fix="fix the variable") from exc
    if max_timeout is not None and max_timeout < settings.timeout_seconds:
        settings = replace(settings, timeout_seconds=max_timeout)
    # Built outside the lock: a slow Container API call must not block other clusters.
    built = load_clients(settings, cluster=entry)
    with _lock:
        return _kube.setdefault(key, built)


def client_factory(entry: ClusterEntry) -> ClientFactory:
    return lambda: kube_clients_for(entry)


def prometheus_settings_for(entry: ClusterEntry) -> PrometheusSettings:
    """The cluster's `prometheus:` entry over the global PROMETHEUS_* settings.

    Raises ValueError for a bad global setting (as `PrometheusSettings.from_env`)."""
    if entry.prometheus is None:
        return PrometheusSettings.from_env()
    p = entry.prometheus
    timeout = p.timeout_seconds
    if timeout is None:
        timeout = PrometheusSettings.from_env().timeout_seconds
    token = envvars.read(p.bearer_token_env) if p.auth == "bearer" else ""
    return PrometheusSettings(url=p.url, auth=p.auth, bearer_token=token, timeout_seconds=timeout)


def prometheus_for(entry: ClusterEntry) -> PrometheusClient:
    with _lock:
        cached = _prom.get(entry)
        if cached is None:
            cached = _prom[entry] = PrometheusClient(prometheus_settings_for(entry))
        return cached


def prometheus_factory(entry: ClusterEntry) -> Callable[[], PrometheusClient]:
    return lambda: prometheus_for(entry)


def clear_caches() -> None:
    """Forget every cached client, and the answers they gave (tests; a changed identity)."""
    from shared.clusters import gke
    from shared.workload.incident import clear_pod_cache

    with _lock:
        for clients in _kube.values():
            clients.close()
        for prom in _prom.values():
            prom.close()
        _kube.clear()
        _prom.clear()
    gke.adc_credentials.cache_clear()
    clear_pod_cache()

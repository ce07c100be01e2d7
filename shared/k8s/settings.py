"""Kubernetes access settings, read from the environment on each call (cheap; tests change env).

- KUBECONFIG (""): kubeconfig file path (first existing of a ':'-separated list)
- KUBE_CONFIG_DATA (""): a kubeconfig, base64-encoded (raw YAML accepted too)
- KUBERNETES_SERVICE_HOST (""): set inside a pod: the in-cluster config is used
- ALERTLOOP_K8S_CONTEXT (""): kubeconfig context (default: its current-context)
- ALERTLOOP_K8S_TIMEOUT_SECONDS (5): timeout of every API call
- ALERTLOOP_K8S_DEFAULT_NAMESPACE ("default"): namespace when the alert has no namespace label
- ALERTLOOP_RECENT_DEPLOY_MINUTES (30): a rollout younger than this is a "recent deploy"
- ALERTLOOP_K8S_LOG_TAIL_LINES (40): log lines read per container
- ALERTLOOP_K8S_EVENT_WINDOW_MINUTES (60): warning events older than this are ignored
- ALERTLOOP_K8S_MAX_PODS (10): pods summarised per workload
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.config import env_float


def _float(name: str, default: float) -> float:
    return env_float(name, default, positive=True)


def _int(name: str, default: int) -> int:
    return int(_float(name, default))


@dataclass(frozen=True)
class K8sSettings:
    kubeconfig: str = ""
    kubeconfig_data: str = ""
    in_cluster: bool = False
    context: str = ""
    timeout_seconds: float = 5.0
    default_namespace: str = "default"
    recent_deploy_minutes: float = 30.0
    log_tail_lines: int = 40
    event_window_minutes: float = 60.0
    max_pods: int = 10

    @property
    def configured(self) -> bool:
        return bool(self.kubeconfig or self.kubeconfig_data or self.in_cluster)


HOW_TO_CONFIGURE = (
    "set KUBECONFIG to a kubeconfig file path, or KUBE_CONFIG_DATA to a base64-encoded "
    "kubeconfig (`base64 -w0 ~/.kube/config`), or run inside the cluster"
)


def k8s_settings() -> K8sSettings:
    return K8sSettings(
        kubeconfig=os.environ.get("KUBECONFIG", "").strip(),
        kubeconfig_data=os.environ.get("KUBE_CONFIG_DATA", "").strip(),
        in_cluster=bool(os.environ.get("KUBERNETES_SERVICE_HOST", "").strip()),
        context=os.environ.get("ALERTLOOP_K8S_CONTEXT", "").strip(),
        timeout_seconds=_float("ALERTLOOP_K8S_TIMEOUT_SECONDS", 5.0),
        default_namespace=os.environ.get("ALERTLOOP_K8S_DEFAULT_NAMESPACE", "").strip()
        or "default",
        recent_deploy_minutes=_float("ALERTLOOP_RECENT_DEPLOY_MINUTES", 30.0),
        log_tail_lines=_int("ALERTLOOP_K8S_LOG_TAIL_LINES", 40),
        event_window_minutes=_float("ALERTLOOP_K8S_EVENT_WINDOW_MINUTES", 60.0),
        max_pods=_int("ALERTLOOP_K8S_MAX_PODS", 10),
    )

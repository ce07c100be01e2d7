"""Kubernetes access settings, read from the environment on each call (cheap; tests change env).
Names, defaults and meanings: the "kubernetes" section of shared/envvars.py (KUBECONFIG,
KUBE_CONFIG_DATA, KUBERNETES_SERVICE_HOST, ALERTLOOP_K8S_*, ALERTLOOP_RECENT_DEPLOY_MINUTES).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import envvars


def _float(name: str) -> float:
    return envvars.number(name, positive=True)


def _int(name: str) -> int:
    return int(_float(name))


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
        kubeconfig=envvars.read("KUBECONFIG"),
        kubeconfig_data=envvars.read("KUBE_CONFIG_DATA"),
        in_cluster=envvars.is_set("KUBERNETES_SERVICE_HOST"),
        context=envvars.read("ALERTLOOP_K8S_CONTEXT"),
        timeout_seconds=_float("ALERTLOOP_K8S_TIMEOUT_SECONDS"),
        default_namespace=envvars.read("ALERTLOOP_K8S_DEFAULT_NAMESPACE"),
        recent_deploy_minutes=_float("ALERTLOOP_RECENT_DEPLOY_MINUTES"),
        log_tail_lines=_int("ALERTLOOP_K8S_LOG_TAIL_LINES"),
        event_window_minutes=_float("ALERTLOOP_K8S_EVENT_WINDOW_MINUTES"),
        max_pods=_int("ALERTLOOP_K8S_MAX_PODS"),
    )

"""The one answer to "which alert label names the workload?" (pure, no API call).

Used everywhere a workload is named from an alert before the cluster is asked: the storm digest,
Slack's parent message, guardrail targets, incident correlation. Investigation then resolves the
same labels against the API (shared.workload.resolve), in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

# (alert label, what it names), in the order tried.
LABEL_KINDS: tuple[tuple[str, str], ...] = (
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("pod", "Pod"),
    ("service", "Service"),
    # kube-state-metrics' job_name names exactly one Job: before `app`, which a CronJob's runs
    # (and other workloads) share
    ("job_name", "Job"),
    ("app.kubernetes.io/name", "App"),
    ("app_kubernetes_io_name", "App"),  # the same label after Prometheus relabelling
    ("label_app_kubernetes_io_name", "App"),  # kube-state-metrics kube_pod_labels
    ("app", "App"),
    ("label_app", "App"),
    ("container", "App"),
    ("job", "Job"),  # often the Prometheus scrape job: tried last, 404 is expected
)

# Names that are scrape jobs / container runtimes, never workloads.
IGNORED_VALUES = frozenset(
    {"POD", "", "kubernetes-pods", "kubernetes-nodes", "kubelet", "cadvisor"}
)


@dataclass(frozen=True)
class LabelWorkload:
    namespace: str
    label: str = ""  # the label that named it ("" when none did)
    kind: str = ""
    name: str = ""

    def __str__(self) -> str:
        if not self.name:
            return f"{self.namespace or '?'}/(no workload label)"
        return f"{self.label}/{self.namespace or '?'}/{self.name}"

    @property
    def key(self) -> str:
        """Correlation key: namespace and name (kind-agnostic, as alerts name it variously)."""
        return f"{self.namespace}/{self.name}" if self.name else ""


def workload_from_labels(labels: dict[str, str]) -> LabelWorkload:
    namespace = labels.get("namespace", "").strip()
    for label, kind in LABEL_KINDS:
        value = labels.get(label, "").strip()
        if value and value not in IGNORED_VALUES:
            return LabelWorkload(namespace, label, kind, value)
    return LabelWorkload(namespace)

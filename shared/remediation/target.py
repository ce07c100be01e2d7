"""Which workload remediation would change: the investigated one, else the alert's labels —
names validated and the namespace allowlisted before any API call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.settings import k8s_settings
from shared.remediation.change_gate import Guardrails, Refusal
from shared.remediation.decide import Target
from shared.run import Run
from shared.workload.labels import workload_from_labels
from shared.workload.resolve import WorkloadRef, candidates_from_labels, resolve_workload


class TargetFinder:
    def __init__(self, run: Run, guard: Guardrails, clients: Callable[[], KubeClients]) -> None:
        self.run = run
        self.guard = guard
        self.clients = clients

    def label_target(self) -> str:
        """What the alert's labels name (for refusals before anything is resolved)."""
        wl = workload_from_labels(self.run.alert.labels)
        return str(wl) if wl.name else f"alert/{wl.namespace or '?'}/{self.run.alert.name}"

    def find(self, intended: str, investigated: Any) -> WorkloadRef | Refusal | str:
        """The workload, a refusal (audited), or why none was found."""
        if isinstance(investigated, dict):
            kind = str(investigated.get("kind", ""))
            name = str(investigated.get("name", ""))
            ns = str(investigated.get("namespace", ""))
            refusal = self.guard.check_names(intended, kind or "object", ns, name)
            if refusal is None:
                refusal = self.guard.check_namespace(intended, Target(kind, ns, name))
            return refusal if refusal is not None else WorkloadRef(kind, name, ns)
        s = k8s_settings()
        labels = self.run.alert.labels
        hints = candidates_from_labels(labels, s.default_namespace)
        if hints.problems and (not hints.candidates or not hints.namespace):
            return self.guard.refuse(
                "invalid_name",
                "; ".join(hints.problems) + ": refused before any API call",
                action=intended,
                target=self.label_target(),
            )
        # Allowlist before any API call (the namespace is known from the labels or the default).
        refusal = self.guard.check_namespace(intended, Target("Workload", hints.namespace, "?"))
        if refusal is not None:
            return refusal
        res = resolve_workload(self.clients(), labels, s.default_namespace)
        if res.workload is None:
            return res.explain_unresolved()
        return res.workload

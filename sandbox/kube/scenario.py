"""A scenario: the objects and pod logs a sandbox server starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sandbox.kube.store import LogKey


@dataclass
class Scenario:
    """Objects and logs a server starts with. Built by `sandbox.kube_scenarios`, or loaded from
    a user's `kubectl get -o yaml` dump by `sandbox.kube.dump.load_dump`."""

    name: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[LogKey, list[str]] = field(default_factory=dict)
    description: str = ""
    notes: list[str] = field(default_factory=list)  # what a loader skipped or assumed
    # How far a loader moved a dump's timestamps to replay it as of now (sandbox.kube.dump).
    time_shift: timedelta = timedelta(0)

    def add(self, *objs: dict[str, Any]) -> Scenario:
        self.objects.extend(objs)
        return self

    def log(
        self, namespace: str, pod: str, container: str, lines: list[str], previous: bool = False
    ) -> Scenario:
        self.logs[(namespace, pod, container, previous)] = list(lines)
        return self

    def extend(self, other: Scenario) -> Scenario:
        self.objects.extend(other.objects)
        self.logs.update(other.logs)
        return self

    def namespaces(self) -> list[str]:
        found = {o["metadata"].get("namespace") for o in self.objects}
        found |= {o["metadata"]["name"] for o in self.objects if o.get("kind") == "Namespace"}
        return sorted(n for n in found if n)


def load_scenario(scenario: Scenario | str | None) -> Scenario:
    """A Scenario as given, a built-in one by name, or an empty cluster."""
    if scenario is None:
        return Scenario("empty")
    if isinstance(scenario, Scenario):
        return scenario
    from sandbox import kube_scenarios

    return kube_scenarios.build(scenario)

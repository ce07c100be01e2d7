"""Field validation the API server applies to writes of the kinds alertloop changes (the parts
that catch a wrong patch: replicas, immutable selector, selector vs template labels, containers).
Each check returns the API server's cause strings; the handler answers 422 with them."""

from __future__ import annotations

import json
from typing import Any

from sandbox.kube.selectors import label_selector_matches


def _go_map(labels: dict[str, Any]) -> str:
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"map[string]string{{{inner}}}"


def _selector_string(selector: dict[str, Any]) -> str:
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def workload_causes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Deployment / ReplicaSet / StatefulSet / DaemonSet spec checks."""
    causes: list[str] = []
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return ["spec: Required value"]
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(
            f"spec.replicas: Invalid value: {json.dumps(replicas)}: must be greater than or "
            "equal to 0"
        )
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append("spec.selector: Required value")
        selector = None
    elif old is not None and selector != (old.get("spec") or {}).get("selector"):
        causes.append(f"spec.selector: Invalid value: {json.dumps(selector)}: field is immutable")
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append("spec.template: Required value")
        return causes
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector is not None and not label_selector_matches(_selector_string(selector), labels):
        causes.append(
            f"spec.template.metadata.labels: Invalid value: {_go_map(labels)}: `selector` does "
            "not match template `labels`"
        )
    containers = (template.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append("spec.template.spec.containers: Required value")
        return causes
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name"):
            causes.append(f"spec.template.spec.containers[{i}].name: Required value")
        elif not c.get("image"):
            causes.append(f"spec.template.spec.containers[{i}].image: Required value")
    return causes


def hpa_causes(new: dict[str, Any]) -> list[str]:
    spec = new.get("spec") or {}
    causes: list[str] = []
    max_r, min_r = spec.get("maxReplicas"), spec.get("minReplicas", 1)
    if not isinstance(max_r, int) or max_r < 1:
        causes.append(
            f"spec.maxReplicas: Invalid value: {json.dumps(max_r)}: must be greater than or "
            "equal to 1"
        )
    elif isinstance(min_r, int) and max_r < min_r:
        causes.append(
            f"spec.maxReplicas: Invalid value: {max_r}: must be greater than or equal to "
            "`minReplicas`"
        )
    return causes

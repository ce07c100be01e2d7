"""Label and field selectors, as list requests carry them (`labelSelector`, `fieldSelector`)."""

from __future__ import annotations

import re
from typing import Any


def _split_top(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return [p.strip() for p in out if p.strip()]


_SET_RE = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")


def label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in _split_top(selector):
        m = _SET_RE.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


# Field labels the real API server accepts per resource; any other is a 400 BadRequest.
# Source: kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/ ("Supported
# fields": every kind has metadata.name and metadata.namespace, and the kinds below more).
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
SUPPORTED_FIELDS: dict[str, frozenset[str]] = {
    "pods": _META_FIELDS
    | {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    },
    "events": _META_FIELDS
    | {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "nodes": _META_FIELDS | {"spec.unschedulable"},
    "namespaces": _META_FIELDS | {"status.phase"},
    "secrets": _META_FIELDS | {"type"},
    "replicasets": _META_FIELDS | {"status.replicas"},
    "jobs": _META_FIELDS | {"status.successful"},
}


def unsupported_field(plural: str, selector: str) -> str | None:
    """The API server's refusal of the first field label of `selector` that `plural` does not
    support (None when all are supported)."""
    allowed = SUPPORTED_FIELDS.get(plural, _META_FIELDS)
    for term in _split_top(selector):
        key = re.split(r"!=|==|=", term, maxsplit=1)[0].strip()
        if key not in allowed:
            only = ", ".join(f'"{f}"' for f in sorted(allowed))
            return f'"{key}" is not a known field selector: only {only}'
    return None


def field_selector_matches(selector: str, obj: dict[str, Any]) -> bool:
    for term in _split_top(selector):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(_dotted(obj, key.strip()) or "") == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if str(_dotted(obj, key.strip()) or "") != value.strip():
                return False
    return True

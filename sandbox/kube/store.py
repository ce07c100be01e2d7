"""The object store: objects by (plural, namespace, name), pod logs, one resourceVersion counter.
Thread-safe (one re-entrant lock, also taken by the deployment controller while it syncs)."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sandbox.kube.resources import RESOURCES, plural_for_kind

LogKey = tuple[str, str, str, bool]  # (namespace, pod, container, previous)
POD_TEMPLATE_HASH = "pod-template-hash"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_uid(*parts: str) -> str:
    """A stable uid for generated objects (scenarios are reproducible)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def without_hash_label(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


def template_hash(template: dict[str, Any]) -> str:
    raw = json.dumps(without_hash_label(template), sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:10]


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two pod templates are the same revision (what kubectl and the controller compare)."""
    return without_hash_label(a) == without_hash_label(b)


class ClusterState:
    """The objects, pod logs and a resourceVersion counter. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in RESOURCES}
        self.logs: dict[LogKey, list[str]] = {}
        self._rv = 1000

    def next_rv(self) -> str:
        with self.lock:
            self._rv += 1
            return str(self._rv)

    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._rv)

    def _key(self, plural: str, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if RESOURCES[plural].namespaced else "", name)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store (or replace) an object: fills uid/creationTimestamp, assigns a resourceVersion."""
        plural = plural_for_kind(obj["kind"])
        res = RESOURCES[plural]
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "") if res.namespaced else ""
        meta.setdefault("uid", object_uid(plural, ns, meta["name"]))
        meta.setdefault("creationTimestamp", now_iso())
        obj.setdefault("apiVersion", res.api_version)
        with self.lock:
            meta["resourceVersion"] = self.next_rv()
            self.objects[plural][(ns, meta["name"])] = obj
        return obj

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace a stored object (its metadata already complete), with a new resourceVersion."""
        meta = obj["metadata"]
        with self.lock:
            meta["resourceVersion"] = self.next_rv()
            self.objects[plural][self._key(plural, meta.get("namespace"), meta["name"])] = obj
        return obj

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects[plural].get(self._key(plural, namespace, name))

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.objects[plural].items())
        return [
            o
            for (ns, _), o in sorted(items, key=lambda kv: kv[0])
            if not namespace or ns == namespace
        ]

    def delete(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects[plural].pop(self._key(plural, namespace, name), None)

    def namespaces(self) -> list[str]:
        """Every namespace that holds an object or is declared."""
        with self.lock:
            found = {ns for objs in self.objects.values() for ns, _ in objs if ns}
            found |= {name for _, name in self.objects["namespaces"]}
        return sorted(found)

    def set_log(
        self, namespace: str, pod: str, container: str, lines: list[str], previous: bool = False
    ) -> None:
        with self.lock:
            self.logs[(namespace, pod, container, previous)] = list(lines)

    def owned_by(self, plural: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        """Objects whose controller ownerReference is `owner` (matched by uid)."""
        uid = owner["metadata"].get("uid")
        ns = owner["metadata"].get("namespace")
        return [
            o
            for o in self.list(plural, ns)
            if any(
                r.get("uid") == uid and r.get("controller", True)
                for r in o["metadata"].get("ownerReferences") or []
            )
        ]

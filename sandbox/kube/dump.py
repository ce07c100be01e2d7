"""Serve a user's own cluster: load the output of

    kubectl get deploy,rs,pods,sts,ds,hpa,svc,endpointslices,pvc,quota,nodes,events,apiservices \
        -A -o yaml > dump.yaml

(`apiservices` lets the investigation see whether metrics-server is Available; without it the
sandbox reports metrics-server missing. `endpointslices`, `quota` and `nodes` let the diagnosis
see a dependency's ready endpoints, a namespace's quotas and a node's pressure.)

as a `Scenario`. Objects are taken as given — statuses, owner references, uids, revision
annotations — so the sandbox answers reads exactly as the cluster did; the deployment controller
changes a dumped deployment only after something writes to it.

Optional pod logs come from a side file (default: `<dump>.logs.yaml` next to the dump), a YAML
mapping of `namespace/pod/container` (current log) or `namespace/pod/container/previous` (the
previous container's log, what `kubectl logs --previous` shows) to the log text:

    shop/checkout-7c9f8d7b6d-x2x4k/checkout: |
      2024-06-12T10:01:02Z INFO  starting checkout 2.1.0
    shop/checkout-7c9f8d7b6d-x2x4k/checkout/previous: |
      2024-06-12T10:00:59Z ERROR panic: nil map

Kinds the sandbox does not serve are skipped with a note (Secrets always are); anything else
that is wrong raises `DumpError` saying which item and why.

A dump whose List carries the annotation `alertloop.io/dumped-at: <RFC 3339 time>` (the demo
cluster, sandbox/demo/dump.yaml) is replayed as if taken now: every RFC 3339 timestamp in its
objects and logs moves by (now - dumped-at), so a rollout "12 minutes ago" stays 12 minutes ago.
`kubectl` never writes that annotation: a user's own dump is served with its times as given.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sandbox.kube.resources import RESOURCES
from sandbox.kube.scenario import Scenario
from sandbox.kube.store import LogKey

KUBECTL_DUMP = (
    "kubectl get deploy,rs,pods,sts,ds,hpa,svc,endpointslices,pvc,quota,nodes,events,apiservices "
    "-A -o yaml > dump.yaml"
)
SERVED_KINDS = {res.kind: res for res in RESOURCES.values()}
NEVER_LOADED = {"Secret"}
DROPPED_METADATA = ("managedFields", "resourceVersion", "selfLink")
DUMPED_AT = "alertloop.io/dumped-at"
# RFC 3339 as the API server writes Time and MicroTime (and log lines start with).
_TIMESTAMP = re.compile(r"\b(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)\b")


class DumpError(ValueError):
    """The file is not a usable cluster dump; the message says what to fix."""


def logs_path_for(dump: Path) -> Path:
    """The default side file: `shop.yaml` -> `shop.logs.yaml`."""
    return dump.with_name(f"{dump.stem}.logs{dump.suffix or '.yaml'}")


def load_dump(
    path: str | Path, logs: str | Path | None = None, *, now: datetime | None = None
) -> Scenario:
    """A Scenario from a `kubectl get … -A -o yaml` List (and its pod logs, if any); a dump
    annotated with DUMPED_AT is moved to `now` (default: the current time)."""
    dump = Path(path)
    if not dump.is_file():
        raise DumpError(f"{dump}: no such file (make one with: {KUBECTL_DUMP})")
    sc = parse_dump(dump.read_text(), name=f"dump:{dump.name}", source=str(dump), now=now)
    logs_file = Path(logs) if logs else logs_path_for(dump)
    if logs and not logs_file.is_file():
        raise DumpError(f"{logs_file}: no such logs file")
    if logs_file.is_file():
        found = parse_logs(logs_file.read_text(), sc, source=str(logs_file))
        sc.logs.update(
            {
                key: [shift_timestamps(line, sc.time_shift) for line in lines]
                for key, lines in found.items()
            }
            if sc.time_shift
            else found
        )
        sc.notes.append(f"pod logs from {logs_file} ({len(sc.logs)} container logs)")
    return sc


def parse_dump(
    text: str, *, name: str = "dump", source: str = "the dump", now: datetime | None = None
) -> Scenario:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DumpError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "List":
        got = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
        raise DumpError(
            f"{source} is not a `kind: List` (got {got!r}): make it with `{KUBECTL_DUMP}`"
        )
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        raise DumpError(f"{source} holds no objects (`items` is empty)")
    sc = Scenario(name, description=f"cluster dump {source}")
    dumped_at = _dumped_at(doc, source)
    if dumped_at is not None:
        # whole seconds: the API's Time has no fraction, so "12 minutes ago" stays exact
        at = (now or datetime.now(UTC)).replace(microsecond=0)
        sc.time_shift = at - dumped_at
        items = [_shifted(item, sc.time_shift) for item in items]
    skipped: Counter[str] = Counter()
    seen: dict[tuple[str, str, str], int] = {}
    for i, item in enumerate(items):
        obj = _item(item, i, source)
        kind = obj["kind"]
        if kind in NEVER_LOADED or kind not in SERVED_KINDS:
            skipped[kind] += 1
            continue
        meta = obj["metadata"]
        key = (kind, meta.get("namespace", ""), meta["name"])
        if key in seen:
            sc.notes.append(
                f"{_what(obj)} appears twice (items {seen[key]} and {i}): kept the last"
            )
            sc.objects[:] = [o for o in sc.objects if _key(o) != key]
        seen[key] = i
        sc.add(obj)
    for kind, n in sorted(skipped.items()):
        why = "never loaded" if kind in NEVER_LOADED else "not served by the sandbox"
        sc.notes.append(f"skipped {n} {kind} object(s): {why}")
    if not sc.objects:
        raise DumpError(f"{source} holds none of the kinds the sandbox serves")
    declared = {o["metadata"]["name"] for o in sc.objects if o["kind"] == "Namespace"}
    for ns in sorted({o["metadata"].get("namespace") for o in sc.objects} - declared - {None}):
        sc.add(_namespace(ns))
    return sc


def _dumped_at(doc: dict[str, Any], source: str) -> datetime | None:
    meta = doc.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    raw = annotations.get(DUMPED_AT) if isinstance(annotations, dict) else None
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise DumpError(
            f"{source}: annotation {DUMPED_AT} must be an RFC 3339 time with its zone "
            f"(2026-01-01T12:00:00Z), not {raw!r}"
        )
    return at


def shift_timestamps(text: str, by: timedelta) -> str:
    """`text` with every RFC 3339 timestamp in it moved by `by` (format and zone kept)."""

    def moved(m: re.Match[str]) -> str:
        whole, fraction, zone = m.group(1), m.group(2) or "", m.group(3)
        try:
            t = datetime.fromisoformat(f"{whole}{fraction}{zone}") + by
        except ValueError:  # 2026-13-40T...: not a time, left as written
            return m.group(0)
        out = t.strftime("%Y-%m-%dT%H:%M:%S")
        if fraction:
            out += "." + f"{t.microsecond:06d}"[: len(fraction) - 1].ljust(len(fraction) - 1, "0")
        return out + zone

    return _TIMESTAMP.sub(moved, text)


def _shifted(value: Any, by: timedelta) -> Any:
    """Every string in an object that is a timestamp, moved by `by`."""
    if isinstance(value, dict):
        return {k: _shifted(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, by) for v in value]
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        return shift_timestamps(value, by)
    return value


def _item(item: Any, i: int, source: str) -> dict[str, Any]:
    where = f"{source}: item {i}"
    if not isinstance(item, dict):
        raise DumpError(f"{where} is not an object")
    kind = item.get("kind")
    if not kind or not item.get("apiVersion"):
        raise DumpError(f"{where} has no kind/apiVersion (was the List edited by hand?)")
    meta = item.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise DumpError(f"{where} ({kind}) has no metadata.name")
    obj = copy.deepcopy(item)
    for key in DROPPED_METADATA:
        obj["metadata"].pop(key, None)
    res = SERVED_KINDS.get(kind)
    if res is None:
        return obj
    if res.namespaced and not obj["metadata"].get("namespace"):
        raise DumpError(
            f"{where} ({kind} {meta['name']}) has no metadata.namespace: dump with -A "
            "(--all-namespaces) so every object says where it lives"
        )
    if kind == "HorizontalPodAutoscaler" and item["apiVersion"] == "autoscaling/v1":
        obj = _hpa_from_v1(obj)
    if kind == "Event" and item["apiVersion"] == "events.k8s.io/v1":
        obj = _event_from_events_v1(obj)
    obj["apiVersion"] = res.api_version
    return obj


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _what(obj: dict[str, Any]) -> str:
    ns = obj["metadata"].get("namespace")
    return f"{obj['kind']} {ns + '/' if ns else ''}{obj['metadata']['name']}"


def _namespace(name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _hpa_from_v1(obj: dict[str, Any]) -> dict[str, Any]:
    """autoscaling/v1 (CPU target only) as the autoscaling/v2 the sandbox serves."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        ]
    current = status.pop("currentCPUUtilizationPercentage", None)
    if current is not None:
        status["currentMetrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": current}},
            }
        ]
    ann = obj["metadata"].get("annotations") or {}
    raw = ann.pop("autoscaling.alpha.kubernetes.io/conditions", None)
    if raw:
        with contextlib.suppress(yaml.YAMLError):  # unreadable conditions: left out
            status["conditions"] = yaml.safe_load(raw)
    return obj


def _event_from_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in the core/v1 shape (`kubectl get events` prints core/v1)."""
    series = obj.get("series") or {}
    out = {
        "kind": "Event",
        "metadata": obj["metadata"],
        "involvedObject": obj.get("regarding") or {},
        "reason": obj.get("reason", ""),
        "message": obj.get("note", ""),
        "type": obj.get("type", "Normal"),
        "count": obj.get("deprecatedCount") or series.get("count") or 1,
        "firstTimestamp": obj.get("deprecatedFirstTimestamp") or obj.get("eventTime"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp")
        or series.get("lastObservedTime")
        or obj.get("eventTime"),
        "source": obj.get("deprecatedSource") or {"component": obj.get("reportingController", "")},
    }
    return out


def parse_logs(
    text: str, sc: Scenario, *, source: str = "the logs file"
) -> dict[LogKey, list[str]]:
    """The side file's logs, checked against the dump's pods and their containers."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DumpError(f"{source} is not valid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DumpError(f"{source} must map `namespace/pod/container` to log text")
    pods = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p
        for p in sc.objects
        if p["kind"] == "Pod"
    }
    out: dict[LogKey, list[str]] = {}
    for key, value in doc.items():
        parts = str(key).split("/")
        previous = len(parts) == 4 and parts[3] == "previous"
        if len(parts) not in (3, 4) or (len(parts) == 4 and not previous) or not all(parts):
            raise DumpError(f"{source}: key {key!r} is not namespace/pod/container[/previous]")
        ns, pod_name, container = parts[:3]
        pod = pods.get((ns, pod_name))
        if pod is None:
            raise DumpError(f"{source}: pod {ns}/{pod_name} is not in the dump")
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in (spec.get("containers") or [])]
        names += [c.get("name") for c in (spec.get("initContainers") or [])]
        if container not in names:
            raise DumpError(
                f"{source}: pod {ns}/{pod_name} has no container {container!r} "
                f"(it has: {', '.join(str(n) for n in names)})"
            )
        if not isinstance(value, str):
            raise DumpError(f"{source}: {key!r} must be the log text (a string)")
        out[(ns, pod_name, container, previous)] = value.splitlines()
    return out


def dump_namespaces(sc: Scenario) -> list[str]:
    """The namespaces of a dump's workloads (where remediation may act in the sandbox)."""
    workloads = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"}
    return sorted({o["metadata"]["namespace"] for o in sc.objects if o["kind"] in workloads})


__all__ = [
    "DUMPED_AT",
    "KUBECTL_DUMP",
    "DumpError",
    "dump_namespaces",
    "load_dump",
    "logs_path_for",
    "parse_dump",
    "parse_logs",
    "shift_timestamps",
]

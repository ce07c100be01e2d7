"""A sandbox Kubernetes API server: the REST API over plain HTTP, for tests and the local demo.

No real API server can run here, so this serves realistic object shapes (from
`sandbox.kube_scenarios`) and the real `kubernetes` python client talks to it.

In-process (tests)::

    with KubeApiServer("crashloop") as srv:
        os.environ["KUBECONFIG"] = srv.kubeconfig_path
        ...
        srv.requests                # every request: method, path, query, content type, body
        srv.add_fault(Fault("forbidden", resource="pods", verb="list"))
        srv.mutate("deployments", "shop", "checkout", lambda d: d["status"].update(...))

As a process (local demo)::

    python -m sandbox.kube_api --scenario demo --kubeconfig-out /tmp/kubeconfig

prints one JSON line ``{"url": ..., "kubeconfig": ...}`` when ready and serves until SIGTERM.

Supported: GET/list (labelSelector, fieldSelector, limit) on the resources in `RESOURCES`,
pods/{name}/log (container, tailLines, previous), deployments|statefulsets|replicasets/{name}/scale
(GET, PATCH, PUT), PATCH (strategic-merge, merge and json patch) with a resourceVersion
precondition (409 on a stale one), PUT, POST and DELETE, /version and API discovery.
A PATCH that changes a deployment's pod template rolls it out: a new ReplicaSet revision is
created, or an old one is re-used when the template matches it (what `rollout undo` relies on).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SANDBOX_GIT_VERSION = "v1.30.2-alertloop-sandbox"
SANDBOX_CLUSTER_NAME = "alertloop-sandbox"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Resource:
    plural: str
    group: str
    version: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("namespaces", "", "v1", "Namespace", namespaced=False, short_names=("ns",)),
        Resource("pods", "", "v1", "Pod", short_names=("po",), subresources=("log", "status")),
        Resource("services", "", "v1", "Service", short_names=("svc",)),
        Resource("events", "", "v1", "Event", short_names=("ev",)),
        Resource("deployments", "apps", "v1", "Deployment", subresources=("scale", "status")),
        Resource("replicasets", "apps", "v1", "ReplicaSet", subresources=("scale", "status")),
        Resource("statefulsets", "apps", "v1", "StatefulSet", subresources=("scale", "status")),
        Resource("daemonsets", "apps", "v1", "DaemonSet", subresources=("status",)),
        Resource("jobs", "batch", "v1", "Job", subresources=("status",)),
        Resource(
            "horizontalpodautoscalers",
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            short_names=("hpa",),
            subresources=("status",),
        ),
        Resource("apiservices", "apiregistration.k8s.io", "v1", "APIService", namespaced=False),
    )
}

SCALABLE = {"deployments", "statefulsets", "replicasets"}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """A configured failure. None fields match anything.

    kind: "forbidden" (403), "not_found" (404), "error" (500), "conflict" (409), or "delay"
    (sleep `seconds` then serve normally). `resource` is a plural, optionally with a subresource
    ("pods/log"); `verb` is get|list|watch|patch|update|create|delete. `times` limits how many
    requests it applies to (None: all).
    """

    kind: str
    resource: str | None = None
    verb: str | None = None
    namespace: str | None = None
    name: str | None = None
    seconds: float = 0.0
    times: int | None = None
    path_contains: str | None = None
    user: str = "system:serviceaccount:alertloop:alertloop-investigator"

    def matches(self, req: ParsedRequest) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        checks = (
            (self.resource, req.full_resource),
            (self.verb, req.verb),
            (self.namespace, req.namespace),
            (self.name, req.name),
        )
        if any(want is not None and want != got for want, got in checks):
            return False
        return not (self.path_contains and self.path_contains not in req.path)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int = 0
    time: float = 0.0

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class ParsedRequest:
    method: str
    path: str
    query: dict[str, str]
    group: str = ""
    version: str = ""
    resource: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    kind: str = "resource"  # resource | discovery | version | unknown

    @property
    def verb(self) -> str:
        if self.method == "GET":
            if self.name is None:
                return "watch" if self.query.get("watch") in ("1", "true") else "list"
            return "get"
        return {
            "PATCH": "patch",
            "PUT": "update",
            "POST": "create",
            "DELETE": "delete",
        }.get(self.method, self.method.lower())

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.body = status_object(code, reason, message, details)


def parse_path(method: str, raw_path: str) -> ParsedRequest:
    split = urlsplit(raw_path)
    query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    parts = [p for p in split.path.split("/") if p]
    req = ParsedRequest(method=method, path=split.path, query=query)
    if parts == ["version"]:
        req.kind = "version"
        return req
    if parts and parts[0] == "api":
        if len(parts) <= 2:
            req.kind = "discovery"
            return req
        req.group, req.version, rest = "", parts[1], parts[2:]
    elif parts and parts[0] == "apis":
        if len(parts) <= 3:
            req.kind = "discovery"
            return req
        req.group, req.version, rest = parts[1], parts[2], parts[3:]
    else:
        req.kind = "unknown"
        return req
    if rest[0] == "namespaces" and len(rest) >= 3:
        req.namespace = rest[1]
        rest = rest[2:]
    req.resource = rest[0]
    if len(rest) >= 2:
        req.name = rest[1]
    if len(rest) >= 3:
        req.subresource = "/".join(rest[2:])
    return req


# --------------------------------------------------------------------------- selectors


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


# --------------------------------------------------------------------------- patches


_MERGE_KEYS = ("name", "type", "containerPort", "mountPath", "devicePath", "ip")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, enough of it: lists of named objects merge by their merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    if patch.get("$patch") == "replace":
        out = {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $patch, $retainKeys, $setElementOrder/... directives
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        if isinstance(value, list) and isinstance(current, list):
            mkey = _merge_key(value) if value else None
            if mkey and _merge_key(current) == mkey:
                merged = [copy.deepcopy(c) for c in current]
                for item in value:
                    idx = next(
                        (i for i, c in enumerate(merged) if c.get(mkey) == item.get(mkey)), None
                    )
                    if item.get("$patch") == "delete":
                        if idx is not None:
                            merged.pop(idx)
                    elif idx is None:
                        merged.append({k: v for k, v in item.items() if not k.startswith("$")})
                    else:
                        merged[idx] = strategic_merge_patch(merged[idx], item)
                out[key] = merged
                continue
        out[key] = strategic_merge_patch(current, value)
    return out


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 (add, replace, remove, test)."""
    doc = copy.deepcopy(target)
    for op in ops:
        parts = _pointer(op["path"])
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1] if parts else ""
        kind = op.get("op")
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ApiError(422, "Invalid", f"json patch test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
        else:
            raise ApiError(422, "Invalid", f"unsupported json patch op {kind!r}")
    return doc


# --------------------------------------------------------------------------- state


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def template_hash(template: dict[str, Any]) -> str:
    t = copy.deepcopy(template)
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    raw = json.dumps(t, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:10]


class ClusterState:
    """The objects, pod logs and a resourceVersion counter. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in RESOURCES}
        # (namespace, pod, container, previous) -> lines
        self.logs: dict[tuple[str, str, str, bool], list[str]] = {}
        self._rv = 1000

    def next_rv(self) -> str:
        with self.lock:
            self._rv += 1
            return str(self._rv)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        plural = plural_for_kind(obj["kind"])
        res = RESOURCES[plural]
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "") if res.namespaced else ""
        meta.setdefault("uid", _uid(plural, ns, meta["name"]))
        meta.setdefault("creationTimestamp", now_iso())
        meta["resourceVersion"] = self.next_rv()
        obj.setdefault("apiVersion", res.api_version)
        with self.lock:
            self.objects[plural][(ns, meta["name"])] = obj
        return obj

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        ns = namespace or "" if RESOURCES[plural].namespaced else ""
        with self.lock:
            return self.objects[plural].get((ns, name))

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.objects[plural].items())
        return [
            o
            for (ns, _), o in sorted(items, key=lambda kv: kv[0])
            if not namespace or ns == namespace
        ]

    def delete(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        ns = namespace or "" if RESOURCES[plural].namespaced else ""
        with self.lock:
            return self.objects[plural].pop((ns, name), None)

    def set_log(
        self, namespace: str, pod: str, container: str, lines: list[str], previous: bool = False
    ) -> None:
        with self.lock:
            self.logs[(namespace, pod, container, previous)] = list(lines)


def plural_for_kind(kind: str) -> str:
    for plural, res in RESOURCES.items():
        if res.kind == kind:
            return plural
    raise KeyError(f"sandbox does not serve kind {kind!r}")


# --------------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """Objects and logs a server starts with. Built by `sandbox.kube_scenarios`."""

    name: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[tuple[str, str, str, bool], list[str]] = field(default_factory=dict)
    description: str = ""

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


def _load_scenario(scenario: Scenario | str | None) -> Scenario:
    if scenario is None:
        return Scenario("empty")
    if isinstance(scenario, Scenario):
        return scenario
    from sandbox import kube_scenarios

    return kube_scenarios.build(scenario)


# --------------------------------------------------------------------------- server


class KubeApiServer:
    """The sandbox API server. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        scenario: Scenario | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: str | Path | None = None,
        namespace: str = "default",
        token: str = "sandbox-token",
    ) -> None:
        self.scenario = _load_scenario(scenario)
        self.state = ClusterState()
        for obj in self.scenario.objects:
            self.state.add(copy.deepcopy(obj))
        for key, lines in self.scenario.logs.items():
            self.state.set_log(*key[:3], lines, previous=key[3])
        self.faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._host, self._port = host, port
        self._namespace = namespace
        self._token = token
        self._kubeconfig_out = Path(kubeconfig_path) if kubeconfig_path else None
        self._tmpdir: str | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig_path = ""

    # lifecycle ---------------------------------------------------------------

    def start(self) -> KubeApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="kube-api-sandbox", daemon=True
        )
        self._thread.start()
        if self._kubeconfig_out is None:
            self._tmpdir = tempfile.mkdtemp(prefix="alertloop-kube-")
            self._kubeconfig_out = Path(self._tmpdir) / "kubeconfig"
        self._kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
        self._kubeconfig_out.write_text(self.kubeconfig_text)
        self.kubeconfig_path = str(self._kubeconfig_out)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def kubeconfig_text(self) -> str:
        return json.dumps(self.kubeconfig_dict(), indent=2)

    @property
    def kubeconfig_b64(self) -> str:
        """The kubeconfig base64-encoded, as `KUBE_CONFIG_DATA` carries it."""
        return base64.b64encode(self.kubeconfig_text.encode()).decode()

    def kubeconfig_dict(self) -> dict[str, Any]:
        name = SANDBOX_CLUSTER_NAME
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": self.url}}],
            "users": [{"name": name, "user": {"token": self._token}}],
            "contexts": [
                {
                    "name": name,
                    "context": {"cluster": name, "user": name, "namespace": self._namespace},
                }
            ],
            "current-context": name,
        }

    # test hooks ----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.state.lock:
            self._requests.clear()

    def requests_matching(
        self, method: str | None = None, path_contains: str = ""
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and path_contains in r.path
        ]

    def add_fault(self, fault: Fault) -> Fault:
        with self.state.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.state.lock:
            self.faults.clear()

    def get_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        obj = self.state.get(plural, namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (bumps resourceVersion)."""
        return copy.deepcopy(self.state.add(copy.deepcopy(obj)))

    def delete_object(self, plural: str, namespace: str | None, name: str) -> None:
        self.state.delete(plural, namespace, name)

    def mutate(
        self, plural: str, namespace: str | None, name: str, fn: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Change a stored object in place (e.g. set a deployment's status); bumps its RV."""
        with self.state.lock:
            obj = self.state.get(plural, namespace, name)
            if obj is None:
                raise KeyError(f"{plural} {namespace}/{name} not found")
            fn(obj)
            obj["metadata"]["resourceVersion"] = self.state.next_rv()
            return copy.deepcopy(obj)

    def set_status(
        self, plural: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        return self.mutate(plural, namespace, name, lambda o: o.__setitem__("status", status))

    def set_log(
        self, namespace: str, pod: str, container: str, lines: list[str], previous: bool = False
    ) -> None:
        self.state.set_log(namespace, pod, container, lines, previous)

    # request handling --------------------------------------------------------------

    def _record(self, rec: RecordedRequest) -> None:
        with self.state.lock:
            self._requests.append(rec)

    def _apply_faults(self, req: ParsedRequest) -> None:
        with self.state.lock:
            matched = [f for f in self.faults if f.matches(req)]
            for f in matched:
                if f.times is not None:
                    f.times -= 1
        for f in matched:
            if f.kind == "delay":
                time.sleep(f.seconds)
        for f in matched:
            if f.kind == "forbidden":
                res = RESOURCES.get(req.resource)
                group = res.group if res else req.group
                where = (
                    f' in the namespace "{req.namespace}"'
                    if req.namespace
                    else " at the cluster scope"
                )
                raise ApiError(
                    403,
                    "Forbidden",
                    f"{req.full_resource}{'.' + group if group else ''}"
                    + (f' "{req.name}"' if req.name else "")
                    + f' is forbidden: User "{f.user}" cannot {req.verb} resource '
                    f'"{req.full_resource}" in API group "{group}"{where}',
                    {"name": req.name or "", "group": group, "kind": req.resource},
                )
            if f.kind == "not_found":
                raise ApiError(
                    404,
                    "NotFound",
                    f'{req.resource} "{req.name or ""}" not found',
                    {"name": req.name or "", "kind": req.resource},
                )
            if f.kind == "conflict":
                raise ApiError(409, "Conflict", "the object has been modified (fault)")
            if f.kind == "error":
                raise ApiError(500, "InternalError", "an error on the server (sandbox fault)")

    def handle(
        self, method: str, raw_path: str, content_type: str, body: bytes
    ) -> tuple[int, str, bytes]:
        req = parse_path(method, raw_path)
        parsed_body: Any = None
        if body:
            try:
                parsed_body = json.loads(body)
            except ValueError:
                parsed_body = body.decode(errors="replace")
        status = 500
        try:
            self._apply_faults(req)
            status, ctype, payload = self._dispatch(req, content_type, parsed_body)
        except ApiError as exc:
            status, ctype, payload = exc.code, "application/json", json.dumps(exc.body).encode()
        finally:
            self._record(
                RecordedRequest(
                    method, req.path, req.query, content_type, parsed_body, status, time.time()
                )
            )
        return status, ctype, payload

    def _dispatch(self, req: ParsedRequest, content_type: str, body: Any) -> tuple[int, str, bytes]:
        if req.kind == "version":
            return _ok(
                {
                    "major": "1",
                    "minor": "30",
                    "gitVersion": SANDBOX_GIT_VERSION,
                    "gitCommit": "0" * 40,
                    "gitTreeState": "clean",
                    "buildDate": "2024-06-11T00:00:00Z",
                    "goVersion": "go1.22.4",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                }
            )
        if req.kind == "discovery":
            return _ok(self._discovery(req.path))
        if req.kind == "unknown":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        res = RESOURCES.get(req.resource)
        if res is None or res.group != req.group or res.version != req.version:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if req.subresource == "log":
            return self._log(req)
        if req.subresource == "scale":
            return self._scale(req, res, content_type, body)
        if req.method == "GET":
            if req.name is None:
                return _ok(self._list(req, res))
            return _ok(self._get(req, res))
        if req.method == "PATCH":
            return _ok(self._patch(req, res, content_type, body))
        if req.method == "PUT":
            return _ok(self._put(req, res, body))
        if req.method == "POST":
            return 201, "application/json", json.dumps(self._create(req, res, body)).encode()
        if req.method == "DELETE":
            return _ok(self._delete(req, res))
        raise ApiError(405, "MethodNotAllowed", f"method {req.method} not allowed")

    # discovery -------------------------------------------------------------------

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for res in RESOURCES.values():
            if res.group:
                groups.setdefault(res.group, [])
                if res.version not in groups[res.group]:
                    groups[res.group].append(res.version)
        if self._metrics_available():
            groups["metrics.k8s.io"] = ["v1beta1"]
        return groups

    def _metrics_available(self) -> bool:
        svc = self.state.get("apiservices", None, "v1beta1.metrics.k8s.io")
        if not svc:
            return False
        return any(
            c.get("type") == "Available" and c.get("status") == "True"
            for c in svc.get("status", {}).get("conditions", [])
        )

    def _discovery(self, path: str) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self.port}"}
                ],
            }
        if parts == ["apis"]:
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in sorted(self._groups().items())
                ],
            }
        if len(parts) == 2 and parts[0] == "apis":
            vs = self._groups().get(parts[1])
            if not vs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return {
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": parts[1],
                "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{parts[1]}/{vs[0]}", "version": vs[0]},
            }
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        if group == "metrics.k8s.io" and self._metrics_available():
            names = [("pods", "PodMetrics", True), ("nodes", "NodeMetrics", False)]
            resources = [
                {
                    "name": n,
                    "singularName": "",
                    "namespaced": ns,
                    "kind": k,
                    "verbs": ["get", "list"],
                }
                for n, k, ns in names
            ]
        else:
            resources = []
            for res in RESOURCES.values():
                if res.group == group and res.version == version:
                    resources.append(
                        {
                            "name": res.plural,
                            "singularName": res.kind.lower(),
                            "namespaced": res.namespaced,
                            "kind": res.kind,
                            "verbs": [
                                "create",
                                "delete",
                                "get",
                                "list",
                                "patch",
                                "update",
                                "watch",
                            ],
                            "shortNames": list(res.short_names),
                        }
                    )
                    for sub in res.subresources:
                        resources.append(
                            {
                                "name": f"{res.plural}/{sub}",
                                "singularName": "",
                                "namespaced": res.namespaced,
                                "kind": "Scale" if sub == "scale" else res.kind,
                                "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                            }
                        )
            if not resources:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }

    # CRUD ----------------------------------------------------------------------------

    def _not_found(self, res: Resource, name: str) -> ApiError:
        return ApiError(
            404,
            "NotFound",
            f'{res.group_resource} "{name}" not found',
            {"name": name, "group": res.group, "kind": res.plural},
        )

    def _get(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        assert req.name is not None
        obj = self.state.get(res.plural, req.namespace, req.name)
        if obj is None:
            raise self._not_found(res, req.name)
        return _with_kind(obj, res)

    def _list(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        items = self.state.list(res.plural, req.namespace if res.namespaced else None)
        lsel, fsel = req.query.get("labelSelector", ""), req.query.get("fieldSelector", "")
        if lsel:
            items = [
                i for i in items if label_selector_matches(lsel, i["metadata"].get("labels") or {})
            ]
        if fsel:
            items = [i for i in items if field_selector_matches(fsel, i)]
        limit = int(req.query.get("limit") or 0)
        if limit:
            items = items[:limit]
        return {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(self.state._rv)},
            "items": [copy.deepcopy(i) for i in items],
        }

    def _check_precondition(self, res: Resource, current: dict[str, Any], body: Any) -> None:
        wanted = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {res.group_resource} "
                f'"{current["metadata"]["name"]}":'
                " the object has been modified; please apply your changes to the latest version"
                " and try again",
                {"name": current["metadata"]["name"], "group": res.group, "kind": res.plural},
            )

    @staticmethod
    def _apply_patch(current: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
        ctype = content_type.split(";")[0].strip()
        if ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise ApiError(400, "BadRequest", "json patch body must be a list of operations")
            return dict(json_patch(current, body))
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "patch body must be a JSON object")
        if ctype == "application/merge-patch+json":
            return dict(merge_patch(current, body))
        if ctype == "application/strategic-merge-patch+json":
            return dict(strategic_merge_patch(current, body))
        if ctype == "application/apply-patch+yaml":
            raise ApiError(
                415, "UnsupportedMediaType", "server-side apply is not supported by the sandbox"
            )
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format: {ctype}",
        )

    def _store_update(
        self, res: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        meta = new.setdefault("metadata", {})
        for key in ("name", "namespace", "uid", "creationTimestamp"):
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
        if new.get("spec") != old.get("spec") and res.plural in (
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "horizontalpodautoscalers",
        ):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        meta["resourceVersion"] = self.state.next_rv()
        ns = meta.get("namespace", "") if res.namespaced else ""
        with self.state.lock:
            self.state.objects[res.plural][(ns, meta["name"])] = new
        if res.plural == "deployments":
            old_t = old.get("spec", {}).get("template")
            new_t = new.get("spec", {}).get("template")
            if old_t != new_t and new_t is not None:
                self._rollout(new)
            self._sync_deployment_status(new)
        return new

    def _patch(
        self, req: ParsedRequest, res: Resource, content_type: str, body: Any
    ) -> dict[str, Any]:
        assert req.name is not None
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise self._not_found(res, req.name)
            if isinstance(body, dict):
                self._check_precondition(res, current, body)
            patched = self._apply_patch(current, content_type, body)
            if isinstance(body, list):  # json patch: check a resourceVersion test/replace
                rv = patched.get("metadata", {}).get("resourceVersion")
                if rv != current["metadata"]["resourceVersion"]:
                    self._check_precondition(res, current, {"metadata": {"resourceVersion": rv}})
            if req.subresource == "status":
                patched = {**current, "status": patched.get("status", current.get("status"))}
            return _with_kind(self._store_update(res, current, patched), res)

    def _put(self, req: ParsedRequest, res: Resource, body: Any) -> dict[str, Any]:
        assert req.name is not None
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be a JSON object")
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise self._not_found(res, req.name)
            self._check_precondition(res, current, body)
            new = copy.deepcopy(body)
            if req.subresource == "status":
                new = {**current, "status": body.get("status", {})}
            return _with_kind(self._store_update(res, current, new), res)

    def _create(self, req: ParsedRequest, res: Resource, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            if isinstance(body, dict) and body.get("metadata", {}).get("generateName"):
                body["metadata"]["name"] = body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(
                    422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value"
                )
        body = copy.deepcopy(body)
        body.setdefault("kind", res.kind)
        if res.namespaced:
            body["metadata"]["namespace"] = req.namespace or body["metadata"].get(
                "namespace", "default"
            )
        if self.state.get(res.plural, req.namespace, body["metadata"]["name"]) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{res.group_resource} "{body["metadata"]["name"]}" already exists',
            )
        return _with_kind(self.state.add(body), res)

    def _delete(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        assert req.name is not None
        obj = self.state.delete(res.plural, req.namespace, req.name)
        if obj is None:
            raise self._not_found(res, req.name)
        return _with_kind(obj, res)

    # subresources --------------------------------------------------------------------

    def _log(self, req: ParsedRequest) -> tuple[int, str, bytes]:
        assert req.name is not None
        pod = self.state.get("pods", req.namespace, req.name)
        if pod is None:
            raise self._not_found(RESOURCES["pods"], req.name)
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        container = req.query.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {req.name}, choose one of: "
                    f"[{' '.join(containers)}]",
                )
            container = containers[0]
        elif container not in containers:
            raise ApiError(
                400, "BadRequest", f"container {container} is not valid for pod {req.name}"
            )
        previous = req.query.get("previous") in ("true", "1", "True")
        with self.state.lock:
            lines = self.state.logs.get((req.namespace or "", req.name, container, previous))
        if lines is None:
            if previous:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{req.name}" not found',
                )
            lines = []
        tail = req.query.get("tailLines")
        if tail:
            n = int(tail)
            lines = lines[-n:] if n > 0 else []
        text = "".join(line + "\n" for line in lines)
        return 200, "text/plain", text.encode()

    def _scale(
        self, req: ParsedRequest, res: Resource, content_type: str, body: Any
    ) -> tuple[int, str, bytes]:
        assert req.name is not None
        if res.plural not in SCALABLE:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise self._not_found(res, req.name)
            if req.method in ("PATCH", "PUT"):
                scale = _scale_of(current)
                if isinstance(body, dict):
                    self._check_precondition(res, current, body)
                new_scale = (
                    self._apply_patch(scale, content_type, body) if req.method == "PATCH" else body
                )
                replicas = (new_scale or {}).get("spec", {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise ApiError(
                        422, "Invalid", "Scale.spec.replicas: Invalid value: must be >= 0"
                    )
                new = copy.deepcopy(current)
                new["spec"]["replicas"] = replicas
                current = self._store_update(res, current, new)
            elif req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"method {req.method} not allowed on scale")
            return _ok(_scale_of(current))

    # deployments ---------------------------------------------------------------------

    def _owned_replicasets(self, deploy: dict[str, Any]) -> list[dict[str, Any]]:
        uid = deploy["metadata"]["uid"]
        return [
            rs
            for rs in self.state.list("replicasets", deploy["metadata"]["namespace"])
            if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences", []))
        ]

    def _rollout(self, deploy: dict[str, Any]) -> None:
        """The template changed: reuse or create a ReplicaSet, with the next revision."""
        owned = self._owned_replicasets(deploy)
        revisions = [
            int(rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")) for rs in owned
        ]
        next_rev = str(max(revisions, default=0) + 1)
        template = deploy["spec"]["template"]
        thash = template_hash(template)
        match = next((rs for rs in owned if template_hash(rs["spec"]["template"]) == thash), None)
        replicas = int(deploy["spec"].get("replicas", 1))
        for rs in owned:
            if rs is not match:
                rs["spec"]["replicas"] = 0
                rs["status"] = {"replicas": 0, "observedGeneration": 1}
                rs["metadata"]["resourceVersion"] = self.state.next_rv()
        if match is not None:
            match["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = next_rev
            match["spec"]["replicas"] = replicas
            match["metadata"]["resourceVersion"] = self.state.next_rv()
        else:
            from sandbox.kube_scenarios import replicaset_for

            rs = replicaset_for(deploy, int(next_rev), created=now_iso(), replicas=replicas)
            self.state.add(rs)
        deploy["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = next_rev

    def _sync_deployment_status(self, deploy: dict[str, Any]) -> None:
        status = deploy.setdefault("status", {})
        status["observedGeneration"] = deploy["metadata"].get("generation", 1)


def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    sel = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace", ""),
            "uid": obj["metadata"].get("uid", ""),
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"].get("creationTimestamp"),
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items())),
        },
    }


def _with_kind(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["kind"] = res.kind
    out["apiVersion"] = res.api_version
    return out


def _ok(body: dict[str, Any]) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "alertloop-kube-sandbox/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, ctype, payload = self.api.handle(
                self.command, self.path, self.headers.get("Content-Type", ""), body
            )
        except Exception as exc:  # a sandbox bug: say so as a Status, do not hang the client
            status, ctype = 500, "application/json"
            payload = json.dumps(
                status_object(500, "InternalError", f"sandbox bug: {exc!r}")
            ).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass

    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _serve


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a sandbox Kubernetes API on 127.0.0.1.")
    parser.add_argument(
        "--scenario", default="demo", help="scenario name (see sandbox.kube_scenarios)"
    )
    parser.add_argument("--kubeconfig-out", default="", help="write a kubeconfig pointing here")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args(argv)
    server = KubeApiServer(
        args.scenario, port=args.port, kubeconfig_path=args.kubeconfig_out or None
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(json.dumps({"url": server.url, "kubeconfig": server.kubeconfig_path}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def iter_scenario_names() -> Iterator[str]:
    from sandbox import kube_scenarios

    yield from kube_scenarios.SCENARIOS


if __name__ == "__main__":
    sys.exit(main())

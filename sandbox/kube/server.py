"""`KubeApiServer`: the sandbox Kubernetes API server over HTTP on 127.0.0.1, with hooks for tests
(recorded requests, faults, direct object access) and a kubeconfig pointing at it."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.kube.controller import DEFAULT_DELAY_SECONDS, DeploymentController
from sandbox.kube.discovery import discovery, version_info
from sandbox.kube.errors import ApiError, no_such_resource, status_object
from sandbox.kube.faults import Fault, apply_faults
from sandbox.kube.handlers import ResourceApi, Response, ok
from sandbox.kube.request import ParsedRequest, RecordedRequest, parse_path
from sandbox.kube.resources import SANDBOX_CLUSTER_NAME
from sandbox.kube.scenario import Scenario, load_scenario
from sandbox.kube.store import ClusterState


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
        controller_delay: float = DEFAULT_DELAY_SECONDS,
    ) -> None:
        self.scenario = load_scenario(scenario)
        self.state = ClusterState()
        for obj in self.scenario.objects:
            self.state.add(copy.deepcopy(obj))
        for key, lines in self.scenario.logs.items():
            self.state.set_log(*key[:3], lines, previous=key[3])
        self.controller = DeploymentController(self.state, delay=controller_delay)
        self.api = ResourceApi(self.state, self.controller)
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

    # lifecycle -----------------------------------------------------------------------------

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
        self.controller.start()
        if self._kubeconfig_out is None:
            self._tmpdir = tempfile.mkdtemp(prefix="alertloop-kube-")
            self._kubeconfig_out = Path(self._tmpdir) / "kubeconfig"
        self._kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
        self._kubeconfig_out.write_text(self.kubeconfig_text)
        self.kubeconfig_path = str(self._kubeconfig_out)
        return self

    def stop(self) -> None:
        self.controller.stop()
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

    # addresses -----------------------------------------------------------------------------

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

    # test hooks ----------------------------------------------------------------------------

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

    def fail_image(self, image: str, reason: str | None = "CrashLoopBackOff") -> None:
        """Pods the controller starts with this image never become ready (their containers wait
        with `reason`, e.g. "CrashLoopBackOff" or "ImagePullBackOff"); None undoes it."""
        self.controller.fail_image(image, reason)

    def wait_for_controller(self, timeout: float = 10.0) -> bool:
        """Wait until the deployment controller has nothing queued (rollouts done or stuck)."""
        return self.controller.wait_idle(timeout)

    # request handling ----------------------------------------------------------------------

    def _matched_faults(self, req: ParsedRequest) -> list[Fault]:
        with self.state.lock:
            matched = [f for f in self.faults if f.matches(req)]
            for f in matched:
                if f.times is not None:
                    f.times -= 1
        return matched

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
        status, payload = 500, b""
        try:
            apply_faults(self._matched_faults(req), req)
            status, ctype, payload = self._dispatch(req, content_type, parsed_body)
        except ApiError as exc:
            status, ctype, payload = exc.code, "application/json", json.dumps(exc.body).encode()
        finally:
            record = RecordedRequest(
                method,
                req.path,
                req.query,
                content_type,
                parsed_body,
                status,
                time.time(),
                response=payload,
            )
            with self.state.lock:
                self._requests.append(record)
        return status, ctype, payload

    def _dispatch(self, req: ParsedRequest, content_type: str, body: Any) -> Response:
        if req.kind == "version":
            return ok(version_info())
        if req.kind == "discovery":
            return ok(discovery(self.state, req.path, f"{self._host}:{self.port}"))
        if req.kind == "unknown":
            raise no_such_resource()
        return self.api.dispatch(req, content_type, body)


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

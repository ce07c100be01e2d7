"""`KubeApiServer`: the sandbox Kubernetes API server on 127.0.0.1 (HTTP, or HTTPS with a
throw-away CA), with bearer-token authentication (static tokens, or Google access tokens mapped
to the service account's e-mail as GKE does), RBAC from manifests, SubjectAccessReviews, hooks
for tests (recorded requests, faults, direct object access) and kubeconfigs, one per user."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.kube.access_review import SUBJECT_ACCESS_REVIEWS, review
from sandbox.kube.controller import DEFAULT_DELAY_SECONDS, DeploymentController
from sandbox.kube.discovery import discovery, version_info
from sandbox.kube.errors import (
    ApiError,
    forbidden,
    forbidden_path,
    no_such_resource,
    status_object,
    unauthorized,
)
from sandbox.kube.faults import Fault, apply_faults
from sandbox.kube.handlers import ResourceApi, Response, ok
from sandbox.kube.rbac import (
    SANDBOX_ADMIN,
    SANDBOX_PROJECT,
    SUPERUSER_GROUP,
    RbacPolicy,
    User,
    parse_users,
    request_attributes,
)
from sandbox.kube.request import ParsedRequest, RecordedRequest, parse_path
from sandbox.kube.resources import SANDBOX_CLUSTER_NAME
from sandbox.kube.scenario import Scenario, load_scenario
from sandbox.kube.self_review import SELF_SUBJECT_REVIEWS, allowed_to_everyone, self_review
from sandbox.kube.store import ClusterState
from sandbox.kube.tls import Certificates, make_certificates
from sandbox.metadata_server import TokenInfo, TokenResolver

# A manifest path, YAML text, parsed documents (placeholders already filled), or a policy.
RbacSource = str | Path | Sequence[dict[str, Any]] | RbacPolicy


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
        users: Mapping[str, User | str] | None = None,
        rbac_yaml: RbacSource | None = None,
        rbac_project_id: str = SANDBOX_PROJECT,
        rbac_namespaces: Iterable[str] | None = None,
        tls: bool = False,
        google_tokens: TokenResolver | None = None,
        superusers: Iterable[str] = (),
        controller_delay: float = DEFAULT_DELAY_SECONDS,
    ) -> None:
        """`token` is a superuser's (system:masters: RBAC does not apply); `users` maps more
        bearer tokens to users, whose requests `rbac_yaml` (see `load_rbac`) authorizes. Its
        placeholders: PROJECT_ID -> `rbac_project_id`, namespace NAMESPACE -> each of
        `rbac_namespaces` (default: every scenario namespace). `tls=True` serves HTTPS with a
        CA made for this server (`ca_pem`, `certificates.ca_b64`).

        `google_tokens` authenticates the other bearer tokens as GKE does: a Google access
        token is the user named by its service account e-mail when it carries the
        userinfo.email scope, else by the account's numeric id (`gke_username`; the local
        metadata server's `resolve`, or `remote_resolver(tokeninfo_url)` from another
        process). Users named in `superusers` are in system:masters (the operator running
        `alertloop doctor`)."""
        self.scenario = load_scenario(scenario)
        self.state = ClusterState()
        for obj in self.scenario.objects:
            self.state.add(copy.deepcopy(obj))
        for key, lines in self.scenario.logs.items():
            self.state.set_log(*key[:3], lines, previous=key[3])
        self.controller = DeploymentController(self.state, delay=controller_delay)
        self.api = ResourceApi(self.state, self.controller)
        self.faults: list[Fault] = []
        self._in_flight = 0
        self._requests: list[RecordedRequest] = []
        self._host, self._port = host, port
        self._namespace = namespace
        self._token = token
        self.users: dict[str, User] = {token: SANDBOX_ADMIN, **parse_users(users)}
        self.google_tokens = google_tokens
        self.superusers = frozenset(superusers)
        self.rbac = RbacPolicy()
        if rbac_yaml is not None:
            self.load_rbac(rbac_yaml, project_id=rbac_project_id, namespaces=rbac_namespaces)
        self.tls = tls
        self.certificates: Certificates | None = None
        self._kubeconfig_out = Path(kubeconfig_path) if kubeconfig_path else None
        self._tmpdir: str | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig_path = ""

    def load_rbac(
        self,
        source: RbacSource,
        *,
        project_id: str = SANDBOX_PROJECT,
        namespaces: Iterable[str] | None = None,
    ) -> RbacPolicy:
        """Replace the RBAC rules (takes effect on the next request): a manifest path or YAML
        text (placeholders filled, see __init__), documents already rendered (e.g. by
        `shared.k8s.rbac_manifest.render`), or a loaded RbacPolicy."""
        if isinstance(source, RbacPolicy):
            policy = source
        elif isinstance(source, (str, Path)):
            if isinstance(source, str) and "\n" not in source and os.path.isfile(source):
                source = Path(source)
            ns = list(namespaces) if namespaces is not None else self.state.namespaces()
            policy = RbacPolicy.from_yaml(source, project_id=project_id, namespaces=ns)
        else:
            policy = RbacPolicy.from_documents(source)
        with self.state.lock:
            self.rbac = policy
        return policy

    def add_user(self, token: str, user: User | str) -> User:
        u = user if isinstance(user, User) else User(user)
        with self.state.lock:
            self.users[token] = u
        return u

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> KubeApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._tmpdir = tempfile.mkdtemp(prefix="alertloop-kube-")
        httpd: ThreadingHTTPServer
        if self.tls:
            self.certificates = make_certificates(
                Path(self._tmpdir) / "tls", hosts=(self._host, "localhost")
            )
            ctx = self.certificates.server_context()
            httpd = _TlsServer((self._host, self._port), Handler, ctx)
        else:
            httpd = _QuietServer((self._host, self._port), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="kube-api-sandbox", daemon=True
        )
        self._thread.start()
        self.controller.start()
        if self._kubeconfig_out is None:
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
    def address(self) -> str:
        """host:port, as GKE reports a cluster's endpoint."""
        return f"{self._host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def ca_pem(self) -> str:
        """The CA that signed the HTTPS certificate (tls=True, once started)."""
        assert self.certificates is not None, "not serving HTTPS (tls=True) or not started"
        return self.certificates.ca_pem

    @property
    def kubeconfig_text(self) -> str:
        return json.dumps(self.kubeconfig_dict(), indent=2)

    @property
    def kubeconfig_b64(self) -> str:
        """The kubeconfig base64-encoded, as `KUBE_CONFIG_DATA` carries it."""
        return base64.b64encode(self.kubeconfig_text.encode()).decode()

    def kubeconfig_dict(self, token: str | None = None) -> dict[str, Any]:
        """A kubeconfig for `token`'s user (default: the superuser)."""
        name = SANDBOX_CLUSTER_NAME
        cluster: dict[str, Any] = {"server": self.url}
        if self.certificates is not None:
            cluster["certificate-authority-data"] = self.certificates.ca_b64
        user = self.users.get(token or self._token, SANDBOX_ADMIN).name
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token or self._token}}],
            "contexts": [
                {
                    "name": name,
                    "context": {"cluster": name, "user": user, "namespace": self._namespace},
                }
            ],
            "current-context": name,
        }

    def kubeconfig_for(self, token: str, path: str | Path | None = None) -> str:
        """Write a kubeconfig authenticating with `token` (a key of `users`); its path."""
        if token not in self.users:
            raise KeyError(f"no user has the token {token!r}")
        assert self._tmpdir is not None, "server not started"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.users[token].name)
        out = Path(path) if path else Path(self._tmpdir) / f"kubeconfig-{safe}"
        out.write_text(json.dumps(self.kubeconfig_dict(token), indent=2))
        return str(out)

    # test hooks ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self._requests)

    def requests_since(self, start: int) -> list[RecordedRequest]:
        """The requests recorded after the first `start` (cheap to poll: a slice)."""
        with self.state.lock:
            return list(self._requests[start:])

    def request_count(self) -> int:
        with self.state.lock:
            return len(self._requests)

    def clear_requests(self) -> None:
        with self.state.lock:
            self._requests.clear()

    def requests_matching(
        self, method: str | None = None, path_contains: str = "", *, user: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and path_contains in r.path
            and (user is None or r.user == user)
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

    def in_flight(self) -> int:
        """Requests being served right now (a delayed one included)."""
        with self.state.lock:
            return self._in_flight

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

    def authenticate(self, authorization: str) -> User:
        scheme, _, token = authorization.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        with self.state.lock:
            user = self.users.get(token) if token else None
        if user is None and token and self.google_tokens is not None:
            info = self.google_tokens(token)  # outside the lock: it may ask another process
            user = User(gke_username(info)) if info is not None else None
        if user is None:
            raise unauthorized()
        if user.name in self.superusers and not user.superuser:
            user = User(user.name, (*user.groups, SUPERUSER_GROUP))
        return user

    def authorize(self, user: User, req: ParsedRequest) -> None:
        """403 unless RBAC allows it. Discovery is open to every authenticated user."""
        attrs = request_attributes(req)
        if attrs is None or user.superuser or allowed_to_everyone(req):
            return
        with self.state.lock:
            policy = self.rbac
        if policy.allows(user, attrs):
            return
        if not attrs.is_resource:
            raise forbidden_path(user.name, attrs.verb, attrs.path)
        raise forbidden(
            user=user.name,
            verb=attrs.verb,
            resource=attrs.resource,
            group=attrs.api_group,
            namespace=req.namespace,
            name=req.name,
            subresource=req.subresource,
        )

    def handle(
        self, method: str, raw_path: str, content_type: str, body: bytes, authorization: str = ""
    ) -> tuple[int, str, bytes]:
        req = parse_path(method, raw_path)
        parsed_body: Any = None
        if body:
            try:
                parsed_body = json.loads(body)
            except ValueError:
                parsed_body = body.decode(errors="replace")
        status, payload, user = 500, b"", ""
        with self.state.lock:
            self._in_flight += 1
        try:
            who = self.authenticate(authorization)
            user = who.name
            self.authorize(who, req)
            matched = self._matched_faults(req)
            apply_faults(matched, req)
            if (req.group, req.resource) == SELF_SUBJECT_REVIEWS:
                status, ctype, payload = self_review(who, req, parsed_body)
            else:
                status, ctype, payload = self._dispatch(req, content_type, parsed_body)
            for f in matched:
                if f.kind == "delay_after":
                    time.sleep(f.seconds)
        except ApiError as exc:
            status, ctype, payload = exc.code, "application/json", json.dumps(exc.body).encode()
        finally:
            with self.state.lock:
                self._in_flight -= 1
            record = RecordedRequest(
                method,
                req.path,
                req.query,
                content_type,
                parsed_body,
                status,
                time.time(),
                user=user,
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
        if (req.group, req.resource) == SUBJECT_ACCESS_REVIEWS:
            with self.state.lock:
                policy = self.rbac
            return review(policy, req, body)
        return self.api.dispatch(req, content_type, body)


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "alertloop-kube-sandbox/1"
    # Headers and body go out in two writes: on a keep-alive connection, Nagle + delayed ACK
    # would add ~40 ms to every request (measured: 322 doctor checks took 14 s).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, ctype, payload = self.api.handle(
                self.command,
                self.path,
                self.headers.get("Content-Type", ""),
                body,
                self.headers.get("Authorization", ""),
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


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hung up or spoke no TLS: nothing to report


class _TlsServer(_QuietServer):
    """HTTPS: each accepted connection is wrapped, its handshake done in its own thread."""

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], ctx: ssl.SSLContext
    ) -> None:
        super().__init__(address, handler)
        self.ssl_context = ctx

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        request.do_handshake()
        request.settimeout(None)
        super().finish_request(request, client_address)


def gke_username(info: TokenInfo) -> str:
    """The Kubernetes user name GKE gives a Google access token.

    GKE authenticates a Google token as its account's e-mail only when the token carries the
    `https://www.googleapis.com/auth/userinfo.email` scope; otherwise the user is the account's
    numeric unique id, so RBAC bindings to the e-mail do not match and the request is a 403
    (https://cloud.google.com/kubernetes-engine/docs/how-to/role-based-access-control, "Google
    Cloud users and service accounts"; client-go's gcp auth plugin and gke-gcloud-auth-plugin
    request cloud-platform + userinfo.email for this reason).
    """
    return info.email if info.carries_email else info.unique_id

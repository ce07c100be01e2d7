"""The front door of a sandbox cluster, as GKE's control plane is: TLS with a cluster CA, Google
bearer tokens authenticated as the service account's e-mail, RBAC (deploy/rbac.yaml) enforced,
and SubjectAccessReviews answered from the same RBAC. Allowed requests are forwarded to a
sandbox API server (`sandbox.kube_api.KubeApiServer`, plain HTTP, its own token)::

    with KubeApiServer(scenario) as kube, KubeGate(kube.url, md.resolve, rbac_docs,
                                                   superusers={admin_email}) as gate:
        gate.url, gate.tls.ca_b64        # what GKE reports as endpoint / clusterCaCertificate

A token the resolver does not know is a 401; a request RBAC does not allow is the API server's
403 Status. Discovery and /version are open to every authenticated user (as in a real cluster).
This is the sandbox's minimal adapter for "token -> user -> RBAC"; it only needs token -> e-mail
from the metadata server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.http_serve import Listener, Reply, Request
from sandbox.metadata_server import TokenResolver
from sandbox.rbac import MASTERS, Attributes, Rbac
from sandbox.tls import ServerTls, make_server_tls

AUTHENTICATED = "system:authenticated"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
_HOP_HEADERS = ("Content-Type", "Accept")


def _status(code: int, reason: str, message: str) -> Reply:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return Reply.json(code, body)


def request_attributes(method: str, path: str, query: dict[str, str]) -> Attributes | None:
    """The RBAC attributes of a resource request (None for discovery, /version, …)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in ("1", "true") else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return Attributes("", verb, resource, group, sub, namespace, name)


@dataclass(frozen=True)
class Seen:
    user: str
    method: str
    path: str
    status: int


class KubeGate:
    def __init__(
        self,
        upstream: str,
        resolve: TokenResolver,
        rbac_documents: Sequence[dict[str, Any]],
        *,
        upstream_token: str = "sandbox-token",
        superusers: Iterable[str] = (),
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.resolve = resolve
        self.rbac = Rbac(rbac_documents)
        self.upstream_token = upstream_token
        self.superusers = set(superusers)  # e-mails in group system:masters (the operator)
        self.seen: list[Seen] = []
        self.tls: ServerTls = make_server_tls()
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._session = requests.Session()

    def set_rbac(self, documents: Sequence[dict[str, Any]]) -> None:
        self.rbac = Rbac(documents)

    def start(self) -> KubeGate:
        self._listener = Listener(self._handle, "kube-gate", tls=self.tls.context())
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._session.close()

    def __enter__(self) -> KubeGate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """host:port, as GKE reports a cluster's endpoint."""
        assert self._listener is not None, "gate not started"
        return self._listener.address

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    def seen_by(self, user: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.user == user]

    # ---- request handling -----------------------------------------------------------------

    def _handle(self, req: Request) -> Reply:
        user, reply = self._answer(req)
        with self._lock:
            self.seen.append(Seen(user, req.method, req.path, reply.status))
        return reply

    def _answer(self, req: Request) -> tuple[str, Reply]:
        token = req.bearer()
        info = self.resolve(token) if token else None
        if info is None:
            return "", _status(401, "Unauthorized", "Unauthorized")
        user = info.email
        groups = (AUTHENTICATED, MASTERS) if user in self.superusers else (AUTHENTICATED,)
        attrs = request_attributes(req.method, req.path, req.query)
        if attrs is None:
            return user, self._forward(req)  # discovery and /version: any authenticated user
        attrs = Attributes(
            user,
            attrs.verb,
            attrs.resource,
            attrs.group,
            attrs.subresource,
            attrs.namespace,
            attrs.name,
            groups,
        )
        allowed, _ = self.rbac.authorize(attrs)
        if not allowed:
            return user, _status(403, "Forbidden", attrs.forbidden_message())
        if req.method == "POST" and req.path == SAR_PATH:
            return user, self._review(req)
        return user, self._forward(req)

    def _review(self, req: Request) -> Reply:
        try:
            body = json.loads(req.body or b"{}")
            spec = body["spec"]
            ra = spec.get("resourceAttributes") or {}
            attrs = Attributes(
                str(spec.get("user") or ""),
                str(ra.get("verb") or ""),
                str(ra.get("resource") or ""),
                str(ra.get("group") or ""),
                str(ra.get("subresource") or ""),
                str(ra.get("namespace") or ""),
                str(ra.get("name") or ""),
                tuple(spec.get("groups") or ()),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _status(400, "BadRequest", f"invalid SubjectAccessReview: {exc}")
        if not attrs.user or not attrs.verb or not attrs.resource:
            return _status(422, "Invalid", "spec.user and spec.resourceAttributes are required")
        allowed, reason = self.rbac.authorize(attrs)
        body["status"] = {"allowed": allowed, **({"reason": reason} if reason else {})}
        body.setdefault("apiVersion", "authorization.k8s.io/v1")
        body.setdefault("kind", "SubjectAccessReview")
        body.setdefault("metadata", {"creationTimestamp": None})
        return Reply.json(201, body)

    def _forward(self, req: Request) -> Reply:
        headers = {k: req.header(k) for k in _HOP_HEADERS if req.header(k)}
        headers["Authorization"] = f"Bearer {self.upstream_token}"
        try:
            resp = self._session.request(
                req.method, self.upstream + req.raw_path, data=req.body, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            return _status(503, "ServiceUnavailable", f"sandbox upstream: {exc}")
        ctype = resp.headers.get("Content-Type", "application/json")
        return Reply(resp.status_code, resp.content, {"Content-Type": ctype})

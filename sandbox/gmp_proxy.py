"""A local stand-in for Google Managed Prometheus: a token-checking proxy to a real Prometheus.

It serves the Managed Prometheus query API path
``/v1/projects/PROJECT/location/global/prometheus/api/v1/...`` and forwards each request to
``UPSTREAM/api/v1/...`` — only with a bearer token the metadata server issued (`TokenResolver`),
carrying the monitoring (or cloud-platform) scope, to an identity allowed to read metrics (what
``roles/monitoring.viewer`` grants). Errors have Google's JSON shape::

    with ManagedPrometheusProxy(prom.url, md.resolve, readers={"…investigate@…"}) as gmp:
        os.environ["PROMETHEUS_URL"] = gmp.url     # with PROMETHEUS_AUTH=google
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import requests

from sandbox.http_serve import LocalServer, Reply, Request
from sandbox.metadata_server import TokenResolver

MONITORING_SCOPES = (
    "https://www.googleapis.com/auth/monitoring.read",
    "https://www.googleapis.com/auth/monitoring",
)
_FORWARDED = ("Content-Type", "Accept")


def _error(code: int, status: str, message: str) -> Reply:
    return Reply.json(code, {"error": {"code": code, "message": message, "status": status}})


class ManagedPrometheusProxy(LocalServer):
    listener_name = "gmp-proxy"

    def __init__(
        self,
        upstream: str,
        resolve: TokenResolver,
        *,
        readers: Iterable[str] = (),
        project: str = "alertloop-local",
    ) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.resolve = resolve
        self.readers = set(readers)  # e-mails holding monitoring.timeSeries.list
        self.project = project
        self.calls: list[tuple[str, str, int]] = []  # (identity e-mail or "", path, status)
        self._lock = threading.Lock()

    @property
    def prefix(self) -> str:
        return f"/v1/projects/{self.project}/location/global/prometheus"

    @property
    def url(self) -> str:
        assert self._listener is not None, "proxy not started"
        return self._listener.url + self.prefix

    def _handle(self, req: Request) -> Reply:
        who, reply = self._answer(req)
        with self._lock:
            self.calls.append((who, req.path, reply.status))
        return reply

    def _answer(self, req: Request) -> tuple[str, Reply]:
        token = req.bearer()
        info = self.resolve(token) if token else None
        if info is None:
            why = "missing" if token is None else "invalid or expired"
            return "", _error(
                401,
                "UNAUTHENTICATED",
                f"Request had {why} authentication credentials. Expected OAuth 2 access token.",
            )
        if not info.has_scope(*MONITORING_SCOPES):
            return info.email, _error(
                403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."
            )
        if info.email not in self.readers:
            return info.email, _error(
                403,
                "PERMISSION_DENIED",
                f"Permission monitoring.timeSeries.list denied (or the resource may not "
                f"exist) for projects/{self.project}.",
            )
        if not req.path.startswith(self.prefix + "/api/v1/"):
            return info.email, _error(404, "NOT_FOUND", f"Not found: {req.path}")
        rest = req.raw_path[len(self.prefix) :]
        headers = {k: req.header(k) for k in _FORWARDED if req.header(k)}
        try:
            upstream = requests.request(
                req.method, self.upstream + rest, data=req.body, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            return info.email, _error(503, "UNAVAILABLE", f"upstream Prometheus: {exc}")
        ctype = upstream.headers.get("Content-Type", "application/json")
        return info.email, Reply(upstream.status_code, upstream.content, {"Content-Type": ctype})

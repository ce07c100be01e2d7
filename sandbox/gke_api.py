"""A local Container API (GKE) answering `projects.locations.clusters.get` — v1 REST.

The real google-cloud-container client talks to it (REST transport with
``client_options={"api_endpoint": url}``, or ``ALERTLOOP_CONTAINER_API_URL`` for alertloop).
It answers only bearer tokens the metadata server issued (`TokenResolver`) to an identity
allowed to get clusters (what ``roles/container.clusterViewer`` grants), with the
cloud-platform scope; errors have Google's JSON shape (401 UNAUTHENTICATED,
403 PERMISSION_DENIED, 404 NOT_FOUND)::

    api = ContainerApiServer(md.resolve, viewers={"alertloop-investigate@…"})
    api.add_cluster("projects/p/locations/europe-west1/clusters/east", "127.0.0.1:6443", ca_pem)
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.http_serve import LocalServer, Reply, Request
from sandbox.metadata_server import TokenResolver

_GET = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/:]+)$")


@dataclass
class GkeCluster:
    name: str  # projects/P/locations/L/clusters/C
    endpoint: str  # host[:port], as GKE reports it (no scheme)
    ca_pem: str
    private_endpoint: str = ""

    def resource(self) -> dict[str, object]:
        _, _project, _, location, _, short = self.name.split("/")
        body: dict[str, object] = {
            "name": short,
            "location": location,
            "status": "RUNNING",
            "endpoint": self.endpoint,
            "currentMasterVersion": "1.30.2-gke.1000",
            "selfLink": f"https://container.googleapis.com/v1/{self.name}",
            "masterAuth": {"clusterCaCertificate": base64.b64encode(self.ca_pem.encode()).decode()},
        }
        if self.private_endpoint:
            body["privateClusterConfig"] = {
                "enablePrivateNodes": True,
                "privateEndpoint": self.private_endpoint,
            }
        return body


def _error(code: int, status: str, message: str) -> Reply:
    return Reply.json(code, {"error": {"code": code, "message": message, "status": status}})


class ContainerApiServer(LocalServer):
    listener_name = "gke-api"

    def __init__(self, resolve: TokenResolver, *, viewers: Iterable[str] = ()) -> None:
        super().__init__()
        self.resolve = resolve
        self.viewers = set(viewers)  # e-mails holding container.clusters.get
        self.clusters: dict[str, GkeCluster] = {}
        self.calls: list[tuple[str, int]] = []  # (path, status)
        self._lock = threading.Lock()

    def add_cluster(
        self, name: str, endpoint: str, ca_pem: str, private_endpoint: str = ""
    ) -> GkeCluster:
        cluster = GkeCluster(name, endpoint, ca_pem, private_endpoint)
        self.clusters[name] = cluster
        return cluster

    def _handle(self, req: Request) -> Reply:
        reply = self._answer(req)
        with self._lock:
            self.calls.append((req.path, reply.status))
        return reply

    def _answer(self, req: Request) -> Reply:
        token = req.bearer()
        if token is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
            )
        info = self.resolve(token)
        if info is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        match = _GET.match(req.path)
        if req.method != "GET" or match is None:
            return _error(404, "NOT_FOUND", f"Method not found: {req.method} {req.path}")
        name = match[1]
        if not info.has_scope():
            return _error(
                403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."
            )
        if info.email not in self.viewers:
            return _error(
                403,
                "PERMISSION_DENIED",
                f'Required "container.clusters.get" permission(s) for "{name}".',
            )
        cluster = self.clusters.get(name)
        if cluster is None:
            return _error(404, "NOT_FOUND", f"Not found: {name}.")
        return Reply.json(200, cluster.resource())

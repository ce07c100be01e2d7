"""A local stand-in for the Google REST APIs `alertloop doctor --project` reads, in their
documented response shapes, behind bearer tokens from the local metadata server:

- Service Usage v1 `GET /v1/projects/{p}/services?filter=state:ENABLED&pageSize&pageToken`
  -> {"services": [{"name": "projects/{n}/services/{api}", "config": {"name": api},
  "state": "ENABLED", "parent": "projects/{n}"}], "nextPageToken"}
  (https://cloud.google.com/service-usage/docs/reference/rest/v1/services/list);
- Resource Manager v1 `GET /v1/projects/{p}` -> {"projectNumber", "projectId", ...},
  `POST /v1/projects/{p}:getIamPolicy` -> {"version", "etag", "bindings": [{"role",
  "members"}]}, `POST /v1/projects/{p}:getEffectiveOrgPolicy` {"constraint"} -> an OrgPolicy
  ({"constraint", "listPolicy": {"allowedValues" | "allValues"}}, or no listPolicy when unset)
  (https://cloud.google.com/resource-manager/reference/rest/v1/projects);
- Cloud Build v1 `GET /v1/projects/{p}/locations/global/defaultServiceAccount`
  -> {"name", "serviceAccountEmail": "projects/{p}/serviceAccounts/{email}"}
  (https://cloud.google.com/build/docs/api/reference/rest/v1/projects.locations/getDefaultServiceAccount).

Errors have Google's JSON shape ({"error": {"code", "message", "status"}}). `forbidden` names
paths the caller may not read (403 PERMISSION_DENIED), as a caller without the role sees them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.http_serve import LocalServer, Reply, Request
from sandbox.metadata_server import TokenResolver

PAGE = 200


def _error(code: int, status: str, message: str) -> Reply:
    return Reply.json(code, {"error": {"code": code, "message": message, "status": status}})


@dataclass
class GoogleProject:
    project_id: str
    number: str
    enabled: list[str] = field(default_factory=list)
    bindings: dict[str, list[str]] = field(default_factory=dict)  # role -> members
    build_account: str = ""
    allowed_domains: list[str] = field(default_factory=list)  # empty: constraint not set


class GoogleApisServer(LocalServer):
    listener_name = "google-apis"

    def __init__(self, resolve: TokenResolver, project: GoogleProject) -> None:
        super().__init__()
        self.resolve = resolve
        self.project = project
        self.forbidden: set[str] = set()  # path substrings answered with 403
        self.calls: list[tuple[str, str, int]] = []

    def _handle(self, req: Request) -> Reply:
        reply = self._answer(req)
        self.calls.append((req.method, req.path, reply.status))
        return reply

    def _answer(self, req: Request) -> Reply:
        token = req.bearer()
        if token is None or self.resolve(token) is None:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if any(f in req.path for f in self.forbidden):
            return _error(403, "PERMISSION_DENIED", "The caller does not have permission")
        p = self.project
        base = f"/v1/projects/{p.project_id}"
        if req.method == "GET" and req.path == f"{base}/services":
            return self._services(req)
        if req.method == "GET" and req.path == base:
            return Reply.json(200, {"projectNumber": p.number, "projectId": p.project_id,
                                    "lifecycleState": "ACTIVE", "name": p.project_id})  # fmt: skip
        if req.method == "POST" and req.path == f"{base}:getIamPolicy":
            bindings = [{"role": r, "members": m} for r, m in sorted(p.bindings.items())]
            return Reply.json(200, {"version": 1, "etag": "BwXyz=", "bindings": bindings})
        if req.method == "POST" and req.path == f"{base}:getEffectiveOrgPolicy":
            body = json.loads(req.body or b"{}")
            policy: dict[str, Any] = {"constraint": body.get("constraint", ""), "etag": "BwA="}
            if body.get("constraint") == "constraints/iam.allowedPolicyMemberDomains" and (
                p.allowed_domains
            ):
                policy["listPolicy"] = {"allowedValues": list(p.allowed_domains)}
            return Reply.json(200, policy)
        if req.method == "GET" and req.path == f"{base}/locations/global/defaultServiceAccount":
            if "cloudbuild.googleapis.com" not in p.enabled:
                return _error(403, "PERMISSION_DENIED", "Cloud Build API has not been used in "
                              f"project {p.number} before or it is disabled.")  # fmt: skip
            return Reply.json(200, {
                "name": f"projects/{p.project_id}/locations/global/defaultServiceAccount",
                "serviceAccountEmail": f"projects/{p.project_id}/serviceAccounts/{p.build_account}",
            })  # fmt: skip
        return _error(404, "NOT_FOUND", f"Method not found: {req.method} {req.path}")

    def _services(self, req: Request) -> Reply:
        p = self.project
        if req.query.get("filter", "") not in ("", "state:ENABLED"):
            return _error(400, "INVALID_ARGUMENT", "Invalid filter")
        size = min(int(req.query.get("pageSize") or 50), PAGE)
        start = int(req.query.get("pageToken") or 0)
        names = sorted(p.enabled)
        page = names[start : start + size]
        out: dict[str, Any] = {
            "services": [
                {
                    "name": f"projects/{p.number}/services/{n}",
                    "config": {"name": n},
                    "state": "ENABLED",
                    "parent": f"projects/{p.number}",
                }
                for n in page
            ]
        }
        if start + size < len(names):
            out["nextPageToken"] = str(start + size)
        return Reply.json(200, out)

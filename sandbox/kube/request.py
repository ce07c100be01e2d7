"""A request's path as the API server reads it: group, version, namespace, resource, name,
subresource, and the verb RBAC checks (get/list/watch/patch/update/create/delete)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

_VERBS = {"PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a test sees it afterwards."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int = 0
    time: float = 0.0
    user: str = ""
    response: bytes = b""

    @property
    def json(self) -> Any:
        return self.body

    @property
    def response_json(self) -> Any:
        """The answer as the client saw it (None when it was not JSON)."""
        try:
            return json.loads(self.response)
        except ValueError:
            return None


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
        return _VERBS.get(self.method, self.method.lower())

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"


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

"""Configured failures for tests: 403/404/409/500 or a delay on matching requests."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.kube.errors import ApiError, forbidden
from sandbox.kube.request import ParsedRequest
from sandbox.kube.resources import RESOURCES


@dataclass
class Fault:
    """A configured failure. None fields match anything.

    kind: "forbidden" (403), "not_found" (404), "error" (500), "conflict" (409), "delay"
    (sleep, then serve), or "delay_after" (serve — the change is applied — then sleep before
    answering: the client may give up on a write that happened)
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

    def error(self, req: ParsedRequest) -> ApiError | None:
        """The error this fault answers with (None for a delay)."""
        if self.kind == "forbidden":
            res = RESOURCES.get(req.resource)
            return forbidden(
                user=self.user,
                verb=req.verb,
                resource=req.resource,
                group=res.group if res else req.group,
                namespace=req.namespace,
                name=req.name,
                subresource=req.subresource,
            )
        if self.kind == "not_found":
            return ApiError(
                404,
                "NotFound",
                f'{req.resource} "{req.name or ""}" not found',
                {"name": req.name or "", "kind": req.resource},
            )
        if self.kind == "conflict":
            return ApiError(409, "Conflict", "the object has been modified (fault)")
        if self.kind == "error":
            return ApiError(500, "InternalError", "an error on the server (sandbox fault)")
        return None


def apply_faults(matched: list[Fault], req: ParsedRequest) -> None:
    """Sleep for the matched delays, then raise the first matched error."""
    for f in matched:
        if f.kind == "delay":
            time.sleep(f.seconds)
    for f in matched:
        err = f.error(req)
        if err is not None:
            raise err

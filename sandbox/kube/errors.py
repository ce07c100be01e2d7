"""API errors as the real API server sends them: a `Status` object with code and reason."""

from __future__ import annotations

from typing import Any

from sandbox.kube.resources import Resource


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


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.body = status_object(code, reason, message, details)


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{res.group_resource} "{name}" not found',
        {"name": name, "group": res.group, "kind": res.plural},
    )


def no_such_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def invalid(res: Resource, name: str, causes: list[str]) -> ApiError:
    """422 Invalid, worded like the API server's field validation."""
    qualified = f"{res.kind}.{res.group}" if res.group else res.kind
    listed = causes[0] if len(causes) == 1 else "[" + ", ".join(causes) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {listed}',
        {"name": name, "group": res.group, "kind": res.kind},
    )


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res.group_resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        {"name": name, "group": res.group, "kind": res.plural},
    )


def forbidden(
    *,
    user: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str | None,
    name: str | None = None,
    subresource: str | None = None,
) -> ApiError:
    """403 worded like the API server's authorizer: `deployments.apps "x" is forbidden: User "u"
    cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop"`."""
    qualified = f"{resource}.{group}" if group else resource
    full = f"{resource}/{subresource}" if subresource else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    subject = f'{qualified} "{name}"' if name else qualified
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{full}" in API group '
        f'"{group}"{where}',
        {"name": name or "", "group": group, "kind": resource},
    )


def forbidden_path(user: str, verb: str, path: str) -> ApiError:
    """403 for a non-resource URL (e.g. /healthz) the user may not read."""
    return ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {verb} path "{path}"')


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")

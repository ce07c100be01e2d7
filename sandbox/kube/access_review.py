"""SubjectAccessReview (POST /apis/authorization.k8s.io/v1/subjectaccessreviews): "may this user
do this?", answered by the same RBAC engine that authorizes requests — what `kubectl auth can-i
--as` and `alertloop doctor` ask. Creating one needs `create subjectaccessreviews` at the
cluster scope (checked before this runs, like any request)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.errors import ApiError
from sandbox.kube.handlers import Response, ok
from sandbox.kube.rbac import Attributes, RbacPolicy, User
from sandbox.kube.request import ParsedRequest

GROUP = "authorization.k8s.io"
SUBJECT_ACCESS_REVIEWS = (GROUP, "subjectaccessreviews")


def _invalid(message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f"SubjectAccessReview.{GROUP} is invalid: {message}",
        {"group": GROUP, "kind": "SubjectAccessReview"},
    )


def _attributes(spec: dict[str, Any]) -> Attributes:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource) == bool(non_resource):
        raise _invalid("exactly one of spec.resourceAttributes, spec.nonResourceAttributes")
    if non_resource:
        return Attributes(str(non_resource.get("verb") or ""), path=str(non_resource.get("path")))
    return Attributes(
        verb=str(resource.get("verb") or ""),
        api_group=str(resource.get("group") or ""),
        resource=str(resource.get("resource") or ""),
        subresource=str(resource.get("subresource") or ""),
        namespace=str(resource.get("namespace") or ""),
        name=str(resource.get("name") or ""),
    )


def review(policy: RbacPolicy, req: ParsedRequest, body: Any) -> Response:
    if req.method != "POST" or req.name is not None:
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise ApiError(400, "BadRequest", "the body must be a SubjectAccessReview with a spec")
    spec = body["spec"]
    user, groups = str(spec.get("user") or ""), spec.get("groups") or []
    if not user and not groups:
        raise _invalid("spec.user or spec.groups: at least one is required")
    attrs = _attributes(spec)
    decision = policy.authorize(User(user, tuple(str(g) for g in groups)), attrs)
    out = copy.deepcopy(body)
    out.setdefault("apiVersion", f"{GROUP}/v1")
    out.setdefault("kind", "SubjectAccessReview")
    out.setdefault("metadata", {"creationTimestamp": None})
    out["status"] = {"allowed": decision.allowed}
    if decision.reason:
        out["status"]["reason"] = decision.reason
    return ok(out, 201)

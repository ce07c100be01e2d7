"""SelfSubjectReview (POST /apis/authentication.k8s.io/v1/selfsubjectreviews): "who am I?" —
the user the API server authenticated the request as (what `kubectl auth whoami` asks).

https://kubernetes.io/docs/reference/access-authn-authz/authentication/#self-subject-review:
the answer's `status.userInfo` holds the username and groups of the caller; every
authenticated user may create one (the default `system:basic-user` ClusterRole, bound to
system:authenticated, grants `create selfsubjectreviews`:
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#api-discovery-roles). GA in
Kubernetes 1.28. Nothing is stored.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.errors import ApiError
from sandbox.kube.handlers import Response, ok
from sandbox.kube.rbac import User
from sandbox.kube.request import ParsedRequest

GROUP = "authentication.k8s.io"
SELF_SUBJECT_REVIEWS = (GROUP, "selfsubjectreviews")


def allowed_to_everyone(req: ParsedRequest) -> bool:
    """system:basic-user: any authenticated user may ask who they are."""
    return (req.group, req.resource) == SELF_SUBJECT_REVIEWS and req.method == "POST"


def self_review(user: User, req: ParsedRequest, body: Any) -> Response:
    if req.method != "POST" or req.name is not None:
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the body must be a SelfSubjectReview")
    user_info: dict[str, Any] = {"username": user.name, "groups": list(user.all_groups)}
    return ok(
        {
            "kind": "SelfSubjectReview",
            "apiVersion": f"{GROUP}/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": user_info},
        },
        201,
    )

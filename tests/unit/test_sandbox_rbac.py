"""The sandbox's one RBAC engine decides as Kubernetes' RBAC authorizer does (bindings, scopes,
subresources, names, subjects, non-resource URLs); it is the truth for every RBAC test, so its
semantics are pinned here. Requests map to the attributes it checks."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube.rbac import (
    Attributes,
    RbacError,
    RbacPolicy,
    User,
    request_attributes,
)
from sandbox.kube.request import parse_path

API = "rbac.authorization.k8s.io/v1"

MANIFEST = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scaler}
rules:
  - apiGroups: ["apps"]
    resources: ["*/scale"]
    verbs: ["patch"]
  - apiGroups: [""]
    resources: ["pods"]
    resourceNames: ["web-0"]
    verbs: ["get"]
  - nonResourceURLs: ["/healthz", "/metrics*"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: NAMESPACE}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: scaler}
subjects:
  - {kind: Group, name: "ops@PROJECT_ID.example"}
  - {kind: ServiceAccount, name: bot, namespace: NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: health}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: scaler}
subjects:
  - {kind: User, name: prober}
"""

OPS = User("alice", ("ops@acme.example",))
WRITER = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]


def policy() -> RbacPolicy:
    return RbacPolicy.from_yaml(MANIFEST, project_id="acme", namespaces=["shop", "data"])


def patch_scale(ns: str, resource: str = "deployments") -> Attributes:
    return Attributes("patch", "apps", resource, "scale", ns, "api")


def role(kind: str, name: str, rules: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": API, "kind": kind, "metadata": meta, "rules": rules}


def binding(kind: str, ref: tuple[str, str], subject: dict[str, Any], ns: str = "") -> Any:
    meta = {"name": f"b-{ref[1]}", **({"namespace": ns} if ns else {})}
    return {"apiVersion": API, "kind": kind, "metadata": meta,
            "roleRef": {"kind": ref[0], "name": ref[1]}, "subjects": [subject]}  # fmt: skip


def test_a_rolebinding_grants_only_in_its_namespace_even_for_a_clusterrole() -> None:
    p = policy()
    assert p.allows(OPS, patch_scale("shop")) and p.allows(OPS, patch_scale("data"))
    assert not p.allows(OPS, patch_scale("prod"))
    assert not p.allows(OPS, Attributes("patch", "apps", "deployments", "scale", "", "api"))
    assert not p.allows(OPS, Attributes("delete", "apps", "deployments", "scale", "shop", "api"))


def test_a_role_is_looked_up_in_the_bindings_namespace() -> None:
    p = RbacPolicy.from_documents([
        role("Role", "writer", WRITER, "api"),  # same name, other namespace
        binding("RoleBinding", ("Role", "writer"), {"kind": "User", "name": "u"}, "shop"),
    ])  # fmt: skip
    assert not p.allows(User("u"), Attributes("get", "apps", "deployments", namespace="shop"))


def test_subresources_names_and_groups_match_exactly() -> None:
    p = policy()
    assert p.allows(OPS, patch_scale("shop", "statefulsets"))  # */scale
    assert not p.allows(OPS, Attributes("patch", "apps", "deployments", "", "shop", "api"))
    assert not p.allows(OPS, Attributes("patch", "", "deployments", "scale", "shop", "api"))
    assert p.allows(OPS, Attributes("get", "", "pods", "", "shop", "web-0"))
    assert not p.allows(OPS, Attributes("get", "", "pods", "", "shop", "web-1"))
    assert not p.allows(OPS, Attributes("list", "", "pods", "", "shop"))  # no name to match


def test_subjects_users_groups_and_service_accounts() -> None:
    p = policy()
    bot = User("system:serviceaccount:data:bot")
    assert p.allows(bot, patch_scale("data")) and not p.allows(bot, patch_scale("shop"))
    assert not p.allows(User("alice"), patch_scale("shop"))  # not in the group
    prober = User("prober")
    assert p.allows(prober, Attributes("get", path="/metrics/cadvisor"))
    assert p.allows(prober, patch_scale("anywhere"))  # a ClusterRoleBinding grants everywhere
    assert not p.allows(OPS, Attributes("get", path="/healthz"))
    assert p.allows(User("root", ("system:masters",)), Attributes("delete", "", "secrets", "", "x"))
    assert RbacPolicy().allows(User("root", ("system:masters",)), Attributes("patch", "", "nodes"))


def test_the_decision_names_the_binding_as_the_api_server_does() -> None:
    p = policy()
    bot = User("system:serviceaccount:data:bot")
    assert p.authorize(bot, patch_scale("data")).reason == (
        'RBAC: allowed by RoleBinding "scaler/data" of ClusterRole "scaler" to '
        'ServiceAccount "bot/data"'
    )
    assert p.authorize(User("prober"), patch_scale("x")).reason == (
        'RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "scaler" to User "prober"'
    )
    denied = p.authorize(User("alice"), patch_scale("shop"))
    assert not denied and denied.reason == ""


@pytest.mark.parametrize(
    ("method", "path", "want"),
    [
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api/scale",
         ("patch", "apps", "deployments", "scale", "shop", "api")),
        ("GET", "/api/v1/pods?watch=true", ("watch", "", "pods", "", "", "")),
        ("GET", "/api/v1/namespaces/shop/pods", ("list", "", "pods", "", "shop", "")),
        ("GET", "/api/v1/namespaces/shop", ("get", "", "namespaces", "", "", "shop")),
        ("GET", "/api/v1/namespaces/shop/pods/web-0/log",
         ("get", "", "pods", "log", "shop", "web-0")),
        ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
         ("create", "authorization.k8s.io", "subjectaccessreviews", "", "", "")),
        ("DELETE", "/apis/apps/v1/namespaces/shop/deployments",
         ("delete", "apps", "deployments", "", "shop", "")),
    ],
)  # fmt: skip
def test_requests_map_to_the_attributes_rbac_checks(
    method: str, path: str, want: tuple[str, ...]
) -> None:
    a = request_attributes(parse_path(method, path))
    assert a is not None
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == want


def test_discovery_is_not_checked_and_other_paths_are_non_resource() -> None:
    assert request_attributes(parse_path("GET", "/version")) is None
    assert request_attributes(parse_path("GET", "/apis/apps/v1")) is None
    assert request_attributes(parse_path("GET", "/api")) is None
    health = request_attributes(parse_path("GET", "/healthz"))
    assert health is not None and not health.is_resource and health.path == "/healthz"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r}\n",
            "namespace",
        ),
        ("kind: Role\napiVersion: v1\nmetadata: {name: r, namespace: a}\n", "apiVersion"),
        (
            "kind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\n"
            "metadata: {name: b}\nroleRef: {kind: Role, name: r}\n",
            "cannot refer to a Role",
        ),
        ("- just\n- a list\n", "not a Kubernetes object"),
        ("kind: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_manifests_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(RbacError, match=message):
        RbacPolicy.from_yaml(text)

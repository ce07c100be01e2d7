"""The sandbox's RBAC evaluation follows Kubernetes' rules (bindings, scopes, subresources)."""

from __future__ import annotations

import pytest

from sandbox.kube.rbac import Attributes, RbacError, RbacPolicy, User

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


def policy() -> RbacPolicy:
    return RbacPolicy.from_yaml(MANIFEST, project_id="acme", namespaces=["shop", "data"])


def patch_scale(ns: str, resource: str = "deployments") -> Attributes:
    return Attributes("patch", "apps", resource, "scale", ns, "api")


def test_a_rolebinding_grants_only_in_its_namespace_even_for_a_clusterrole() -> None:
    p = policy()
    assert p.allows(OPS, patch_scale("shop")) and p.allows(OPS, patch_scale("data"))
    assert not p.allows(OPS, patch_scale("prod"))
    assert not p.allows(OPS, Attributes("patch", "apps", "deployments", "scale", "", "api"))


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

"""The sandbox's RBAC authorizer decides as Kubernetes' does (it is the truth for the RBAC tests),
and doctor plans its SubjectAccessReviews from the permissions table."""

from __future__ import annotations

from typing import Any

from sandbox.kube_gate import request_attributes
from sandbox.rbac import Attributes, Rbac
from shared.doctor import plan_checks, review_body
from shared.k8s.permissions import MUST_NOT, NEEDS, Access

RULES = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]


def _role(kind: str, name: str, rules: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, "rules": rules}


def _binding(
    kind: str, ref: tuple[str, str], subject: dict[str, Any], ns: str = ""
) -> dict[str, Any]:
    meta = {"name": f"b-{ref[1]}", **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, "roleRef": {"kind": ref[0], "name": ref[1]},
            "subjects": [subject]}  # fmt: skip


def _can(rbac: Rbac, user: str, verb: str, res: str, ns: str = "", **kw: Any) -> bool:
    return rbac.authorize(Attributes(user, verb, res, "apps", namespace=ns, **kw))[0]


def test_a_rolebinding_grants_only_in_its_namespace_even_for_a_clusterrole() -> None:
    rbac = Rbac([
        _role("ClusterRole", "writer", RULES),
        _binding("RoleBinding", ("ClusterRole", "writer"), {"kind": "User", "name": "u"}, "shop"),
    ])  # fmt: skip
    assert _can(rbac, "u", "patch", "deployments", "shop")
    assert not _can(rbac, "u", "patch", "deployments", "api")
    assert not _can(rbac, "u", "patch", "deployments", "")  # not cluster-wide
    assert not _can(rbac, "u", "delete", "deployments", "shop")
    assert not _can(rbac, "someone-else", "patch", "deployments", "shop")


def test_a_role_is_looked_up_in_the_bindings_namespace() -> None:
    rbac = Rbac([
        _role("Role", "writer", RULES, "api"),  # same name, other namespace
        _binding("RoleBinding", ("Role", "writer"), {"kind": "User", "name": "u"}, "shop"),
    ])  # fmt: skip
    assert not _can(rbac, "u", "get", "deployments", "shop")


def test_groups_service_accounts_resource_names_subresources_and_masters() -> None:
    rules = [
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"],
         "resourceNames": ["api"]},
    ]  # fmt: skip
    sa = {"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}
    rbac = Rbac([
        _role("ClusterRole", "r", rules),
        _binding("ClusterRoleBinding", ("ClusterRole", "r"), sa),
    ])  # fmt: skip
    bot = "system:serviceaccount:ops:bot"
    assert _can(rbac, bot, "patch", "deployments", "x", subresource="scale")
    assert not _can(rbac, bot, "patch", "deployments", "x")  # the subresource is not the resource
    assert _can(rbac, bot, "get", "deployments", "x", name="api")
    assert not _can(rbac, bot, "get", "deployments", "x", name="web")
    assert not _can(rbac, bot, "get", "deployments", "x")  # a list/unnamed get: no resourceNames
    group = Rbac([_role("ClusterRole", "r", rules),
                  _binding("ClusterRoleBinding", ("ClusterRole", "r"),
                           {"kind": "Group", "name": "team"})])  # fmt: skip
    assert group.authorize(Attributes("u", "patch", "deployments", "apps", "scale",
                                      groups=("team",)))[0]  # fmt: skip
    assert Rbac([]).authorize(Attributes("root", "delete", "nodes", groups=("system:masters",)))[0]
    allowed, reason = rbac.authorize(Attributes(bot, "patch", "deployments", "apps", "scale"))
    assert allowed and 'ClusterRoleBinding "b-r" of ClusterRole "r"' in reason


def test_request_paths_map_to_rbac_attributes() -> None:
    a = request_attributes("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api/scale", {})
    assert a is not None
    assert (a.verb, a.group, a.resource, a.subresource, a.namespace, a.name) == (
        "patch", "apps", "deployments", "scale", "shop", "api")  # fmt: skip
    a = request_attributes("GET", "/api/v1/pods", {"watch": "true"})
    assert a is not None and (a.verb, a.resource, a.namespace) == ("watch", "pods", "")
    a = request_attributes("GET", "/api/v1/namespaces/shop", {})
    assert a is not None and (a.verb, a.resource, a.name) == ("get", "namespaces", "shop")
    a = request_attributes("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {})
    assert a is not None and (a.verb, a.group) == ("create", "authorization.k8s.io")
    assert request_attributes("GET", "/version", {}) is None
    assert request_attributes("GET", "/apis/apps/v1", {}) is None


def test_doctor_plans_every_need_and_must_not_per_namespace() -> None:
    ids = {"investigate": "i@p.iam.gserviceaccount.com", "rollback": "r@p.iam.gserviceaccount.com"}
    checks = plan_checks(ids, ("shop", "api"))
    assert {c.identity for c in checks} == {"investigate", "rollback"}  # remediate: no identity
    rollback_needs = [c for c in checks if c.identity == "rollback" and c.want]
    assert len(rollback_needs) == 2 * len(NEEDS["rollback"])  # each in shop and in api
    assert {c.namespace for c in rollback_needs} == {"shop", "api"}
    # no allow-list: nothing namespaced is needed, but must-nots are still probed in "default"
    bare = plan_checks(ids, ())
    assert not [c for c in bare if c.identity == "rollback" and c.want]
    probe = [c for c in bare if c.identity == "investigate" and not c.want
             and c.access.verb == "patch" and c.access.resource == "deployments"]  # fmt: skip
    assert {c.namespace for c in probe} >= {"default", "kube-system", ""}
    assert len([c for c in checks if not c.want and c.identity == "investigate"]) >= len(
        MUST_NOT["investigate"]
    )


def test_review_body_is_what_kubectl_auth_can_i_asks() -> None:
    body = review_body("u@p.iam.gserviceaccount.com", Access("get", "pods/log"), "shop")
    assert body["kind"] == "SubjectAccessReview"
    assert body["spec"]["user"] == "u@p.iam.gserviceaccount.com"
    assert body["spec"]["resourceAttributes"] == {
        "verb": "get", "group": "", "resource": "pods", "subresource": "log", "namespace": "shop"
    }  # fmt: skip

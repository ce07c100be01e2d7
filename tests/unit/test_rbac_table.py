"""deploy/rbac.yaml grants each identity exactly what shared/k8s/permissions.py says it needs,
and none of the things it must never do (evaluated by the sandbox's RBAC engine, the same one
the sandbox API server enforces)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube.rbac import Attributes, RbacPolicy, User
from shared.k8s import permissions as perms
from shared.k8s.permissions import MUST_NOT, NEEDS, Access, namespaces_for
from shared.k8s.rbac_manifest import render, template_documents

IDS = {fn: f"alertloop-{fn}@acme.iam.gserviceaccount.com" for fn in perms.IDENTITIES}
ALLOWED = ("shop", "api")


def allowed(docs: list[dict[str, Any]], user: str, a: Access, namespace: str) -> bool:
    attrs = Attributes(a.verb, a.group, a.plural, a.subresource, namespace, a.name)
    return RbacPolicy.from_documents(docs).allows(User(user), attrs)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(IDS, ALLOWED)


@pytest.mark.parametrize("fn", perms.IDENTITIES)
def test_every_identity_gets_everything_it_needs(docs: list[dict[str, Any]], fn: str) -> None:
    missing = [
        (a.what, ns or "*")
        for a in NEEDS[fn]
        for ns in namespaces_for(a.where, ALLOWED)
        if not allowed(docs, IDS[fn], a, ns)
    ]
    assert missing == []


@pytest.mark.parametrize("fn", perms.IDENTITIES)
def test_no_identity_can_do_what_it_must_not(docs: list[dict[str, Any]], fn: str) -> None:
    excess = [
        (a.what, ns or "*")
        for a in MUST_NOT[fn]
        for ns in namespaces_for(a.where, ALLOWED)
        if allowed(docs, IDS[fn], a, ns)
    ]
    assert excess == []


def _grants(docs: list[dict[str, Any]], user: str) -> set[tuple[str, str, str, str, str]]:
    """Every (verb, group, resource, scope, resourceName) a user is granted."""
    roles = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("Role", "ClusterRole")}  # fmt: skip
    out = set()
    for b in docs:
        if not b["kind"].endswith("Binding") or not any(s["name"] == user for s in b["subjects"]):
            continue
        scope = "cluster" if b["kind"] == "ClusterRoleBinding" else "allowed"
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
        for rule in roles[(ref["kind"], ns, ref["name"])]["rules"]:
            for verb in rule["verbs"]:
                for group in rule["apiGroups"]:
                    for res in rule["resources"]:
                        for name in rule.get("resourceNames") or [""]:
                            out.add((verb, group, res, scope, name))
    return out


@pytest.mark.parametrize("fn", perms.IDENTITIES)
def test_nothing_is_granted_beyond_the_table(docs: list[dict[str, Any]], fn: str) -> None:
    need = {(a.verb, a.group, a.resource, a.where, a.name) for a in NEEDS[fn]}
    for verb, group, res, scope, name in _grants(docs, IDS[fn]):
        covered = (verb, group, res, scope, name) in need or (
            scope == "allowed" and (verb, group, res, "cluster", name) in need
        )
        assert covered, f"{fn} is granted {verb} {res}.{group} ({scope}) beyond the table"


def test_the_template_has_one_binding_per_identity_kind_and_nothing_else() -> None:
    kinds = sorted(d["kind"] for d in template_documents())
    # ClusterRoles: alertloop-read (investigate, remediate), alertloop-resolve (dispatch),
    # alertloop-verify (sweeper); Roles: remediate's and rollback's, per allowed namespace.
    assert kinds == ["ClusterRole"] * 3 + ["ClusterRoleBinding"] * 3 + ["Role", "Role",
                     "RoleBinding", "RoleBinding"]  # fmt: skip


@pytest.mark.parametrize("fn", ["dispatch", "sweeper"])
def test_dispatch_and_sweeper_only_read(docs: list[dict[str, Any]], fn: str) -> None:
    assert {a.verb for a in NEEDS[fn]} <= {"get", "list"}
    assert {verb for verb, *_ in _grants(docs, IDS[fn])} <= {"get", "list"}
    assert {scope for _v, _g, _r, scope, _n in _grants(docs, IDS[fn])} == {"cluster"}


def test_dispatch_reads_exactly_what_resolving_a_pod_reads() -> None:
    # shared.workload.resolve.get_workload's readers, and list_pods (service / app label)
    gets = {(a.resource, a.group) for a in NEEDS["dispatch"] if a.verb == "get"}
    assert gets == {("pods", ""), ("services", ""), ("replicasets", "apps"),
                    ("deployments", "apps"), ("statefulsets", "apps"), ("daemonsets", "apps"),
                    ("jobs", "batch")}  # fmt: skip
    assert [a.what for a in NEEDS["dispatch"] if a.verb == "list"] == ["list pods"]
    assert [a.what for a in NEEDS["sweeper"]] == ["get deployments.apps"]


def test_render_binds_the_read_only_identities_cluster_wide() -> None:
    docs = render({"dispatch": IDS["dispatch"], "sweeper": IDS["sweeper"]}, ("shop",))
    crbs = {d["metadata"]["name"]: [s["name"] for s in d["subjects"]] for d in docs
            if d["kind"] == "ClusterRoleBinding"}  # fmt: skip
    assert crbs == {"alertloop-resolve": [IDS["dispatch"]], "alertloop-verify": [IDS["sweeper"]]}
    assert [d for d in docs if d["kind"] == "RoleBinding"] == []


def test_render_substitutes_identities_and_repeats_namespaced_documents() -> None:
    docs = render({"investigate": IDS["investigate"], "rollback": IDS["rollback"]}, ("shop", "api"))
    crb = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert [s["name"] for s in crb["subjects"]] == [IDS["investigate"]]  # remediate not configured
    rbs = [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs
           if d["kind"] == "RoleBinding"]  # fmt: skip
    assert rbs == [("shop", "alertloop-rollback"), ("api", "alertloop-rollback")]
    roles = [d["metadata"]["namespace"] for d in docs if d["kind"] == "Role"]
    assert roles == ["shop", "api", "shop", "api"]
    assert "PROJECT_ID" not in str(docs) and "NAMESPACE" not in str(docs)

"""`alertloop doctor` against two sandbox clusters that answer SubjectAccessReviews from RBAC."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.cli import main
from shared.clusters import clients as cluster_clients
from shared.k8s.rbac_manifest import render
from tests.integration.google_fakes import (
    ALLOWED_NAMESPACES,
    GkeWorld,
    gke_world,
    isolate_adc,
    sa,
    use_identity,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> Iterator[GkeWorld]:
    with gke_world() as w:
        yield w


@pytest.fixture(autouse=True)
def _env(world: GkeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    isolate_adc(monkeypatch, tmp_path)
    world.apply(monkeypatch)
    use_identity(monkeypatch, world.md, "admin")  # the operator running doctor
    yield
    for kube in world.kubes.values():
        kube.load_rbac(world.rbac)
    cluster_clients.clear_caches()


def doctor(world: GkeWorld, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    # Google's tokeninfo is the local stand-in's: a test never reaches the real endpoint.
    code = main(["doctor", "--tokeninfo-url", world.md.tokeninfo_url, *args])
    return code, capsys.readouterr().out


def test_all_good_exits_zero(world: GkeWorld, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(world, capsys)
    assert code == 0, out
    assert "result: OK (2 cluster(s))" in out
    for name in ("east", "west"):
        assert f"cluster {name} (GKE {world.gke_name(name)})" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(
        ("investigate ", "remediate ", "rollback "))]  # fmt: skip
    assert len(rows) == 6 and all(r[-1] == "ok" for r in rows)
    need, _never = next(r for r in rows if r[0] == "rollback")[1:3]
    assert need == "5/5"  # get/patch deployments, get/list replicasets, list pods in shop


def _without_rule(docs: list[dict[str, Any]], role: str, resource: str) -> list[dict[str, Any]]:
    docs = copy.deepcopy(docs)
    for d in docs:
        if d["kind"] == "Role" and d["metadata"]["name"] == role:
            d["rules"] = [r for r in d["rules"] if resource not in r["resources"]]
    return docs


def test_a_removed_rule_exits_one_naming_it(
    world: GkeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.kubes["west"].load_rbac(_without_rule(world.rbac, "alertloop-rollback", "replicasets"))
    code, out = doctor(world, capsys)
    assert code == 1
    assert "result: FAILED (problems on west)" in out
    missing = [line for line in out.splitlines() if "MISSING" in line]
    assert missing and all("rollback" in line and "shop" in line for line in missing)
    assert any("list replicasets.apps in shop" in line for line in missing)
    assert any("get replicasets.apps in shop" in line for line in missing)
    east = out.split("cluster west")[0]
    assert "MISSING" not in east  # east still has it


def test_an_excess_grant_is_named_with_the_binding_that_grants_it(
    world: GkeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "oops", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "alertloop-remediate"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": sa("investigate")}],
    }  # fmt: skip
    world.kubes["east"].load_rbac([*world.rbac, extra])
    code, out = doctor(world, capsys, "--cluster", "east")
    assert code == 1
    excess = [line for line in out.splitlines() if "EXCESS" in line]
    assert any("investigate" in line and "patch deployments.apps in shop" in line
               and 'RoleBinding "oops/shop"' in line for line in excess), out  # fmt: skip
    assert "cluster west" not in out


def test_json_output_and_an_unreachable_cluster(
    world: GkeWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    table = world.table()
    table["clusters"]["gone"] = {
        "gke": world.gke_name("gone"),
        "endpoint": f"127.0.0.1:{port}",
        "ca_data": world.kubes["east"].certificates.ca_b64,  # type: ignore[union-attr]
    }
    monkeypatch.setenv("ALERTLOOP_CLUSTERS", json.dumps(table))
    code, out = doctor(world, capsys, "--json")
    assert code == 1
    report = json.loads(out)
    by_name = {c["name"]: c for c in report["clusters"]}
    assert by_name["east"]["reachable"] and not by_name["east"]["problems"]
    assert by_name["gone"]["reachable"] is False
    assert "cannot reach the Kubernetes API" in by_name["gone"]["detail"]


def test_an_operator_who_cannot_review_access_is_told_so(
    world: GkeWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "investigate")  # may read, may not create reviews
    code, out = doctor(world, capsys, "--cluster", "west")
    assert code == 1
    assert "ERROR: cannot ask the API server (SubjectAccessReview)" in out
    assert "create on subjectaccessreviews.authorization.k8s.io" in out


def test_missing_identities_fail_and_print_rbac_renders_the_manifests(
    world: GkeWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = world.table()
    del table["identities"]["rollback"]
    monkeypatch.setenv("ALERTLOOP_CLUSTERS", json.dumps(table))
    code, out = doctor(world, capsys)
    assert code == 1
    assert "identity not configured for rollback" in out
    monkeypatch.setenv("ALERTLOOP_IDENTITY_ROLLBACK", sa("rollback"))
    code, out = doctor(world, capsys, "--print-rbac")
    assert code == 0
    docs = [d for d in yaml.safe_load_all(out) if d]
    ids = {fn: sa(fn) for fn in ("investigate", "remediate", "rollback", "dispatch", "sweeper")}
    assert docs == render(ids, ALLOWED_NAMESPACES)

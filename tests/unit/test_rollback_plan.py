"""The rollback patch is `kubectl rollout undo`'s, built from a deployment and a ReplicaSet."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube_scenarios import deployment, replicaset_for
from shared.rollback.plan import (
    ANNOTATIONS_TO_SKIP,
    live_problem,
    paused_problem,
    replicaset_problem,
    undo_annotations,
    undo_ops,
)

CREATED = "2024-06-01T00:00:00Z"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def objects() -> tuple[dict[str, Any], dict[str, Any]]:
    dep = deployment("shop", "checkout", "checkout:1.5.0", created=CREATED, revision=4)
    old = replicaset_for(dep, 3, created=CREATED, replicas=0, image="checkout:1.4.2")
    dep["metadata"]["annotations"].update({LAST_APPLIED: "{}", "team": "payments"})
    old["metadata"]["annotations"][CHANGE_CAUSE] = "deploy 1.4.2"
    return dep, old


def test_annotations_come_from_the_replicaset_except_kubectls_skip_list() -> None:
    dep, old = objects()
    assert undo_annotations(dep, old) == {
        "deployment.kubernetes.io/revision": "4",  # kept from the deployment
        LAST_APPLIED: "{}",  # kept from the deployment
        CHANGE_CAUSE: "deploy 1.4.2",  # copied from the ReplicaSet
    }  # "team" is dropped: kubectl replaces the whole map
    assert "deployment.kubernetes.io/desired-replicas" in ANNOTATIONS_TO_SKIP


def test_the_patch_is_kubectls_two_operations_behind_a_resource_version() -> None:
    dep, old = objects()
    dep["metadata"]["resourceVersion"] = "1234"
    rv, template, annotations = undo_ops(dep, old)
    assert rv == {"op": "replace", "path": "/metadata/resourceVersion", "value": "1234"}
    assert template["op"] == "replace" and template["path"] == "/spec/template"
    assert "pod-template-hash" not in template["value"]["metadata"]["labels"]
    assert template["value"]["spec"]["containers"][0]["image"] == "checkout:1.4.2"
    assert old["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]  # not mutated
    assert annotations == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": undo_annotations(dep, old),
    }
    bare = copy.deepcopy(dep)
    del bare["metadata"]["annotations"]
    assert undo_ops(bare, old)[2]["op"] == "add"  # nothing to replace


def test_a_paused_deployment_is_refused_as_kubectl_refuses_it() -> None:
    dep, _ = objects()
    assert paused_problem(dep) is None
    dep["spec"]["paused"] = True
    approval = {"from_revision": 4, "to_revision": 3, "target": "deployment/shop/checkout"}
    assert live_problem(approval, dep) == (
        "paused",
        "you cannot rollback a paused deployment; resume it first with "
        "'kubectl rollout resume' and try again",
    )


def test_nothing_to_do_when_the_template_already_matches() -> None:
    dep, _ = objects()
    same = replicaset_for(dep, 3, created=CREATED, replicas=0)
    problem = replicaset_problem({"to_revision": 3}, dep, same)
    assert problem == (
        "no_change",
        "skipped rollback (current template already matches revision 3)",
    )

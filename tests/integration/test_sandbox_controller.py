"""The sandbox API server behaves like a real one towards the real `kubernetes` client: writes
are stored and answered at once, the deployment controller acts later on its own thread, and
invalid or no-op writes are treated as the API server treats them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from sandbox.kube_api import KubeApiServer
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.settings import K8sSettings

pytestmark = pytest.mark.integration

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
IMAGE_1_4_2 = "registry.example.com/shop/checkout:1.4.2"


@pytest.fixture
def srv() -> Iterator[KubeApiServer]:
    with KubeApiServer("recent-deploy", controller_delay=0.05) as server:
        yield server


@pytest.fixture
def clients(srv: KubeApiServer) -> Iterator[KubeClients]:
    c = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
    yield c
    c.close()


def replicasets(srv: KubeApiServer) -> dict[str, dict[str, Any]]:
    """checkout's ReplicaSets by revision."""
    return {
        rs["metadata"]["annotations"][REVISION]: rs
        for rs in srv.state.list("replicasets", "shop")
        if rs["metadata"]["name"].startswith("checkout-")
    }


def pods_of(srv: KubeApiServer, rs: dict[str, Any]) -> list[dict[str, Any]]:
    return srv.state.owned_by("pods", rs)


def image_patch(image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "checkout", "image": image}]}}}}


def test_a_write_is_answered_as_stored_and_rolled_out_later(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    srv.controller.delay = 0.3
    before = srv.get_object("deployments", "shop", "checkout")
    assert before is not None
    written = clients.apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}},
    )
    # the answer: generation bumped, everything the controller owns unchanged
    assert written.metadata.generation == before["metadata"]["generation"] + 1
    assert written.metadata.annotations[REVISION] == "4"
    assert written.status.observed_generation == before["status"]["observedGeneration"]
    assert written.status.updated_replicas == before["status"]["updatedReplicas"]
    assert srv.wait_for_controller(10)
    after = srv.get_object("deployments", "shop", "checkout")
    assert after is not None
    assert after["metadata"]["annotations"][REVISION] == "5"
    assert after["status"]["observedGeneration"] == written.metadata.generation
    assert after["status"]["replicas"] == after["status"]["availableReplicas"] == 3
    assert [c["reason"] for c in after["status"]["conditions"]] == [
        "MinimumReplicasAvailable",
        "NewReplicaSetAvailable",
    ]
    rs = replicasets(srv)
    assert set(rs) == {"1", "2", "3", "4", "5"}
    new = rs["5"]
    assert new["spec"]["template"]["metadata"]["annotations"] == {"restartedAt": "now"}
    phash = new["metadata"]["labels"]["pod-template-hash"]
    assert new["metadata"]["name"] == f"checkout-{phash}"
    assert new["spec"]["selector"]["matchLabels"]["pod-template-hash"] == phash
    assert [p["metadata"]["labels"]["pod-template-hash"] for p in pods_of(srv, new)] == [phash] * 3
    assert rs["4"]["spec"]["replicas"] == 0 and pods_of(srv, rs["4"]) == []
    messages = [e["message"] for e in srv.state.list("events", "shop")]
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 3" in messages
    assert f"Scaled down replica set {rs['4']['metadata']['name']} from 3 to 0" in messages


def test_rolling_back_reuses_the_old_replicaset_with_the_next_revision(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    old_name = replicasets(srv)["3"]["metadata"]["name"]
    clients.apps.patch_namespaced_deployment("checkout", "shop", image_patch(IMAGE_1_4_2))
    assert srv.wait_for_controller(10)
    rs = replicasets(srv)
    assert "3" not in rs
    assert rs["5"]["metadata"]["name"] == old_name
    assert rs["5"]["metadata"]["annotations"][HISTORY] == "3"
    assert len(pods_of(srv, rs["5"])) == 3


def test_a_paused_deployment_is_observed_but_not_rolled_out(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    clients.apps.patch_namespaced_deployment("checkout", "shop", {"spec": {"paused": True}})
    written = clients.apps.patch_namespaced_deployment("checkout", "shop", image_patch("x:1"))
    assert srv.wait_for_controller(10)
    paused = srv.get_object("deployments", "shop", "checkout")
    assert paused is not None
    assert paused["status"]["observedGeneration"] == written.metadata.generation
    assert paused["metadata"]["annotations"][REVISION] == "4"
    assert paused["status"]["updatedReplicas"] == 0
    assert paused["status"]["conditions"][1]["reason"] == "DeploymentPaused"
    assert set(replicasets(srv)) == {"1", "2", "3", "4"}
    clients.apps.patch_namespaced_deployment("checkout", "shop", {"spec": {"paused": False}})
    assert srv.wait_for_controller(10)
    assert set(replicasets(srv)) == {"1", "2", "3", "4", "5"}


def test_failing_pods_stall_the_rollout_until_the_deadline(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    srv.fail_image(IMAGE_1_4_2, "ImagePullBackOff")
    srv.mutate(
        "deployments",
        "shop",
        "checkout",
        lambda d: d["spec"].__setitem__("progressDeadlineSeconds", 1),
    )
    clients.apps.patch_namespaced_deployment("checkout", "shop", image_patch(IMAGE_1_4_2))
    assert srv.wait_for_controller(10)
    dep = srv.get_object("deployments", "shop", "checkout")
    assert dep is not None
    progressing = dep["status"]["conditions"][1]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert dep["status"]["updatedReplicas"] == 3 and dep["status"]["replicas"] == 6
    rs = replicasets(srv)
    new_pods = pods_of(srv, rs["5"])
    states = {p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] for p in new_pods}
    assert states == {"ImagePullBackOff"}
    assert len(pods_of(srv, rs["4"])) == 3  # the old pods keep serving


def test_scale_down_deletes_pods_and_history_is_limited(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    clients.apps.patch_namespaced_deployment(
        "checkout", "shop", {"spec": {"revisionHistoryLimit": 1}}
    )
    clients.apps.patch_namespaced_deployment_scale("checkout", "shop", {"spec": {"replicas": 1}})
    assert srv.wait_for_controller(10)
    rs = replicasets(srv)
    assert set(rs) == {"3", "4"}  # revision 4 (current) and one old one
    assert len(pods_of(srv, rs["4"])) == 1
    dep = srv.get_object("deployments", "shop", "checkout")
    assert dep is not None and dep["status"]["replicas"] == 1


def test_statuses_are_left_as_given_until_something_is_written() -> None:
    with KubeApiServer("crashloop", controller_delay=0.01) as srv:
        given = srv.get_object("deployments", "shop", "api")
        assert given is not None and given["status"]["readyReplicas"] == 0
        srv.put_object(given)  # a direct store write, not an API write
        c = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
        try:
            c.apps.read_namespaced_deployment("api", "shop")
            c.apps.list_namespaced_replica_set("shop")
        finally:
            c.close()
        assert srv.wait_for_controller(5)
        now = srv.get_object("deployments", "shop", "api")
        assert now is not None and now["status"] == given["status"]


def test_status_and_spec_are_written_only_where_they_belong(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    srv.controller.delay = 30  # keep the controller out of this test
    before = srv.get_object("deployments", "shop", "checkout")
    assert before is not None
    out = clients.apps.patch_namespaced_deployment(
        "checkout", "shop", {"spec": {"replicas": 5}, "status": {"readyReplicas": 99}}
    )
    assert out.spec.replicas == 5 and out.status.ready_replicas == 3
    out = clients.apps.patch_namespaced_deployment_status(
        "checkout", "shop", {"spec": {"replicas": 1}, "status": {"readyReplicas": 2}}
    )
    assert out.spec.replicas == 5 and out.status.ready_replicas == 2


def test_invalid_writes_are_refused_with_422(srv: KubeApiServer, clients: KubeClients) -> None:
    cases = [
        ({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}, "`selector` does not"),
        ({"spec": {"selector": {"matchLabels": {"app": "x"}}}}, "field is immutable"),
        ({"spec": {"replicas": -1}}, "spec.replicas: Invalid value: -1"),
    ]
    for body, message in cases:
        with pytest.raises(ApiException) as err:
            clients.apps.patch_namespaced_deployment("checkout", "shop", body)
        assert err.value.status == 422 and message in str(err.value.body)
    with pytest.raises(ApiException) as err:
        clients.apps.patch_namespaced_deployment(
            "checkout",
            "shop",
            [{"op": "replace", "path": "/metadata/nothing/here", "value": 1}],
        )
    assert err.value.status == 422


def test_a_no_op_write_keeps_the_resource_version(srv: KubeApiServer, clients: KubeClients) -> None:
    before = clients.apps.read_namespaced_deployment("checkout", "shop")
    same = clients.apps.patch_namespaced_deployment(
        "checkout", "shop", {"spec": {"replicas": before.spec.replicas}}
    )
    assert same.metadata.resource_version == before.metadata.resource_version
    dry = clients.apps.patch_namespaced_deployment(
        "checkout", "shop", {"spec": {"replicas": 7}}, dry_run="All"
    )
    assert dry.spec.replicas == 7
    live = srv.get_object("deployments", "shop", "checkout")
    assert live is not None and live["spec"]["replicas"] == before.spec.replicas


def test_the_demo_cluster_has_database_like_deployments() -> None:
    """`make run`'s cluster: PostgreSQL on a PVC and a single Redis, both plain Deployments."""
    from shared.k8s.reads import find_hpa
    from shared.workload.resolve import WorkloadRef

    with KubeApiServer("demo") as srv:
        c = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
        try:
            pg = c.apps.read_namespaced_deployment("postgres", "shop")
            (volume,) = pg.spec.template.spec.volumes
            claim = c.core.read_namespaced_persistent_volume_claim(
                volume.persistent_volume_claim.claim_name, "shop"
            )
            assert claim.status.phase == "Bound"
            assert pg.spec.template.spec.containers[0].image.startswith("postgres:")
            redis = c.apps.read_namespaced_deployment("redis", "shop")
            assert redis.spec.replicas == 1 and redis.status.ready_replicas == 1
            assert find_hpa(c, WorkloadRef("Deployment", "redis", "shop")) is None
            assert find_hpa(c, WorkloadRef("Deployment", "postgres", "shop")) is None
        finally:
            c.close()

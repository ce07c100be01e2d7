"""The rollback patch against the sandbox, side by side with the real `kubectl rollout undo`
(when kubectl is installed): the same operations, the same result on the cluster."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.kube_api import KubeApiServer, Scenario
from sandbox.kube_scenarios import recent_deploy
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.errors import K8sApiError
from shared.k8s.reads import get_deployment, rollout_history
from shared.k8s.settings import K8sSettings
from shared.k8s.writes import JSON_PATCH, patch_deployment
from shared.rollback.plan import paused_problem, undo_ops
from shared.workload.resolve import selector_string

pytestmark = pytest.mark.integration

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
NOW = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)


def scenario() -> Scenario:
    """checkout at revision 4; revision 3's ReplicaSet carries a change-cause, the deployment
    a last-applied-configuration and an annotation revision 3 never had."""
    sc = recent_deploy(NOW)
    for obj in sc.objects:
        ann = obj["metadata"].get("annotations")
        if obj["kind"] == "ReplicaSet" and ann and ann["deployment.kubernetes.io/revision"] == "3":
            ann["kubernetes.io/change-cause"] = "release 1.4.2"
        if obj["kind"] == "Deployment":
            ann["kubectl.kubernetes.io/last-applied-configuration"] = '{"kind":"Deployment"}'
            ann["team"] = "checkout"
    return sc


def clients_for(srv: KubeApiServer) -> KubeClients:
    return load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))


def our_ops(clients: KubeClients) -> list[dict[str, Any]]:
    deploy = get_deployment(clients, "shop", "checkout")
    history = rollout_history(clients, deploy, selector_string(deploy["spec"]["selector"]))
    (rev3,) = [r for r in history if r.revision == 3]
    rs = clients.call(
        "get",
        "replicasets",
        "shop",
        lambda **kw: clients.apps.read_namespaced_replica_set(rev3.name, "shop", **kw),
    )
    return undo_ops(deploy, rs)


def kubectl(srv: KubeApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", srv.kubeconfig_path, "-n", "shop", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def without_nulls(value: Any) -> Any:
    """Go's JSON has `creationTimestamp: null` where the Python client omits the key."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def after_undo(srv: KubeApiServer) -> dict[str, Any]:
    assert srv.wait_for_controller(10)
    dep = srv.get_object("deployments", "shop", "checkout")
    assert dep is not None
    return {
        "template": without_nulls(dep["spec"]["template"]),
        "annotations": dep["metadata"]["annotations"],
        "status": {k: v for k, v in dep["status"].items() if k != "conditions"},
    }


@needs_kubectl
def test_the_patch_is_what_kubectl_rollout_undo_sends_and_does_the_same() -> None:
    # HTTPS for kubectl: client-go sends a bearer token over TLS only.
    with KubeApiServer(scenario(), tls=True) as theirs, KubeApiServer(scenario()) as ours:
        c = clients_for(ours)
        try:
            ops = our_ops(c)
            done = kubectl(theirs, "rollout", "undo", "deployment/checkout", "--to-revision=3")
            assert done.returncode == 0, done.stderr
            (sent,) = theirs.requests_matching("PATCH")
            assert sent.content_type.startswith(JSON_PATCH)
            precondition, *kubectl_ops = ops
            assert precondition["path"] == "/metadata/resourceVersion"
            assert without_nulls(sent.body) == kubectl_ops
            assert kubectl_ops[1]["value"] == {
                "deployment.kubernetes.io/revision": "4",
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
                "kubernetes.io/change-cause": "release 1.4.2",
            }
            patch_deployment(c, "shop", "checkout", ops, content_type=JSON_PATCH)
        finally:
            c.close()
        assert after_undo(ours) == after_undo(theirs)
        assert after_undo(ours)["annotations"]["deployment.kubernetes.io/revision"] == "5"


@needs_kubectl
def test_a_paused_deployment_is_refused_by_kubectl_too() -> None:
    with KubeApiServer(scenario(), tls=True) as srv:
        srv.mutate("deployments", "shop", "checkout", lambda d: d["spec"].update(paused=True))
        done = kubectl(srv, "rollout", "undo", "deployment/checkout", "--to-revision=3")
        assert done.returncode != 0
        paused = paused_problem(srv.get_object("deployments", "shop", "checkout") or {})
        assert paused is not None and paused[1] in done.stderr
        assert srv.requests_matching("PATCH") == []


def test_a_stale_resource_version_is_refused_with_409() -> None:
    with KubeApiServer(scenario()) as srv:
        c = clients_for(srv)
        try:
            ops = our_ops(c)
            srv.mutate("deployments", "shop", "checkout", lambda d: None)  # someone wrote it
            with pytest.raises(K8sApiError) as err:
                patch_deployment(c, "shop", "checkout", ops, content_type=JSON_PATCH)
            assert err.value.status == 409
        finally:
            c.close()
        dep = srv.get_object("deployments", "shop", "checkout")
        assert dep is not None
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")

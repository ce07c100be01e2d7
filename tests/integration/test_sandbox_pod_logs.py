"""The sandbox serves init- and ephemeral-container logs as a real API server does
(`kubectl logs POD -c INIT`, `--previous`), read with the real kubernetes client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client.exceptions import ApiException

from sandbox.kube_api import KubeApiServer
from shared.k8s import reads
from shared.k8s.client import KubeClients, load_clients

pytestmark = pytest.mark.integration

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-web-0"},
    "spec": {
        "initContainers": [{"name": "migrate", "image": "db-migrate:1"}],
        "containers": [
            {"name": "web", "image": "web:1"},
            {"name": "proxy", "image": "envoy:1"},
        ],
        "ephemeralContainers": [{"name": "debugger", "image": "busybox"}],
    },
    "status": {
        "phase": "Pending",
        "initContainerStatuses": [
            {
                "name": "migrate",
                "image": "db-migrate:1",
                "imageID": "",
                "ready": False,
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
        ],
    },
}


@pytest.fixture
def clients(remediation_cluster: KubeApiServer) -> Iterator[KubeClients]:
    remediation_cluster.put_object(POD)
    remediation_cluster.set_log("shop", "web-0", "migrate", ["migrating", "boom: no table"])
    remediation_cluster.set_log("shop", "web-0", "migrate", ["first try failed"], previous=True)
    remediation_cluster.set_log("shop", "web-0", "debugger", ["/ # ps"])
    c = load_clients()
    yield c
    c.close()


def test_init_container_logs_current_and_previous(clients: KubeClients) -> None:
    got = reads.pod_log(clients, "shop", "web-0", "migrate", tail_lines=10)
    assert got == ["migrating", "boom: no table"]
    prev = reads.pod_log(clients, "shop", "web-0", "migrate", tail_lines=10, previous=True)
    assert prev == ["first try failed"]


def test_ephemeral_container_logs(clients: KubeClients) -> None:
    text = clients.core.read_namespaced_pod_log("web-0", "shop", container="debugger")
    assert text == "/ # ps\n"


def test_a_pod_with_several_containers_needs_a_name_and_lists_every_kind(
    clients: KubeClients,
) -> None:
    with pytest.raises(ApiException) as err:
        clients.core.read_namespaced_pod_log("web-0", "shop")
    assert err.value.status == 400
    assert (
        "a container name must be specified for pod web-0, choose one of: [web proxy] "
        "or one of the init containers: [migrate] "
        "or one of the ephemeral containers: [debugger]"
    ) in str(err.value.body)
    with pytest.raises(ApiException) as unknown:
        clients.core.read_namespaced_pod_log("web-0", "shop", container="nope")
    assert "container nope is not valid for pod web-0" in str(unknown.value.body)

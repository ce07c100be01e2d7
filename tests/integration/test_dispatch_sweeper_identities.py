"""dispatch and sweeper under their own read-only cluster identities, as the local stack gives
them (sandbox.stack: one kubeconfig per function on a sandbox API server that enforces
deploy/rbac.yaml): dispatch resolves a `pod=` alert to its Deployment before the incident is
chosen, the sweeper reads the workload's readiness, and neither may write.

Before these identities existed, the stack withheld every Kubernetes credential from dispatch
and the sweeper, so a pod-named alert was keyed on the pod's name (issue 20's reset caps) and
the outcome check skipped "are the workload's pods ready?"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.kube.rbac import function_user
from sandbox.kube_api import Fault, KubeApiServer
from sandbox.kube_remediation_scenarios import remediation
from sandbox.stack import Stack, kubeconfigs_of, rbac_sandbox, sandbox_identities
from shared.bus import Bus
from shared.clusters.clients import clear_caches, kube_clients_for
from shared.clusters.table import ClusterEntry, cluster_table
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.k8s import reads, writes
from shared.k8s.errors import K8sForbidden
from shared.ledger import Ledger
from shared.model import utcnow
from shared.outcomes.probes import pods_ready
from shared.policy import cached_policy
from shared.workload.incident import cluster_resolver
from tests.conftest import reset_settings
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration

POD_A = "web-2827thlns2-dx8tv"
POD_B = "web-2827thlns2-rp7jp"


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeApiServer]:
    with rbac_sandbox(remediation(), ["shop"]) as srv:
        yield srv


@pytest.fixture
def stack(kube: KubeApiServer, tmp_path: Path) -> Stack:
    return Stack(tmp_path, function_overrides=sandbox_identities(kubeconfigs_of(kube)))


def run_as(stack: Stack, function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process gets the function's environment as the local stack starts it: everything it
    does not read withheld (other credentials included), then its own overrides."""
    for name in stack.withheld(function):
        monkeypatch.delenv(name, raising=False)
    for name, value in stack.function_overrides.get(function, {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALERTLOOP_POLICY_FILE", raising=False)
    reset_settings()
    clear_caches()


@pytest.fixture(autouse=True)
def _fresh(kube: KubeApiServer) -> Iterator[None]:
    kube.clear_requests()
    yield
    kube.clear_faults()
    clear_caches()


def the_cluster() -> ClusterEntry:
    """The local stack's one implicit cluster (its KUBECONFIG: the function's own identity)."""
    (entry,) = cluster_table().clusters.values()
    return entry


def crashloop(pod: str) -> dict[str, str]:
    """kube-prometheus' KubePodCrashLooping: `pod=` only, no deployment label."""
    alert = make_alert(
        "KubePodCrashLooping",
        labels={"namespace": "shop", "pod": pod, "container": "web"},
        starts_at=utcnow(),
    )
    cfg = settings()
    d = dispatch_alert(intake(alert), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())
    run = Ledger().get_run(d.run_id) or {}
    return dict(run["workload"])


def test_dispatch_resolves_a_pod_to_its_deployment_as_itself(
    stack: Stack, kube: KubeApiServer, topics: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_as(stack, "dispatch", monkeypatch)
    assert crashloop(POD_A) == {
        "namespace": "shop",
        "kind": "Deployment",
        "name": "web",
        "source": "cluster",
    }
    seen = kube.requests_matching()
    assert seen and {r.user for r in seen} == {function_user("dispatch")}
    assert {(r.method, r.status) for r in seen} == {("GET", 200)}  # read-only, all allowed
    paths = [r.path.split("?")[0] for r in seen]
    assert paths == [
        f"/api/v1/namespaces/shop/pods/{POD_A}",
        "/apis/apps/v1/namespaces/shop/replicasets/web-2827thlns2",
        "/apis/apps/v1/namespaces/shop/deployments/web",
    ]


def test_dispatch_walks_each_pod_once(
    stack: Stack, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert storm on one pod: its ownerReferences are read once per process."""
    run_as(stack, "dispatch", monkeypatch)
    resolve = cluster_resolver(the_cluster().name)
    assert resolve is not None
    labels = {"namespace": "shop", "pod": POD_B}
    first = resolve(labels)
    reads_after_first = len(kube.requests_matching())
    assert reads_after_first == 3
    assert resolve(labels) == first and first is not None and first.name == "web"
    assert len(kube.requests_matching()) == reads_after_first  # answered from the cache
    other = resolve({"namespace": "shop", "pod": POD_A})
    assert other == first and len(kube.requests_matching()) == 2 * reads_after_first


def test_dispatch_falls_back_when_its_read_times_out(
    stack: Stack, kube: KubeApiServer, topics: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durable first: a slow cluster costs dispatch its short cap, and the run says so."""
    run_as(stack, "dispatch", monkeypatch)
    monkeypatch.setenv("ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS", "0.2")
    kube.add_fault(Fault("delay", resource="pods", verb="get", seconds=2))
    wl = crashloop(POD_A)
    assert wl["name"] == POD_A and wl["source"] == "labels (fallback)"
    assert "could not be read" in wl["note"] and "did not answer within 0.2s" in wl["note"]


def test_dispatch_is_refused_every_write(
    stack: Stack, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_as(stack, "dispatch", monkeypatch)
    clients = kube_clients_for(the_cluster())
    before = kube.get_object("deployments", "shop", "web")
    rv = reads.get_deployment(clients, "shop", "web")["metadata"]["resourceVersion"]
    with pytest.raises(K8sForbidden) as err:
        writes.patch_deployment(
            clients, "shop", "web", writes.restart_patch(rv, datetime.now(UTC).isoformat())
        )
    assert err.value.verb == "patch" and err.value.resource == "deployments"
    assert f'User "{function_user("dispatch")}" cannot patch' in str(err.value)
    with pytest.raises(K8sForbidden):  # nor its logs: investigation's, not dispatch's
        clients.call(
            "get",
            "pods/log",
            "shop",
            lambda **kw: clients.core.read_namespaced_pod_log(POD_A, "shop", **kw),
        )
    assert kube.get_object("deployments", "shop", "web") == before


def test_the_sweeper_reads_pod_readiness_as_itself(
    stack: Stack, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_as(stack, "sweeper", monkeypatch)
    check = {
        "cluster": the_cluster().name,
        "workload": {"namespace": "shop", "kind": "Deployment", "name": "web"},
    }
    deploy = kube.get_object("deployments", "shop", "web")
    want = deploy["spec"]["replicas"]
    ready = int(deploy.get("status", {}).get("readyReplicas") or 0)
    assert pods_ready(check) == (ready >= want, f"{ready}/{want} ready")
    seen = kube.requests_matching()
    assert [(r.method, r.user, r.status) for r in seen] == [("GET", function_user("sweeper"), 200)]
    clients = kube_clients_for(the_cluster())
    with pytest.raises(K8sForbidden):  # get deployments only: not even a pod
        clients.call(
            "get",
            "pods",
            "shop",
            lambda **kw: clients.core.read_namespaced_pod(POD_A, "shop", **kw),
        )

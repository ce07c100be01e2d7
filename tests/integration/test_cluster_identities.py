"""Two GKE-like clusters, one cluster table, each function as its own Google identity.

Everything speaks its real protocol: google-auth fetches tokens from the local metadata server,
google-cloud-container asks the local Container API for each cluster's endpoint and CA, and the
kubernetes client talks TLS (verified against that CA) to sandbox API servers that authenticate
the token as the service account's e-mail and enforce deploy/rbac.yaml, as GKE does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.clusters import clients as cluster_clients
from shared.clusters.clients import client_factory, kube_clients_for
from shared.clusters.routing import Route, RoutingProblem, route_alert
from shared.investigation import investigate
from shared.k8s import reads, writes
from shared.k8s.errors import K8sForbidden
from shared.model import Alert
from shared.run import Run
from tests.integration.google_fakes import (
    GkeWorld,
    gke_world,
    isolate_adc,
    run_as,
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
    yield
    cluster_clients.clear_caches()


def _route(labels: dict[str, str]) -> Route:
    got = route_alert(labels)
    assert isinstance(got, Route), str(got)
    return got


def _restart(clients: object, name: str, ns: str = "shop") -> dict[str, object]:
    deploy = reads.get_deployment(clients, ns, name)  # type: ignore[arg-type]
    rv = deploy["metadata"]["resourceVersion"]
    patch = writes.restart_patch(rv, datetime.now(UTC).isoformat())
    return writes.patch_deployment(clients, ns, name, patch)  # type: ignore[arg-type]


def test_alerts_route_to_their_cluster_and_nowhere_else(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "investigate")
    east = kube_clients_for(_route({"cluster": "east"}).cluster)
    west = kube_clients_for(_route({"cluster": "west"}).cluster)
    assert east.host == f"https://{world.kubes['east'].address}"
    assert east.source.startswith("gke:projects/") and east.cluster == "east"
    world.kubes["west"].mutate("deployments", "shop", "api", lambda d: d["metadata"].update(
        labels={**d["metadata"].get("labels", {}), "only-in": "west"}))  # fmt: skip
    assert "only-in" not in reads.get_deployment(east, "shop", "api")["metadata"]["labels"]
    assert reads.get_deployment(west, "shop", "api")["metadata"]["labels"]["only-in"] == "west"
    # GKE saw the function's service account, not a shared credential
    assert world.kubes["east"].requests_matching(user=sa("investigate"))
    # the Container API was asked once per cluster (cached per process)
    kube_clients_for(_route({"cluster": "east"}).cluster)
    gets = [p for p, s in world.container_api.calls if s == 200]
    assert sorted(gets) == sorted(f"/v1/{world.gke_name(n)}" for n in ("east", "west"))
    problem = route_alert({"namespace": "shop"})
    assert isinstance(problem, RoutingProblem) and "east, west" in str(problem)


def test_investigate_reads_but_cannot_write(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "investigate")
    clients = kube_clients_for(_route({"cluster": "west"}).cluster)
    pods = clients.call("list", "pods", "shop",
                        lambda **kw: clients.core.list_namespaced_pod("shop", **kw))  # fmt: skip
    assert pods["items"]
    system = "kube-system"
    kube = clients.call("list", "pods", system,
                        lambda **kw: clients.core.list_namespaced_pod(system, **kw))  # fmt: skip
    assert kube["items"]
    before = world.kubes["west"].get_object("deployments", "shop", "api")
    with pytest.raises(K8sForbidden) as err:
        _restart(clients, "api")
    assert err.value.verb == "patch" and err.value.resource == "deployments"
    assert f'User "{sa("investigate")}" cannot patch' in str(err.value)
    after = world.kubes["west"].get_object("deployments", "shop", "api")
    assert before == after  # nothing reached the cluster


def test_remediate_changes_only_the_allowed_namespace(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "remediate")
    clients = kube_clients_for(_route({"cluster": "east"}).cluster)
    patched = _restart(clients, "api")
    assert patched["metadata"]["name"] == "api"
    scale = reads.get_deployment_scale(clients, "shop", "api")
    rv = scale["metadata"]["resourceVersion"]
    writes.patch_deployment_scale(clients, "shop", "api", writes.scale_patch(rv, 3))
    assert world.kubes["east"].get_object("deployments", "shop", "api")["spec"]["replicas"] == 3
    with pytest.raises(K8sForbidden):
        _restart(clients, "coredns", ns="kube-system")
    patches = world.kubes["east"].requests_matching("PATCH", user=sa("remediate"))
    assert [(s.path.split("/")[-1] or s.path, s.status) for s in patches] == [
        ("api", 200),
        ("scale", 200),
        ("coredns", 403),
    ]


def test_rollback_has_exactly_its_namespaced_role(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "rollback")
    clients = kube_clients_for(_route({"cluster": "west"}).cluster)
    deploy = reads.get_deployment(clients, "shop", "checkout")
    selector = ",".join(f"{k}={v}" for k, v in deploy["spec"]["selector"]["matchLabels"].items())
    history = reads.rollout_history(clients, deploy, selector)
    assert len(history) >= 2
    assert reads.pods_of(clients, deploy)  # the database-class check reads the target's pods
    _restart(clients, "checkout")  # a patch of the deployment: what rollout undo sends
    with pytest.raises(K8sForbidden):  # nothing outside the allowed namespaces
        clients.call("list", "pods", "data",
                     lambda **kw: clients.core.list_namespaced_pod("data", **kw))  # fmt: skip
    with pytest.raises(K8sForbidden):  # no investigation reads
        pod = reads.pods_of(clients, deploy)[0]["metadata"]["name"]
        reads.pod_log(clients, "shop", pod, "checkout", tail_lines=5)
    with pytest.raises(K8sForbidden):  # no scaling
        rv = deploy["metadata"]["resourceVersion"]
        writes.patch_deployment_scale(clients, "shop", "checkout", writes.scale_patch(rv, 9))


def test_the_cluster_ca_is_verified(world: GkeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.clusters.table import ClusterEntry
    from shared.k8s.errors import K8sUnreachable

    use_identity(monkeypatch, world.md, "investigate")
    east, west = world.kubes["east"], world.kubes["west"]
    assert east.certificates is not None and west.certificates is not None
    wrong_ca = ClusterEntry(
        name="east",
        gke=world.gke_name("east"),
        endpoint=east.address,
        ca_data=west.certificates.ca_b64,
    )
    clients = kube_clients_for(wrong_ca)
    with pytest.raises(K8sUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        reads.get_deployment(clients, "shop", "api")
    right_ca = wrong_ca.model_copy(update={"ca_data": east.certificates.ca_b64})
    assert reads.get_deployment(kube_clients_for(right_ca), "shop", "api")["metadata"]["name"]


def test_an_identity_without_cluster_viewer_cannot_reach_any_cluster(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.clusters.gke import K8sCredentialsError

    use_identity(monkeypatch, world.md, "budget")
    with pytest.raises(K8sCredentialsError, match=r"roles/container\.clusterViewer"):
        kube_clients_for(_route({"cluster": "east"}).cluster)


def test_the_investigate_stage_with_a_factory_from_the_table(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "investigate")
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    labels = {"cluster": "east", "namespace": "shop", "deployment": "checkout"}
    routed = _route(labels)
    alert = Alert(name="HighErrorRate", labels=labels, starts_at=datetime.now(UTC), fingerprint="f")
    run = Run(run_id="r", alert=alert, alert_type="HighErrorRate", plan=["investigate"])
    finding = investigate(run, k8s_factory=client_factory(routed.cluster))
    k8s = finding.details["kubernetes"]
    assert k8s["status"] == "ok", k8s
    assert k8s["source"] == f"gke:{world.gke_name('east')}"
    assert finding.details["recent_deploy"]["revision"] >= 2


def test_a_function_process_needs_nothing_but_its_environment(world: GkeWorld) -> None:
    """As on Cloud Run: GCE_METADATA_HOST and the table in the env, no patching, no kubeconfig."""
    out = run_as(
        world.md,
        "remediate",
        """
import json
from shared.clusters.routing import route_alert
from shared.clusters.clients import kube_clients_for
from shared.k8s import reads
c = kube_clients_for(route_alert({"cluster": "west"}).cluster)
d = reads.get_deployment(c, "shop", "web")
print(json.dumps({"host": c.host, "source": c.source, "name": d["metadata"]["name"]}))
""",
        env=world.env(),
    )
    assert out["host"] == f"https://{world.kubes['west'].address}"
    assert out["name"] == "web"
    assert world.kubes["west"].requests_matching("GET", user=sa("remediate"))


def test_dispatch_resolves_a_pod_as_its_own_google_identity(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GKE: dispatch's service account (roles/container.clusterViewer, ClusterRole
    alertloop-resolve) walks a pod to its Deployment on the routed cluster, and may not write."""
    from shared.workload.incident import cluster_resolver, incident_workload

    use_identity(monkeypatch, world.md, "dispatch")
    pod = next(
        p["metadata"]["name"]
        for p in world.kubes["east"].state.list("pods", "shop")
        if p["metadata"]["name"].startswith("web-")
    )
    wl = incident_workload(
        {"cluster": "east", "namespace": "shop", "pod": pod}, cluster_resolver("east")
    )
    assert (wl.kind, wl.name, wl.source) == ("Deployment", "web", "cluster")
    seen = world.kubes["east"].requests_matching(user=sa("dispatch"))
    assert seen and {r.method for r in seen} == {"GET"}
    assert not world.kubes["west"].requests_matching(user=sa("dispatch"))
    clients = kube_clients_for(_route({"cluster": "east"}).cluster)
    with pytest.raises(K8sForbidden):
        _restart(clients, "web")

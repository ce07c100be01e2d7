"""A user's own `kubectl get … -A -o yaml` dump served by the sandbox (tests/data/shop_dump.yaml:
a shop whose checkout release crashloops, a frontend whose HPA is at its maximum, a single
Redis, a PostgreSQL StatefulSet with its PVC, a node-exporter DaemonSet, events; pod logs in
tests/data/shop_dump.logs.yaml), read through the real `kubernetes` client, workload
resolution and the investigation."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube.dump import KUBECTL_DUMP, DumpError, load_dump, parse_dump
from sandbox.kube_api import KubeApiServer
from sandbox.run import dump_plan
from shared.investigation import investigate
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.settings import K8sSettings
from shared.model import Alert
from shared.run import Run
from shared.workload.resolve import resolve_workload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DUMP = ROOT / "tests" / "data" / "shop_dump.yaml"
NOW = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)  # when the dump was taken


def dumped() -> list[dict[str, Any]]:
    return list(yaml.safe_load(DUMP.read_text())["items"])


def item(kind: str, name: str) -> dict[str, Any]:
    return next(i for i in dumped() if i["kind"] == kind and i["metadata"]["name"] == name)


@pytest.fixture
def srv() -> Iterator[KubeApiServer]:
    with KubeApiServer(load_dump(DUMP)) as server:
        yield server


@pytest.fixture
def clients(srv: KubeApiServer) -> Iterator[KubeClients]:
    c = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
    yield c
    c.close()


def test_the_dump_is_served_as_it_was_taken(srv: KubeApiServer, clients: KubeClients) -> None:
    apps, core = clients.apps, clients.core
    names = {d.metadata.name for d in apps.list_deployment_for_all_namespaces().items}
    assert names == {"checkout", "frontend", "redis"}
    assert {n.metadata.name for n in core.list_namespace().items} == {"data", "monitoring", "shop"}
    apps.read_namespaced_deployment("checkout", "shop")
    (read,) = srv.requests_matching("GET", "/namespaces/shop/deployments/checkout")
    checkout = read.response_json  # what the API answered, byte for byte
    given = item("Deployment", "checkout")
    assert checkout["status"] == given["status"]  # not "fixed" by the controller
    assert checkout["metadata"]["uid"] == given["metadata"]["uid"]
    assert checkout["metadata"]["annotations"] == given["metadata"]["annotations"]
    rs = apps.list_namespaced_replica_set("shop", label_selector="app=checkout").items
    assert sorted(r.metadata.annotations["deployment.kubernetes.io/revision"] for r in rs) == [
        "1",
        "2",
        "3",
    ]
    assert {r.metadata.owner_references[0].uid for r in rs} == {given["metadata"]["uid"]}
    hpa = clients.autoscaling.read_namespaced_horizontal_pod_autoscaler("frontend", "shop")
    assert [c.reason for c in hpa.status.conditions][-1] == "TooManyReplicas"
    pvc = core.read_namespaced_persistent_volume_claim("data-postgres-0", "data")
    assert pvc.status.phase == "Bound" and pvc.spec.storage_class_name == "premium-rwo"
    pods = core.list_namespaced_pod("shop", label_selector="app=checkout").items
    assert len(pods) == 3
    pod = "checkout-xqckcwgmrg-dxczj"  # one of the two crashlooping pods
    warnings = core.list_namespaced_event(
        "shop", field_selector=f"involvedObject.name={pod},type=Warning"
    ).items
    assert [e.reason for e in warnings] == ["BackOff"]
    log = core.read_namespaced_pod_log(pod, "shop", container="checkout", previous=True)
    assert "panic: assignment to entry in nil map" in log
    assert srv.wait_for_controller(5)
    assert srv.get_object("deployments", "shop", "checkout")["status"] == given["status"]


def test_field_selectors_are_the_ones_the_api_server_supports(clients: KubeClients) -> None:
    from kubernetes.client.exceptions import ApiException

    core = clients.core
    pod = core.list_namespaced_pod("shop", label_selector="app=checkout").items[0]
    by_ip = core.list_pod_for_all_namespaces(field_selector=f"status.podIP={pod.status.pod_ip}")
    assert [p.metadata.name for p in by_ip.items] == [pod.metadata.name]
    # a field the API server does not index for that kind is refused, not silently matched
    # (kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/)
    for call, selector in (
        (core.list_pod_for_all_namespaces, "spec.containers.image=x"),
        (core.list_service_for_all_namespaces, "spec.clusterIP=10.0.0.1"),
    ):
        with pytest.raises(ApiException) as refused:
            call(field_selector=selector)
        assert refused.value.status == 400
        assert "is not a known field selector" in json.loads(refused.value.body)["message"]


@pytest.mark.parametrize(
    ("labels", "want", "via"),
    [
        ({"pod": "checkout-xqckcwgmrg-dxczj"}, ("Deployment", "checkout"), "replicaset/"),
        ({"service": "checkout"}, ("Deployment", "checkout"), "service/checkout selects"),
        ({"pod": "postgres-0"}, ("StatefulSet", "postgres"), "statefulset/postgres"),
        ({"service": "postgres"}, ("StatefulSet", "postgres"), "service/postgres selects"),
        ({"app_kubernetes_io_name": "node-exporter"}, ("DaemonSet", "node-exporter"), "matches"),
        ({"deployment": "redis"}, ("Deployment", "redis"), "deployment label"),
    ],
)
def test_workload_resolution_on_the_dump(
    clients: KubeClients, labels: dict[str, str], want: tuple[str, str], via: str
) -> None:
    ns = {"postgres": "data", "node-exporter": "monitoring"}.get(want[1], "shop")
    res = resolve_workload(clients, {"namespace": ns, **labels})
    assert res.workload is not None, res.explain_unresolved()
    assert (res.workload.kind, res.workload.name, res.workload.namespace) == (*want, ns)
    assert any(via in step for step in res.via), res.via


def test_investigating_the_broken_release(
    srv: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "PROMETHEUS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_path)
    alert = Alert(
        name="HighErrorRate",
        labels={"namespace": "shop", "deployment": "checkout"},
        starts_at=NOW,
        fingerprint="fp-dump",
    )
    env = Run(
        run_id="run-dump",
        source="dispatch",
        alert=alert,
        alert_type="HighErrorRate",
        plan=["investigate"],
    )
    f = investigate(env, now=NOW)
    details = f.details
    assert details["workload"] == {"kind": "Deployment", "name": "checkout", "namespace": "shop"}
    assert details["recent_deploy"]["recent"] is True
    assert details["recent_deploy"]["revision"] == 3
    assert details["recent_deploy"]["previous_images"] == [
        "europe-docker.pkg.dev/acme-shop/shop/checkout:2.0.4"
    ]
    reasons = {c["waiting_reason"] for p in details["pods"] for c in p["containers"]}
    assert "CrashLoopBackOff" in reasons
    text = json.dumps(details)
    assert "nil map" in text  # the previous container's log, from the side file
    assert "sk_live_51NfakeKeyForTheSandboxOnly0000" not in text  # redacted
    assert "BackOff" in text


def test_the_controller_acts_on_a_dumped_deployment_once_written(
    srv: KubeApiServer, clients: KubeClients
) -> None:
    clients.apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}},
    )
    assert srv.wait_for_controller(10)
    dep = srv.get_object("deployments", "shop", "checkout")
    assert dep is not None
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 5
    pods = [
        p for p in srv.state.list("pods", "shop") if p["metadata"]["labels"]["app"] == "checkout"
    ]
    assert len(pods) == 3  # the crashlooping pods were replaced
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} != {"xqckcwgmrg"}


# --------------------------------------------------------------------------- validation


def as_list(*items: Any) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)})


DEPLOY = item("Deployment", "redis")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (yaml.safe_dump(DEPLOY), "is not a `kind: List` (got 'Deployment')"),
        (as_list(), "holds no objects"),
        ("items: [\n", "is not valid YAML"),
        (as_list({"kind": "Pod", "apiVersion": "v1", "metadata": {}}), "item 0 (Pod) has no"),
        (as_list({"metadata": {"name": "x"}}), "item 0 has no kind/apiVersion"),
        (
            as_list({**DEPLOY, "metadata": {"name": "redis"}}),
            "has no metadata.namespace: dump with -A",
        ),
        (
            as_list({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}}),
            "holds none of the kinds the sandbox serves",
        ),
    ],
)
def test_unusable_dumps_say_why(text: str, message: str) -> None:
    with pytest.raises(DumpError) as err:
        parse_dump(text, source="dump.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("dump.yaml")


def test_unsupported_kinds_are_skipped_with_a_note_and_old_apis_converted() -> None:
    hpa_v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "redis", "namespace": "shop"},
        "spec": {
            "maxReplicas": 3,
            "minReplicas": 1,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "redis"},
            "targetCPUUtilizationPercentage": 80,
        },
        "status": {"currentCPUUtilizationPercentage": 91, "currentReplicas": 1},
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    sc = parse_dump(as_list(DEPLOY, hpa_v1, secret, cm, cm, DEPLOY))
    assert sc.notes == [
        "Deployment shop/redis appears twice (items 0 and 5): kept the last",
        "skipped 2 ConfigMap object(s): not served by the sandbox",
        "skipped 1 Secret object(s): never loaded",
    ]
    kinds = sorted(o["kind"] for o in sc.objects)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "Namespace"]
    hpa = next(o for o in sc.objects if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 91


@pytest.mark.parametrize(
    ("logs", "message"),
    [
        ("shop/nope/checkout: x\n", "pod shop/nope is not in the dump"),
        ("shop/checkout-xqckcwgmrg-dxczj/sidecar: x\n", "has no container 'sidecar'"),
        ("shop/checkout-xqckcwgmrg-dxczj: x\n", "is not namespace/pod/container[/previous]"),
        ("shop/checkout-xqckcwgmrg-dxczj/checkout/old: x\n", "is not namespace/pod/container"),
        ("- a list\n", "must map `namespace/pod/container` to log text"),
    ],
)
def test_bad_log_files_say_why(tmp_path: Path, logs: str, message: str) -> None:
    path = tmp_path / "logs.yaml"
    path.write_text(logs)
    with pytest.raises(DumpError, match=re.escape(message)):
        load_dump(DUMP, path)
    with pytest.raises(DumpError, match="no such logs file"):
        load_dump(DUMP, tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- entry points


def test_the_command_line_serves_a_dump_and_refuses_a_bad_one(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(DEPLOY))
    refused = subprocess.run(
        [sys.executable, "-m", "sandbox.kube_api", "--scenario-file", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "is not a `kind: List`" in refused.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.kube_api", "--scenario-file", str(DUMP)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["namespaces"] == ["data", "monitoring", "shop"]
        assert ready["notes"] == [
            f"pod logs from {DUMP.with_name('shop_dump.logs.yaml')} (4 container logs)"
        ]
        c = load_clients(K8sSettings(kubeconfig=ready["kubeconfig"]))
        try:
            assert (
                c.apps.read_namespaced_stateful_set("postgres", "data").status.ready_replicas == 1
            )
        finally:
            c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_make_run_with_a_dump_acts_on_its_namespaces_only(tmp_path: Path) -> None:
    plan = dump_plan(str(DUMP), "", {})
    assert plan.namespaces == ["data", "monitoring", "shop"]
    assert plan.env["ALERTLOOP_REMEDIATE_NAMESPACES"] == "data,monitoring,shop"
    assert "--namespace shop --deployment checkout" in plan.example
    assert plan.path.is_absolute()
    mine = dump_plan(str(DUMP), "", {"ALERTLOOP_REMEDIATE_NAMESPACES": "shop", "KUBECONFIG": "x"})
    assert "ALERTLOOP_REMEDIATE_NAMESPACES" not in mine.env  # the user's setting wins
    assert "KUBECONFIG is ignored: --scenario-file serves the dump instead" in mine.notes
    system = tmp_path / "system.yaml"
    coredns = {
        **DEPLOY,
        "metadata": {**DEPLOY["metadata"], "name": "coredns", "namespace": "kube-system"},
    }
    system.write_text(as_list(coredns, DEPLOY))
    assert dump_plan(str(system), "", {}).env["ALERTLOOP_REMEDIATE_NAMESPACES"] == "shop"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_a_dump_made_by_kubectl_is_served_the_same(tmp_path: Path) -> None:
    """The documented kubectl command against one sandbox, its output served by another."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    with KubeApiServer("demo", tls=True) as original:  # kubectl sends tokens over TLS only
        made = subprocess.run(
            [kubectl, "--kubeconfig", original.kubeconfig_path, *KUBECTL_DUMP.split()[1:-2]],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        (tmp_path / "dump.yaml").write_text(made.stdout)
        sc = load_dump(tmp_path / "dump.yaml")
        assert sc.notes == []

        def objects(srv: KubeApiServer) -> dict[tuple[str, str, str], Any]:
            return {
                (plural, ns, name): (o["metadata"]["uid"], o.get("spec"), o.get("status"))
                for plural, objs in srv.state.objects.items()
                for (ns, name), o in objs.items()
            }

        with KubeApiServer(sc) as served:
            assert objects(served) == objects(original)

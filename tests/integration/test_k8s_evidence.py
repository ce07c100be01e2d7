"""Investigation against the sandbox Kubernetes API server, through the real kubernetes client."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.kube_api import Fault, KubeApiServer
from sandbox.kube_scenarios import CRASH_SECRETS
from sandbox.procs import wait_until
from shared.investigation import investigate
from shared.k8s.client import load_clients
from shared.k8s.errors import K8sNotConfigured
from shared.k8s.settings import k8s_settings
from shared.model import Alert, Finding
from shared.run import Run
from shared.workload.resolve import resolve_workload

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def investigate_run(alert_type: str, labels: dict[str, str]) -> Run:
    """The run as the investigate stage loads it."""
    alert = Alert(
        name=alert_type, labels=labels, starts_at=datetime.now(UTC), fingerprint="fp-test"
    )
    return Run(
        run_id="run-test",
        source="dispatch",
        alert=alert,
        alert_type=alert_type,
        plan=["investigate"],
    )


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KUBECONFIG",
        "KUBE_CONFIG_DATA",
        "KUBERNETES_SERVICE_HOST",
        "PROMETHEUS_URL",
        "ALERTLOOP_K8S_TIMEOUT_SECONDS",
        "ALERTLOOP_K8S_CONTEXT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], KubeApiServer]]:
    servers: list[KubeApiServer] = []

    def start(scenario: str) -> KubeApiServer:
        srv = KubeApiServer(scenario).start()
        servers.append(srv)
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_path)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def run(alert_type: str, labels: dict[str, str]) -> Finding:
    finding = investigate(investigate_run(alert_type, labels))
    assert finding.stage == "investigate"
    json.dumps(finding.details)  # serialisable
    assert len(json.dumps(finding.details)) < 100_000
    return finding


def first_pod(srv: KubeApiServer, ns: str, app: str) -> str:
    pods = [p for p in srv.state.list("pods", ns) if p["metadata"]["labels"].get("app") == app]
    return str(pods[0]["metadata"]["name"])


# --------------------------------------------------------------------------- evidence


def test_crashloop_names_reason_restarts_and_redacts_previous_log(
    kube: Callable[..., KubeApiServer],
) -> None:
    srv = kube("crashloop")
    f = run("ApplicationDown", {"namespace": "shop", "deployment": "api"})
    assert f.status == "ok"
    assert f.details["workload"] == {"kind": "Deployment", "name": "api", "namespace": "shop"}
    assert f.details["sandbox"] is True
    assert "SANDBOX cluster" in f.summary.splitlines()[0]  # never passes for a real cluster
    assert "CrashLoopBackOff (7 restarts)" in f.summary
    assert "0/2 pods ready" in f.summary
    pods = f.details["pods"]
    assert pods[0]["containers"][0]["waiting_reason"] == "CrashLoopBackOff"
    assert pods[0]["containers"][0]["restart_count"] == 7
    log = f.details["logs"][0]
    assert any("ConnectionDoesNotExistError" in line for line in log["previous"])
    text = json.dumps(f.details) + f.summary
    for secret in CRASH_SECRETS:
        assert secret not in text
    assert "postgres://api:[REDACTED]@db.shop.svc:5432/orders" in " ".join(log["previous"])
    assert any(e["reason"] == "BackOff" and e["count"] == 31 for e in f.details["events"])
    # the previous container's log was asked for, with a tail and a timeout-bounded call
    logs = srv.requests_matching("GET", "/log")
    assert any(r.query.get("previous") == "true" and r.query.get("tailLines") for r in logs)


def test_oomkilled_names_reason_exit_code_and_time(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("oomkilled")
    pod = first_pod(srv, "shop", "cart")
    f = run("HighMemoryUsage", {"namespace": "shop", "pod": pod, "container": "cart"})
    assert f.details["workload"] == {"kind": "Deployment", "name": "cart", "namespace": "shop"}
    assert "OOMKilled (exit code 137)" in f.summary
    term = next(
        c["last_termination"]
        for p in f.details["pods"]
        for c in p["containers"]
        if c["last_termination"]
    )
    assert term["reason"] == "OOMKilled" and term["exit_code"] == 137
    assert term["finished_at"].endswith("Z")
    assert term["finished_at"].replace("T", " ").replace("Z", " UTC") in f.summary
    assert "OOMKilled" in f.details["likely_cause"][0]
    # Prometheus not configured: the memory part says so, the verdict key is still there
    assert f.details["memory_trend"]["verdict"] == "steady"
    assert f.details["prometheus"]["status"] == "skipped"


def test_recent_deploy_detected_with_revisions_and_images(
    kube: Callable[..., KubeApiServer],
) -> None:
    kube("recent-deploy")
    f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
    rd = f.details["recent_deploy"]
    assert rd["recent"] is True
    assert rd["revision"] == 4 and rd["previous_revision"] == 3
    assert rd["images"] == ["registry.example.com/shop/checkout:1.5.0"]
    assert rd["previous_images"] == ["registry.example.com/shop/checkout:1.4.2"]
    assert 7 <= rd["age_minutes"] <= 10
    assert "Recent deploy: revision 4" in f.summary
    assert "Roll back to revision 3" in f.summary
    assert [r["revision"] for r in f.details["rollout_history"]] == [1, 2, 3, 4]


def test_recent_deploy_window_is_configurable(
    kube: Callable[..., KubeApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    kube("recent-deploy")
    monkeypatch.setenv("ALERTLOOP_RECENT_DEPLOY_MINUTES", "5")
    f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
    assert f.details["recent_deploy"]["recent"] is False
    assert "Roll back to revision" not in f.summary


def test_hpa_at_max_with_scaling_limited(kube: Callable[..., KubeApiServer]) -> None:
    kube("hpa-max")
    f = run("HighCPUUsage", {"namespace": "shop", "deployment": "search"})
    hpa = f.details["hpa"]
    assert hpa["at_max"] is True
    assert (hpa["current_replicas"], hpa["max_replicas"], hpa["min_replicas"]) == (5, 5, 2)
    assert any(
        c["type"] == "ScalingLimited" and c["reason"] == "TooManyReplicas"
        for c in hpa["conditions"]
    )
    assert "AT MAXIMUM; ScalingLimited: TooManyReplicas" in f.summary
    assert f.details["metrics_server_available"] is True


@pytest.mark.parametrize("scenario", ["no-metrics-server", "metrics-server-down"])
def test_metrics_server_missing(kube: Callable[..., KubeApiServer], scenario: str) -> None:
    kube(scenario)
    f = run("HighCPUUsage", {"namespace": "shop", "app": "web"})
    assert f.details["metrics_server_available"] is False
    assert f.details["hpa"]["scaling_active"] is False
    assert "metrics-server unavailable" in f.summary
    assert "metrics-server is unavailable" in f.details["likely_cause"][0]
    why = f.details["kubernetes"]["metrics_server"]
    assert (
        ("not registered" in why)
        if scenario == "no-metrics-server"
        else ("MissingEndpoints" in why)
    )


def test_metrics_server_from_discovery_when_apiservice_forbidden(
    kube: Callable[..., KubeApiServer],
) -> None:
    srv = kube("hpa-max")
    srv.add_fault(Fault("forbidden", resource="apiservices"))
    f = run("HighCPUUsage", {"namespace": "shop", "deployment": "search"})
    assert f.details["metrics_server_available"] is True
    assert "discovery" in f.details["kubernetes"]["metrics_server"]


def test_rbac_forbidden_names_verb_resource_namespace(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("crashloop")
    srv.add_fault(Fault("forbidden", resource="pods", verb="list"))
    f = run("ApplicationDown", {"namespace": "shop", "deployment": "api"})
    assert f.status == "error"
    assert 'cannot list pods in namespace "shop"' in f.summary
    assert 'grant verb "list" on resource "pods"' in " ".join(f.details["kubernetes"]["errors"])
    # the workload was still resolved and other evidence gathered
    assert f.details["workload"]["name"] == "api"
    assert f.details["recent_deploy"] is not None


def test_rbac_forbidden_on_resolution(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("recent-deploy")
    srv.add_fault(Fault("forbidden", resource="deployments", verb="get"))
    f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
    assert f.status == "error"
    assert 'cannot get deployments in namespace "shop"' in f.summary
    assert 'API group "apps"' in f.summary


def test_slow_api_times_out_quickly(
    kube: Callable[..., KubeApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = kube("crashloop")
    srv.add_fault(Fault("delay", seconds=3.0, resource="deployments"))
    monkeypatch.setenv("ALERTLOOP_K8S_TIMEOUT_SECONDS", "0.3")
    f = run("ApplicationDown", {"namespace": "shop", "deployment": "api"})
    assert f.status == "error"
    assert "did not answer within 0.3s" in f.summary
    assert "ALERTLOOP_K8S_TIMEOUT_SECONDS" in f.summary
    # One timeout, no retries: the delayed request reaches the log once it has been answered.
    wait_until(lambda: not srv.in_flight(), 10, "the delayed request answered", interval=0.05)
    assert len(srv.requests_matching("GET", "/deployments/api")) == 1


def test_no_kubeconfig_is_skipped_with_how_to() -> None:
    f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
    assert f.status == "skipped"
    assert "KUBECONFIG" in f.summary and "KUBE_CONFIG_DATA" in f.summary
    assert f.details["workload"] is None
    assert f.details["sandbox"] is False
    with pytest.raises(K8sNotConfigured):
        load_clients()


def test_missing_kubeconfig_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
    assert f.status == "error"
    assert "KUBECONFIG names no readable file" in f.summary


def test_kube_config_data_base64(
    kube: Callable[..., KubeApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = kube("hpa-max")
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("KUBE_CONFIG_DATA", srv.kubeconfig_b64)
    f = run("HighCPUUsage", {"namespace": "shop", "deployment": "search"})
    assert f.status == "ok"
    assert f.details["hpa"]["at_max"] is True
    monkeypatch.setenv("KUBE_CONFIG_DATA", "not base64 at all!!")
    f = run("HighCPUUsage", {"namespace": "shop", "deployment": "search"})
    assert f.status == "error"
    assert "KUBE_CONFIG_DATA" in f.summary


def test_unreachable_api_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    srv = KubeApiServer("healthy").start()
    data = srv.kubeconfig_b64
    srv.stop()  # nothing listens there any more
    monkeypatch.setenv("KUBE_CONFIG_DATA", data)
    f = run("HighCPUUsage", {"namespace": "shop", "deployment": "web"})
    assert f.status == "error"
    assert "cannot reach the Kubernetes API" in f.summary


# --------------------------------------------------------------------------- resolution


def test_pod_resolves_through_replicaset_to_deployment(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("recent-deploy")
    pod = first_pod(srv, "shop", "checkout")
    clients = load_clients(k8s_settings())
    res = resolve_workload(clients, {"namespace": "shop", "pod": pod})
    assert res.workload is not None
    assert res.workload.as_dict() == {"kind": "Deployment", "name": "checkout", "namespace": "shop"}
    assert any("is owned by replicaset/" in v for v in res.via)
    assert any("is owned by deployment/checkout" in v for v in res.via)
    assert res.selector == "app=checkout"


def test_service_resolves_through_selector(kube: Callable[..., KubeApiServer]) -> None:
    kube("service")
    f = run("SomethingNew", {"namespace": "shop", "service": "frontend"})
    assert f.details["workload"] == {"kind": "Deployment", "name": "web", "namespace": "shop"}
    assert any(
        "service/frontend selects app=web" in v
        for v in f.details["kubernetes"]["resolution"]["via"]
    )


def test_statefulset_database(kube: Callable[..., KubeApiServer]) -> None:
    kube("database")
    f = run("DatabaseDown", {"namespace": "data", "service": "postgres"})
    assert f.details["workload"] == {"kind": "StatefulSet", "name": "postgres", "namespace": "data"}
    assert "0/1 pods ready" in f.summary
    assert "Readiness probe failed" in json.dumps(f.details["events"])
    lowered = f.summary.lower()
    for word in ("restart", "roll back", "rollback", "scale", "failover", "delete"):
        assert f"follow-up: {word}" not in lowered
    assert "no automatic action" in lowered or "takes no action" in lowered
    assert f.details["recent_deploy"] is None


def test_unresolvable_labels_listed(kube: Callable[..., KubeApiServer]) -> None:
    kube("healthy")
    f = run(
        "SomethingNew",
        {"namespace": "shop", "deployment": "ghost", "job": "kubernetes-pods", "instance": "x"},
    )
    assert f.details["workload"] is None
    assert "no workload found" in f.summary
    assert "deployment/ghost (deployment label): not found" in f.summary
    assert "deployment=ghost" in f.summary and "instance=x" in f.summary


def test_invalid_names_never_reach_the_api(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("healthy")
    srv.clear_requests()
    f = run("SomethingNew", {"namespace": "shop", "deployment": "../../etc/passwd"})
    assert f.details["workload"] is None
    assert "not a valid DNS-1123" in f.summary
    assert not [r for r in srv.requests if "passwd" in r.path or "etc" in r.path]


def test_every_call_has_a_timeout_and_reads_only(kube: Callable[..., KubeApiServer]) -> None:
    srv = kube("crashloop")
    run("ApplicationDown", {"namespace": "shop", "deployment": "api"})
    assert srv.requests
    assert {r.method for r in srv.requests} == {"GET"}


# --------------------------------------------------------------------------- sandbox server


def test_sandbox_patch_scale_conflict_and_rollout(kube: Callable[..., KubeApiServer]) -> None:
    from kubernetes.client.exceptions import ApiException

    srv = kube("recent-deploy")
    apps = load_clients(k8s_settings()).apps
    dep = apps.read_namespaced_deployment("checkout", "shop")
    rv = dep.metadata.resource_version
    scaled = apps.patch_namespaced_deployment_scale("checkout", "shop", {"spec": {"replicas": 6}})
    assert scaled.spec.replicas == 6
    assert srv.get_object("deployments", "shop", "checkout")["spec"]["replicas"] == 6
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "checkout", "shop", {"metadata": {"resourceVersion": rv}, "spec": {"replicas": 1}}
        )
    assert err.value.status == 409
    # roll back: put revision 3's image back -> the old ReplicaSet becomes revision 5
    written = apps.patch_namespaced_deployment(
        "checkout",
        "shop",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "checkout",
                                "image": "registry.example.com/shop/checkout:1.4.2",
                            }
                        ]
                    }
                }
            }
        },
    )
    # As a real API server: the write is stored, the deployment controller acts later.
    assert written.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
    assert written.status.observed_generation < written.metadata.generation
    assert srv.wait_for_controller(10)
    after = srv.get_object("deployments", "shop", "checkout")
    assert after["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"
    assert after["status"]["observedGeneration"] == written.metadata.generation
    assert (
        after["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        == "512Mi"
    )
    revs = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs["spec"]["template"][
            "spec"
        ]["containers"][0]["image"]
        for rs in srv.state.list("replicasets", "shop")
    }
    assert revs["5"].endswith(":1.4.2") and "3" not in revs
    patches = srv.requests_matching("PATCH")
    assert patches[0].content_type == "application/strategic-merge-patch+json"
    assert patches[0].body == {"spec": {"replicas": 6}}


def test_sandbox_merge_patch_hpa_and_faults(kube: Callable[..., KubeApiServer]) -> None:
    import requests

    srv = kube("hpa-max")
    url = f"{srv.url}/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/search"
    before = srv.get_object("horizontalpodautoscalers", "shop", "search")
    assert before is not None
    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
    session = requests.Session()  # with the kubeconfig's bearer token from here on
    session.headers["Authorization"] = "Bearer sandbox-token"
    resp = session.patch(
        url,
        data=json.dumps({"spec": {"maxReplicas": 8}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert after["spec"]["maxReplicas"] == 8
    assert after["spec"]["minReplicas"] == 2
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["metadata"]["generation"] == 2
    stale = session.patch(
        url,
        data=json.dumps({"metadata": {"resourceVersion": before["metadata"]["resourceVersion"]}}),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    missing = session.get(f"{srv.url}/apis/apps/v1/namespaces/shop/deployments/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["kind"] == "Status" and missing.json()["reason"] == "NotFound"
    srv.set_status(
        "horizontalpodautoscalers", "shop", "search", {"currentReplicas": 8, "desiredReplicas": 8}
    )
    assert (
        srv.get_object("horizontalpodautoscalers", "shop", "search")["status"]["currentReplicas"]
        == 8
    )
    srv.add_fault(Fault("not_found", resource="horizontalpodautoscalers", name="search"))
    assert session.get(url, timeout=5).status_code == 404
    rec = srv.requests_matching("PATCH", "/horizontalpodautoscalers/search")[0]
    assert rec.content_type == "application/merge-patch+json"
    assert rec.body == {"spec": {"maxReplicas": 8}}


def test_sandbox_cli_prints_url_and_serves_until_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.kube_api",
            "--scenario",
            "demo",
            "--kubeconfig-out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["kubeconfig"] == str(out) and out.exists()
        assert info["url"].startswith("http://127.0.0.1:")
        monkeypatch.setenv("KUBE_CONFIG_DATA", base64.b64encode(out.read_bytes()).decode())
        for alert_type, labels, check in (
            ("HighErrorRate", {"namespace": "shop", "deployment": "checkout"}, "recent_deploy"),
            ("ErrorBudgetExhausted", {"namespace": "shop", "deployment": "payments"}, "hpa"),
            ("HighMemoryUsage", {"namespace": "shop", "deployment": "cart"}, "memory_trend"),
        ):
            f = run(alert_type, labels)
            assert f.details["sandbox"] is True
            assert f.details[check] is not None
        f = run("HighErrorRate", {"namespace": "shop", "deployment": "checkout"})
        assert f.details["recent_deploy"]["recent"] is True
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_a_multi_line_secret_in_a_log_never_reaches_the_finding(
    kube: Callable[..., KubeApiServer],
) -> None:
    """Logs are redacted as one text: a PEM key's body lines and a YAML block scalar's value
    (each harmless alone) are gone, not just the BEGIN line (issue 21, item 4)."""
    srv = kube("crashloop")
    pod = first_pod(srv, "shop", "api")
    body = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj", "q2lWf8pNs3cXgZkL0m7Qd1tPbvA9rEYhJcUxK"]
    lines = [
        "starting api",
        "-----BEGIN PRIVATE KEY-----",
        *body,
        "-----END PRIVATE KEY-----",
        "config:",
        "  password: |",
        "    blockval-hunter2",
        "panic: cannot connect",
    ]
    container = srv.get_object("pods", "shop", pod)["spec"]["containers"][0]["name"]
    srv.set_log("shop", pod, container, lines, previous=True)
    f = run("ApplicationDown", {"namespace": "shop", "deployment": "api", "pod": pod})
    text = json.dumps(f.details) + f.summary
    for secret in (*body, "blockval-hunter2"):
        assert secret not in text
    previous = next(entry["previous"] for entry in f.details["logs"] if entry["pod"] == pod)
    assert previous[0] == "starting api" and previous[-1] == "panic: cannot connect"

"""deploy/rbac.yaml enforced by the sandbox API server, through the real `kubernetes` client:
each function's identity (its Google service account as GKE sees it) can do exactly its job,
and a rule removed from the manifest makes the matching call fail with a clear 403."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes.client.exceptions import ApiException

from sandbox.kube.rbac import function_user, function_users
from sandbox.kube_api import KubeApiServer
from sandbox.kube_remediation_scenarios import remediation
from shared.envelope import Alert, Envelope, Finding
from shared.investigation import investigate
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.errors import K8sError, K8sForbidden
from shared.k8s.reads import get_deployment, rollout_history
from shared.k8s.reads import recent_deploy as recent_deploy_detail
from shared.k8s.settings import K8sSettings
from shared.k8s.workload import selector_string
from shared.ledger import Ledger
from shared.remediation import remediate
from shared.remediation.decide import plan_rollback
from shared.remediation.records import Recorder
from shared.rollback import rollback
from tests.conftest import reset_settings

pytestmark = pytest.mark.integration

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"
INVESTIGATE, REMEDIATE, ROLLBACK = (
    function_user(f) for f in ("investigate", "remediate", "rollback")
)


def server(rbac: str | Path = RBAC, **kw: Any) -> KubeApiServer:
    return KubeApiServer(remediation(), users=function_users(), rbac_yaml=rbac, **kw)


@pytest.fixture
def srv() -> Iterator[KubeApiServer]:
    with server() as s:
        yield s


def clients_as(srv: KubeApiServer, function: str) -> KubeClients:
    return load_clients(K8sSettings(kubeconfig=srv.kubeconfig_for(f"{function}-token")))


def status_of(call: Callable[[], Any]) -> int:
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return 200


def api_calls(c: KubeClients) -> dict[str, Callable[[], Any]]:
    """Every call alertloop's functions make, and the writes none of them may make."""
    core, apps, hpa = c.core, c.apps, c.autoscaling
    pod = core.list_namespaced_pod("shop", label_selector="app=api").items[0].metadata.name
    scale = {"spec": {"replicas": 3}}
    return {
        "get deployment": lambda: apps.read_namespaced_deployment("api", "shop"),
        "get deployments/scale": lambda: apps.read_namespaced_deployment_scale("api", "shop"),
        "list pods": lambda: core.list_namespaced_pod("shop", label_selector="app=api"),
        "get pods/log": lambda: core.read_namespaced_pod_log(pod, "shop", tail_lines=5),
        "list events": lambda: core.list_namespaced_event("shop"),
        "list replicasets": lambda: apps.list_namespaced_replica_set("shop"),
        "get statefulset": lambda: apps.read_namespaced_stateful_set("postgres", "data"),
        "get daemonset (404)": lambda: apps.read_namespaced_daemon_set("api", "shop"),
        "get job (404)": lambda: c.batch.read_namespaced_job("api", "shop"),
        "list hpas": lambda: hpa.list_namespaced_horizontal_pod_autoscaler("shop"),
        "get service (404)": lambda: core.read_namespaced_service("api", "shop"),
        "list pvcs": lambda: core.list_namespaced_persistent_volume_claim("shop"),
        "get apiservice": lambda: c.apiregistration.read_api_service("v1beta1.metrics.k8s.io"),
        "patch deployment": lambda: apps.patch_namespaced_deployment("api", "shop", scale),
        "patch deployments/scale": lambda: apps.patch_namespaced_deployment_scale(
            "api", "shop", scale
        ),
        "patch hpa": lambda: hpa.patch_namespaced_horizontal_pod_autoscaler(
            "web", "shop", {"spec": {"maxReplicas": 11}}
        ),
        "patch statefulset": lambda: apps.patch_namespaced_stateful_set(
            "postgres", "data", {"spec": {"replicas": 1}}
        ),
        "patch replicaset": lambda: apps.patch_namespaced_replica_set(
            "api-x", "shop", {"spec": {"replicas": 1}}
        ),
        "delete pod": lambda: core.delete_namespaced_pod(pod, "shop"),
        "create configmap": lambda: core.create_namespaced_config_map(
            "shop", {"metadata": {"name": "x"}}
        ),
        "get secret": lambda: core.read_namespaced_secret("x", "shop"),
        "list pods (all namespaces)": lambda: core.list_pod_for_all_namespaces(),
    }


READS = {
    "get deployment": 200,
    "get deployments/scale": 403,  # patched, never read by itself: only remediate may
    "list pods": 200,
    "get pods/log": 200,
    "list events": 200,
    "list replicasets": 200,
    "get statefulset": 200,
    "get daemonset (404)": 404,
    "get job (404)": 404,
    "list hpas": 200,
    "get service (404)": 404,
    "list pvcs": 200,
    "get apiservice": 403,
}
NEVER = {
    "patch statefulset",
    "patch replicaset",
    "delete pod",
    "create configmap",
    "get secret",
    "list pods (all namespaces)",
}
EXPECTED = {
    "investigate": {
        **READS,
        "get apiservice": 200,
        "patch deployment": 403,
        "patch deployments/scale": 403,
        "patch hpa": 403,
    },
    "remediate": {
        **READS,
        "get deployments/scale": 200,
        "patch deployment": 200,
        "patch deployments/scale": 200,
        "patch hpa": 200,
    },
    "rollback": {
        **READS,
        "patch deployment": 200,
        "patch deployments/scale": 403,
        "patch hpa": 403,
    },
}


@pytest.mark.parametrize("function", ["investigate", "remediate", "rollback"])
def test_each_identity_can_do_exactly_its_job(srv: KubeApiServer, function: str) -> None:
    c = clients_as(srv, function)
    try:
        got = {name: status_of(call) for name, call in api_calls(c).items()}
    finally:
        c.close()
    want = {**EXPECTED[function], **dict.fromkeys(NEVER, 403)}
    assert got == want
    user = function_user(function)
    assert {r.user for r in srv.requests} == {user}
    if function == "investigate":
        assert [r for r in srv.requests if r.method != "GET" and r.status != 403] == []


def test_forbidden_says_who_cannot_do_what_where(srv: KubeApiServer) -> None:
    c = clients_as(srv, "investigate")
    try:
        with pytest.raises(ApiException) as err:
            c.apps.patch_namespaced_deployment_scale("api", "shop", {"spec": {"replicas": 3}})
        with pytest.raises(K8sForbidden) as typed:
            c.call(
                "patch",
                "deployments",
                "shop",
                lambda **kw: c.apps.patch_namespaced_deployment(
                    "api", "shop", {"spec": {"replicas": 3}}, **kw
                ),
            )
    finally:
        c.close()
    assert err.value.status == 403
    body = yaml.safe_load(err.value.body)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        f'deployments.apps "api" is forbidden: User "{INVESTIGATE}" cannot patch resource '
        '"deployments/scale" in API group "apps" in the namespace "shop"'
    )
    assert body["details"] == {"name": "api", "group": "apps", "kind": "deployments"}
    assert 'grant verb "patch" on resource "deployments" in API group "apps"' in str(typed.value)


def test_unknown_or_missing_token_is_401_and_discovery_needs_no_grant(
    srv: KubeApiServer,
) -> None:
    srv.add_user("nobody-token", "someone@example.com")  # authenticated, no binding at all
    for token, want in (("wrong", 401), ("nobody-token", 200)):
        cfg = srv.kubeconfig_dict()
        cfg["users"][0]["user"]["token"] = token
        c = load_clients(K8sSettings(kubeconfig_data=yaml.safe_dump(cfg)))
        try:
            assert status_of(c.core.get_api_resources) == want
            assert status_of(c.apis.get_api_versions) == want
            assert status_of(c.version.get_code) == want
            pods = partial(c.core.list_namespaced_pod, "shop")
            assert status_of(pods) == (401 if token == "wrong" else 403)
        finally:
            c.close()
    unauthorized = [r for r in srv.requests if r.status == 401]
    assert unauthorized and all(r.response_json["reason"] == "Unauthorized" for r in unauthorized)


def test_bindings_are_per_namespace() -> None:
    with server(rbac_namespaces=["shop"]) as srv:
        c = clients_as(srv, "remediate")
        try:
            assert status_of(lambda: c.apps.read_namespaced_deployment("api", "shop")) == 200
            assert status_of(lambda: c.apps.read_namespaced_stateful_set("postgres", "data")) == 403
            coredns = {"spec": {"replicas": 3}}
            assert (
                status_of(
                    lambda: c.apps.patch_namespaced_deployment("coredns", "kube-system", coredns)
                )
                == 403
            )
        finally:
            c.close()


def without_rule(function: str, resource: str) -> str:
    """deploy/rbac.yaml with `resource` taken out of the function's patch rule."""
    docs = list(yaml.safe_load_all(RBAC.read_text()))
    for doc in docs:
        if doc["kind"] == "Role" and doc["metadata"]["name"] == f"alertloop-{function}":
            for rule in doc["rules"]:
                if "patch" in rule["verbs"] and resource in rule["resources"]:
                    rule["resources"].remove(resource)
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize(
    ("function", "resource", "calls"),
    [
        # the rule grants get and patch on the scale subresource: both go
        ("remediate", "deployments/scale", ["patch deployments/scale", "get deployments/scale"]),
        ("remediate", "horizontalpodautoscalers", ["patch hpa"]),
        ("rollback", "deployments", ["patch deployment"]),
    ],
)
def test_removing_one_rule_makes_the_matching_call_fail(
    function: str, resource: str, calls: list[str]
) -> None:
    with server(without_rule(function, resource)) as srv:
        c = clients_as(srv, function)
        try:
            got = {name: status_of(fn) for name, fn in api_calls(c).items()}
        finally:
            c.close()
        want = {**EXPECTED[function], **dict.fromkeys(NEVER, 403), **dict.fromkeys(calls, 403)}
        assert got == want
        path = {
            "deployments/scale": "/apis/apps/v1/namespaces/shop/deployments/api/scale",
            "horizontalpodautoscalers": "/apis/autoscaling/v2/namespaces/shop/"
            "horizontalpodautoscalers/web",
            "deployments": "/apis/apps/v1/namespaces/shop/deployments/api",
        }[resource]
        (refused,) = [r for r in srv.requests if r.method == "PATCH" and r.path == path]
        assert refused.status == 403
        group = "autoscaling" if resource == "horizontalpodautoscalers" else "apps"
        assert (
            f'cannot patch resource "{resource}" in API group "{group}" in the namespace "shop"'
            in refused.response_json["message"]
        )


# --------------------------------------------------------------------------- the functions


def envelope(alert_type: str, deployment: str, run_id: str, **kw: Any) -> Envelope:
    alert = Alert(
        name=alert_type,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=datetime.now(UTC) - timedelta(minutes=5),
        fingerprint=f"fp-{run_id}",
    )
    return Envelope(
        run_id=run_id,
        source="dispatch",
        alert=alert,
        alert_type=alert_type,
        plan=["investigate", "remediate"],
        **kw,
    )


@pytest.fixture
def as_function(
    srv: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], KubeApiServer]:
    for name in ("KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "ALERTLOOP_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("PROMETHEUS_URL", "ALERTLOOP_POLICY_FILE", "K_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "10")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", "0.1")
    monkeypatch.setenv("ALERTLOOP_ROLLBACK_VERIFY_SECONDS", "10")
    monkeypatch.setenv("ALERTLOOP_ROLLBACK_VERIFY_INTERVAL_SECONDS", "0.1")

    def use(function: str) -> KubeApiServer:
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_for(f"{function}-token"))
        reset_settings()
        return srv

    return use


def no_forbidden(srv: KubeApiServer) -> None:
    refused = [f"{r.method} {r.path}: {r.response_json}" for r in srv.requests if r.status == 403]
    assert refused == []


def test_investigation_needs_nothing_more_than_its_role(
    as_function: Callable[[str], KubeApiServer],
) -> None:
    srv = as_function("investigate")
    for alert, deployment in (
        ("HighErrorRate", "checkout"),
        ("HighCPUUsage", "search"),
        ("ApplicationDown", "api"),
    ):
        f: Finding = investigate(envelope(alert, deployment, f"inv-{deployment}"))
        assert f.status == "ok", f.summary
        assert f.details["workload"]["name"] == deployment
    assert investigate(envelope("HighCPUUsage", "web", "inv-web")).details["hpa"] is not None
    no_forbidden(srv)
    assert {r.method for r in srv.requests} == {"GET"}


def test_remediation_needs_nothing_more_than_its_role(
    as_function: Callable[[str], KubeApiServer], store: Ledger
) -> None:
    srv = as_function("remediate")
    restart = remediate(envelope("ApplicationDown", "api", "rem-restart"))
    raise_max = remediate(envelope("HighCPUUsage", "search", "rem-hpa"))
    scale = remediate(envelope("HighCPUUsage", "legacy", "rem-optout"))  # refused: opt-out
    assert restart.details["action"] == "restart" and restart.details["refused"] is None
    assert restart.details["verification"]["result"] == "succeeded"
    assert raise_max.details["action"] == "raise_hpa_max"
    assert scale.details["refused"]["guard"] == "opt_out"
    no_forbidden(srv)
    patched = sorted(r.path.rsplit("/", 2)[-2] for r in srv.requests if r.method == "PATCH")
    assert patched == ["deployments", "horizontalpodautoscalers"]
    assert {r.user for r in srv.requests} == {REMEDIATE}


def test_rollback_needs_nothing_more_than_its_role(
    as_function: Callable[[str], KubeApiServer], store: Ledger
) -> None:
    srv = as_function("remediate")  # remediation proposes (reads only)
    c = load_clients()
    try:
        deploy = get_deployment(c, "shop", "checkout")
        history = rollout_history(c, deploy, selector_string(deploy["spec"]["selector"]))
    finally:
        c.close()
    plan = plan_rollback(deploy, recent_deploy_detail(history, 30))
    assert plan.proposal is not None and plan.target is not None
    recorder = Recorder(store, "alertloop-remediate", "rb-1", "HighErrorRate")
    aid, _, _ = recorder.propose(
        action="rollback",
        target=plan.target.as_dict(),
        target_str=str(plan.target),
        details=plan.proposal,
        ttl=timedelta(minutes=60),
    )
    store._col("approvals").document(aid).update(
        {"status": "approved", "approved_by": "UAPPROVER", "approved_at": datetime.now(UTC)}
    )
    srv = as_function("rollback")
    srv.clear_requests()
    env = envelope("HighErrorRate", "checkout", "rb-1", approval_id=aid)
    finding = rollback(env.model_copy(update={"plan": ["investigate", "remediate", "rollback"]}))
    assert finding.status == "ok", finding.summary
    assert finding.details["after"]["revision"] == "5"
    no_forbidden(srv)
    assert [r.path for r in srv.requests if r.method == "PATCH"] == [
        "/apis/apps/v1/namespaces/shop/deployments/checkout"
    ]
    assert {r.user for r in srv.requests} == {ROLLBACK}


# --------------------------------------------------------------------------- HTTPS


def test_https_with_its_own_ca(tmp_path: Path) -> None:
    with server(tls=True) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        assert srv.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        cfg = yaml.safe_load(Path(srv.kubeconfig_for("investigate-token")).read_text())
        assert cfg["clusters"][0]["cluster"]["certificate-authority-data"]
        c = clients_as(srv, "investigate")
        try:
            assert c.apps.read_namespaced_deployment("api", "shop").metadata.name == "api"
        finally:
            c.close()
        del cfg["clusters"][0]["cluster"]["certificate-authority-data"]  # trust nothing extra
        untrusting = load_clients(K8sSettings(kubeconfig_data=yaml.safe_dump(cfg)))
        try:
            # (the client reports an untrusted certificate as an API error with status 0)
            with pytest.raises(K8sError) as err:
                untrusting.call("get", "version", None, untrusting.version.get_code)
            assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        finally:
            untrusting.close()
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text(srv.ca_pem)  # the CA alone is enough to trust the endpoint
        resp = requests.get(
            f"{srv.url}/version",
            verify=str(ca_file),
            headers={"Authorization": "Bearer sandbox-token"},
            timeout=5,
        )
        assert resp.status_code == 200 and "alertloop-sandbox" in resp.json()["gitVersion"]

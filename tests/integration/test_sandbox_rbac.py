"""deploy/rbac.yaml enforced by the sandbox API server, through the real `kubernetes` client:
each function's identity (its Google service account as GKE sees it) can do exactly what the
permissions table (shared/k8s/permissions.py) gives it — no more, no less — each function's own
code runs on its role without a single 403, and a rule removed from the manifest makes the
matching call fail with the API server's 403."""

from __future__ import annotations

import hashlib
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
from shared.audit import Recorder
from shared.investigation import investigate
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.errors import K8sError, K8sForbidden
from shared.k8s.reads import get_deployment, rollout_history
from shared.k8s.reads import recent_deploy as recent_deploy_detail
from shared.k8s.settings import K8sSettings
from shared.ledger import Ledger
from shared.model import Finding
from shared.remediation import remediate
from shared.remediation.decide import plan_rollback
from shared.rollback import rollback
from shared.run import Run
from shared.workload.resolve import selector_string
from tests.conftest import reset_settings
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"
ALLOWED = ["shop"]  # the remediation allow-list: the namespaced Roles are applied here only
INVESTIGATE, REMEDIATE, ROLLBACK = (
    function_user(f) for f in ("investigate", "remediate", "rollback")
)


def server(rbac: str | Path = RBAC, **kw: Any) -> KubeApiServer:
    kw.setdefault("rbac_namespaces", ALLOWED)
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


def an_api_pod(srv: KubeApiServer) -> str:
    """One of shop/api's pods, looked up as the cluster admin (not every identity may list)."""
    admin = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
    try:
        pods = admin.core.list_namespaced_pod("shop", label_selector="app=api").items
    finally:
        admin.close()
    return str(pods[0].metadata.name)


def api_calls(c: KubeClients, pod: str) -> dict[str, Callable[[], Any]]:
    """Every call alertloop's functions make, and the writes none of them may make."""
    core, apps, hpa = c.core, c.apps, c.autoscaling
    scale = {"spec": {"replicas": 3}}
    return {
        "get deployment": lambda: apps.read_namespaced_deployment("api", "shop"),
        "get pod": lambda: core.read_namespaced_pod(pod, "shop"),
        "get replicaset (404)": lambda: apps.read_namespaced_replica_set("api-x", "shop"),
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


# What the table gives investigate (and remediate): reads in any namespace. A 404 is a read that
# RBAC allowed of an object that does not exist.
READS = {
    "get deployment": 200,
    "get pod": 200,
    "get replicaset (404)": 404,
    "get deployments/scale": 403,  # remediate's, to scale
    "list pods": 200,
    "get pods/log": 200,
    "list events": 200,
    "list replicasets": 200,
    "get statefulset": 200,
    "get daemonset (404)": 404,
    "get job (404)": 404,
    "list hpas": 200,
    "get service (404)": 404,
    "list pvcs": 403,  # nothing in alertloop reads claims (workload safety reads the pods)
    "get apiservice": 200,
    "list pods (all namespaces)": 200,  # cluster-wide reads: alerts name any namespace
}
NEVER = {
    "patch statefulset",
    "patch replicaset",
    "delete pod",
    "create configmap",
    "get secret",
}
EXPECTED = {
    "investigate": {
        **READS,
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
    # rollback: its target in the allowed namespaces only, nothing cluster-wide
    "rollback": {
        **dict.fromkeys(READS, 403),
        "get deployment": 200,
        "list pods": 200,  # is the target database-class? (its pods' volumes)
        "list replicasets": 200,
        "get replicaset (404)": 404,  # the approved revision's template
        "patch deployment": 200,
        "patch deployments/scale": 403,
        "patch hpa": 403,
    },
    # dispatch: the reads that walk a pod (service, app label) to its workload; nothing else
    "dispatch": {
        **dict.fromkeys(READS, 403),
        "get pod": 200,
        "get replicaset (404)": 404,
        "get deployment": 200,
        "get statefulset": 200,
        "get daemonset (404)": 404,
        "get job (404)": 404,
        "get service (404)": 404,
        "list pods": 200,  # the pods a service's selector or an app label picks
        "list pods (all namespaces)": 200,
        "patch deployment": 403,
        "patch deployments/scale": 403,
        "patch hpa": 403,
    },
    # sweeper: an outcome check's "are the workload's pods ready?" (the Deployment's status)
    "sweeper": {
        **dict.fromkeys(READS, 403),
        "get deployment": 200,
        "patch deployment": 403,
        "patch deployments/scale": 403,
        "patch hpa": 403,
    },
}


@pytest.mark.parametrize("function", list(EXPECTED))
def test_each_identity_can_do_exactly_its_job(srv: KubeApiServer, function: str) -> None:
    pod = an_api_pod(srv)
    srv.clear_requests()
    c = clients_as(srv, function)
    try:
        got = {name: status_of(call) for name, call in api_calls(c, pod).items()}
    finally:
        c.close()
    want = {**EXPECTED[function], **dict.fromkeys(NEVER, 403)}
    assert got == want
    user = function_user(function)
    assert {r.user for r in srv.requests} == {user}
    if function in ("investigate", "dispatch", "sweeper"):  # the read-only identities
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


def test_writes_stay_in_the_allowed_namespaces() -> None:
    one = {"spec": {"replicas": 1}}
    with server() as srv:
        c = clients_as(srv, "remediate")
        try:
            assert status_of(lambda: c.apps.read_namespaced_stateful_set("postgres", "data")) == 200
            for ns, name in (("kube-system", "coredns"), ("data", "postgres")):
                patch = partial(c.apps.patch_namespaced_deployment_scale, name, ns, one)
                assert status_of(patch) == 403, ns
        finally:
            c.close()
    with server(rbac_namespaces=[]) as srv:  # no allow-list: no writes anywhere
        c = clients_as(srv, "remediate")
        try:
            patch = partial(c.apps.patch_namespaced_deployment_scale, "api", "shop", one)
            assert status_of(patch) == 403
            assert status_of(lambda: c.apps.read_namespaced_deployment("api", "shop")) == 200
        finally:
            c.close()


def without_rule(function: str, resource: str) -> str:
    """deploy/rbac.yaml with `resource` taken out of the function's namespaced Role."""
    docs = list(yaml.safe_load_all(RBAC.read_text()))
    for doc in docs:
        if doc["kind"] == "Role" and doc["metadata"]["name"] == f"alertloop-{function}":
            for rule in doc["rules"]:
                if resource in rule["resources"]:
                    rule["resources"].remove(resource)
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize(
    ("function", "resource", "calls", "refused"),
    [
        # the rule grants get and patch on the scale subresource: both go
        (
            "remediate",
            "deployments/scale",
            ["patch deployments/scale", "get deployments/scale"],
            ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api/scale"),
        ),
        (
            "remediate",
            "horizontalpodautoscalers",
            ["patch hpa"],
            ("PATCH", "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web"),
        ),
        # rollback's deployments rule is get + patch: both go
        (
            "rollback",
            "deployments",
            ["patch deployment", "get deployment"],
            ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api"),
        ),
        ("rollback", "pods", ["list pods"], ("GET", "/api/v1/namespaces/shop/pods")),
    ],
)
def test_removing_one_rule_makes_the_matching_call_fail(
    function: str, resource: str, calls: list[str], refused: tuple[str, str]
) -> None:
    with server(without_rule(function, resource)) as srv:
        c = clients_as(srv, function)
        try:
            got = {name: status_of(fn) for name, fn in api_calls(c, an_api_pod(srv)).items()}
        finally:
            c.close()
        want = {**EXPECTED[function], **dict.fromkeys(NEVER, 403), **dict.fromkeys(calls, 403)}
        assert got == want
        method, path = refused
        mine = srv.requests_matching(method, user=function_user(function))
        answers = [r for r in mine if r.path == path]
        assert answers and {r.status for r in answers} == {403}
        verb = "patch" if method == "PATCH" else "list"
        group = {"horizontalpodautoscalers": "autoscaling", "pods": ""}.get(resource, "apps")
        assert (
            f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace "shop"'
            in answers[0].response_json["message"]
        )


# --------------------------------------------------------------------------- the functions


def alert_for(alert_type: str, deployment: str, key: str) -> Any:
    return make_alert(
        alert_type,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=datetime.now(UTC) - timedelta(minutes=5),
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
    )


def seeded(ledger: Ledger, alert_type: str, deployment: str, key: str) -> Run:
    """A run in the ledger as dispatch put it there."""
    alert = alert_for(alert_type, deployment, key)
    return seed_run(ledger, alert, plan=["investigate", "remediate"])


@pytest.fixture
def as_function(
    srv: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], KubeApiServer]:
    for name in ("KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "ALERTLOOP_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("PROMETHEUS_URL", "ALERTLOOP_POLICY_FILE", "K_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", ",".join(ALLOWED))
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
    for alert_type, deployment in (
        ("HighErrorRate", "checkout"),
        ("HighCPUUsage", "search"),
        ("ApplicationDown", "api"),
    ):
        run = Run(
            run_id=f"inv-{deployment}",
            alert=alert_for(alert_type, deployment, deployment),
            alert_type=alert_type,
            plan=["investigate"],
        )
        f: Finding = investigate(run)
        assert f.status == "ok", f.summary
        assert f.details["workload"]["name"] == deployment
    web = Run(
        run_id="inv-web",
        alert=alert_for("HighCPUUsage", "web", "web"),
        alert_type="HighCPUUsage",
        plan=["investigate"],
    )
    assert investigate(web).details["hpa"] is not None
    no_forbidden(srv)
    assert {r.method for r in srv.requests} == {"GET"}


def test_remediation_needs_nothing_more_than_its_role(
    as_function: Callable[[str], KubeApiServer], store: Ledger
) -> None:
    srv = as_function("remediate")
    restart = remediate(seeded(store, "ApplicationDown", "api", "rem-restart"))
    raise_max = remediate(seeded(store, "HighCPUUsage", "search", "rem-hpa"))
    opted_out = remediate(seeded(store, "HighCPUUsage", "legacy", "rem-optout"))
    assert restart.details["action"] == "restart", restart.summary
    assert restart.details["refused"] is None, restart.summary
    assert restart.details["verification"]["result"] == "succeeded"
    assert raise_max.details["action"] == "raise_hpa_max", raise_max.summary
    assert opted_out.details["refused"]["guard"] == "opt_out", opted_out.summary
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
    run = seeded(store, "HighErrorRate", "checkout", "rb-1")
    recorder = Recorder(
        store, "alertloop-remediate", run.run_id, "HighErrorRate", incident_id=run.incident_id
    )
    aid, _, _ = recorder.propose(
        action="rollback",
        target={**plan.target.as_dict(), "cluster": run.cluster},
        target_str=str(plan.target),
        details=plan.proposal,
        ttl=timedelta(minutes=60),
    )
    store.set_approval(
        aid, {"status": "approved", "approved_by": "UAPPROVER", "approved_at": datetime.now(UTC)}
    )
    srv = as_function("rollback")
    srv.clear_requests()
    finding = rollback(run.model_copy(update={"approval_id": aid}))
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


# --------------------------------------------------------------------------- access reviews


def test_subject_access_reviews_are_answered_by_the_same_rbac(srv: KubeApiServer) -> None:
    admin = load_clients(K8sSettings(kubeconfig=srv.kubeconfig_path))
    investigate_clients = clients_as(srv, "investigate")
    try:

        def ask(user: str, **attrs: str) -> dict[str, Any]:
            body = {"spec": {"user": user, "resourceAttributes": attrs}}
            done = admin.authorization.create_subject_access_review(body)
            return dict(admin.api_client.sanitize_for_serialization(done.status))

        scale = {"verb": "patch", "group": "apps", "resource": "deployments",
                 "subresource": "scale", "namespace": "shop", "name": "api"}  # fmt: skip
        yes = ask(REMEDIATE, **scale)
        assert yes == {
            "allowed": True,
            "reason": 'RBAC: allowed by RoleBinding "alertloop-remediate/shop" of Role '
            f'"alertloop-remediate" to User "{REMEDIATE}"',
        }
        assert ask(REMEDIATE, **{**scale, "namespace": "kube-system"}) == {"allowed": False}
        assert ask(INVESTIGATE, **scale) == {"allowed": False}
        assert ask(INVESTIGATE, verb="list", resource="pods")["allowed"] is True
        with pytest.raises(ApiException) as invalid:
            admin.authorization.create_subject_access_review({"spec": {"user": INVESTIGATE}})
        assert invalid.value.status == 422
        # asking is itself a request RBAC decides: the functions may not
        with pytest.raises(ApiException) as refused:
            investigate_clients.authorization.create_subject_access_review(
                {"spec": {"user": INVESTIGATE, "resourceAttributes": scale}}
            )
        assert refused.value.status == 403
    finally:
        admin.close()
        investigate_clients.close()

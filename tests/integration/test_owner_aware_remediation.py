"""Owner-aware remediation and earned autonomy against the sandbox Kubernetes API (real
`kubernetes` client, as the remediate identity under deploy/rbac.yaml) with the ledger on the
Firestore emulator: no write that the workload's owner reverts; the owner's way proposed instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube.rbac import function_users
from sandbox.kube_api import KubeApiServer, RecordedRequest
from sandbox.kube_remediation_scenarios import remediation
from shared.k8s.client import load_clients
from shared.k8s.reads import recent_deploy as recent_deploy_detail
from shared.k8s.reads import rollout_history
from shared.ledger import Ledger
from shared.model import Finding
from shared.remediation import remediate
from shared.run import Run
from shared.slack.incident import render_finding
from tests.conftest import reset_settings as reset
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"
ARGO = {"argocd.argoproj.io/tracking-id": "shop-api:apps/Deployment:shop/api"}
FLUX = {
    "kustomize.toolkit.fluxcd.io/name": "apps",
    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
}
OPT_IN = {"alertloop.io/remediation": "enabled"}  # api has no HPA: scaling it needs the opt-in


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeApiServer]:
    """The remediation scenario, served under deploy/rbac.yaml; we act as the remediate identity."""
    for name in (
        "KUBE_CONFIG_DATA",
        "KUBERNETES_SERVICE_HOST",
        "ALERTLOOP_DRY_RUN",
        "ALERTLOOP_POLICY_FILE",
        "K_SERVICE",
        "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR",
        "PROMETHEUS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with KubeApiServer(
        remediation(), users=function_users(), rbac_yaml=RBAC, rbac_namespaces=["shop"]
    ) as srv:
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_for("remediate-token"))
        monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
        monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "2")
        monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", "0.1")
        reset()
        yield srv


def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: dict[str, Any]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset()


def mark(srv: KubeApiServer, plural: str, name: str, **meta: dict[str, str]) -> None:
    def change(obj: dict[str, Any]) -> None:
        for key, values in meta.items():
            if key == "ownerReferences":
                obj["metadata"][key] = values
            else:
                obj["metadata"].setdefault(key, {}).update(values)

    srv.mutate(plural, "shop", name, change)


def run_for(alert_type: str, deployment: str, run_id: str = "r1", **details: Any) -> Run:
    alert = make_alert(
        alert_type,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=datetime.now(UTC) - timedelta(minutes=5),
        fingerprint=hashlib.sha256(run_id.encode()).hexdigest()[:16],
    )
    workload = {"kind": "Deployment", "name": deployment, "namespace": "shop"}
    finding = Finding(
        stage="investigate",
        status="ok",
        summary="investigated",
        details={"workload": workload, **details},
    )
    return seed_run(Ledger(), alert, plan=["investigate", "remediate"], findings=[finding])


def writes(srv: KubeApiServer) -> list[RecordedRequest]:
    return [r for r in srv.requests_matching("PATCH")] + [
        r for r in srv.requests if r.method in ("PUT", "POST", "DELETE")
    ]


def no_forbidden(srv: KubeApiServer) -> None:
    assert [r.path for r in srv.requests if r.status == 403] == []


def audited(ledger: Ledger, f: Finding, guard: str) -> dict[str, Any]:
    assert f.details["refused"]["guard"] == guard, f.summary
    doc = ledger.get_audit(f.details["audit_id"])
    assert doc is not None and doc["guard"] == guard and doc["outcome"] == "refused"
    return doc


# ---- GitOps ----------------------------------------------------------------------------------


def test_argo_managed_deployment_high_cpu_scale_is_refused_with_the_git_change(
    kube: KubeApiServer, store: Ledger
) -> None:
    mark(kube, "deployments", "api", annotations={**ARGO, **OPT_IN})
    f = remediate(run_for("HighCPUUsage", "api"))
    assert writes(kube) == []
    doc = audited(store, f, "owner/argocd")
    change = (
        "set spec.replicas: 4 on Deployment shop/api in the manifests of Argo CD Application "
        "shop-api"
    )
    assert change in f.summary and change in doc["how_to_change"]
    assert "Argo CD Application shop-api owns Deployment shop/api" in doc["reason"]
    assert f.details["workload_class"] == "gitops"
    no_forbidden(kube)


def test_the_same_deployment_without_an_owner_is_scaled(kube: KubeApiServer, store: Ledger) -> None:
    """The control: only the owner's markers made the difference above."""
    mark(kube, "deployments", "api", annotations=OPT_IN)
    f = remediate(run_for("HighCPUUsage", "api"))
    assert f.details["action"] == "scale_deployment" and f.details["outcome"] == "applied"
    [req] = writes(kube)
    assert req.path.endswith("/deployments/api/scale")


def test_restart_on_a_flux_workload_is_allowed_and_says_where_drift_shows(
    kube: KubeApiServer, store: Ledger
) -> None:
    mark(kube, "deployments", "api", labels=FLUX)
    f = remediate(run_for("ApplicationDown", "api"))
    assert f.details["action"] == "restart" and f.details["outcome"] == "applied", f.summary
    [req] = writes(kube)
    assert req.path == "/apis/apps/v1/namespaces/shop/deployments/api"
    assert "Flux Kustomization flux-system/apps owns this object" in f.summary
    assert "kubectl.kubernetes.io/restartedAt" in f.summary


def _recent_deploy() -> dict[str, Any]:
    clients = load_clients()
    try:
        dep = clients.call(
            "get",
            "deployments",
            "shop",
            lambda **kw: clients.apps.read_namespaced_deployment("checkout", "shop", **kw),
        )
        detail = recent_deploy_detail(rollout_history(clients, dep, "app=checkout"), 30)
    finally:
        clients.close()
    assert detail is not None and detail["recent"]
    return detail


def test_rollback_proposal_on_argo_names_argocd_rollback_and_has_no_kubectl_button(
    kube: KubeApiServer, store: Ledger
) -> None:
    mark(
        kube,
        "deployments",
        "checkout",
        annotations={
            "argocd.argoproj.io/tracking-id": "shop-checkout:apps/Deployment:shop/checkout"
        },
    )
    f = remediate(run_for("HighErrorRate", "checkout", recent_deploy=_recent_deploy()))
    assert writes(kube) == []
    assert f.status == "ok" and f.details["action"] == "propose_rollback"
    assert "argocd app rollback shop-checkout" in f.summary
    assert "rollout undo" not in f.summary  # no kubectl rollback offered, not even by hand
    assert not f.details.get("approval_id")
    assert list(store._col("approvals").stream()) == []
    assert [b for b in render_finding(f) if b["type"] == "actions"] == []
    doc = audited(store, f, "owner/argocd")
    assert doc["action"] == "rollback"


def test_rollback_keeps_its_button_when_the_policy_says_the_owner_does_not_self_heal(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(tmp_path, monkeypatch, {"owners": {"self_heal": {"argocd": False}}})
    mark(
        kube,
        "deployments",
        "checkout",
        annotations={
            "argocd.argoproj.io/tracking-id": "shop-checkout:apps/Deployment:shop/checkout"
        },
    )
    f = remediate(run_for("HighErrorRate", "checkout", recent_deploy=_recent_deploy()))
    assert f.details["approval_id"]
    assert [b for b in render_finding(f) if b["type"] == "actions"] != []
    assert "argocd app rollback shop-checkout" in f.summary  # the owner's way, next to it


# ---- KEDA ------------------------------------------------------------------------------------


def keda_owned_search(srv: KubeApiServer, max_count: int = 5, **so_meta: Any) -> None:
    """search's HPA (at its max) becomes KEDA's, as KEDA's operator leaves it."""
    srv.put_object(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "search", "namespace": "shop", **so_meta},
            "spec": {
                "scaleTargetRef": {"name": "search"},
                "minReplicaCount": 2,
                "maxReplicaCount": max_count,
                "triggers": [{"type": "cpu", "metadata": {"value": "70"}}],
            },
        }
    )
    mark(
        srv,
        "horizontalpodautoscalers",
        "search",
        labels={"scaledobject.keda.sh/name": "search"},
        ownerReferences=[  # type: ignore[arg-type]
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "name": "search",
                "uid": "5d1f3c2e-0000-4000-8000-000000000001",
                "controller": True,
            }
        ],
    )


def test_keda_owned_hpa_raises_the_scaled_objects_max_and_leaves_the_hpa(
    kube: KubeApiServer, store: Ledger
) -> None:
    keda_owned_search(kube)
    so_rv = kube.get_object("scaledobjects", "shop", "search")["metadata"]["resourceVersion"]  # type: ignore[index]
    hpa_before = kube.get_object("horizontalpodautoscalers", "shop", "search")
    f = remediate(run_for("HighCPUUsage", "search"))
    assert f.details["action"] == "raise_keda_max", f.summary
    [req] = writes(kube)
    assert req.path == "/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects/search"
    assert req.content_type == "application/merge-patch+json"
    # The write carries the classified version and our write's marker (settles a lost response).
    doc = store.get_audit(f.details["audit_id"])
    assert doc is not None
    assert req.body == {
        "metadata": {
            "resourceVersion": so_rv,
            "annotations": {"alertloop.io/write-id": f.details["audit_id"]},
        },
        "spec": {"maxReplicaCount": 7},
    }
    so = kube.get_object("scaledobjects", "shop", "search")
    assert so is not None and so["spec"]["maxReplicaCount"] == 7
    assert kube.get_object("horizontalpodautoscalers", "shop", "search") == hpa_before
    assert "Raised maxReplicaCount of scaledobject/shop/search from 5 to 7" in f.summary
    assert doc["outcome"] == "applied" and doc["action"] == "raise_keda_max"
    no_forbidden(kube)


def test_keda_refuse_policy_proposes_the_scaled_object_change(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(tmp_path, monkeypatch, {"owners": {"keda": "refuse"}})
    keda_owned_search(kube)
    f = remediate(run_for("HighCPUUsage", "search"))
    assert writes(kube) == []
    doc = audited(store, f, "owner/keda")
    assert "raise spec.maxReplicaCount of ScaledObject shop/search to 7" in doc["how_to_change"]


def test_a_scaled_object_from_git_is_not_raised_in_the_cluster(
    kube: KubeApiServer, store: Ledger
) -> None:
    keda_owned_search(kube, labels=FLUX)
    f = remediate(run_for("HighCPUUsage", "search"))
    assert writes(kube) == []
    doc = audited(store, f, "owner/flux")
    assert "set spec.maxReplicaCount: 7 on ScaledObject shop/search" in doc["how_to_change"]


def test_a_scaled_object_aiming_elsewhere_is_not_raised(kube: KubeApiServer, store: Ledger) -> None:
    keda_owned_search(kube)
    kube.mutate(
        "scaledobjects", "shop", "search", lambda o: o["spec"]["scaleTargetRef"].update(name="web")
    )
    f = remediate(run_for("HighCPUUsage", "search"))
    assert writes(kube) == []
    audited(store, f, "owner/keda")


# ---- autonomy --------------------------------------------------------------------------------


def test_autonomy_off_refuses_and_audits(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "alerts": {
                "HighCPUUsage": {
                    "stages": ["investigate", "remediate"],
                    "remediation": "scale",
                    "autonomy": {"scale_deployment": {"plain": "off"}},
                }
            }
        },
    )
    mark(kube, "deployments", "api", annotations=OPT_IN)
    f = remediate(run_for("HighCPUUsage", "api"))
    assert writes(kube) == []
    audited(store, f, "autonomy_off")


def test_earned_autonomy_proposes_until_promoted_then_acts(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "alerts": {
                "HighCPUUsage": {
                    "stages": ["investigate", "remediate"],
                    "remediation": "scale",
                    "guardrails": {"promote_after": 2},
                    "autonomy": {"scale_deployment": {"default": "earned"}},
                }
            }
        },
    )
    mark(kube, "deployments", "api", annotations=OPT_IN)
    first = remediate(run_for("HighCPUUsage", "api", run_id="r1"))
    assert writes(kube) == []
    assert first.details["action"] == "propose_scale_deployment"
    autonomy = first.details["autonomy"]
    assert (autonomy["configured"], autonomy["mode"]) == ("earned", "approve")
    workload = autonomy["workload"]
    assert workload.endswith("|deployment:shop:api")
    record = dict(
        alert_type="HighCPUUsage",
        action="scale_deployment",
        workload=workload,
        workload_class="plain",
        approved=True,
        promote_after=2,
    )
    one = store.record_autonomy_outcome(outcome="fixed", outcome_id="o1", **record)  # type: ignore[arg-type]
    again = store.record_autonomy_outcome(outcome="fixed", outcome_id="o1", **record)  # type: ignore[arg-type]
    assert (one.counted, again.counted, again.state.streak) == (True, False, 1)
    two = store.record_autonomy_outcome(outcome="fixed", outcome_id="o2", **record)  # type: ignore[arg-type]
    assert two.change is not None and two.change.after == "auto" and two.audit_id
    change_audit = store.get_audit(two.audit_id)
    assert change_audit is not None and change_audit["action"] == "autonomy_mode"
    assert change_audit["after"] == {"mode": "auto", "for_action": "scale_deployment"}

    acted = remediate(run_for("HighCPUUsage", "api", run_id="r2"))
    assert acted.details["action"] == "scale_deployment", acted.summary
    assert acted.details["outcome"] == "applied"
    assert "Autonomy earned: auto" in acted.summary
    [rec] = store.autonomy_records()
    assert rec["state"]["mode"] == "auto" and rec["workload"] == workload

    down = store.record_autonomy_outcome(outcome="relapsed", outcome_id="o3", **record)  # type: ignore[arg-type]
    assert down.change is not None and down.change.after == "approve"
    kube.clear_requests()
    third = remediate(run_for("HighCPUUsage", "api", run_id="r3"))
    assert third.details["action"] == "propose_scale_deployment"
    assert writes(kube) == []


# ---- each action's record: alertloop health and the console ----------------------------------


def _earned_record(ledger: Ledger, workload: str, outcomes: list[str]) -> None:
    for i, outcome in enumerate(outcomes):
        ledger.record_autonomy_outcome(
            alert_type="ApplicationDown",
            action="restart",
            workload=workload,
            workload_class="gitops",
            outcome=outcome,  # type: ignore[arg-type]
            outcome_id=f"{workload}-{i}",
            approved=True,
            promote_after=2,
        )


def test_health_shows_each_actions_record(
    store: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.cli import main

    _earned_record(store, "prod|deployment:shop:api", ["fixed", "fixed", "cleared_anyway"])
    assert main(["health", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert "Autonomy per action" in out
    line = next(x for x in out.splitlines() if "prod|deployment:shop:api" in x)
    assert "ApplicationDown" in line and "restart" in line
    assert "auto, streak 0: 2 fixed, 0 not fixed, 0 relapsed, 1 cleared anyway" in line
    assert main(["health", "--json", "--days", "1"]) == 0
    import json

    [rec] = json.loads(capsys.readouterr().out)["autonomy"]
    assert rec["state"]["mode"] == "auto" and "applied" not in rec


def test_console_health_page_shows_each_actions_record(
    store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions_framework import create_app

    from shared.console import app as console_app

    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", "t0ken")
    monkeypatch.setenv("ALERTLOOP_CONSOLE_CACHE_SECONDS", "0")
    console_app.snapshots.clear()
    _earned_record(store, "prod|deployment:shop:<b>x</b>", ["fixed", "not_fixed"])
    root = Path(__file__).resolve().parents[2]
    client = create_app("console", str(root / "main.py"), "http").test_client()
    html = client.get("/health", headers={"Authorization": "Bearer t0ken"}).get_data(as_text=True)
    assert "Autonomy per action" in html
    assert "<b>x</b>" not in html  # outside text is escaped
    assert "<td>approve</td><td>0</td>\n<td>1</td><td>1</td><td>0</td>" in html

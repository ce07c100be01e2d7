"""Remediation against the sandbox Kubernetes API (real `kubernetes` client) with durable
guardrails on the Firestore emulator. Asserts the exact PATCH requests and the audit trail."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer, ParsedRequest, RecordedRequest
from shared.k8s.client import load_clients
from shared.k8s.reads import recent_deploy as recent_deploy_detail
from shared.k8s.reads import rollout_history
from shared.ledger import Ledger
from shared.model import Finding
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings as reset
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

PROJECT = "alertloop-test"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture
def kube(remediation_cluster: KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> KubeApiServer:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop,kube-system")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "2")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", "0.1")
    reset()
    return remediation_cluster


def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alerts: dict[str, Any]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset()


def envelope(
    alert_type: str,
    labels: dict[str, str],
    *,
    workload: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    run_id: str = "run-1",
    dry_run: bool = False,
    force: bool = False,
) -> Run:
    """A run in the ledger as dispatch and investigation left it (`run_id` names the alert)."""
    alert = make_alert(
        alert_type,
        labels=labels,
        starts_at=datetime.now(UTC) - timedelta(minutes=5),
        fingerprint=hashlib.sha256(run_id.encode()).hexdigest()[:16],
    )
    findings = []
    if workload is not None or details:
        findings.append(
            Finding(
                stage="investigate",
                status="ok",
                summary="investigated",
                details={"workload": workload, **(details or {})},
            )
        )
    run = seed_run(
        Ledger(), alert, plan=["investigate", "remediate"], dry_run=dry_run, findings=findings
    )
    RUN_IDS[run_id] = run.run_id
    return run.model_copy(update={"force": force})


RUN_IDS: dict[str, str] = {}


def deploy_ref(name: str, ns: str = "shop") -> dict[str, str]:
    return {"kind": "Deployment", "name": name, "namespace": ns}


def patches(srv: KubeApiServer) -> list[RecordedRequest]:
    return srv.requests_matching("PATCH")


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    docs = [d.to_dict() | {"id": d.id} for d in ledger._col("audit").stream()]
    return sorted(docs, key=lambda d: d["at"])


def audit(ledger: Ledger, audit_id: str | None) -> dict[str, Any]:
    assert audit_id, "the finding carries no audit id"
    doc = ledger.get_audit(audit_id)
    assert doc is not None
    return doc


def lock(ledger: Ledger, target: str) -> dict[str, Any] | None:
    return ledger._get("locks", f"default:{target}")


@pytest.fixture(autouse=True)
def opted_in_to_scaling(remediation_cluster: KubeApiServer) -> None:
    """api has no HPA: scaling it without one needs its owners' opt-in."""

    def opt_in(d: dict[str, Any]) -> None:
        d["metadata"].setdefault("annotations", {})["alertloop.io/remediation"] = "enabled"

    remediation_cluster.mutate("deployments", "shop", "api", opt_in)


def rv(srv: KubeApiServer, plural: str, name: str, ns: str = "shop") -> str:
    obj = srv.get_object(plural, ns, name)
    assert obj is not None
    return str(obj["metadata"]["resourceVersion"])


def assert_refused(
    f: Finding, ledger: Ledger, guard: str, outcome: str = "refused"
) -> dict[str, Any]:
    refused = f.details["refused"]
    assert refused and refused["guard"] == guard, f.details
    doc = audit(ledger, f.details["audit_id"])
    assert doc["outcome"] == outcome
    assert doc["guard"] == guard
    assert doc["reason"] == refused["reason"]
    assert doc["actor"] == "alertloop-remediate (run " + doc["run_id"] + ")"
    assert doc["run_id"] == f.details.get("run_id", doc["run_id"])
    return doc


# --------------------------------------------------------------------------- actions


def test_restart_sends_the_exact_rollout_restart_patch(kube: KubeApiServer, store: Ledger) -> None:
    before_rv = rv(kube, "deployments", "api")
    env = envelope(
        "ApplicationDown", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
    )
    f = remediate(env)
    assert f.status == "ok", f.summary
    [req] = patches(kube)
    assert req.path == "/apis/apps/v1/namespaces/shop/deployments/api"
    assert req.content_type == "application/strategic-merge-patch+json"
    assert req.query.get("fieldManager") == "alertloop"
    restarted = req.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    marker = {"alertloop.io/write-id": f.details["audit_id"]}  # settles a lost response
    assert req.body == {
        "metadata": {"resourceVersion": before_rv},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted, **marker}}}},
    }
    assert datetime.fromisoformat(restarted.replace("Z", "+00:00")) <= datetime.now(UTC)
    d = f.details
    assert d["action"] == "restart" and d["target"] == "deployment/shop/api"
    assert d["after"] == {RESTARTED_AT: restarted}
    assert d["dry_run"] is False and d["refused"] is None
    assert d["verification"]["result"] == "succeeded"
    doc = audit(store, d["audit_id"])
    assert doc["outcome"] == "applied" and doc["action"] == "restart"
    assert doc["target"] == "deployment/shop/api"
    assert doc["verification"]["result"] == "succeeded"
    assert doc["patch"] == req.body
    assert "Manual follow-up: Investigate logs; may need a rollback" in f.summary
    assert "Next:" in f.summary
    # the sandbox rolled the deployment out: the annotation is on the pod template
    dep = kube.get_object("deployments", "shop", "api")
    assert dep is not None
    assert dep["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == restarted


def test_same_message_many_times_changes_the_cluster_once(
    kube: KubeApiServer, store: Ledger
) -> None:
    env = envelope(
        "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
    )
    findings = [remediate(env) for _ in range(3)]
    findings += [remediate(env.model_copy(update={"force": True})) for _ in range(2)]
    assert len(patches(kube)) == 1
    assert findings[0].details["action"] == "scale_deployment"
    first_audit = findings[0].details["audit_id"]
    for f in findings[1:]:
        # a redelivery of the same run finds its write reserved: reported, never sent again
        assert f.details["audit_id"] == first_audit and f.details["outcome"] == "applied"
        assert "not sent again" in f.summary
    assert [a["outcome"] for a in audits(store)] == ["applied"]  # audited exactly once
    # a forced replay is a new write identity: the guardrails decide (cooldown holds)
    forced = remediate(env.model_copy(update={"force": True, "force_count": 1}))
    assert_refused(forced, store, "cooldown")
    assert len(patches(kube)) == 1
    scale = kube.get_object("deployments", "shop", "api")
    assert scale is not None and scale["spec"]["replicas"] == 4
    # the restart path is idempotent too (already restarted since the alert began)
    kube.clear_requests()
    restart = envelope(
        "ApplicationDown",
        {"namespace": "shop", "deployment": "web"},
        workload=deploy_ref("web"),
        run_id="run-r",
    )
    outs = [
        remediate(restart),
        remediate(restart),
        remediate(restart.model_copy(update={"force": True})),
    ]
    assert len(patches(kube)) == 1
    assert all(o.details["action"] in ("none", "restart") for o in outs)


def test_cooldown_refuses_another_incident_on_the_same_target(
    kube: KubeApiServer, store: Ledger
) -> None:
    first = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id="run-a",
        )
    )
    assert first.details["action"] == "scale_deployment"
    second = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id="run-b",
        )
    )
    doc = assert_refused(second, store, "cooldown")
    assert RUN_IDS["run-a"] in doc["reason"]
    assert len(patches(kube)) == 1
    held = lock(store, "deployment:shop:api")
    assert held is not None
    assert held["run_id"] == RUN_IDS["run-a"] and held["expires_at"] > datetime.now(UTC)


def test_attempt_cap_per_workload(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "HighCPUUsage": {
                "stages": ["investigate", "remediate"],
                "remediation": "scale",
                "guardrails": {"cooldown_minutes": 0, "max_attempts": 1},
            }
        },
    )
    env = envelope(
        "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
    )
    assert remediate(env).details["action"] == "scale_deployment"
    f = remediate(env.model_copy(update={"force": True, "force_count": 1}))
    doc = assert_refused(f, store, "attempts")
    assert "max_attempts = 1" in doc["reason"]
    assert len(patches(kube)) == 1
    # another incident about the same workload may not reset it (issue 20): attempts are per
    # workload, whatever incident, pod name or flap the alert came with
    other = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id="run-2",
        )
    )
    assert_refused(other, store, "attempts")
    assert len(patches(kube)) == 1


def test_fleet_rate_limit(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR", "1")
    a = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id="run-a",
        )
    )
    assert a.details["action"] == "scale_deployment"
    b = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "shop", "deployment": "web"},
            workload=deploy_ref("web"),
            run_id="run-b",
        )
    )
    doc = assert_refused(b, store, "rate_limit")
    assert "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR = 1" in doc["reason"]
    assert len(patches(kube)) == 1


@pytest.mark.parametrize("namespaces", ["", "other,prod"])
def test_namespace_allowlist_refuses_before_any_api_call(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch, namespaces: str
) -> None:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", namespaces)
    f = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
        )
    )
    doc = assert_refused(f, store, "namespace")
    assert "ALERTLOOP_REMEDIATE_NAMESPACES" in doc["reason"]
    assert kube.requests == []
    # from labels only (no investigation): still refused before any API call
    f2 = remediate(
        envelope("ApplicationDown", {"namespace": "shop", "deployment": "api"}, run_id="run-2")
    )
    assert_refused(f2, store, "namespace")
    assert kube.requests == []


def test_kube_system_is_never_changed_even_if_listed(kube: KubeApiServer, store: Ledger) -> None:
    f = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "kube-system", "deployment": "coredns"},
            workload=deploy_ref("coredns", "kube-system"),
        )
    )
    assert_refused(f, store, "protected_namespace")
    assert patches(kube) == []


def test_opt_out_annotation(kube: KubeApiServer, store: Ledger) -> None:
    f = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "shop", "deployment": "legacy"},
            workload=deploy_ref("legacy"),
        )
    )
    doc = assert_refused(f, store, "opt_out")
    assert 'alertloop.io/remediate: "false"' in doc["reason"]
    assert patches(kube) == []


def test_replica_ceiling_refuses_and_clamps(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "HighCPUUsage": {
                "stages": ["investigate", "remediate"],
                "remediation": "scale",
                "guardrails": {"replica_ceiling": 2},
            }
        },
    )
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    doc = assert_refused(f, store, "ceiling")
    assert "replica ceiling 2" in doc["reason"]
    assert patches(kube) == []
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "HighCPUUsage": {
                "stages": ["investigate", "remediate"],
                "remediation": "scale",
                "guardrails": {"replica_ceiling": 3},
            }
        },
    )
    f = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id="run-2",
        )
    )
    [req] = patches(kube)
    assert req.body["spec"] == {"replicas": 3}
    assert "capped at the replica ceiling 3" in f.summary


@pytest.mark.parametrize("source", ["global", "envelope", "policy"])
def test_dry_run_reports_the_exact_change_and_sends_nothing(
    kube: KubeApiServer,
    store: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    if source == "global":
        monkeypatch.setenv("ALERTLOOP_DRY_RUN", "true")
        reset()
    if source == "policy":
        policy_file(
            tmp_path,
            monkeypatch,
            {
                "HighCPUUsage": {
                    "stages": ["investigate", "remediate"],
                    "remediation": "scale",
                    "guardrails": {"dry_run": True},
                }
            },
        )
    rv_before = rv(kube, "deployments", "api")
    f = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            dry_run=source == "envelope",
        )
    )
    assert f.status == "ok"
    doc = assert_refused(f, store, "dry_run", outcome="dry_run")
    assert doc["dry_run"] is True
    assert f.details["dry_run"] is True and f.details["dry_run_sources"]
    assert f.details["patch"] == {
        "kind": "scale",
        "body": {"metadata": {"resourceVersion": rv_before}, "spec": {"replicas": 4}},
    }
    assert doc["patch"] == f.details["patch"]["body"]
    assert "Dry-run: Would scale deployment/shop/api from 2 to 4" in f.summary
    assert patches(kube) == []
    assert list(store._col("locks").stream()) == []


def test_database_alert_with_deployment_labels_changes_nothing(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a policy file that tries to make DatabaseDown restart (and drops database: true)
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "DatabaseDown": {
                "stages": ["investigate", "remediate"],
                "remediation": "restart",
                "database": False,
            }
        },
    )
    labels = {"namespace": "shop", "deployment": "api"}
    for alert in ("DatabaseDown", "PostgresqlDown"):
        f = remediate(envelope(alert, labels, workload=deploy_ref("api"), run_id=f"run-{alert}"))
        assert_refused(f, store, "database_alert")
        assert "never acts on databases" in f.summary
    assert kube.requests == []
    assert patches(kube) == []


# --------------------------------------------------------------------------- scale / HPA


def test_hpa_below_max_means_no_action(kube: KubeApiServer, store: Ledger) -> None:
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "web"}, workload=deploy_ref("web")
        )
    )
    assert f.status == "ok" and f.details["action"] == "none"
    assert "HPA web is scaling" in f.summary
    assert patches(kube) == []


def test_hpa_at_max_raises_max_replicas(kube: KubeApiServer, store: Ledger) -> None:
    hpa_rv = rv(kube, "horizontalpodautoscalers", "search")
    f = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "search"},
            workload=deploy_ref("search"),
        )
    )
    [req] = patches(kube)
    assert req.path == "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/search"
    assert req.content_type == "application/merge-patch+json"
    marker = {"annotations": {"alertloop.io/write-id": f.details["audit_id"]}}
    assert req.body == {
        "metadata": {"resourceVersion": hpa_rv, **marker},
        "spec": {"maxReplicas": 7},
    }
    assert f.details["action"] == "raise_hpa_max"
    assert f.details["before"]["max_replicas"] == 5 and f.details["after"] == {"maxReplicas": 7}
    # the sandbox HPA never scales: verification says so after the bounded wait
    assert f.details["verification"]["result"] == "still progressing"
    hpa = kube.get_object("horizontalpodautoscalers", "shop", "search")
    assert hpa is not None and hpa["spec"]["maxReplicas"] == 7


def test_hpa_at_max_with_approval_required_is_proposed(
    kube: KubeApiServer, store: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "HighCPUUsage": {
                "stages": ["investigate", "remediate"],
                "remediation": "scale",
                "guardrails": {"approval_required": True},
            }
        },
    )
    f = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "search"},
            workload=deploy_ref("search"),
        )
    )
    assert patches(kube) == []
    assert f.details["action"] == "propose_raise_hpa_max"
    approval = store._col("approvals").document(f.details["approval_id"]).get().to_dict()
    assert approval["status"] == "proposed" and approval["action"] == "raise_hpa_max"
    assert approval["target"] == "horizontalpodautoscaler/shop/search"


def test_no_hpa_scales_the_deployment_scale_subresource(kube: KubeApiServer, store: Ledger) -> None:
    rv_before = rv(kube, "deployments", "api")
    f = remediate(
        envelope(
            "HighMemoryUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            details={"memory_trend": {"verdict": "leak suspected"}},
        )
    )
    [req] = patches(kube)
    assert req.path == "/apis/apps/v1/namespaces/shop/deployments/api/scale"
    assert req.content_type == "application/merge-patch+json"
    assert req.body == {"metadata": {"resourceVersion": rv_before}, "spec": {"replicas": 4}}
    assert "memory leak is suspected: scaling only buys time" in f.summary
    assert f.details["before"] == {"replicas": 2} and f.details["after"] == {"replicas": 4}


# --------------------------------------------------------------------------- verification


def deployment_reads_after_the_patch(srv: KubeApiServer, name: str) -> list[dict[str, Any]]:
    """The deployment as every GET after the first PATCH answered it."""
    reqs = srv.requests
    first_patch = next(i for i, r in enumerate(reqs) if r.method == "PATCH")
    path = f"/apis/apps/v1/namespaces/shop/deployments/{name}"
    return [r.response_json for r in reqs[first_patch:] if r.method == "GET" and r.path == path]


def test_verification_waits_for_the_controller_then_succeeds(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scale is stored at once; the controller acts later (observedGeneration, new pods,
    # readiness). Verification must not succeed before it has.
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "20")
    kube.controller.delay = 0.5
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    v = f.details["verification"]
    assert v["result"] == "succeeded", v
    assert v["observed"] is True and v["observed_generation"] == v["generation"]
    reads = deployment_reads_after_the_patch(kube, "api")
    assert len(reads) == v["polls"] > 1
    first, last = reads[0], reads[-1]
    assert first["status"]["observedGeneration"] < first["metadata"]["generation"]
    assert last["status"]["availableReplicas"] == last["spec"]["replicas"] == 4
    pods = [p for p in kube.state.list("pods", "shop") if p["metadata"]["labels"]["app"] == "api"]
    assert len(pods) == 4
    assert audit(store, f.details["audit_id"])["verification"]["result"] == "succeeded"


def test_verification_reports_a_rollout_that_never_becomes_available(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New api pods cannot pull their image; after progressDeadlineSeconds the controller
    # marks the rollout ProgressDeadlineExceeded.
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "20")
    kube.fail_image("registry.example.com/shop/api:2.3.1", "ImagePullBackOff")
    kube.mutate(
        "deployments", "shop", "api", lambda d: d["spec"].__setitem__("progressDeadlineSeconds", 1)
    )
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    assert f.status == "error"
    assert f.details["verification"]["result"] == "failed"
    assert "progress deadline" in f.summary and "has timed out progressing" in f.summary
    assert audit(store, f.details["audit_id"])["outcome"] == "applied"
    waiting = [
        p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
        for p in kube.state.list("pods", "shop")
        if p["metadata"]["labels"]["app"] == "api"
    ]
    assert sorted(waiting, key=str) == ["ImagePullBackOff", "ImagePullBackOff", None, None]


def test_verification_times_out_before_the_controller_acts(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "0.5")
    kube.controller.delay = 60  # a slow controller: nothing observed within the wait
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    v = f.details["verification"]
    assert v["result"] == "still progressing"
    assert "has not observed generation" in v["detail"]
    assert v["observed"] is False and v["polls"] >= 1


# --------------------------------------------------------------------------- conflicts, errors


def test_409_conflict_is_re_read_and_retried_once(kube: KubeApiServer, store: Ledger) -> None:
    kube.add_fault(Fault("conflict", resource="deployments/scale", verb="patch", times=1))
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    first, second = patches(kube)
    assert first.status == 409 and second.status == 200
    assert second.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]
    assert f.details["action"] == "scale_deployment" and f.details["refused"] is None
    assert "409 Conflict" in f.summary


class ChangedMeanwhile(Fault):
    """A concurrent writer: changes the object, then the API answers 409 (a stale read)."""

    def __init__(self, srv: KubeApiServer, fn: Any, **kw: Any) -> None:
        super().__init__("conflict", **kw)
        self.srv, self.fn = srv, fn

    def matches(self, req: ParsedRequest) -> bool:
        hit = super().matches(req)
        if hit:
            self.srv.mutate("horizontalpodautoscalers", "shop", "search", self.fn)
        return hit


def test_stale_read_is_re_evaluated_after_409(kube: KubeApiServer, store: Ledger) -> None:
    def someone_raised_it(h: dict[str, Any]) -> None:
        h["spec"]["maxReplicas"] = 12
        h["status"]["conditions"] = []

    kube.add_fault(
        ChangedMeanwhile(
            kube, someone_raised_it, resource="horizontalpodautoscalers", verb="patch", times=1
        )
    )
    f = remediate(
        envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "search"},
            workload=deploy_ref("search"),
        )
    )
    [req] = patches(kube)
    assert req.status == 409
    assert f.details["action"] == "none" and f.details["conflict"] is True
    hpa = kube.get_object("horizontalpodautoscalers", "shop", "search")
    assert hpa is not None and hpa["spec"]["maxReplicas"] == 12  # the newer spec survived
    assert audit(store, f.details["audit_id"])["outcome"] == "not_applied"
    # nothing changed: the cooldown lock and the rate-limit slot were released
    assert lock(store, "deployment:shop:search") is None


def test_persistent_conflict_is_reported(kube: KubeApiServer, store: Ledger) -> None:
    kube.add_fault(Fault("conflict", resource="deployments/scale", verb="patch"))
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    assert len(patches(kube)) == 2
    assert f.status == "error" and f.details["conflict"] is True
    assert "409 Conflict twice" in f.summary
    doc = audit(store, f.details["audit_id"])
    assert doc["outcome"] == "not_applied" and doc["conflict"] is True


def test_forbidden_patch_names_the_permission(kube: KubeApiServer, store: Ledger) -> None:
    kube.add_fault(Fault("forbidden", resource="deployments/scale", verb="patch"))
    f = remediate(
        envelope(
            "HighCPUUsage", {"namespace": "shop", "deployment": "api"}, workload=deploy_ref("api")
        )
    )
    assert f.status == "error"
    assert 'grant verb "patch" on resource "deployments/scale"' in f.summary
    assert audit(store, f.details["audit_id"])["outcome"] == "not_applied"
    assert lock(store, "deployment:shop:api") is None  # a refused write frees the cooldown


# --------------------------------------------------------------------------- rollback proposal


def _recent_deploy(srv: KubeApiServer) -> dict[str, Any]:
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
    assert detail is not None
    return detail


def test_high_error_rate_after_a_deploy_proposes_the_exact_rollback(
    kube: KubeApiServer, store: Ledger
) -> None:
    recent = _recent_deploy(kube)
    assert recent["recent"] and recent["revision"] == 4
    env = envelope(
        "HighErrorRate",
        {"namespace": "shop", "deployment": "checkout"},
        workload=deploy_ref("checkout"),
        details={"recent_deploy": recent},
    )
    f = remediate(env)
    assert f.status == "ok", f.summary
    assert patches(kube) == []
    assert f.details["action"] == "propose_rollback"
    assert "revision 3" in f.summary and "checkout:1.4.2" in f.summary
    approval = store._col("approvals").document(f.details["approval_id"]).get().to_dict()
    assert approval["status"] == "proposed"
    assert approval["run_id"] == RUN_IDS["run-1"]
    assert approval["target"] == "deployment/shop/checkout"
    assert (approval["from_revision"], approval["to_revision"]) == (4, 3)
    assert approval["to_images"] == ["registry.example.com/shop/checkout:1.4.2"]
    assert approval["from_images"] == ["registry.example.com/shop/checkout:1.5.0"]
    assert approval["expires_at"] > datetime.now(UTC) + timedelta(minutes=50)
    assert audit(store, f.details["audit_id"])["outcome"] == "proposed"
    # redelivery: same proposal, no second approval doc, still no patch
    again = remediate(env.model_copy(update={"force": True}))
    assert again.details["approval_id"] == f.details["approval_id"]
    assert len(list(store._col("approvals").stream())) == 1
    assert patches(kube) == []


def test_high_error_rate_without_a_recent_deploy(kube: KubeApiServer, store: Ledger) -> None:
    f = remediate(
        envelope(
            "HighErrorRate",
            {"namespace": "shop", "deployment": "web"},
            workload=deploy_ref("web"),
            details={"recent_deploy": None},
        )
    )
    assert f.details["action"] == "none"
    assert "no rollback is indicated" in f.summary
    assert patches(kube) == []
    assert list(store._col("approvals").stream()) == []


# --------------------------------------------------------------------------- degraded


def test_no_kubeconfig_is_a_skipped_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "ALERTLOOP_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    reset()
    f = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
        )
    )
    assert f.status == "skipped"
    assert "KUBECONFIG" in f.summary and "KUBE_CONFIG_DATA" in f.summary


def test_concurrent_instances_change_the_target_once(kube: KubeApiServer, store: Ledger) -> None:
    """Several instances (own Firestore clients) handling incidents on one target at once."""
    results: dict[int, Finding] = {}

    def instance(i: int) -> None:
        env = envelope(
            "HighCPUUsage",
            {"namespace": "shop", "deployment": "api"},
            workload=deploy_ref("api"),
            run_id=f"run-c{i}",
        )
        results[i] = remediate(env, ledger=Ledger())

    threads = [threading.Thread(target=instance, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4
    # A loser is refused by the cooldown, or — when the emulator keeps its reservation
    # transaction contended past every attempt — fails closed with nothing changed; Pub/Sub
    # then redelivers its message, and the redelivery is refused by the cooldown.
    for i, r in list(results.items()):
        if r.status == "error":
            assert "contended" in r.details["error"], r.summary
            instance(i)
    found = list(results.values())
    assert len([r for r in found if r.details["refused"] is None]) == 1
    assert (
        sorted(r.details["refused"]["guard"] for r in found if r.details["refused"])
        == ["cooldown"] * 3
    )
    assert len([p for p in patches(kube) if p.status == 200]) == 1
    outcomes = sorted(a["outcome"] for a in audits(store))
    assert outcomes == ["applied", "refused", "refused", "refused"]


def test_invalid_names_are_refused_before_any_api_call(kube: KubeApiServer, store: Ledger) -> None:
    bad_labels = {"namespace": "Shop_Prod", "deployment": "api;rm -rf"}
    f = remediate(envelope("ApplicationDown", bad_labels))
    doc = assert_refused(f, store, "invalid_name")
    assert "DNS-1123" in doc["reason"]
    g = remediate(
        envelope(
            "ApplicationDown",
            {"namespace": "shop"},
            run_id="run-2",
            workload={"kind": "Deployment", "name": "API/../x", "namespace": "shop"},
        )
    )
    assert_refused(g, store, "invalid_name")
    assert kube.requests == []

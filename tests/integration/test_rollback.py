"""The rollback stage against the sandbox Kubernetes API (real `kubernetes` client), approvals
and guardrails on the Firestore emulator, and a tiny Prometheus query API for the canary.
Asserts the exact PATCH requests, the approval's single use and the audit trail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.kube_api import KubeApiServer, RecordedRequest
from shared.audit import Recorder
from shared.k8s.client import load_clients
from shared.k8s.reads import REVISION_ANNOTATION, get_deployment, rollout_history
from shared.k8s.reads import recent_deploy as recent_deploy_detail
from shared.ledger import Ledger
from shared.remediation.decide import plan_rollback
from shared.rollback import rollback
from shared.run import Run
from shared.workload.resolve import selector_string
from tests.conftest import reset_settings as reset
from tests.seed import make_alert, resolve_run, seed_run

pytestmark = pytest.mark.integration

PROJECT = "alertloop-test"


@pytest.fixture
def kube(remediation_cluster: KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> KubeApiServer:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_ROLLBACK_VERIFY_SECONDS", "2")
    monkeypatch.setenv("ALERTLOOP_ROLLBACK_VERIFY_INTERVAL_SECONDS", "0.1")
    reset()
    return remediation_cluster


class FakePrometheus:
    """/api/v1/query answering one value for every query (None = empty vector)."""

    def __init__(self) -> None:
        self.value: float | None = 0.01
        self.queries: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                from urllib.parse import parse_qs, urlparse

                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                params = parse_qs(urlparse(self.path).query) | parse_qs(raw)
                outer.queries.append(params.get("query", [""])[0])
                result = (
                    []
                    if outer.value is None
                    else [
                        {"metric": {}, "value": [datetime.now(UTC).timestamp(), str(outer.value)]}
                    ]
                )
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": result}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def prom(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePrometheus]:
    p = FakePrometheus()
    monkeypatch.setenv("PROMETHEUS_URL", p.url)
    try:
        yield p
    finally:
        p.stop()


def path_a_run(ledger: Ledger) -> Run:
    """A HighErrorRate run (path A) in the ledger, as dispatch recorded it."""
    alert = make_alert(
        "HighErrorRate",
        severity="critical",
        labels={"namespace": "shop", "deployment": "checkout", "service": "checkout"},
        starts_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    return seed_run(ledger, alert, plan=["investigate", "remediate"])


def delivered(run: Run, approval_id: str) -> Run:
    """The run as the rollback stage works on it: loaded from the ledger, with the approval id
    its StageMessage carried (shared.stage)."""
    return run.model_copy(update={"approval_id": approval_id})


def proposal(run: Run, ledger: Ledger, *, status: str = "approved") -> str:
    """The proposal remediation records for checkout (revision 4 -> 3), then a decision."""
    clients = load_clients()
    try:
        deploy = get_deployment(clients, "shop", "checkout")
        history = rollout_history(clients, deploy, selector_string(deploy["spec"]["selector"]))
    finally:
        clients.close()
    plan = plan_rollback(deploy, recent_deploy_detail(history, 30))
    assert plan.proposal is not None and plan.target is not None
    recorder = Recorder(
        ledger, "alertloop-remediate", run.run_id, "HighErrorRate", incident_id=run.incident_id
    )
    aid, _, _ = recorder.propose(
        action="rollback",  # as shared.remediation.core records it
        target={**plan.target.as_dict(), "cluster": run.cluster},
        target_str=str(plan.target),
        details=plan.proposal,
        ttl=timedelta(minutes=60),
    )
    if status != "proposed":
        ledger.set_approval(
            aid, {"status": status, "approved_by": "UAPPROVER", "approved_at": datetime.now(UTC)}
        )
    return aid


def patches(srv: KubeApiServer) -> list[RecordedRequest]:
    return srv.requests_matching("PATCH")


def approval(ledger: Ledger, aid: str) -> dict[str, Any]:
    return ledger.get_approval(aid) or {}


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    return [{"id": s.id, **(s.to_dict() or {})} for s in ledger._col("audit").stream()]


def rs_template(srv: KubeApiServer, name: str) -> dict[str, Any]:
    rs = srv.get_object("replicasets", "shop", name)
    assert rs is not None
    template = rs["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash")
    return dict(template)


def test_executes_exactly_one_patch_and_is_healthy(
    store: Ledger, kube: KubeApiServer, prom: FakePrometheus
) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    approved = approval(store, aid)
    rv_before = kube.get_object("deployments", "shop", "checkout")["metadata"]["resourceVersion"]
    kube.clear_requests()

    finding = rollback(delivered(run, aid))

    assert finding.status == "ok", finding.summary
    assert finding.summary.startswith("Rolled back and healthy"), finding.summary
    (patch,) = patches(kube)
    assert patch.content_type.startswith("application/json-patch+json")
    assert patch.path.endswith("/namespaces/shop/deployments/checkout")
    ops = {op["path"]: op for op in patch.json}
    assert list(ops) == ["/metadata/resourceVersion", "/spec/template", "/metadata/annotations"]
    assert ops["/metadata/resourceVersion"]["value"] == rv_before
    # kubectl's annotations, plus our write's marker (the id of its audit record)
    assert ops["/metadata/annotations"]["value"] == {
        REVISION_ANNOTATION: "4",
        "alertloop.io/write-id": approval(store, aid)["audit_id"],
    }
    template = ops["/spec/template"]["value"]
    assert template == rs_template(kube, approved["to_replicaset"])
    assert "pod-template-hash" not in template["metadata"]["labels"]
    live = kube.get_object("deployments", "shop", "checkout")
    images = [c["image"] for c in live["spec"]["template"]["spec"]["containers"]]
    assert images == approved["to_images"] == ["registry.example.com/shop/checkout:1.4.2"]
    doc = approval(store, aid)
    assert doc["status"] == "executed" and doc["audit_id"]
    # The write's one audit record was created by the guardrail reservation (in_progress) under
    # the write's deterministic id, then settled.
    # The PATCH answer still carried revision 4 (the controller acts later); what is recorded
    # is the revision the controller gave the rolled-back template: 5.
    assert patch.response_json["metadata"]["annotations"][REVISION_ANNOTATION] == "4"
    assert live["metadata"]["annotations"][REVISION_ANNOTATION] == "5"
    assert doc["new_revision"] == "5"
    (audit,) = [a for a in audits(store) if a["action"] == "rollback"]
    assert audit["id"] == doc["audit_id"] == finding.details["audit_id"]
    assert audit["outcome"] == "applied" and audit["approval_id"] == aid
    assert audit["run_id"] == run.run_id and audit["incident_id"] == run.incident_id
    assert audit["attempt"] == 1
    assert audit["before"]["images"] == ["registry.example.com/shop/checkout:1.5.0"]
    assert audit["after"]["images"] == approved["to_images"]
    assert audit["after"]["revision"] == "5"
    assert audit["verification"]["verdict"] == "healthy"
    assert finding.details["verdict"] == "healthy"
    assert finding.details["canary"]["error_ratio"] == 0.01
    assert 'service="checkout"' in prom.queries[-1]
    assert "approval_id" not in finding.details  # no buttons on the result

    # Redelivered (or a second message for the same approval): single use, no second PATCH.
    again = rollback(delivered(run, aid))
    assert again.status == "skipped" and "single use" in again.summary
    assert len(patches(kube)) == 1


def test_still_erroring_after_the_rollback(
    store: Ledger, kube: KubeApiServer, prom: FakePrometheus
) -> None:
    prom.value = 0.2
    run = path_a_run(store)
    aid = proposal(run, store)
    finding = rollback(delivered(run, aid))
    assert finding.status == "error"
    assert finding.summary.startswith("Rolled back, still erroring"), finding.summary
    assert finding.details["canary"]["error_ratio"] == 0.2
    assert finding.details["canary"]["polls"] > 1  # polled until the deadline
    assert len(patches(kube)) == 1


def test_rollout_failed(
    store: Ledger, kube: KubeApiServer, prom: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old release's pods cannot start any more: the controller gives up after
    # progressDeadlineSeconds and the canary reports it.
    monkeypatch.setenv("ALERTLOOP_ROLLBACK_VERIFY_SECONDS", "20")
    reset()
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.fail_image("registry.example.com/shop/checkout:1.4.2", "CrashLoopBackOff")
    kube.mutate(
        "deployments",
        "shop",
        "checkout",
        lambda d: d["spec"].__setitem__("progressDeadlineSeconds", 1),
    )
    finding = rollback(delivered(run, aid))
    assert finding.status == "error"
    assert "rollout failed" in finding.summary, finding.summary
    assert finding.details["verdict"] == "rollout failed"
    assert "has timed out progressing" in finding.details["canary"]["detail"]
    assert finding.details["after"]["revision"] == "5"  # the controller did act
    assert len(patches(kube)) == 1


def test_a_failure_from_before_the_rollback_does_not_count(
    store: Ledger, kube: KubeApiServer, prom: FakePrometheus
) -> None:
    # A stale ProgressDeadlineExceeded (the bad release's) must not fail the canary before
    # the controller has even observed the rollback.
    run = path_a_run(store)
    aid = proposal(run, store)
    deploy = kube.get_object("deployments", "shop", "checkout")
    status = deploy["status"]
    status["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "checkout-x" has timed out progressing.',
        }
    ]
    kube.set_status("deployments", "shop", "checkout", status)
    finding = rollback(delivered(run, aid))
    assert finding.status == "ok", finding.summary
    assert finding.details["verdict"] == "healthy"


def test_refuses_when_a_newer_deploy_happened(store: Ledger, kube: KubeApiServer) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.mutate(
        "deployments",
        "shop",
        "checkout",
        lambda d: d["metadata"]["annotations"].__setitem__(REVISION_ANNOTATION, "5"),
    )
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped"
    assert "newer_deploy" in finding.summary and "revision 5 now, not 4" in finding.summary
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"
    (audit,) = audits(store)
    assert audit["outcome"] == "refused" and audit["guard"] == "newer_deploy"
    assert audit["run_id"] == run.run_id and audit["incident_id"] == run.incident_id


def test_refuses_a_resolved_run_after_rechecking_the_ledger(
    store: Ledger, kube: KubeApiServer
) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    # The alert resolves between the approval and the rollback: the ledger says so, and the
    # re-check inside the reservation refuses (the message's picture is never trusted).
    resolve_run(store, run)
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped"
    assert "Not rolled back (resolved)" in finding.summary, finding.summary
    assert "resolved" in finding.details["refused"]["reason"]
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"
    (audit,) = audits(store)
    assert audit["outcome"] == "refused" and audit["guard"] == "resolved"
    assert audit["run_id"] == run.run_id and audit["action"] == "rollback"
    assert not store._col("locks").document("default:deployment:shop:checkout").get().exists


def test_refuses_a_database_class_workload(store: Ledger, kube: KubeApiServer) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)

    def to_postgres(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:16.3"

    # The workload decides, not the alert: checkout now runs a database image.
    kube.mutate("deployments", "shop", "checkout", to_postgres)
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped"
    refused = finding.details["refused"]
    assert refused["guard"].startswith("database_class"), refused
    assert refused["how_to_change"].startswith("nothing can allow it")
    assert "database-class workloads are never changed" in refused["reason"]
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"
    (audit,) = audits(store)
    assert audit["outcome"] == "refused" and audit["guard"] == refused["guard"]
    assert audit["how_to_change"] == refused["how_to_change"]


def test_refuses_without_an_approval(store: Ledger, kube: KubeApiServer) -> None:
    run = path_a_run(store)
    kube.clear_requests()
    finding = rollback(delivered(run, ""))
    assert finding.status == "skipped" and "never rolls back without" in finding.summary
    missing = rollback(delivered(run, "nosuchapproval"))
    assert "does not exist" in missing.summary
    aid = proposal(run, store, status="proposed")  # proposed, never approved
    kube.clear_requests()
    pending = rollback(delivered(run, aid))
    assert pending.status == "skipped" and "proposed, not approved" in pending.summary
    assert approval(store, aid)["status"] == "proposed"
    owner = path_a_run(store)
    other = proposal(owner, store)
    kube.clear_requests()
    other_run = rollback(delivered(run, other))
    assert f"belongs to run {owner.run_id}" in other_run.summary
    assert kube.requests == []  # refused before any API call
    assert {a["outcome"] for a in audits(store)} == {"refused"}
    assert len(audits(store)) == 4
    assert {a["incident_id"] for a in audits(store)} == {run.incident_id}


def test_a_paused_deployment_is_refused_like_kubectl_refuses_it(
    store: Ledger, kube: KubeApiServer
) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.mutate("deployments", "shop", "checkout", lambda d: d["spec"].update(paused=True))
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped"
    assert "Not rolled back (paused): you cannot rollback a paused deployment" in finding.summary
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"
    (audit,) = audits(store)
    assert audit["outcome"] == "refused" and audit["guard"] == "paused"


def test_rejected_reports_and_changes_nothing(store: Ledger, kube: KubeApiServer) -> None:
    run = path_a_run(store)
    aid = proposal(run, store, status="rejected")
    store.set_approval(aid, {"rejected_by": "UAPPROVER"})
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped" and "rejected by <@UAPPROVER>" in finding.summary
    assert patches(kube) == []


def test_dry_run_reports_the_patch_and_sends_nothing(
    store: Ledger, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_DRY_RUN", "true")
    reset()
    run = path_a_run(store)
    aid = proposal(run, store)
    finding = rollback(delivered(run, aid))
    assert finding.status == "ok" and finding.summary.startswith("Dry-run: would roll back")
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "dry_run"
    (audit,) = audits(store)
    assert audit["outcome"] == "dry_run"
    assert audit["patch"]["ops"][1]["path"] == "/spec/template"


def test_namespace_allowlist_is_enforced(
    store: Ledger, kube: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "payments")
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped" and "Not rolled back (namespace)" in finding.summary
    assert kube.requests == []
    assert approval(store, aid)["status"] == "refused"


def test_opt_out_annotation_is_honoured(store: Ledger, kube: KubeApiServer) -> None:
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.mutate(
        "deployments",
        "shop",
        "checkout",
        lambda d: d["metadata"]["annotations"].__setitem__("alertloop.io/remediate", "false"),
    )
    finding = rollback(delivered(run, aid))
    assert "opt_out" in finding.summary
    assert finding.details["refused"]["guard"] == "opt_out"
    assert patches(kube) == []


def test_conflict_between_check_and_patch_changes_nothing(
    store: Ledger, kube: KubeApiServer
) -> None:
    from sandbox.kube_api import Fault

    run = path_a_run(store)
    aid = proposal(run, store)
    kube.add_fault(Fault(kind="conflict", verb="patch", resource="deployments", times=1))
    finding = rollback(delivered(run, aid))
    assert finding.status == "error" and "409 Conflict" in finding.summary
    assert approval(store, aid)["status"] == "failed"
    (audit,) = [a for a in audits(store) if a["action"] == "rollback"]
    # The reservation's audit record settles as not applied (the server refused the patch).
    assert audit["outcome"] == "not_applied" and audit["conflict"] is True
    assert audit["id"] == finding.details["audit_id"]
    # The cooldown lock and the rate-limit slot were released: nothing changed.
    assert not store._col("locks").document("default:deployment:shop:checkout").get().exists
    assert store._col("ratelimit").document("remediate-changes").get().to_dict()["changes"] == []


def _previous_replicaset(kube: KubeApiServer) -> str:
    """checkout's revision-3 ReplicaSet (the one a 4 -> 3 rollback writes)."""
    for rs in kube.state.list("replicasets", "shop"):
        if rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION) == "3":
            return str(rs["metadata"]["name"])
    raise AssertionError("no revision 3")


def test_refuses_a_rollback_to_a_database_class_template(
    store: Ledger, kube: KubeApiServer
) -> None:
    """Classify what is written: the live checkout is stateless, but revision 3 ran redis:7 on
    a claim; the template written by the undo would make it database class."""

    def to_redis(rs: dict[str, Any]) -> None:
        spec = rs["spec"]["template"]["spec"]
        spec["containers"][0]["image"] = "redis:7"
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "cache"}}]

    kube.mutate("replicasets", "shop", _previous_replicaset(kube), to_redis)
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped", finding.summary
    refused = finding.details["refused"]
    assert refused["guard"].startswith("database_class"), refused
    assert "redis:7" in refused["reason"] or "cache" in refused["reason"]
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"


def test_a_replicaset_changed_after_the_approval_is_classified_as_written(
    store: Ledger, kube: KubeApiServer
) -> None:
    """Same images as approved, but the old ReplicaSet gained a claim since: refused."""
    run = path_a_run(store)
    aid = proposal(run, store)

    def add_claim(rs: dict[str, Any]) -> None:
        rs["spec"]["template"]["spec"]["volumes"] = [
            {"name": "data", "persistentVolumeClaim": {"claimName": "orders"}}
        ]

    kube.mutate("replicasets", "shop", _previous_replicaset(kube), add_claim)
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.details["refused"]["guard"] == "database_class/persistent_volume_claim"
    assert patches(kube) == []


def test_a_lost_config_only_rollback_is_settled_by_its_marker_not_its_images(
    store: Ledger, kube: KubeApiServer
) -> None:
    """Revision 3 differs from 4 only by an env value (same images); the PATCH fails with a 500
    that never reached the deployment: it is not settled "applied" (issue 21, item 5)."""
    from sandbox.kube_api import Fault

    live = kube.get_object("deployments", "shop", "checkout")
    assert live is not None
    live_images = [c["image"] for c in live["spec"]["template"]["spec"]["containers"]]

    def config_only(rs: dict[str, Any]) -> None:
        container = rs["spec"]["template"]["spec"]["containers"][0]
        container["image"] = live_images[0]
        container["env"] = [{"name": "FEATURE_X", "value": "off"}]

    kube.mutate("replicasets", "shop", _previous_replicaset(kube), config_only)
    run = path_a_run(store)
    aid = proposal(run, store)
    kube.add_fault(Fault(kind="error", verb="patch", resource="deployments", times=1))
    finding = rollback(delivered(run, aid))
    assert finding.status == "error", finding.summary
    assert finding.details["outcome"] == "unknown", finding.details
    (audit,) = [a for a in audits(store) if a["action"] == "rollback"]
    assert audit["outcome"] == "unknown"
    # The cooldown is kept: no further change until it passes.
    assert store._col("locks").document("default:deployment:shop:checkout").get().exists


def test_refuses_when_a_self_healing_gitops_owner_took_over(
    store: Ledger, kube: KubeApiServer
) -> None:
    """Argo CD started tracking checkout after the proposal: its rollback would be undone."""
    run = path_a_run(store)
    aid = proposal(run, store)
    tracking = "shop-checkout:apps/Deployment:shop/checkout"
    kube.mutate(
        "deployments",
        "shop",
        "checkout",
        lambda d: d["metadata"]["annotations"].__setitem__(
            "argocd.argoproj.io/tracking-id", tracking
        ),
    )
    kube.clear_requests()
    finding = rollback(delivered(run, aid))
    assert finding.status == "skipped"
    refused = finding.details["refused"]
    assert refused["guard"] == "owner/argocd"
    assert "argocd app rollback shop-checkout" in refused["how_to_change"]
    assert patches(kube) == []
    assert approval(store, aid)["status"] == "refused"
    (audit,) = audits(store)
    assert audit["outcome"] == "refused" and audit["guard"] == "owner/argocd"

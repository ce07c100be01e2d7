"""Issue #10's failures, one test each, against the sandbox Kubernetes API (real client) and the
Firestore emulator: the ledger and the workload decide what may be written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer, Scenario
from sandbox.kube_scenarios import add_app
from shared.bus import Bus
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.ledger import Ledger
from shared.model import Finding, utcnow
from shared.policy import load_policy
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings as reset
from tests.seed import intake, make_alert, seed_run

pytestmark = pytest.mark.integration


@pytest.fixture
def kube(remediation_cluster: KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> KubeApiServer:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "0")
    reset()
    now = datetime.now(UTC)
    sc = Scenario("data")
    pg, _, pg_pods = add_app(
        sc, "orders-db", [("docker.io/bitnami/postgresql:16.2.0", 600)], now=now, replicas=1
    )
    for obj in (pg, *pg_pods):
        spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "orders-db"}}]
    add_app(sc, "sessions", [("redis:7.2-alpine", 600)], now=now, replicas=1)
    for obj in sc.objects:
        remediation_cluster.put_object(obj)
    return remediation_cluster


def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alerts: dict[str, Any]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset()


def run_on(name: str, deployment: str, *, fingerprint: str = "", **kw: Any) -> Run:
    alert = make_alert(
        name,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=kw.pop("starts_at", utcnow() - timedelta(minutes=3)),
        fingerprint=fingerprint,
    )
    investigated = Finding(
        stage="investigate",
        status="ok",
        summary="investigated",
        details={"workload": {"kind": "Deployment", "name": deployment, "namespace": "shop"}},
    )
    return seed_run(
        Ledger(), alert, plan=["investigate", "remediate"], findings=[investigated], **kw
    )


def patches(srv: KubeApiServer) -> list[Any]:
    return srv.requests_matching("PATCH")


def replicas(srv: KubeApiServer, name: str) -> int:
    obj = srv.get_object("deployments", "shop", name)
    assert obj is not None
    return int(obj["spec"]["replicas"])


def test_1_a_postgres_deployment_is_never_restarted_whatever_the_alert(
    kube: KubeApiServer, store: Ledger
) -> None:
    f = remediate(run_on("KubePodCrashLooping", "orders-db"))
    assert f.details["refused"]["guard"].startswith("database_class"), f.summary
    assert "PersistentVolumeClaim orders-db" in f.summary  # the strongest rule is named
    assert "To change this:" in f.summary  # the refusal says how (here: only by hand)
    assert patches(kube) == []
    doc = store.get_audit(f.details["audit_id"])
    assert doc is not None and doc["outcome"] == "refused"


def test_1_a_single_replica_redis_without_hpa_is_never_scaled(
    kube: KubeApiServer, store: Ledger
) -> None:
    f = remediate(run_on("HighCPUUsage", "sessions"))
    assert f.details["refused"]["guard"].startswith("database_class"), f.summary
    assert patches(kube) == [] and replicas(kube, "sessions") == 1


def test_1_an_ordinary_deployment_without_hpa_is_scaled_only_when_opted_in(
    kube: KubeApiServer, store: Ledger
) -> None:
    f = remediate(run_on("HighCPUUsage", "api"))
    assert f.details["refused"]["guard"] == "no_hpa", f.summary
    assert "alertloop.io/remediation: enabled" in f.summary
    assert patches(kube) == []

    def opt_in(d: dict[str, Any]) -> None:
        d["metadata"]["annotations"]["alertloop.io/remediation"] = "enabled"

    kube.mutate("deployments", "shop", "api", opt_in)
    g = remediate(run_on("HighCPUUsage", "api"))
    assert g.details["action"] == "scale_deployment" and g.details["refused"] is None


def test_2_a_run_resolved_in_the_ledger_is_not_remediated(kube: KubeApiServer, topics) -> None:
    store = Ledger()
    run = run_on("ApplicationDown", "api")  # the stage loaded the run while it was firing…
    gone = run.alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), load_policy(), settings(), store, Bus())  # …then it resolved
    f = remediate(run)
    assert f.details["refused"]["guard"] == "resolved", f.summary
    assert "resolved" in f.summary and patches(kube) == []
    assert store.get_audit(f.details["audit_id"])["guard"] == "resolved"


def test_2_a_taken_over_or_superseded_run_is_not_remediated(
    kube: KubeApiServer, store: Ledger
) -> None:
    run = run_on("ApplicationDown", "api")
    store.update_incident(run.incident_id, {"hands_off": {"by": "U123", "at": utcnow()}})
    assert remediate(run).details["refused"]["guard"] == "taken_over"
    # The alert fired again with a new startsAt while this run was still open: superseded.
    old = run_on("ApplicationDown", "api", fingerprint="00ff00ff00ff00ff")
    run_on(
        "ApplicationDown",
        "api",
        fingerprint="00ff00ff00ff00ff",
        starts_at=utcnow() - timedelta(minutes=1),
    )
    assert remediate(old).details["refused"]["guard"] == "superseded"
    assert patches(kube) == []


def test_3_a_write_whose_response_was_lost_keeps_its_reservation(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ALERTLOOP_K8S_TIMEOUT_SECONDS", "1")

    def opt_in(d: dict[str, Any]) -> None:
        d["metadata"]["annotations"]["alertloop.io/remediation"] = "enabled"

    kube.mutate("deployments", "shop", "api", opt_in)
    # The server is slow: the client gives up, the server applies the patch afterwards.
    kube.add_fault(Fault("delay", resource="deployments/scale", verb="patch", seconds=2.5, times=1))
    first = remediate(run_on("HighCPUUsage", "api"))
    assert first.details["outcome"] == "unknown", first.summary
    assert "UNKNOWN" in first.summary
    doc = store.get_audit(first.details["audit_id"])
    assert doc is not None and doc["outcome"] == "unknown"
    # A second alert (an alias, another incident) on the same target right after: refused.
    second = remediate(run_on("ContainerCPUHigh", "api"))
    assert second.details["refused"]["guard"] == "cooldown", second.summary
    assert "unknown" in second.summary
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while replicas(kube, "api") == 2 and datetime.now(UTC) < deadline:
        pass
    assert replicas(kube, "api") == 4  # 2 -> 4 once, never 2 -> 4 -> 6


def test_4_flapping_shares_its_incident_caps(
    kube: KubeApiServer, topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Ledger()
    policy_file(
        tmp_path,
        monkeypatch,
        {
            "ApplicationDown": {
                "stages": ["investigate", "remediate"],
                "remediation": "restart",
                "guardrails": {"cooldown_minutes": 0, "max_attempts": 1},
            }
        },
    )
    fp = "f1a9f1a9f1a9f1a9"
    first = run_on(
        "ApplicationDown", "api", fingerprint=fp, starts_at=utcnow() - timedelta(minutes=9)
    )
    assert remediate(first).details["action"] == "restart"
    gone = first.alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), load_policy(), settings(), store, Bus())
    flap = run_on("ApplicationDown", "api", fingerprint=fp, starts_at=utcnow())
    assert flap.incident_id == first.incident_id
    again = remediate(flap)
    assert again.details["refused"]["guard"] == "attempts", again.summary
    assert "flapping does not reset it" in again.summary
    assert len(patches(kube)) == 1

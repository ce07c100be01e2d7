"""Issue #21, against the sandbox Kubernetes API (real client) and the Firestore emulator: a
lost response is settled by our write's marker, and every write is bound to the object that
was classified."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer
from sandbox.procs import wait_until
from shared.k8s.writes import RESTARTED_AT_ANNOTATION, WRITE_ID_ANNOTATION
from shared.ledger import Ledger
from shared.model import utcnow
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings as reset
from tests.seed import make_alert, seed_run


def when(condition: Callable[[], bool], done: threading.Event) -> bool:
    """Whether `condition` came true before `done` was set (what a person reacts to)."""
    try:
        wait_until(lambda: condition() or done.is_set(), 60, "the condition", interval=0.005)
    except TimeoutError:
        return False
    return condition()


pytestmark = pytest.mark.integration


@pytest.fixture
def kube(remediation_cluster: KubeApiServer, monkeypatch: pytest.MonkeyPatch) -> KubeApiServer:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "0")
    reset()
    return remediation_cluster


def restart_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.yaml"
    alerts = {
        "ApplicationDown": {
            "stages": ["investigate", "remediate"],
            "remediation": "restart",
            "guardrails": {"cooldown_minutes": 30, "max_attempts": 2},
        }
    }
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset()


def run_on(store: Ledger, name: str, deployment: str) -> Run:
    alert = make_alert(
        name,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=utcnow() - timedelta(minutes=3),
    )
    return seed_run(store, alert, plan=["investigate", "remediate"])


def template_annotations(kube: KubeApiServer, name: str) -> dict[str, str]:
    obj = kube.get_object("deployments", "shop", name)
    assert obj is not None
    return dict((obj["spec"]["template"]["metadata"] or {}).get("annotations") or {})


def test_a_lost_restart_overwritten_by_a_person_is_still_settled_applied(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Our restart applied, its response was lost, and a person ran `kubectl rollout restart`
    before we read it back: restartedAt is theirs now, our write id is still on the template.
    Settled "applied" (the cooldown holds), not "not applied" (issue 21, item 5)."""
    restart_policy(tmp_path, monkeypatch)
    monkeypatch.setenv("ALERTLOOP_K8S_TIMEOUT_SECONDS", "1")
    kube.add_fault(Fault("delay_after", resource="deployments", verb="patch", seconds=3, times=1))
    done = threading.Event()

    def person_restarts() -> None:
        # As soon as our patch is stored, a person restarts too.
        if when(lambda: WRITE_ID_ANNOTATION in template_annotations(kube, "api"), done):

            def restart(d: dict[str, Any]) -> None:
                meta = d["spec"]["template"]["metadata"]
                meta["annotations"][RESTARTED_AT_ANNOTATION] = "2099-01-01T00:00:00Z"

            kube.mutate("deployments", "shop", "api", restart)

    person = threading.Thread(target=person_restarts, daemon=True)
    person.start()
    try:
        finding = remediate(run_on(store, "ApplicationDown", "api"))
    finally:
        done.set()
        person.join()
    assert finding.details["action"] == "restart", finding.summary
    annotations = template_annotations(kube, "api")
    assert annotations[RESTARTED_AT_ANNOTATION] == "2099-01-01T00:00:00Z"
    assert annotations[WRITE_ID_ANNOTATION] == finding.details["audit_id"]
    assert finding.details["outcome"] == "applied", finding.summary
    doc = store.get_audit(finding.details["audit_id"])
    assert doc is not None and doc["outcome"] == "applied"


def test_an_hpa_write_is_bound_to_the_deployment_that_was_classified(
    kube: KubeApiServer, store: Ledger
) -> None:
    """raise_hpa_max: the Deployment gains a claim after it was classified (between the HPA
    lookup and the pod list). The HPA patch cannot carry the Deployment's resourceVersion, so
    the Deployment is checked right before the write: it moved, the write is decided again —
    and refused as database class. Nothing is patched (issue 21, item 6)."""
    kube.add_fault(Fault("delay", resource="pods", verb="list", seconds=1.5, times=1))
    done = threading.Event()

    def person_adds_a_claim() -> None:
        if when(lambda: bool(kube.requests_matching("GET", "horizontalpodautoscalers")), done):

            def claim(d: dict[str, Any]) -> None:
                d["spec"]["template"]["spec"]["volumes"] = [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "search-index"}}
                ]

            kube.mutate("deployments", "shop", "search", claim)

    person = threading.Thread(target=person_adds_a_claim, daemon=True)
    person.start()
    try:
        finding = remediate(run_on(store, "HighCPUUsage", "search"))
    finally:
        done.set()
        person.join()
    assert kube.requests_matching("PATCH") == [], finding.summary
    refused = finding.details["refused"]
    assert refused["guard"] == "database_class/persistent_volume_claim", finding.summary
    assert "409" in finding.summary or "changed since it was classified" in finding.summary


def test_a_resend_after_a_conflict_rechecks_the_ledger(
    kube: KubeApiServer, store: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first restart patch gets 409; meanwhile the alert resolved (recorded in the
    ledger). The resend re-runs the guarded reservation's checks: refused as resolved, the
    reservation settled not applied (issue 21, item 6)."""
    from tests.seed import resolve_run

    restart_policy(tmp_path, monkeypatch)
    run = run_on(store, "ApplicationDown", "api")
    fault = Fault("conflict", resource="deployments", verb="patch", times=1)
    kube.add_fault(fault)
    # Both pod lists (the first decision's and the re-decision's) are slow: the resolve below
    # lands while the re-decision reads, before its ledger re-check.
    kube.add_fault(Fault("delay", resource="pods", verb="list", seconds=1.5, times=2))
    done = threading.Event()

    def resolves() -> None:  # the alert resolves while the first patch is answered 409
        if when(lambda: fault.times == 0, done):
            resolve_run(store, run)

    resolver = threading.Thread(target=resolves, daemon=True)
    resolver.start()
    try:
        finding = remediate(run)
    finally:
        done.set()
        resolver.join()
    assert [r.status for r in kube.requests_matching("PATCH")] == [409], finding.summary
    assert finding.details["refused"]["guard"] == "resolved", finding.summary
    audits = [
        a for a in store._col("audit").stream() if (a.to_dict() or {}).get("action") == "restart"
    ]
    outcomes = sorted(str((a.to_dict() or {}).get("outcome")) for a in audits)
    assert "not_applied" in outcomes and "applied" not in outcomes

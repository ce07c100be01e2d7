"""Issue #21, against the sandbox Kubernetes API (real client) and the Firestore emulator: a
lost response is settled by our write's marker, and every write is bound to the object that
was classified."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer
from shared.envelope import utcnow
from shared.k8s.writes import RESTARTED_AT_ANNOTATION, WRITE_ID_ANNOTATION
from shared.ledger import Ledger
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings as reset
from tests.seed import make_alert, seed_run

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
    kube.add_fault(
        Fault("delay_after", resource="deployments", verb="patch", seconds=3, times=1)
    )
    done = threading.Event()

    def person_restarts() -> None:
        while not done.is_set():  # as soon as our patch is stored, a person restarts too
            if WRITE_ID_ANNOTATION in template_annotations(kube, "api"):

                def restart(d: dict[str, Any]) -> None:
                    meta = d["spec"]["template"]["metadata"]
                    meta["annotations"][RESTARTED_AT_ANNOTATION] = "2099-01-01T00:00:00Z"

                kube.mutate("deployments", "shop", "api", restart)
                return
            time.sleep(0.01)

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

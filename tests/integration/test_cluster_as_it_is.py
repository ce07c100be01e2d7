"""Objects as a real API server sends them never fail a stage (read as raw JSON, not models).

The kubernetes client's typed models insist on fields the API may omit (a containerStatus
without `imageID`, as kubelets and virtual kubelets can report) and raise while deserialising;
alertloop reads raw JSON, and an object it cannot summarise is evidence, not a failure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.kube_api import KubeApiServer
from shared.investigation import investigate
from shared.k8s.client import load_clients
from shared.ledger import Ledger
from shared.model import Alert, Finding
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration


def _api_pods(kube: KubeApiServer) -> list[dict[str, Any]]:
    return [
        p
        for p in kube.state.list("pods", "shop")
        if p["metadata"].get("labels", {}).get("app") == "api"
    ]


def _no_image_id(pod: dict[str, Any]) -> None:
    for cs in pod["status"].get("containerStatuses") or []:
        cs.pop("imageID", None)


def _odd(pod: dict[str, Any]) -> None:
    status = pod["status"]
    status["containerStatuses"] = [
        {"name": "api", "restartCount": "three", "state": {"waiting": "not-a-map"}}
    ]
    status["resize"] = ""  # empty strings are kept by real servers
    status["aFieldFromTheFuture"] = {"x": [1, 2]}


@pytest.fixture
def odd_cluster(
    remediation_cluster: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> KubeApiServer:
    pods = _api_pods(remediation_cluster)
    assert len(pods) >= 2, "the remediation scenario has api pods"
    remediation_cluster.mutate("pods", "shop", pods[0]["metadata"]["name"], _no_image_id)
    remediation_cluster.mutate("pods", "shop", pods[1]["metadata"]["name"], _odd)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "2")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", "0.1")
    reset_settings()
    return remediation_cluster


def test_the_client_reads_a_pod_without_image_id_as_raw_json(odd_cluster: KubeApiServer) -> None:
    clients = load_clients()
    pods = clients.call("list", "pods", "shop",
                        lambda **kw: clients.core.list_namespaced_pod("shop", **kw))  # fmt: skip
    by_name = {p["metadata"]["name"]: p for p in pods["items"]}
    first, second = (p["metadata"]["name"] for p in _api_pods(odd_cluster)[:2])
    assert "imageID" not in by_name[first]["status"]["containerStatuses"][0]
    assert by_name[second]["status"]["aFieldFromTheFuture"] == {"x": [1, 2]}  # kept as sent
    assert by_name[second]["status"]["resize"] == ""


def test_investigation_and_remediation_complete_on_odd_pods(
    odd_cluster: KubeApiServer, store: Ledger
) -> None:
    labels = {"namespace": "shop", "deployment": "api"}
    alert = Alert(name="ApplicationDown", labels=labels, starts_at=datetime.now(UTC),
                  fingerprint="fp-odd")  # fmt: skip
    run = Run(run_id="run-odd", source="dispatch", alert=alert, alert_type="ApplicationDown",
              plan=["investigate", "remediate"])  # fmt: skip
    finding = investigate(run)
    assert finding.status != "error", finding.summary
    odd_name = _api_pods(odd_cluster)[1]["metadata"]["name"]
    assert f"pod {odd_name}: status unreadable" in finding.summary  # said, not hidden
    pods = {p["name"]: p for p in finding.details["pods"]}
    assert "status unreadable" in pods[odd_name]["unreadable"]
    workload = finding.details.get("workload")
    assert workload and workload.get("name") == "api"

    seeded = seed_run(
        Ledger(),
        make_alert("ApplicationDown", labels=labels,
                   starts_at=datetime.now(UTC) - timedelta(minutes=5)),
        plan=["investigate", "remediate"],
        findings=[finding],
    )  # fmt: skip
    done = remediate(seeded)
    assert isinstance(done, Finding)
    assert done.status == "ok", done.summary
    assert done.details["action"] == "restart"

"""The diagnosis through the real investigate function, against the sandbox Kubernetes API
server serving benchmark scenarios (bench/diagnosis/scenarios/), as the investigate identity
under deploy/rbac.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube.dump import load_dump
from sandbox.kube_api import KubeApiServer
from shared.investigation import investigate
from shared.model import Alert, Finding
from shared.run import Run

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "bench" / "diagnosis" / "scenarios"
USER = "alertloop-investigate@alertloop-sandbox.iam.gserviceaccount.com"
TOKEN = "investigate-token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "PROMETHEUS_URL"):
        monkeypatch.delenv(name, raising=False)


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    servers: list[KubeApiServer] = []

    def serve(sid: str) -> tuple[KubeApiServer, Finding, dict[str, Any]]:
        folder = SCENARIOS / sid
        al = yaml.safe_load((folder / "alert.yaml").read_text())
        expected = yaml.safe_load((folder / "expected.yaml").read_text())
        srv = KubeApiServer(
            load_dump(folder / "dump.yaml", folder / "logs.yaml"),
            users={TOKEN: USER},
            rbac_yaml=REPO / "deploy" / "rbac.yaml",
            rbac_project_id="alertloop-sandbox",
        ).start()
        servers.append(srv)
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_for(TOKEN))
        alert = Alert(
            name=al["alertname"],
            labels=al["labels"],
            starts_at=_time(al["startsAt"]),
            fingerprint="fp-diagnosis",
        )
        run = Run(
            run_id=f"run-{sid}",
            source="dispatch",
            alert=alert,
            alert_type=al["alertname"],
            plan=["investigate"],
        )
        return srv, investigate(run, now=_time(al["now"])), expected

    yield serve
    for srv in servers:
        srv.stop()


def investigate_again(sid: str, run_id: str) -> Finding:
    """The scenario's alert investigated again, against the server as a test has changed it."""
    al = yaml.safe_load((SCENARIOS / sid / "alert.yaml").read_text())
    run = Run(
        run_id=run_id,
        source="dispatch",
        alert=Alert(
            name=al["alertname"],
            labels=al["labels"],
            starts_at=_time(al["startsAt"]),
            fingerprint=f"fp-{run_id}",
        ),
        alert_type=al["alertname"],
        plan=["investigate"],
    )
    return investigate(run, now=_time(al["now"]))


def likely(finding: Finding) -> str:
    return next(x for x in finding.summary.splitlines() if x.startswith("Likely cause:"))


@pytest.mark.parametrize(
    "sid",
    ["missing-env-go", "image-tag-not-found", "quota-exceeded", "migration-fails"],
)
def test_names_the_cause_with_its_specifics_and_evidence(served: Any, sid: str) -> None:
    srv, finding, expected = served(sid)
    assert finding.status == "ok", finding.details["kubernetes"]["errors"]
    assert finding.details["diagnosis"]["best"] == expected["cause"]
    line = likely(finding)
    for s in expected["specifics"]:
        assert s.lower() in line.lower()
    assert "Evidence:" in finding.summary
    assert finding.summary.splitlines()[-1].startswith("Fix: ")
    assert finding.details["diagnosis_evidence"]["notes"] == []  # RBAC allowed every read
    for req in srv.requests:
        assert req.method == "GET"  # read-only
        assert "/secrets" not in req.path and "/configmaps" not in req.path


def test_upstream_state_is_read_from_the_cluster(served: Any) -> None:
    srv, finding, _ = served("upstream-scaled-to-zero")
    assert finding.details["diagnosis"]["best"] == "upstream-down"
    ups = finding.details["diagnosis_evidence"]["upstreams"]
    assert ups["inventory.shop.svc.cluster.local"]["state"] == "scaled-to-zero"
    assert "service shop/inventory" in likely(finding)
    assert srv.requests_matching("GET", "/endpointslices")


def test_init_container_log_is_read(served: Any) -> None:
    _srv, finding, _ = served("migration-fails")
    init_logs = [e for e in finding.details["logs"] if e.get("init_container") == "migrate"]
    assert init_logs and any("Migration" in line for line in init_logs[0]["init"])
    assert "migrate" in likely(finding)


def test_a_native_sidecar_log_is_read_and_its_cause_named(served: Any) -> None:
    srv, finding, _ = served("native-sidecar-tls-proxy")
    side = [e for e in finding.details["logs"] if e.get("sidecar")]
    assert {e["container"] for e in side} == {"redis-tls-proxy"}
    assert any("unknown authority" in line for e in side for line in e["current"])
    assert finding.details["diagnosis"]["best"] == "tls-unknown-authority"
    assert finding.details["diagnosis_evidence"]["notes"] == []  # RBAC allowed every read
    assert all(r.method == "GET" for r in srv.requests)  # read-only


def test_a_healthy_sidecar_does_not_outrank_the_apps_own_cause(served: Any) -> None:
    _srv, finding, _ = served("sidecar-app-panic")
    assert any(e.get("container") == "istio-proxy" for e in finding.details["logs"])
    assert finding.details["diagnosis"]["best"] == "go-panic"


def test_weak_evidence_says_unknown(served: Any) -> None:
    _srv, finding, _ = served("healthy-unknown")
    assert likely(finding).startswith("Likely cause: unknown — checked ")
    assert finding.details["diagnosis"]["best"] == "unknown"


def test_rbac_refusal_of_a_diagnosis_read_is_a_note_not_an_error(served: Any) -> None:
    srv, _finding, _ = served("evicted-memory-pressure")
    rbac = (REPO / "deploy" / "rbac.yaml").read_text()
    srv.load_rbac(rbac.replace('    resources: ["nodes"]\n', '    resources: ["nodesx"]\n'))
    finding = investigate_again("evicted-memory-pressure", "run-evicted-2")
    assert finding.status == "ok"
    notes = finding.details["diagnosis_evidence"]["notes"]
    assert any("nodes" in n and "forbidden" in n.lower() for n in notes)
    assert finding.details["diagnosis"]["best"] == "evicted-node-pressure"


def test_rbac_without_listing_services_still_names_the_refusal(served: Any) -> None:
    # A cluster whose alertloop-read role predates `list services` (deploy/rbac.yaml not
    # re-applied after an upgrade): the ClusterIP cannot be tied to its Service, which is a
    # note; the refusal itself is still named, at medium confidence, and nothing fails.
    sid = "upstream-cluster-ip-no-endpoints"
    srv, finding, _ = served(sid)
    assert finding.details["diagnosis"]["best"] == "upstream-down"
    rbac = (REPO / "deploy" / "rbac.yaml").read_text()
    rule = '    resources: ["services"]\n    verbs: ["list"]\n'
    assert rule in rbac
    srv.load_rbac(rbac.replace(rule, '    resources: ["servicesx"]\n    verbs: ["list"]\n'))
    refused = investigate_again(sid, "run-clusterip-2")
    assert refused.status == "ok"
    notes = refused.details["diagnosis_evidence"]["notes"]
    assert any("10.8.0.42" in n and "forbidden" in n.lower() for n in notes), notes
    diag = refused.details["diagnosis"]
    assert (diag["best"], diag["confidence"]) == ("dependency-refused", "medium")


def test_a_host_network_pod_does_not_own_the_ip_it_shares_with_its_node(served: Any) -> None:
    sid = "upstream-pod-ip-crashlooping"
    srv, finding, _ = served(sid)
    assert finding.details["diagnosis"]["best"] == "upstream-down"
    items = yaml.safe_load((SCENARIOS / sid / "dump.yaml").read_text())["items"]
    engine = next(
        i["metadata"]
        for i in items
        if i["kind"] == "Pod" and i["metadata"]["name"].startswith("pricing-engine-")
    )
    srv.mutate(
        "pods",
        engine["namespace"],
        engine["name"],
        lambda pod: pod["spec"].__setitem__("hostNetwork", True),
    )
    again = investigate_again(sid, "run-podip-hostnet")
    assert again.details["diagnosis"]["best"] == "dependency-refused"


def test_a_healthy_workload_reads_replicas_until_one_has_lines(served: Any) -> None:
    """An error-rate alert, every pod ready: the first replicas' logs are empty, the errors are
    in another one's; the refused host is looked up in the cluster (0 ready endpoints)."""
    _srv, finding, _ = served("healthy-replicas-java-refused")
    read = finding.details["logs"]
    quiet = [e for e in read if not any(line.strip() for line in e["current"])]
    assert quiet, "a quiet replica was read, and did not stop the search"
    assert any("fx-rates" in line for e in read for line in e.get("current") or [])
    assert finding.details["diagnosis_evidence"]["upstreams"]["fx-rates"]["state"] == (
        "no-endpoints"
    )
    assert finding.details["diagnosis"]["best"] == "upstream-down"


def test_an_hpa_reading_its_metrics_outweighs_a_missing_apiservice(served: Any) -> None:
    _srv, finding, _ = served("hpa-max-apiservice-absent")
    assert finding.details["metrics_server_available"] is False
    assert finding.details["diagnosis"]["best"] == "hpa-at-max"
    assert "reads its metrics" in finding.summary
    assert "HPAs on cpu/memory cannot scale" not in finding.summary

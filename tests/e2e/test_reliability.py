"""At-least-once made safe, on the whole stack: functions under functions-framework, Pub/Sub push
from the emulator, the Firestore ledger, the sandbox Kubernetes API and the local Slack API."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.kube_api import KubeApiServer
from sandbox.kube_remediation_scenarios import remediation
from sandbox.monitoring import Monitoring, rule
from sandbox.procs import free_port
from sandbox.stack import (
    LOCAL_TOKEN,
    Stack,
    fire,
    kubeconfigs_of,
    rbac_sandbox,
    sandbox_identities,
    wait_for,
)
from shared.bus import Bus, Outgoing
from shared.ledger import Ledger
from shared.messages import NotifyMessage, StageMessage
from shared.model import utcnow
from tests.stack_logs import log_count, notify_caught_up, wait_for_log

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kube():
    # deploy/rbac.yaml enforced; each function reaches it as its own identity (the stack below)
    with rbac_sandbox(remediation(), ["shop"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, kube: KubeApiServer):
    env = {
        "ALERTLOOP_REMEDIATE_NAMESPACES": "shop",
        "ALERTLOOP_REMEDIATE_VERIFY_SECONDS": "1",
        "ALERTLOOP_K8S_TIMEOUT_SECONDS": "2",
        # Nothing listens here: Prometheus is unreachable for the whole module.
        "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
        "PROMETHEUS_TIMEOUT_SECONDS": "2",
    }
    identities = sandbox_identities(kubeconfigs_of(kube))
    with Stack(
        tmp_path_factory.mktemp("stack"), env_overrides=env, function_overrides=identities
    ) as st:
        yield st


@pytest.fixture
def ledger(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("ALERTLOOP_TOPIC_PREFIX", "alertloop-")
    from shared.config import settings

    settings.cache_clear()
    return Ledger()


def webhook(deployment: str, fingerprint: str, alertname: str = "ApplicationDown") -> dict:
    body = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
    alert = body["alerts"][0]
    alert["labels"] = {
        "alertname": alertname,
        "namespace": "shop",
        "deployment": deployment,
        "severity": "critical",
    }
    alert["annotations"] = {"summary": f"{alertname} {fingerprint}"}
    alert["fingerprint"] = fingerprint
    alert["startsAt"] = utcnow().isoformat()
    body["alerts"] = [alert]
    return body


def test_every_message_delivered_ten_times_changes_things_once(stack, kube, ledger) -> None:
    fp = f"{time.monotonic_ns():016x}"
    body = webhook("api", fp)

    def deliver(_: int) -> dict:
        resp = fire(stack.ingest_url, copy.deepcopy(body))
        assert resp.status_code == 200, resp.text  # durable first: no contention on ingest
        return resp.json()["results"][0]

    with ThreadPoolExecutor(10) as pool:  # an HA pair plus retries, all at once
        results = list(pool.map(deliver, range(10)))
    assert len({r["run_id"] for r in results}) == 1
    run_id = results[0]["run_id"]

    wait_for(lambda: stack.slack.find_parent(fp) is not None, 60, "parent")
    parent = stack.slack.find_parent(fp)
    wait_for(lambda: len(stack.slack.replies(parent.ts)) >= 2, 60, "both stage replies")

    # Pub/Sub redelivers every stage message too: ten more of each, as it may.
    run = ledger.get_run(run_id)
    duplicate = ("duplicate delivery acknowledged", f"run_id={run_id}")
    seen = {stage: log_count(stack, stage, *duplicate) for stage in ("investigate", "remediate")}
    bus = Bus()
    for _ in range(10):
        bus.publish(Outgoing.stage(StageMessage(run_id=run_id, stage="investigate")))
        bus.publish(Outgoing.stage(StageMessage(run_id=run_id, stage="remediate")))
        bus.publish(Outgoing.notify(NotifyMessage(id=run["incident_id"], run_id=run_id)))
    # Every stage redelivery has landed and been recognised (counted, not slept on).
    for stage, before in seen.items():
        wait_for_log(stack, stage, *duplicate, count=before + 10)
    notify_caught_up(stack, NotifyMessage(id=run["incident_id"]).ordering_key)

    assert ledger.idempotency_record(run_id, "investigate")["attempts"] == 1
    assert ledger.idempotency_record(run_id, "remediate")["attempts"] == 1
    assert len([p for p in stack.slack.parents() if fp in p.text]) == 1
    assert [r.text.split(":")[0] for r in stack.slack.replies(parent.ts)] == [
        "Investigation",
        "Remediation",
    ]
    patches = kube.requests_matching("PATCH", "/deployments/api")
    assert len(patches) == 1, [p.path for p in patches]
    assert "restartedAt" in json.dumps(patches[0].body)


def test_slack_errors_for_a_while_still_deliver_each_message_once(stack, ledger) -> None:
    fp = f"{time.monotonic_ns():016x}"
    stack.slack.faults = [500, 429, 500, 429, 500]
    resp = fire(stack.ingest_url, webhook("web", fp, "HighCPUUsage"))
    assert resp.status_code == 200
    run_id = resp.json()["results"][0]["run_id"]
    wait_for(lambda: stack.slack.find_parent(fp) is not None, 60, "parent despite 5xx/429")
    parent = stack.slack.find_parent(fp)
    wait_for(lambda: len(stack.slack.replies(parent.ts)) >= 2, 60, "replies")
    wait_for(lambda: not stack.slack.faults, 60, "every injected Slack error answered")
    incident = ledger.get_run(run_id)["incident_id"]
    notify_caught_up(stack, NotifyMessage(id=incident).ordering_key)  # retries included
    assert len([p for p in stack.slack.parents() if fp in p.text]) == 1
    assert len(stack.slack.replies(parent.ts)) == 2


def test_unreachable_cluster_and_prometheus_still_complete_and_notify(stack, kube, ledger) -> None:
    kube.stop()  # the cluster goes away (last test of the module: it stays away)
    fp = f"{time.monotonic_ns():016x}"
    resp = fire(stack.ingest_url, webhook("checkout", fp, "HighErrorRate"))
    run_id = resp.json()["results"][0]["run_id"]
    wait_for(lambda: stack.slack.find_parent(fp) is not None, 60, "parent")
    parent = stack.slack.find_parent(fp)
    wait_for(lambda: len(stack.slack.replies(parent.ts)) >= 2, 90, "replies")
    run = ledger.get_run(run_id)
    assert run["findings"]["investigate"]["status"] == "error"
    assert run["findings"]["remediate"]["status"] in ("error", "skipped")
    summary = run["findings"]["investigate"]["summary"]
    assert "Kubernetes" in summary or "cluster" in summary.lower()
    assert "Prometheus" in summary
    assert run["state"] == "remediated"  # the run completed; nothing hangs


def test_ingest_503_then_alertmanagers_own_retry_delivers(stack, tmp_path: Path) -> None:
    stack.delete_topic("intake")
    rules = [
        rule(
            "HighMemoryUsage",
            "sandbox_mem_ratio > 0.85",
            "warning",
            "retry-me",
            namespace="shop",
            deployment="cart",
        )
    ]
    with Monitoring(tmp_path, stack.ingest_url, LOCAL_TOKEN, rules) as mon:
        mon.exporter.set("sandbox_mem_ratio", 0.95, namespace="shop", deployment="cart")
        log = stack.functions["ingest"].log_path
        wait_for(lambda: "ingest unavailable" in log.read_text(), 60, "a 503 to Alertmanager")
        assert stack.slack.find_parent("retry-me") is None  # nothing half-done
        stack.create_topic("intake")
        wait_for(
            lambda: stack.slack.find_parent("retry-me") is not None,
            90,
            "Alertmanager's retry delivered",
        )
        parent = stack.slack.find_parent("retry-me")
        wait_for(lambda: len(stack.slack.replies(parent.ts)) >= 1, 60, "investigation reply")
        assert len([p for p in stack.slack.parents() if "retry-me" in p.text]) == 1

"""Issue 20, `approve` autonomy mode on the emulators, the local Slack server and the sandbox
Kubernetes API: remediation proposes a restart instead of writing; the Approve click (single use,
from an allowed approver, audited) sends the run back to the remediate stage, which re-runs every
guardrail on the workload as it is now and writes exactly the approved change once, with
automatic=False, so the outcome check and earned autonomy learn from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer
from sandbox.slack_api import SlackApiServer
from shared.bus import Bus
from shared.clusters.clients import clear_caches
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.ledger import Ledger
from shared.messages import StageMessage, parse_stage
from shared.model import Alert, Finding, utcnow
from shared.notifier import Notifier
from shared.outcomes.sweep import Probes, sweep_outcomes
from shared.policy import cached_policy
from shared.remediation import remediate
from shared.run import Run
from tests import clicks
from tests.clicks import APPROVER, act, buttons, click
from tests.conftest import reset_settings
from tests.pipeline import cloud_event
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration

slack = clicks.slack
client = clicks.client

DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/shop/deployments/api"


@pytest.fixture
def world(
    remediation_cluster: KubeApiServer,
    topics: Any,
    slack: SlackApiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[KubeApiServer]:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "0")
    monkeypatch.setenv("ALERTLOOP_VERIFY_AFTER_SECONDS", "0")
    reset_settings()
    clear_caches()  # cluster clients are cached per cluster: this test's server
    yield remediation_cluster
    clear_caches()


def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, **guardrails: int) -> None:
    entry = {
        "stages": ["investigate", "remediate"],
        "remediation": "restart",
        "autonomy": {"restart": {"default": mode}},
        "guardrails": {"cooldown_minutes": 0, "max_attempts": 5, **guardrails},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": {"ApplicationDown": entry}}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset_settings()


def fire() -> tuple[Alert, Run]:
    alert = make_alert(
        "ApplicationDown", labels={"namespace": "shop", "deployment": "api"}, starts_at=utcnow()
    )
    cfg = settings()
    d = dispatch_alert(intake(alert), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())
    run = Ledger().load_run(d.run_id)
    assert run is not None
    return alert, run


def resolve(alert: Alert) -> None:
    cfg = settings()
    gone = alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())


def remediate_stage(run: Run) -> Finding:
    """The remediate stage as the pipeline runs it: the finding recorded, the thread updated."""
    f = remediate(run)
    Ledger().record_finding(run.run_id, f)
    Notifier().project_incident(run.incident_id)
    return f


def writes(kube: KubeApiServer) -> list[str]:
    """Writes the API server applied (a 409 on a moving rollout is re-planned and resent)."""
    return [
        r.path
        for r in kube.requests
        if r.method in ("PATCH", "PUT", "POST", "DELETE") and r.status < 400
    ]


def no_write_sent(kube: KubeApiServer) -> None:
    assert [r.path for r in kube.requests if r.method in ("PATCH", "PUT", "POST", "DELETE")] == []


def remediate_messages(topics: Any) -> list[Any]:
    return [m for m in topics.pull("remediate", timeout=1.5) if parse_stage(m.message.data)]


def approve(client: Any, slack: SlackApiServer, topics: Any, approval_id: str) -> Any:
    """An allowed approver clicks Approve; the act worker decides; the remediate message."""
    assert click(client, slack, "approve_rollback", APPROVER, approval_id).status_code == 200
    (decided,) = act(topics)
    assert decided is not None and decided.result == "done", decided
    (message,) = remediate_messages(topics)
    return message


def run_stage(message: Any) -> None:
    """Deliver the message to the remediate function, as its push subscription would."""
    from functions.remediate import _runner

    _runner(cloud_event(message))


def executed(ledger: Ledger, run: Run) -> Finding:
    loaded = ledger.load_run(run.run_id)
    assert loaded is not None
    return [f for f in loaded.findings if f.stage == "remediate"][-1]


def proposal_reply(slack: SlackApiServer) -> Any:
    return next(m for m in slack.messages if "Proposed (not executed)" in json.dumps(m.blocks))


def test_approve_mode_proposes_and_the_approval_restarts_exactly_once(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    proposed = remediate_stage(run)
    assert proposed.details["action"] == "propose_restart", proposed.summary
    no_write_sent(world)
    aid = proposed.details["approval_id"]
    reply = proposal_reply(slack)
    assert buttons(reply.blocks) == ["approve_rollback", "reject_rollback"]
    assert "Approve restart" in json.dumps(reply.blocks)

    message = approve(client, slack, topics, aid)
    stage_msg: StageMessage = parse_stage(message.message.data)
    assert (stage_msg.stage, stage_msg.approval_id, stage_msg.run_id) == (
        "remediate",
        aid,
        run.run_id,
    )
    no_write_sent(world)  # a click never writes: the stage does
    run_stage(message)
    assert writes(world) == [DEPLOYMENT_PATH]
    ledger = Ledger()
    done = executed(ledger, run)
    assert done.details["action"] == "restart" and done.details["outcome"] == "applied"
    assert f"Approved by <@{APPROVER}>" in done.summary
    assert "approval_id" not in done.details  # its report carries no buttons
    audit = ledger.get_audit(done.details["audit_id"]) or {}
    assert audit["approved_by"] == APPROVER and audit["approval_id"] == aid
    assert audit["outcome"] == "applied"
    check = ledger.get_outcome(done.details["audit_id"]) or {}
    assert check["action"] == "restart" and check["automatic"] is False
    assert (ledger.get_approval(aid) or {})["status"] == "executed"
    # The plan went on already: the side trip forwards to notify only.
    assert topics.pull("budget", timeout=0.5) == []

    # A redelivery of the message, and the approval used again: nothing more is written.
    run_stage(message)
    again = remediate(run.model_copy(update={"approval_id": aid}))
    assert again.details["refused"]["guard"] == "single_use", again.summary
    assert writes(world) == [DEPLOYMENT_PATH]
    refusal = ledger.get_audit(again.details["audit_id"]) or {}
    assert refusal["outcome"] == "refused" and refusal["approval_id"] == aid


def test_a_second_click_decides_nothing(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    aid = remediate_stage(run).details["approval_id"]
    # A double click: both reach interact before the buttons are replaced.
    assert click(client, slack, "approve_rollback", APPROVER, aid).status_code == 200
    assert click(client, slack, "approve_rollback", APPROVER, aid).status_code == 200
    first, second = act(topics)
    assert first is not None and first.result == "done"
    assert second is not None and second.result == "refused" and "single use" in second.message
    (message,) = remediate_messages(topics)
    run_stage(message)
    assert writes(world) == [DEPLOYMENT_PATH]


def test_a_workload_that_turned_database_class_is_not_restarted(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    aid = remediate_stage(run).details["approval_id"]

    def mount_a_claim(obj: dict[str, Any]) -> None:
        pod = obj["spec"]["template"]["spec"]
        pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}}]

    world.mutate("deployments", "shop", "api", mount_a_claim)
    run_stage(approve(client, slack, topics, aid))
    no_write_sent(world)
    done = executed(Ledger(), run)
    guard = done.details["refused"]["guard"]
    assert guard.startswith("database_class"), done.summary
    audit = Ledger().get_audit(done.details["audit_id"]) or {}
    assert audit["outcome"] == "refused" and audit["guard"] == guard
    assert (Ledger().get_approval(aid) or {})["status"] == "refused"


def test_a_take_over_after_the_proposal_refuses_the_approved_restart(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    aid = remediate_stage(run).details["approval_id"]
    who = {"by": "UONCALL", "at": utcnow(), "expires_at": utcnow() + timedelta(hours=4)}
    Ledger().take_over_incident(run.incident_id, who)
    run_stage(approve(client, slack, topics, aid))
    no_write_sent(world)
    done = executed(Ledger(), run)
    assert done.details["refused"]["guard"] == "taken_over", done.summary
    assert (Ledger().get_approval(aid) or {})["status"] == "refused"
    audit = Ledger().get_audit(done.details["audit_id"]) or {}
    assert audit["outcome"] == "refused" and audit["guard"] == "taken_over"


def test_a_changed_plan_is_refused_not_written(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone restarted the deployment after the alert began: the fresh plan is no restart,
    so the approved one is not sent (audited)."""
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    aid = remediate_stage(run).details["approval_id"]

    def restarted(obj: dict[str, Any]) -> None:
        meta = obj["spec"]["template"].setdefault("metadata", {})
        stamp = (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = stamp

    world.mutate("deployments", "shop", "api", restarted)
    run_stage(approve(client, slack, topics, aid))
    no_write_sent(world)
    done = executed(Ledger(), run)
    assert done.details["refused"]["guard"] == "approval_changed", done.summary
    audit = Ledger().get_audit(done.details["audit_id"]) or {}
    assert audit["outcome"] == "refused" and "calls for no restart" in audit["reason"]
    assert (Ledger().get_approval(aid) or {})["status"] == "refused"


def test_earned_mode_is_promoted_by_approved_fixed_restarts_then_acts_alone(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "earned", promote_after=2)
    cfg = settings()
    for round_ in range(2):
        alert, run = fire()
        proposed = remediate_stage(run)
        assert proposed.details["action"] == "propose_restart", (round_, proposed.summary)
        assert proposed.details["autonomy"]["mode"] == "approve"
        run_stage(approve(client, slack, topics, proposed.details["approval_id"]))
        done = executed(Ledger(), run)
        assert done.details["outcome"] == "applied", done.summary
        resolve(alert)
        report = sweep_outcomes(Ledger(), Bus(), cached_policy(cfg.policy_file), Probes(), utcnow())
        assert report.checked == [done.details["audit_id"]]
        outcome = Ledger().get_outcome(done.details["audit_id"]) or {}
        assert outcome["outcome"] == "fixed" and outcome["automatic"] is False
    assert len(writes(world)) == 2
    [record] = Ledger().autonomy_records()
    assert record["state"]["mode"] == "auto", record

    _, run = fire()
    alone = remediate(run)
    assert alone.details["action"] == "restart" and alone.details["outcome"] == "applied"
    assert alone.details["autonomy"]["mode"] == "auto"
    assert "approval_id" not in alone.details
    assert len(writes(world)) == 3
    check = Ledger().get_outcome(alone.details["audit_id"]) or {}
    assert check["automatic"] is True


# ---- scale: the approved count, and only it ----------------------------------------------------


def scale_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {
        "stages": ["investigate", "remediate"],
        "remediation": "scale",
        "autonomy": {"scale_deployment": {"default": "approve"}},
        "guardrails": {"cooldown_minutes": 0, "max_attempts": 5},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": {"HighCPUUsage": entry}}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset_settings()


def fire_cpu() -> Run:
    alert = make_alert(
        "HighCPUUsage", labels={"namespace": "shop", "deployment": "api"}, starts_at=utcnow()
    )
    cfg = settings()
    d = dispatch_alert(intake(alert), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())
    run = Ledger().load_run(d.run_id)
    assert run is not None
    return run


def opt_in(kube: KubeApiServer) -> None:
    """api has no HPA: scaling it needs the opt-in annotation."""

    def change(obj: dict[str, Any]) -> None:
        obj["metadata"].setdefault("annotations", {})["alertloop.io/remediation"] = "enabled"

    kube.mutate("deployments", "shop", "api", change)


def test_an_approved_scale_writes_the_approved_count(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scale_policy(tmp_path, monkeypatch)
    opt_in(world)
    run = fire_cpu()
    proposed = remediate_stage(run)
    assert proposed.details["action"] == "propose_scale_deployment", proposed.summary
    no_write_sent(world)
    approved_to = proposed.details["proposal"]["to"]
    assert "Approve scale-up" in json.dumps(proposal_reply(slack).blocks)
    run_stage(approve(client, slack, topics, proposed.details["approval_id"]))
    assert writes(world) == [DEPLOYMENT_PATH + "/scale"]
    done = executed(Ledger(), run)
    assert done.details["action"] == "scale_deployment" and done.details["outcome"] == "applied"
    assert done.details["after"] == approved_to
    live = world.get_object("deployments", "shop", "api") or {}
    assert live["spec"]["replicas"] == approved_to["replicas"]


def test_a_deployment_scaled_since_the_proposal_is_not_scaled_again(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scale_policy(tmp_path, monkeypatch)
    opt_in(world)
    run = fire_cpu()
    proposed = remediate_stage(run)
    approved_to = proposed.details["proposal"]["to"]

    def scaled(obj: dict[str, Any]) -> None:
        obj["spec"]["replicas"] = obj["spec"]["replicas"] + 1

    world.mutate("deployments", "shop", "api", scaled)
    run_stage(approve(client, slack, topics, proposed.details["approval_id"]))
    no_write_sent(world)
    done = executed(Ledger(), run)
    assert done.details["refused"]["guard"] == "approval_changed", done.summary
    audit = Ledger().get_audit(done.details["audit_id"]) or {}
    assert str(approved_to) in audit["reason"] and audit["outcome"] == "refused"


# ---- the other answers: rejected, unknown, expired -----------------------------------------------


def test_a_rejected_restart_is_reported_and_nothing_is_written(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    aid = remediate_stage(run).details["approval_id"]
    assert click(client, slack, "reject_rollback", APPROVER, aid).status_code == 200
    (decided,) = act(topics)
    assert decided is not None and decided.result == "done"
    (message,) = remediate_messages(topics)
    run_stage(message)
    no_write_sent(world)
    done = executed(Ledger(), run)
    assert f"rejected by <@{APPROVER}>" in done.summary and done.details["action"] == "none"
    assert (Ledger().get_approval(aid) or {})["status"] == "rejected"


def test_an_unknown_or_expired_approval_is_refused_and_audited(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy(tmp_path, monkeypatch, "approve")
    _, run = fire()
    ledger = Ledger()
    unknown = remediate(run.model_copy(update={"approval_id": "doesnotexist"}))
    assert unknown.details["refused"]["guard"] == "approval", unknown.summary
    assert (ledger.get_audit(unknown.details["audit_id"]) or {})["outcome"] == "refused"

    aid = remediate_stage(run).details["approval_id"]
    message = approve(client, slack, topics, aid)
    ledger.set_approval(aid, {"expires_at": utcnow() - timedelta(hours=1)})
    run_stage(message)
    no_write_sent(world)
    done = executed(ledger, run)
    assert done.details["refused"]["guard"] == "expired", done.summary
    assert (ledger.get_approval(aid) or {})["status"] == "approved"  # never claimed


def test_a_409_on_the_approved_write_is_re_planned_and_sent_once(
    world: KubeApiServer,
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The re-plan after a conflict is still the approved change: sent once, approver named."""
    scale_policy(tmp_path, monkeypatch)
    opt_in(world)
    run = fire_cpu()
    proposed = remediate_stage(run)
    approved_to = proposed.details["proposal"]["to"]
    message = approve(client, slack, topics, proposed.details["approval_id"])
    world.add_fault(Fault("conflict", resource="deployments/scale", verb="patch", times=1))
    run_stage(message)
    assert writes(world) == [DEPLOYMENT_PATH + "/scale"]
    done = executed(Ledger(), run)
    assert done.details["outcome"] == "applied" and done.details["after"] == approved_to
    assert "409 Conflict on the first patch" in done.summary
    assert f"Approved by <@{APPROVER}>" in done.summary
    assert done.details["autonomy"]["mode"] == "approve"

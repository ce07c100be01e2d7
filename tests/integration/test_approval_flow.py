"""Rollback proposals decided from Slack, on the emulators and the local Slack server: a signed
click on Approve/Reject goes through interact to the act worker, which decides exactly once
(single use, expiring, from an allowed approver), audits every decision and refusal, sends an
approval to the rollback stage, and replaces the buttons with the decision."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.slack_api import SlackApiServer
from shared.audit import Recorder
from shared.ledger import Ledger
from shared.messages import StageMessage, parse_stage
from shared.model import Finding
from shared.notifier import Notifier
from shared.run import Run
from shared.slack.simulated_clicks import block_actions_payload, signed_request
from tests import clicks
from tests.clicks import (
    APPROVER,
    INTRUDER,
    ONCALL,
    SECRET,
    act,
    buttons,
    click,
)
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

# The clicking fixtures (the Slack app set up, interact's test client), found here by name.
slack = clicks.slack
client = clicks.client


def make_run(ledger: Ledger) -> Run:
    """Path A after investigation: the run remediation proposed a rollback for."""
    alert = make_alert(
        "HighErrorRate",
        severity="critical",
        labels={"namespace": "shop", "deployment": "checkout"},
        starts_at=datetime.now(UTC) - timedelta(minutes=3),
    )
    finding = Finding(stage="investigate", status="ok", summary="deploy of revision 4 is the cause")
    return seed_run(ledger, alert, plan=["investigate", "remediate"], findings=[finding])


def propose(ledger: Ledger, run: Run, ttl: timedelta = timedelta(minutes=60)) -> str:
    """The proposal as remediation records it, and its reply (with the buttons) in Slack."""
    recorder = Recorder(
        ledger, "alertloop-remediate", run.run_id, "HighErrorRate", incident_id=run.incident_id
    )
    approval_id, _, created = recorder.propose(
        action="rollback",
        target={"kind": "Deployment", "namespace": "shop", "name": "checkout", "cluster": ""},
        target_str="deployment/shop/checkout",
        details={"from_revision": 4, "to_revision": 3, "to_replicaset": "checkout-abc"},
        ttl=ttl,
        now=datetime.now(UTC) - (timedelta(minutes=61) if ttl.total_seconds() < 0 else timedelta()),
    )
    assert created
    ledger.record_finding(
        run.run_id,
        Finding(
            stage="remediate",
            status="ok",
            summary="Proposed (not executed): roll checkout back to revision 3",
            details={"action": "propose_rollback", "approval_id": approval_id},
        ),
    )
    Notifier().project_incident(run.incident_id)
    return approval_id


def approval(ledger: Ledger, approval_id: str) -> dict[str, Any]:
    return ledger.get_approval(approval_id) or {}


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    return [s.to_dict() for s in ledger._col("audit").stream()]


def rollback_messages(topics: Any) -> list[StageMessage]:
    return [parse_stage(m.message.data) for m in topics.pull("rollback", timeout=1.5)]


def proposal_message(slack: SlackApiServer) -> Any:
    return next(m for m in slack.messages if m.text.startswith("Remediation"))


def decide(client: Any, slack: SlackApiServer, topics: Any, aid: str, user: str, action: str):
    answer = click(client, slack, action, user, aid).get_json()
    assert answer["outcome"] in ("queued", "refused"), answer
    (outcome,) = act(topics)
    assert outcome is not None
    return outcome


def test_approve_publishes_once_and_is_single_use(
    client: Any, slack: SlackApiServer, topics: Any
) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    reply = proposal_message(slack)
    assert buttons(reply.blocks) == ["approve_rollback", "reject_rollback"]

    # A double click: both requests reach interact before the message changes.
    assert click(client, slack, "approve_rollback", APPROVER, aid).status_code == 200
    assert click(client, slack, "approve_rollback", APPROVER, aid).status_code == 200
    first, second = act(topics)
    assert first is not None and first.result == "done", first
    assert second is not None and second.result == "refused"
    assert "single use" in second.message
    doc = approval(ledger, aid)
    assert doc["status"] == "approved" and doc["approved_by"] == APPROVER
    assert isinstance(doc["approved_at"], datetime)
    (msg,) = rollback_messages(topics)
    # A pointer: the run and the approval; the rollback stage loads the run from the ledger.
    assert msg.stage == "rollback" and msg.run_id == run.run_id
    assert msg.approval_id == aid and not msg.force
    # The buttons became the decision, who made it and when.
    reply = proposal_message(slack)
    assert buttons(reply.blocks) == [] and reply.updates == 1
    assert f"Approved by <@{APPROVER}>" in json.dumps(reply.blocks)
    stored = ledger.get_run(run.run_id) or {}
    assert stored["approval_decision"]["outcome"] == "approved"
    assert stored["approval_decision"]["by"] == APPROVER
    # The clicked button is gone: Slack cannot send that click any more.
    with pytest.raises(LookupError):
        slack.click_request("reject_rollback", ONCALL, aid)
    said = [r.text for r in slack.responses_for(APPROVER)]
    assert "approved the rollback" in said[0] and "single use" in said[1]

    outcomes = sorted(a["outcome"] for a in audits(ledger))
    assert outcomes == ["approved", "refused"]
    decided = next(a for a in audits(ledger) if a["outcome"] == "approved")
    assert decided["slack_user"] == APPROVER and decided["approval_id"] == aid
    assert decided["target"] == "deployment/shop/checkout" and decided["run_id"] == run.run_id
    assert {a["incident_id"] for a in audits(ledger)} == {run.incident_id}


def test_concurrent_workers_approve_once(client: Any, slack: SlackApiServer, topics: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    for _ in range(4):
        click(client, slack, "approve_rollback", ONCALL, aid)  # in the on-call group
    from shared.interaction.request import parse_message
    from shared.interaction.worker import Worker

    messages = topics.pull("interactions", timeout=1.5)
    assert len(messages) == 4
    results: list[str] = []

    def go(m: Any) -> None:
        # A worker whose transaction stays contended on the emulator fails closed and raises,
        # so Pub/Sub redelivers the message: handle it again, as the redelivery would.
        from shared.ledger.base import LedgerError

        for _ in range(5):
            try:
                out = Worker().handle(parse_message(bytes(m.message.data)))
            except LedgerError:
                continue
            results.append(out.result if out else "none")
            return
        results.append("still contended")

    threads = [threading.Thread(target=go, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["done", "refused", "refused", "refused"]
    assert len(rollback_messages(topics)) == 1


def test_expired_proposal_is_refused(client: Any, slack: SlackApiServer, topics: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run, ttl=timedelta(minutes=-1))
    out = decide(client, slack, topics, aid, APPROVER, "approve_rollback")
    assert out.result == "refused" and "expired" in out.message
    assert approval(ledger, aid)["status"] == "expired"
    assert rollback_messages(topics) == []
    assert [a["guard"] for a in audits(ledger)] == ["expired"]


def test_a_person_not_allowed_to_approve_is_refused_and_nothing_changes(
    client: Any, slack: SlackApiServer, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    answer = click(client, slack, "approve_rollback", INTRUDER, aid).get_json()
    assert answer["outcome"] == "refused"
    assert "may not approve or reject rollbacks" in answer["text"]
    (out,) = act(topics)
    assert out is not None and out.result == "refused"
    assert approval(ledger, aid)["status"] == "proposed"
    assert buttons(proposal_message(slack).blocks) == ["approve_rollback", "reject_rollback"]
    assert rollback_messages(topics) == []
    (audit,) = audits(ledger)
    assert audit["outcome"] == "refused" and audit["slack_user"] == INTRUDER
    assert audit["guard"] == "not_approver" and audit["approval_id"] == aid


def test_nobody_may_approve_when_no_approver_is_configured(
    client: Any, slack: SlackApiServer, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import reset_settings

    monkeypatch.setenv("ALERTLOOP_APPROVERS", "")
    monkeypatch.delenv("ALERTLOOP_SLACK_PERMISSIONS")
    reset_settings()
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    out = decide(client, slack, topics, aid, APPROVER, "approve_rollback")
    assert out.result == "refused" and "allowed: nobody" in out.message
    assert approval(ledger, aid)["status"] == "proposed"


def test_reject_is_final_and_reported(client: Any, slack: SlackApiServer, topics: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    out = decide(client, slack, topics, aid, APPROVER, "reject_rollback")
    assert out.result == "done" and "nothing will change" in out.message
    doc = approval(ledger, aid)
    assert doc["status"] == "rejected" and doc["rejected_by"] == APPROVER
    # The rejection travels to the rollback stage only so that it reports in the thread.
    (msg,) = rollback_messages(topics)
    assert msg.approval_id == aid and msg.run_id == run.run_id and msg.stage == "rollback"
    assert f"Rejected by <@{APPROVER}>" in json.dumps(proposal_message(slack).blocks)
    assert (ledger.get_run(run.run_id) or {})["approval_decision"]["outcome"] == "rejected"


def test_a_click_on_a_proposal_that_does_not_exist_is_refused(
    client: Any, slack: SlackApiServer, topics: Any
) -> None:
    # A message Slack still shows, whose proposal is gone from the ledger.
    button = {"type": "button", "action_id": "approve_rollback", "value": "doesnotexist"}
    message = {"type": "message", "ts": "1.000001", "text": "x", "blocks": []}
    payload = block_actions_payload(
        user_id=APPROVER,
        user_name="approver",
        channel="C1",
        message=message,
        block_id="approval:doesnotexist",
        button=button,
        response_url=slack.mint_response_url("C1", "1.000001", APPROVER),
    )
    body, headers = signed_request(payload, SECRET)
    assert client.post("/", data=body, headers=headers).status_code == 200
    (out,) = act(topics)
    assert out is not None and out.result == "refused" and "No rollback proposal" in out.message
    assert rollback_messages(topics) == []

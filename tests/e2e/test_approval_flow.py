"""Path A to the end, on the whole stack: HighErrorRate after a recent deploy -> a rollback
proposal in the Slack thread with Approve/Reject buttons -> a click, signed as Slack signs it, on
interact -> the act worker approves -> the rollback function rolls checkout back (one PATCH) and
reports in the thread; the proposal's buttons become the decision."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.kube_api import KubeApiServer, function_user
from sandbox.kube_remediation_scenarios import remediation
from sandbox.slack_api import SlackMessage
from sandbox.stack import Stack, fire, kubeconfigs_of, rbac_sandbox, sandbox_identities, wait_for
from shared.model import utcnow
from tests.stack_logs import log_count, wait_for_log

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-slack-signing-secret"
APPROVER = "UE2EAPPROVER"


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
        "SLACK_SIGNING_SECRET": SECRET,
        "ALERTLOOP_APPROVERS": APPROVER,
        "ALERTLOOP_ROLLBACK_VERIFY_SECONDS": "3",
        "ALERTLOOP_ROLLBACK_VERIFY_INTERVAL_SECONDS": "0.2",
    }
    identities = sandbox_identities(kubeconfigs_of(kube))
    with Stack(
        tmp_path_factory.mktemp("stack"), env_overrides=env, function_overrides=identities
    ) as st:
        yield st


def webhook(fingerprint: str) -> dict[str, Any]:
    body = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
    alert = body["alerts"][0]
    alert["labels"] = {
        "alertname": "HighErrorRate",
        "namespace": "shop",
        "deployment": "checkout",
        "severity": "critical",
    }
    alert["annotations"] = {"summary": f"checkout errors {fingerprint}"}
    alert["fingerprint"] = fingerprint
    alert["startsAt"] = utcnow().isoformat()
    body["alerts"] = [alert]
    return body


def buttons(msg: SlackMessage) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in msg.blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("action_id") in ("approve_rollback", "reject_rollback")
    }


def click(stack: Stack, approval_id: str, user: str = APPROVER) -> requests.Response:
    """A person clicks Approve in Slack: the local Slack server signs and sends it."""
    assert stack.slack is not None
    return stack.slack.click("approve_rollback", user, approval_id, user_name="oncall")


def test_approved_rollback_reaches_the_cluster_once_and_the_thread(
    stack: Stack, kube: KubeApiServer
) -> None:
    t0 = time.monotonic()
    fp = f"approve{time.monotonic_ns()}"
    resp = fire(stack.ingest_url, webhook(fp))
    assert resp.status_code == 200, resp.text
    assert stack.slack is not None
    slack = stack.slack
    wait_for(lambda: slack.find_parent(fp) is not None, 60, "Slack parent")
    parent = slack.find_parent(fp)
    assert parent is not None

    def proposal() -> SlackMessage | None:
        return next((r for r in slack.replies(parent.ts) if buttons(r)), None)

    wait_for(lambda: proposal() is not None, 60, "the remediation reply with buttons")
    reply = proposal()
    assert reply is not None and reply.text.startswith("Remediation")
    ids = buttons(reply)
    assert ids["approve_rollback"] == ids["reject_rollback"]
    patches_before = len(kube.requests_matching("PATCH", "/deployments/checkout"))
    assert patches_before == 0  # a proposal changes nothing

    # Someone not on the approver list: refused, nothing decided.
    refused = click(stack, ids["approve_rollback"], user="UINTRUDER")
    assert refused.status_code == 200 and refused.json()["outcome"] == "refused"
    wait_for(lambda: bool(slack.responses_for("UINTRUDER")), 30, "the refusal reply")
    assert "may not approve" in slack.responses_for("UINTRUDER")[0].text

    body, headers = slack.click_request("approve_rollback", APPROVER, ids["approve_rollback"])
    approved = requests.post(stack.interact_url, data=body, headers=headers, timeout=30)
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "queued", approved.json()

    def result() -> SlackMessage | None:
        return next((r for r in slack.replies(parent.ts) if "Rolled back" in r.text), None)

    wait_for(lambda: result() is not None, 60, "the rollback reply in the thread")
    done = result()
    assert done is not None
    assert "Rolled back and healthy" in done.text, done.text
    assert not buttons(done)
    patches = kube.requests_matching("PATCH", "/deployments/checkout")
    assert len(patches) == 1
    # each function as its own identity, and each needed nothing its role does not grant
    assert patches[0].user == function_user("rollback")
    assert {r.user for r in kube.requests} == {function_user(f) for f in ("investigate",
                                               "remediate", "rollback")}  # fmt: skip
    assert [r.path for r in kube.requests if r.status in (401, 403)] == []
    ops = {op["path"]: op["value"] for op in patches[0].json}
    images = [c["image"] for c in ops["/spec/template"]["spec"]["containers"]]
    assert images == ["registry.example.com/shop/checkout:1.4.2"]
    # The proposal's buttons became the decision, who made it and when.
    wait_for(lambda: not buttons(reply), 30, "the proposal's buttons replaced")
    assert f"Approved by <@{APPROVER}>" in json.dumps(reply.blocks)
    assert any("approved the rollback" in r.text for r in slack.responses_for(APPROVER))

    # The same signed request again (a replay inside the 5-minute window) is the same click:
    # queued, recognised by its id, not acted on again.
    said = len(slack.responses_for(APPROVER))
    handled = log_count(stack, "act", "interaction already handled")
    again = requests.post(stack.interact_url, data=body, headers=headers, timeout=30)
    assert again.json()["outcome"] == "queued"
    # The worker has taken the replay and recognised it (not a fixed sleep: it did happen).
    wait_for_log(stack, "act", "interaction already handled", count=handled + 1)
    assert len(slack.responses_for(APPROVER)) == said
    assert len(kube.requests_matching("PATCH", "/deployments/checkout")) == 1
    assert sum("Rolled back" in r.text for r in slack.replies(parent.ts)) == 1
    print(f"alert -> proposal -> approval -> rollback reply in {time.monotonic() - t0:.1f}s")

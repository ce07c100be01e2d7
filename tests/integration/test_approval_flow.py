"""The approve function on the Firestore and Pub/Sub emulators: signed Slack clicks decide a
rollback proposal exactly once, refusals change nothing, and every decision is audited."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.approval.slack_request import form_body, sign
from shared.envelope import Finding
from shared.ledger import Ledger
from shared.messages import StageMessage, parse_stage
from shared.remediation.records import Recorder
from shared.run import Run
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "integration-signing-secret"
APPROVER = "UAPPROVER"


@pytest.fixture
def env_ready(topics: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("ALERTLOOP_APPROVERS", f"{APPROVER},UOTHER")
    return topics


@pytest.fixture
def client(env_ready: Any) -> Any:
    return create_app("approve", str(ROOT / "main.py"), "http").test_client()


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
    """The proposal as remediation records it (action "rollback", bound to target/revision)."""
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
    return approval_id


def click(client: Any, approval_id: str, user: str = APPROVER, action: str = "approve_rollback"):
    body = form_body(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": "C1"},
            "container": {"message_ts": "1.2"},
            "actions": [{"action_id": action, "value": approval_id}],
        }
    )
    resp = client.post("/", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 200, resp.data
    data = resp.get_json()
    assert data["response_type"] == "ephemeral"
    return data


def approval(ledger: Ledger, approval_id: str) -> dict[str, Any]:
    return ledger.get_approval(approval_id) or {}


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    return [s.to_dict() for s in ledger._col("audit").stream()]


def rollback_messages(topics: Any) -> list[StageMessage]:
    return [parse_stage(m.message.data) for m in topics.pull("rollback", timeout=1.5)]


def test_approve_publishes_once_and_is_single_use(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)

    first = click(client, aid)
    assert first["outcome"] == "approved", first
    doc = approval(ledger, aid)
    assert doc["status"] == "approved" and doc["approved_by"] == APPROVER
    assert isinstance(doc["approved_at"], datetime)
    msgs = rollback_messages(env_ready)
    assert len(msgs) == 1
    msg = msgs[0]
    # A pointer: the run and the approval; the rollback stage loads the run from the ledger.
    assert msg.stage == "rollback" and msg.run_id == run.run_id
    assert msg.approval_id == aid and not msg.force
    stored = ledger.load_run(run.run_id)
    assert stored is not None and [f.stage for f in stored.findings] == ["investigate"]
    assert stored.next_stage("rollback") is None  # the runner forwards to notify only

    second = click(client, aid)  # a second click, or a replay of the same request
    assert second["outcome"] == "refused" and second["reason"] == "status"
    assert "single use" in second["text"]
    other = click(client, aid, user="UOTHER", action="reject_rollback")
    assert other["outcome"] == "refused"
    assert approval(ledger, aid)["status"] == "approved"
    assert rollback_messages(env_ready) == []

    outcomes = sorted(a["outcome"] for a in audits(ledger))
    assert outcomes == ["approved", "refused", "refused"]
    decided = next(a for a in audits(ledger) if a["outcome"] == "approved")
    assert decided["slack_user"] == APPROVER and decided["approval_id"] == aid
    assert decided["target"] == "deployment/shop/checkout" and decided["run_id"] == run.run_id
    assert {a["incident_id"] for a in audits(ledger)} == {run.incident_id}


def test_concurrent_double_click_approves_once(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    app = create_app("approve", str(ROOT / "main.py"), "http")
    results: list[str] = []

    def go() -> None:
        results.append(click(app.test_client(), aid)["outcome"])

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["approved", "refused", "refused", "refused"]
    assert len(rollback_messages(env_ready)) == 1


def test_expired_proposal_is_refused(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run, ttl=timedelta(minutes=-1))
    out = click(client, aid)
    assert out["outcome"] == "refused" and out["reason"] == "expired"
    assert approval(ledger, aid)["status"] == "expired"
    assert rollback_messages(env_ready) == []
    assert [a["guard"] for a in audits(ledger)] == ["expired"]


def test_non_approver_is_refused_and_nothing_changes(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    out = click(client, aid, user="UINTRUDER")
    assert out["outcome"] == "refused" and out["reason"] == "not_approver"
    assert "not an allowed approver" in out["text"]
    assert approval(ledger, aid)["status"] == "proposed"
    assert rollback_messages(env_ready) == []
    (audit,) = audits(ledger)
    assert audit["outcome"] == "refused" and audit["slack_user"] == "UINTRUDER"


def test_empty_approver_list_refuses_everyone(
    client: Any, env_ready: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_APPROVERS", "")
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    out = click(client, aid)
    assert out["reason"] == "no_approvers" and "ALERTLOOP_APPROVERS is empty" in out["text"]
    assert approval(ledger, aid)["status"] == "proposed"


def test_reject_is_final_and_reported(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    run = make_run(ledger)
    aid = propose(ledger, run)
    out = click(client, aid, action="reject_rollback")
    assert out["outcome"] == "rejected" and "nothing will change" in out["text"]
    doc = approval(ledger, aid)
    assert doc["status"] == "rejected" and doc["rejected_by"] == APPROVER
    # The rejection travels to the rollback stage only so that it reports in the thread.
    (msg,) = rollback_messages(env_ready)
    assert msg.approval_id == aid and msg.run_id == run.run_id and msg.stage == "rollback"
    assert click(client, aid)["reason"] == "status"
    assert approval(ledger, aid)["status"] == "rejected"


def test_unknown_approval_is_refused(client: Any, env_ready: Any) -> None:
    out = click(client, "doesnotexist")
    assert out["outcome"] == "refused" and out["reason"] == "unknown"
    assert rollback_messages(env_ready) == []

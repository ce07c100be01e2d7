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
from shared.envelope import Alert, Envelope, Finding
from shared.ledger import Ledger
from shared.remediation.records import Recorder

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


def make_run(ledger: Ledger, run_id: str) -> Envelope:
    env = Envelope(
        run_id=run_id,
        source="alertmanager",
        alert=Alert(
            name="HighErrorRate",
            severity="critical",
            labels={"namespace": "shop", "deployment": "checkout"},
            starts_at=datetime.now(UTC) - timedelta(minutes=3),
            fingerprint=f"fp-{run_id}",
        ),
        alert_type="HighErrorRate",
        plan=["investigate", "remediate"],
    )
    ledger.register_alert(env)
    ledger.record_finding(
        run_id,
        Finding(stage="investigate", status="ok", summary="deploy of revision 4 is the cause"),
    )
    return env


def propose(ledger: Ledger, run_id: str, ttl: timedelta = timedelta(minutes=60)) -> str:
    recorder = Recorder(ledger, "alertloop-remediate", run_id, "HighErrorRate")
    approval_id, _, created = recorder.propose(
        action="propose_rollback",
        target={"kind": "Deployment", "namespace": "shop", "name": "checkout"},
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
    return ledger._col("approvals").document(approval_id).get().to_dict() or {}


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    return [s.to_dict() for s in ledger._col("audit").stream()]


def rollback_messages(topics: Any) -> list[Envelope]:
    return [Envelope.from_bytes(m.message.data) for m in topics.pull("rollback", timeout=1.5)]


def test_approve_publishes_once_and_is_single_use(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    make_run(ledger, "run-a")
    aid = propose(ledger, "run-a")

    first = click(client, aid)
    assert first["outcome"] == "approved", first
    doc = approval(ledger, aid)
    assert doc["status"] == "approved" and doc["approved_by"] == APPROVER
    assert isinstance(doc["approved_at"], datetime)
    msgs = rollback_messages(env_ready)
    assert len(msgs) == 1
    env = msgs[0]
    assert env.approval_id == aid and env.run_id == "run-a"
    assert env.plan == ["investigate", "remediate", "rollback"]
    assert env.next_stage("rollback") is None  # the runner forwards to notify only
    assert [f.stage for f in env.findings] == ["investigate"]

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
    assert decided["target"] == "deployment/shop/checkout" and decided["run_id"] == "run-a"


def test_concurrent_double_click_approves_once(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    make_run(ledger, "run-b")
    aid = propose(ledger, "run-b")
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
    make_run(ledger, "run-c")
    aid = propose(ledger, "run-c", ttl=timedelta(minutes=-1))
    out = click(client, aid)
    assert out["outcome"] == "refused" and out["reason"] == "expired"
    assert approval(ledger, aid)["status"] == "expired"
    assert rollback_messages(env_ready) == []
    assert [a["guard"] for a in audits(ledger)] == ["expired"]


def test_non_approver_is_refused_and_nothing_changes(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    make_run(ledger, "run-d")
    aid = propose(ledger, "run-d")
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
    make_run(ledger, "run-e")
    aid = propose(ledger, "run-e")
    out = click(client, aid)
    assert out["reason"] == "no_approvers" and "ALERTLOOP_APPROVERS is empty" in out["text"]
    assert approval(ledger, aid)["status"] == "proposed"


def test_reject_is_final_and_reported(client: Any, env_ready: Any) -> None:
    ledger = Ledger()
    make_run(ledger, "run-f")
    aid = propose(ledger, "run-f")
    out = click(client, aid, action="reject_rollback")
    assert out["outcome"] == "rejected" and "nothing will change" in out["text"]
    doc = approval(ledger, aid)
    assert doc["status"] == "rejected" and doc["rejected_by"] == APPROVER
    # The rejection travels to the rollback stage only so that it reports in the thread.
    (env,) = rollback_messages(env_ready)
    assert env.approval_id == aid
    assert click(client, aid)["reason"] == "status"
    assert approval(ledger, aid)["status"] == "rejected"


def test_unknown_approval_is_refused(client: Any, env_ready: Any) -> None:
    out = click(client, "doesnotexist")
    assert out["outcome"] == "refused" and out["reason"] == "unknown"
    assert rollback_messages(env_ready) == []

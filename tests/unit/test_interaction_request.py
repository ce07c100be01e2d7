"""Slack request verification, block_actions parsing and interact's refusals (no servers)."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.approval.settings import approval_settings, parse_approvers
from shared.interaction.request import PayloadError, parse_interaction
from shared.model import Finding
from shared.slack.blocks import blocks_as_text
from shared.slack.incident import render_finding
from shared.slack.signing import (
    MAX_AGE_SECONDS,
    SignatureError,
    form_body,
    sign,
    verify_signature,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def payload(
    action_id: str = "approve_rollback", value: str = "abc123", user: str = "U111"
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "1.000002"},
        "response_url": "https://hooks.slack.com/actions/x",
        "trigger_id": "1.2.abc",
        "actions": [
            {"type": "button", "action_id": action_id, "value": value, "block_id": "b"},
        ],
    }


# ---------------------------------------------------------------- signatures


def test_valid_signature_passes() -> None:
    body = form_body(payload())
    verify_signature(body, sign(body, SECRET), SECRET)


def test_header_names_are_case_insensitive() -> None:
    body = form_body(payload())
    headers = {k.lower(): v for k, v in sign(body, SECRET).items()}
    verify_signature(body, headers, SECRET)


def test_wrong_secret_fails() -> None:
    body = form_body(payload())
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(body, sign(body, "another-secret"), SECRET)


def test_altered_body_fails() -> None:
    body = form_body(payload())
    headers = sign(body, SECRET)
    tampered = form_body(payload(user="U999"))
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(tampered, headers, SECRET)


@pytest.mark.parametrize("age", [MAX_AGE_SECONDS + 1, 3600, -(MAX_AGE_SECONDS + 5)])
def test_stale_or_future_timestamp_fails_even_when_correctly_signed(age: int) -> None:
    body = form_body(payload())
    headers = sign(body, SECRET, timestamp=int(time.time()) - age)
    with pytest.raises(SignatureError, match="stale or replayed"):
        verify_signature(body, headers, SECRET)


def test_timestamp_just_inside_the_window_passes() -> None:
    body = form_body(payload())
    now = 1_800_000_000.0
    headers = sign(body, SECRET, timestamp=int(now) - MAX_AGE_SECONDS + 1)
    verify_signature(body, headers, SECRET, clock=lambda: now)


def test_replayed_body_with_a_fresh_timestamp_fails() -> None:
    """A captured request replayed later: keep its signature, bump the timestamp -> mismatch;
    keep its timestamp -> stale. Replays inside the window are stopped by single use."""
    body = form_body(payload())
    old_ts = int(time.time()) - 3600
    captured = sign(body, SECRET, timestamp=old_ts)
    with pytest.raises(SignatureError, match="stale"):
        verify_signature(body, captured, SECRET)
    bumped = {**captured, "X-Slack-Request-Timestamp": str(int(time.time()))}
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(body, bumped, SECRET)


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({}, "missing"),
        ({"X-Slack-Signature": "v0=abc"}, "missing"),
        ({"X-Slack-Signature": "v0=abc", "X-Slack-Request-Timestamp": "yesterday"}, "Unix"),
    ],
)
def test_missing_or_malformed_headers_fail(headers: dict[str, str], match: str) -> None:
    with pytest.raises(SignatureError, match=match):
        verify_signature(b"payload=x", headers, SECRET)


def test_no_signing_secret_refuses_everything() -> None:
    body = form_body(payload())
    with pytest.raises(SignatureError, match="SLACK_SIGNING_SECRET"):
        verify_signature(body, sign(body, SECRET), "")


# ---------------------------------------------------------------- payloads


def test_parse_approve_and_reject() -> None:
    a = parse_interaction(form_body(payload()))
    assert a is not None
    assert (a.action_id, a.value, a.user_id, a.user_name) == (
        "approve_rollback",
        "abc123",
        "U111",
        "alice",
    )
    assert a.channel == "C1" and a.message_ts == "1.000002"
    assert a.response_url == "https://hooks.slack.com/actions/x"
    assert a.spec.permission == "approve" and a.spec.target == "approval"
    r = parse_interaction(form_body(payload("reject_rollback")))
    assert r is not None and r.action_id == "reject_rollback" and r.spec.permission == "approve"


@pytest.mark.parametrize(
    ("action_id", "permission"),
    [
        ("acknowledge", "acknowledge"),
        ("silence_1h", "silence"),
        ("silence_24h", "silence"),
        ("unsilence", "silence"),
        ("take_over", "take_over"),
        ("resume_automation", "take_over"),
        ("verdict_noise", "verdict"),
        ("verdict_manual", "verdict"),
    ],
)
def test_parse_incident_buttons(action_id: str, permission: str) -> None:
    it = parse_interaction(form_body(payload(action_id, value="i0123456789abcdef012")))
    assert it is not None and it.spec.permission == permission and it.spec.target == "incident"
    assert it.value == "i0123456789abcdef012"


def test_each_click_has_its_own_id_and_a_message_keeps_it() -> None:
    first = parse_interaction(form_body(payload("acknowledge")))
    again = parse_interaction(form_body({**payload("acknowledge"), "trigger_id": "9.9.xyz"}))
    assert first is not None and again is not None and first.id != again.id
    from shared.interaction.request import parse_message

    assert parse_message(first.to_bytes()) == first


def test_parse_skips_foreign_buttons_and_ignores_link_buttons() -> None:
    p = payload()
    p["actions"].insert(0, {"action_id": "link_runboo", "value": "x"})
    parsed = parse_interaction(form_body(p))
    assert parsed is not None and parsed.value == "abc123"
    links = {**payload(), "actions": [{"action_id": "link_runboo", "type": "button"}]}
    assert parse_interaction(form_body(links)) is None


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "no `payload`"),
        (b"text=hello", "no `payload`"),
        (urllib.parse.urlencode({"payload": "{nope"}).encode(), "not valid JSON"),
        (urllib.parse.urlencode({"payload": "[1]"}).encode(), "not a JSON object"),
        (form_body({**payload(), "type": "view_submission"}), "unsupported interaction"),
        (form_body({**payload(), "user": {}}), "no user"),
        (form_body({**payload(), "user": {"id": "u<script>"}}), "not a Slack user id"),
        (form_body({**payload(), "actions": "x"}), "no actions"),
        (form_body(payload(action_id="something_else")), "no alertloop action"),
        (form_body(payload(value="")), "no valid incident or approval id"),
        (form_body(payload(value="a/b")), "no valid incident or approval id"),
        (b"payload=\xff\xfe", "UTF-8"),
    ],
)
def test_bad_payloads(body: bytes, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        parse_interaction(body)


# ---------------------------------------------------------------- approvers


def test_parse_approvers() -> None:
    assert parse_approvers("") == frozenset()
    assert parse_approvers(" U1, U2 ,,W3 U4") == {"U1", "U2", "W3", "U4"}


def test_settings_never_show_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("ALERTLOOP_APPROVERS", "U1")
    cfg = approval_settings()
    assert cfg.approvers == {"U1"} and cfg.signing_secret == SECRET
    assert SECRET not in repr(cfg)


# ---------------------------------------------------------------- rendering


def test_proposal_finding_gets_the_buttons() -> None:
    f = Finding(
        stage="remediate",
        status="ok",
        summary="Proposed (not executed)",
        details={"action": "propose_rollback", "approval_id": "abc123"},
    )
    blocks = render_finding(f)
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    approve, reject = actions[0]["elements"]
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        "approve_rollback",
        "abc123",
        "primary",
    )
    assert approve["text"]["text"] == "Approve rollback"
    assert (reject["action_id"], reject["value"], reject["text"]["text"]) == (
        "reject_rollback",
        "abc123",
        "Reject",
    )
    assert "[Approve rollback]" in blocks_as_text(blocks)


def test_other_findings_get_no_buttons() -> None:
    plain = Finding(stage="remediate", status="ok", summary="restarted", details={})
    assert [b["type"] for b in render_finding(plain)] == ["section"]
    # An executed change (its approval is a summary, not `approval_id`) and a proposal of an
    # action nothing executes: no buttons.
    done = Finding(
        stage="remediate",
        status="ok",
        summary="restarted",
        details={"action": "restart", "approval": {"id": "x", "status": "executed"}},
    )
    assert [b["type"] for b in render_finding(done)] == ["section"]
    other = Finding(
        stage="remediate",
        status="ok",
        summary="proposed",
        details={"action": "propose_delete", "approval_id": "x"},
    )
    assert [b["type"] for b in render_finding(other)] == ["section"]


def test_a_proposed_change_gets_the_approval_buttons() -> None:
    """Approved restarts and scale changes are executed (shared.remediation.approved): their
    proposals carry the same buttons as a rollback's, named for the change."""
    for action, label in [
        ("propose_restart", "Approve restart"),
        ("propose_scale_deployment", "Approve scale-up"),
        ("propose_raise_hpa_max", "Approve HPA max raise"),
        ("propose_raise_keda_max", "Approve KEDA max raise"),
    ]:
        f = Finding(
            stage="remediate",
            status="ok",
            summary="proposed",
            details={"action": action, "approval_id": "x"},
        )
        blocks = render_finding(f)
        assert [b["type"] for b in blocks] == ["section", "actions"], action
        approve, reject = blocks[1]["elements"]
        assert (approve["action_id"], approve["value"], approve["text"]["text"]) == (
            "approve_rollback",
            "x",
            label,
        )
        assert (reject["action_id"], reject["value"]) == ("reject_rollback", "x")


# ---------------------------------------------------------------- the HTTP function's refusals


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("ALERTLOOP_APPROVERS", "U111")
    monkeypatch.setenv("ALERTLOOP_MAX_BODY_BYTES", "4096")
    # A dead emulator address: anything that tried to record or publish would fail the test.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    app = create_app("interact", str(ROOT / "main.py"), "http")
    return app.test_client()


def test_http_get_is_405(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"


def test_http_json_is_415(client) -> None:
    body = json.dumps(payload()).encode()
    resp = client.post(
        "/", data=body, headers={**sign(body, SECRET), "Content-Type": "application/json"}
    )
    assert resp.status_code == 415


def test_http_oversized_is_413(client) -> None:
    body = form_body({**payload(), "pad": "x" * 5000})
    resp = client.post("/", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 413


def test_http_bad_signature_is_401(client) -> None:
    body = form_body(payload())
    resp = client.post("/", data=body, headers=sign(body, "wrong"))
    assert resp.status_code == 401
    assert "not a verified Slack request" in resp.get_json()["error"]


def test_http_stale_is_401(client) -> None:
    body = form_body(payload())
    resp = client.post("/", data=body, headers=sign(body, SECRET, int(time.time()) - 600))
    assert resp.status_code == 401


def test_http_signed_but_unknown_payload_is_400(client) -> None:
    body = form_body({**payload(), "type": "shortcut"})
    resp = client.post("/", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 400
    assert "unsupported interaction" in resp.get_json()["error"]


def test_http_link_button_is_acknowledged_without_publishing(client) -> None:
    # Slack posts a block_actions request for URL buttons too; nothing is queued for them.
    body = form_body({**payload(), "actions": [{"action_id": "link_runboo", "type": "button"}]})
    resp = client.post("/", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "ignored"

"""approve (HTTP): Slack's interactivity endpoint for the rollback proposal buttons.

verify the Slack signature -> parse the block_actions payload -> decide (single use, audited)
-> publish the run to the `rollback` topic. It never acts on the cluster.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from shared.approval import (
    PayloadError,
    SignatureError,
    approval_settings,
    decide,
    parse_action,
    publish_decision,
    verify_signature,
)
from shared.bus import Bus
from shared.config import settings
from shared.ledger import Ledger, LedgerError
from shared.log import event, get_logger
from shared.responses import json_error, json_reply

log = get_logger("alertloop.approve")

FORM = "application/x-www-form-urlencoded"

_ledger: Ledger | None = None
_bus: Bus | None = None


def _clients() -> tuple[Ledger, Bus]:
    # Created once per instance, on first use: cold start stays cheap.
    global _ledger, _bus
    if _ledger is None:
        _ledger = Ledger()
    if _bus is None:
        _bus = Bus()
    return _ledger, _bus


def _ephemeral(text: str, **fields: Any) -> flask.Response:
    # Slack shows `text` to the clicking user only; the extra fields are for logs and tests.
    return json_reply(
        200, {"response_type": "ephemeral", "replace_original": False, "text": text, **fields}
    )


@functions_framework.http
def approve(request: flask.Request) -> flask.Response:
    cfg = settings()
    acfg = approval_settings()
    if request.method != "POST":
        return json_error(405, "use POST", Allow="POST")
    limit = cfg.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return json_error(413, f"body is larger than {limit} bytes")
    if request.mimetype != FORM:
        return json_error(415, f"Content-Type must be {FORM}, got {request.mimetype!r}")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return json_error(413, f"body is larger than {limit} bytes")
    try:
        verify_signature(raw, dict(request.headers.items()), acfg.signing_secret)
    except SignatureError as exc:
        event(log, "rejected: bad Slack signature", 30, remote=request.remote_addr, reason=str(exc))
        return json_error(401, f"not a verified Slack request: {exc}")
    try:
        action = parse_action(raw)
    except PayloadError as exc:
        event(log, "rejected: bad interactivity payload", 30, reason=str(exc))
        return json_error(400, str(exc))
    try:
        ledger, bus = _clients()
        decision = decide(action, ledger, acfg)
        decision = publish_decision(decision, action, ledger, bus)
    except LedgerError as exc:
        event(log, "approval store unavailable", 50, reason=str(exc))
        # Slack does not retry interactions: say so to the user, who can click again.
        return _ephemeral(
            f"alertloop could not record the decision (Firestore: {exc}); nothing was done — "
            "try again in a moment.",
            outcome="error",
        )
    return _ephemeral(
        decision.message,
        outcome=decision.outcome,
        reason=decision.reason,
        approval_id=action.approval_id,
    )

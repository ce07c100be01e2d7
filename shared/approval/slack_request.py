"""Slack interactivity requests: signature verification and the block_actions payload.

Pure functions (no clients, no I/O), unit tested without servers.

Slack signs `v0:<timestamp>:<raw body>` with the app's signing secret (HMAC-SHA256) and sends
it in X-Slack-Signature, the timestamp in X-Slack-Request-Timestamp. A request is accepted only
when the signature matches *and* the timestamp is within five minutes of now: a captured request
replayed later fails the age check, and changing the timestamp breaks the signature. Replays
inside the window are stopped by the approval itself (single use).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_AGE_SECONDS = 300
APPROVE_ACTION = "approve_rollback"
REJECT_ACTION = "reject_rollback"
ACTIONS = (APPROVE_ACTION, REJECT_ACTION)


class SignatureError(Exception):
    """The request is not provably from Slack (401)."""


class PayloadError(ValueError):
    """The request is from Slack but not an action alertloop understands (400)."""


@dataclass(frozen=True)
class Action:
    action_id: str  # approve_rollback | reject_rollback
    approval_id: str
    user_id: str
    user_name: str = ""
    channel: str = ""
    message_ts: str = ""
    response_url: str = ""

    @property
    def approve(self) -> bool:
        return self.action_id == APPROVE_ACTION


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    signing_secret: str,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Raise SignatureError unless the request carries a valid, fresh Slack signature."""
    from slack_sdk.signature import Clock, SignatureVerifier

    if not signing_secret:
        raise SignatureError(
            "SLACK_SIGNING_SECRET is not set: alertloop cannot verify Slack requests and "
            "accepts none"
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    signature = lowered.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise SignatureError("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a Unix time") from None
    now = clock()
    if abs(now - sent) > MAX_AGE_SECONDS:
        raise SignatureError(
            f"request timestamp is {int(abs(now - sent))} s away from now (limit "
            f"{MAX_AGE_SECONDS} s): stale or replayed"
        )

    class _Clock(Clock):
        def now(self) -> float:
            return now

    verifier = SignatureVerifier(signing_secret, clock=_Clock())
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise SignatureError("signature does not match (wrong signing secret or altered body)")


def sign(body: bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send for `body` (for tests and local tools)."""
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": str(sig),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def form_body(payload: dict[str, Any]) -> bytes:
    """A form-encoded interactivity body, as Slack posts it."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def parse_action(body: bytes) -> Action:
    """The first alertloop button in a block_actions payload (form field `payload`)."""
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    raw = form.get("payload")
    if not raw:
        raise PayloadError("no `payload` form field (expected a Slack interactivity request)")
    try:
        payload = json.loads(raw[0])
    except (json.JSONDecodeError, RecursionError):
        raise PayloadError("`payload` is not valid JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("`payload` is not a JSON object")
    if payload.get("type") != "block_actions":
        raise PayloadError(f"unsupported interaction type {str(payload.get('type'))[:40]!r}")
    user = payload.get("user")
    user_id = str(user.get("id", "")) if isinstance(user, dict) else ""
    if not user_id:
        raise PayloadError("the payload names no user")
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise PayloadError("the payload has no actions")
    for item in actions:
        if not isinstance(item, dict) or item.get("action_id") not in ACTIONS:
            continue
        approval_id = str(item.get("value") or "")
        if not approval_id or len(approval_id) > 64 or "/" in approval_id:
            raise PayloadError("the button carries no valid approval id")
        channel = payload.get("channel")
        message = payload.get("container") or payload.get("message") or {}
        return Action(
            action_id=str(item["action_id"]),
            approval_id=approval_id,
            user_id=user_id,
            user_name=str((user or {}).get("username") or (user or {}).get("name") or ""),
            channel=str(channel.get("id", "")) if isinstance(channel, dict) else "",
            message_ts=str(message.get("message_ts") or message.get("ts") or "")
            if isinstance(message, dict)
            else "",
            response_url=str(payload.get("response_url") or ""),
        )
    raise PayloadError(f"no {' or '.join(ACTIONS)} action in the payload")

"""Slack interactivity requests: signature verification (and signing, for local tools).

Pure functions (no clients, no I/O), unit tested without servers. The block_actions payload is
parsed by shared.interaction.request; shared.slack.simulated_clicks builds signed ones.

Slack signs `v0:<timestamp>:<raw body>` with the app's signing secret (HMAC-SHA256) and sends
it in X-Slack-Signature, the timestamp in X-Slack-Request-Timestamp. A request is accepted only
when the signature matches *and* the timestamp is within five minutes of now: a captured request
replayed later fails the age check, and changing the timestamp breaks the signature. Replays
inside the window are stopped by what they act on (an approval is single use, an
acknowledgement or a take-over is made once, a click is acted on once per interaction id).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

MAX_AGE_SECONDS = 300


class SignatureError(Exception):
    """The request is not provably from Slack (401)."""


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

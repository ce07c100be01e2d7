"""A click as Slack sends it: the block_actions payload for a button on a message, form-encoded
and signed with the app's signing secret (v0 HMAC). Used where there is no Slack UI: the local
Slack server, `alertloop click`, tests and the bench. Never used by the deployed functions.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from shared.slack.signing import form_body, sign


def find_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """(block_id, button) of the button on a message, as a person would find it."""
    for block in blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            return str(block.get("block_id") or ""), element
    return None


def block_actions_payload(
    *,
    user_id: str,
    user_name: str,
    channel: str,
    message: dict[str, Any],
    block_id: str,
    button: dict[str, Any],
    response_url: str,
    team_id: str = "T0ALERTLOOP",
    api_app_id: str = "A0ALERTLOOP",
) -> dict[str, Any]:
    """The payload Slack posts to the interactivity Request URL when `button` is clicked."""
    action_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message.get("ts", ""),
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "alerts"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": button.get("type", "button"),
                "action_id": button.get("action_id"),
                "block_id": block_id,
                "text": button.get("text"),
                "value": button.get("value"),
                **({"style": button["style"]} if button.get("style") else {}),
                "action_ts": action_ts,
            }
        ],
    }


def signed_request(
    payload: dict[str, Any], signing_secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) exactly as Slack sends them."""
    body = form_body(payload)
    return body, sign(body, signing_secret, timestamp)

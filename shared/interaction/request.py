"""A Slack click as alertloop carries it: parsed from the signed block_actions request by
`interact`, published to the `interactions` topic, acted on by the `act` worker.

Pure (no clients, no I/O). The signature is checked before parsing
(shared.slack.signing.verify_signature); the payload is then taken apart defensively:
only our own buttons are accepted, ids are validated before they name a document.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.interaction.actions import ACTIONS, ActionSpec
from shared.messages import BadMessage
from shared.model import SCHEMA_VERSION, utcnow

# Incident ids ("i" + hex), approval ids (hex), and older run-id incidents: never a path.
_TARGET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")
# Buttons that only open a URL (Runbook, Alert source, Run log, Console): Slack still posts a
# block_actions request for them, which is acknowledged and otherwise ignored.
LINK_PREFIX = "link_"


class PayloadError(ValueError):
    """The request is from Slack but not an action alertloop understands (400)."""


class Interaction(BaseModel):
    """One click, everything the worker needs (the worker reloads the rest from the ledger)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = SCHEMA_VERSION
    id: str  # stable per click: a redelivery is recognised, a second click is not the first
    action_id: str
    value: str  # incident id or approval id
    user_id: str
    user_name: str = ""
    team_id: str = ""
    enterprise_id: str = ""
    channel: str = ""
    message_ts: str = ""
    response_url: str = ""
    action_ts: str = ""
    received_at: datetime = Field(default_factory=utcnow)
    # Decided by `interact` from configuration alone: "" (allowed), "not_permitted" (final:
    # the worker only audits it), or "unchecked" (a user group could not be resolved in time:
    # the worker decides).
    permission: str = ""
    permission_reason: str = ""

    @property
    def spec(self) -> ActionSpec:
        return ACTIONS[self.action_id]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def parse_message(raw: bytes) -> Interaction:
    try:
        interaction = Interaction.model_validate_json(raw)
    except (ValidationError, ValueError) as exc:
        raise BadMessage(f"not an interaction: {str(exc)[:500]}") from exc
    if interaction.action_id not in ACTIONS:
        raise BadMessage(f"unknown action {interaction.action_id[:60]!r}")
    return interaction


def _payload(body: bytes) -> dict[str, Any]:
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    raw = form.get("payload")
    if not raw:
        raise PayloadError("no `payload` form field (expected a Slack interactivity request)")
    try:
        payload = json.loads(raw[0])
        # A lone surrogate (\\ud800) decodes but can be neither published nor hashed.
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        # ValueError: JSONDecodeError, Python's 4300-digit int limit, UnicodeEncodeError.
        raise PayloadError("`payload` is not valid JSON (UTF-8)") from None
    if not isinstance(payload, dict):
        raise PayloadError("`payload` is not a JSON object")
    if payload.get("type") != "block_actions":
        raise PayloadError(f"unsupported interaction type {str(payload.get('type'))[:40]!r}")
    return payload


def _str(obj: Any, key: str) -> str:
    return str(obj.get(key) or "") if isinstance(obj, dict) else ""


def _action_id(action: Any) -> str:
    """The action's action_id; "" for anything that is not an action with a string id."""
    if not isinstance(action, dict):
        return ""
    action_id = action.get("action_id")
    return action_id if isinstance(action_id, str) else ""


def parse_interaction(body: bytes, received_at: datetime | None = None) -> Interaction | None:
    """The alertloop button a block_actions request reports; None for a link button."""
    payload = _payload(body)
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not user_id:
        raise PayloadError("the payload names no user")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise PayloadError("the payload's user id is not a Slack user id")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadError("the payload has no actions")
    ids = [_action_id(a) for a in actions]
    ours = [a for a, action_id in zip(actions, ids, strict=True) if action_id in ACTIONS]
    if not ours:
        if all(action_id.startswith(LINK_PREFIX) for action_id in ids):
            return None
        raise PayloadError("no alertloop action in the payload")
    item = ours[0]
    value = item.get("value")
    if not isinstance(value, str) or not _TARGET_ID.fullmatch(value):
        raise PayloadError("the button carries no valid incident or approval id")
    container = payload.get("container") or payload.get("message") or {}
    channel = _str(payload.get("channel"), "id") or _str(container, "channel_id")
    action_ts = _str(item, "action_ts")
    trigger = _str(payload, "trigger_id")
    # Slack gives every click its own trigger_id and action_ts; the id is made once, here, so a
    # redelivered message keeps it and a second click gets a new one.
    at = received_at or utcnow()
    click = trigger or action_ts or at.isoformat()
    identity = "|".join([click, user_id, str(item["action_id"]), value])
    return Interaction(
        id="x" + hashlib.sha256(identity.encode()).hexdigest()[:23],
        action_id=str(item["action_id"]),
        value=value,
        user_id=user_id,
        user_name=(_str(user, "username") or _str(user, "name"))[:80],
        # The workspace the click came from (team.id), not the user's home team: a Slack
        # Connect guest clicks in our workspace; an install elsewhere has another team.id.
        team_id=_str(payload.get("team"), "id") or _str(user, "team_id"),
        enterprise_id=_str(payload.get("enterprise"), "id")
        or _str(payload.get("team"), "enterprise_id"),
        channel=channel,
        message_ts=_str(container, "message_ts") or _str(container, "ts"),
        response_url=_str(payload, "response_url"),
        action_ts=action_ts,
        received_at=at,
    )

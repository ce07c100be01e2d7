"""The interact function (HTTP): the Slack app's one interactivity Request URL, answering
inside Slack's 3 s.

verify the v0 signature (5-minute window) -> parse the block_actions payload -> check the
clicking user's permission from configuration -> publish the click to the `interactions` topic
-> answer 200. It never touches Firestore or the cluster: the `act` worker does the work and
replies through response_url. A refused click is published too (marked), so the worker audits it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import flask

from shared import envvars
from shared.config import settings
from shared.lazy import lazy
from shared.log import event, get_logger
from shared.responses import json_error, json_reply
from shared.slack.signing import SignatureError, verify_signature

if TYPE_CHECKING:
    from shared.bus import Bus
    from shared.interaction.permissions import SlackGroups

log = get_logger("alertloop.interact")

FORM = "application/x-www-form-urlencoded"
TOPIC = "interactions"
# What interact may spend on a user group lookup; past it, the worker decides.
GROUP_LOOKUP_SECONDS = 1.0


def _new_bus(_: Any) -> Bus:
    from shared.bus import Bus

    return Bus()


def _new_groups(_: Any) -> SlackGroups:
    from shared.interaction.permissions import SlackGroups
    from shared.slack.client import web_client

    return SlackGroups(lambda timeout: web_client(settings(), timeout))


class Clients:
    """interact's clients, built on first use; assign None to drop one (a fresh instance)."""

    bus = lazy(_new_bus)
    groups = lazy(_new_groups)


def _answer(text: str, outcome: str, **fields: Any) -> flask.Response:
    # Slack ignores the body of a block_actions acknowledgement; it is for logs, tests and
    # `alertloop click`. People read the worker's response_url reply and the updated message.
    return json_reply(
        200,
        {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": text,
            "outcome": outcome,
            **fields,
        },
    )


def interact(request: flask.Request, clients: Clients) -> flask.Response:
    from shared.interaction.permissions import permissions
    from shared.interaction.request import PayloadError, parse_interaction
    from shared.interaction.teams import expected_teams, team_problem

    cfg = settings()
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
        raw.decode("utf-8")  # what Slack signs; slack_sdk's verifier would raise on anything else
    except UnicodeDecodeError:
        return json_error(400, "body is not UTF-8")
    secret = _signing_secret()
    try:
        verify_signature(raw, dict(request.headers.items()), secret)
    except SignatureError as exc:
        event(log, "rejected: bad Slack signature", 30, remote=request.remote_addr, reason=str(exc))
        return json_error(401, f"not a verified Slack request: {exc}")
    try:
        interaction = parse_interaction(raw)
    except PayloadError as exc:
        event(log, "rejected: bad interactivity payload", 30, reason=str(exc))
        return json_error(400, str(exc))
    if interaction is None:
        return _answer("", "ignored")  # a link button: Slack opened the URL
    foreign = team_problem(interaction.team_id, interaction.enterprise_id, expected_teams())
    if foreign is not None:
        event(log, "rejected: click from another Slack workspace", 30, team=interaction.team_id)
        return json_error(403, f"{foreign}. Nothing was done.")
    spec = interaction.spec
    check = permissions().check(spec.permission, interaction.user_id, _group_lookup(clients))
    verdict = {"allowed": "", "denied": "not_permitted", "unknown": "unchecked"}[check.outcome]
    interaction = interaction.model_copy(
        update={"permission": verdict, "permission_reason": check.reason}
    )
    if not _publish(interaction, clients.bus):
        return _answer(
            "alertloop could not queue your click (Pub/Sub unavailable); nothing was done — "
            "click again in a moment.",
            "error",
        )
    if check.outcome == "denied":
        return _answer(f"{check.reason}. Nothing was done.", "refused", interaction=interaction.id)
    return _answer(f"Received: alertloop will {spec.title}.", "queued", interaction=interaction.id)


def _group_lookup(clients: Clients) -> Callable[[str], frozenset[str]]:
    """Group members within GROUP_LOOKUP_SECONDS for *all* the groups of a grant together: a
    lookup starts only while budget is left (the last one may overrun by its own timeout);
    past it the group is undecided and the worker decides."""
    from shared.interaction.permissions import GroupLookupError

    deadline = time.monotonic() + GROUP_LOOKUP_SECONDS

    def members(group: str) -> frozenset[str]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise GroupLookupError(f"no time left within interact's {GROUP_LOOKUP_SECONDS} s")
        return frozenset(clients.groups.members(group, timeout=left))

    return members


def _signing_secret() -> str:
    return envvars.read("SLACK_SIGNING_SECRET")


def _publish(interaction: Any, bus: Bus) -> bool:
    from shared.bus import Outgoing, PublishError

    message = Outgoing(
        TOPIC,
        interaction.to_bytes(),
        {"action": interaction.action_id, "user": interaction.user_id, "id": interaction.id},
    )
    try:
        bus.publish(message)
    except PublishError as exc:
        event(log, "cannot queue an interaction", 50, action=interaction.action_id, error=str(exc))
        _tell(interaction.response_url, str(exc))
        return False
    return True


def _tell(response_url: str, error: str) -> None:
    """The click was not queued: say so through response_url (Slack ignores our body)."""
    from shared.slack.response_url import respond

    respond(
        settings(),
        response_url,
        f"alertloop could not queue your click ({error[:200]}); nothing was done — click again.",
        timeout=1.0,
    )

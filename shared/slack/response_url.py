"""Talking back to Slack about a click: the `response_url` reply.

A response_url comes inside the signed payload, so it is Slack's; it is still checked before
alertloop posts to it (https://hooks.slack.com/, or the host of SLACK_API_URL for the local Slack
server): a mistake elsewhere must not turn the worker into a request forwarder.
"""

from __future__ import annotations

import urllib.parse

from shared.config import Settings
from shared.log import event, get_logger

log = get_logger(__name__)
SLACK_HOOKS_HOST = "hooks.slack.com"


def allowed_response_url(url: str, slack_api_url: str) -> bool:
    try:
        target = urllib.parse.urlsplit(url)
        api = urllib.parse.urlsplit(slack_api_url)
    except ValueError:
        return False
    if target.scheme == "https" and target.hostname == SLACK_HOOKS_HOST:
        return True
    # The local Slack API server (make run, tests) serves response_url on its own origin.
    return bool(
        target.scheme in ("http", "https")
        and target.scheme == api.scheme
        and target.netloc == api.netloc
        and target.netloc
    )


def respond(
    cfg: Settings,
    response_url: str,
    text: str,
    *,
    replace_original: bool = False,
    timeout: float = 10.0,
) -> bool:
    """An ephemeral reply to the person who clicked; False when it could not be sent."""
    if not response_url:
        return False
    if not allowed_response_url(response_url, cfg.slack_api_url):
        event(log, "response_url refused: not a Slack URL", 40, url=response_url[:200])
        return False
    from slack_sdk.webhook import WebhookClient

    try:
        resp = WebhookClient(response_url, timeout=int(max(1, timeout))).send(
            text=text,
            response_type="ephemeral",
            replace_original=replace_original,
        )
    except Exception as exc:  # a reply is best effort: the ledger and the parent hold the truth
        event(log, "response_url reply failed", 40, error=str(exc))
        return False
    if resp.status_code != 200:
        event(log, "response_url reply refused", 40, status=resp.status_code, body=resp.body[:200])
        return False
    return True

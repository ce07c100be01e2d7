"""The Slack Web API: slack_sdk's WebClient, built in one place; the poster notify and act use
(with retry handlers), or the log without a token. Replies through a click's response_url are
shared.slack.response_url."""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from shared.config import Settings, settings
from shared.log import event, get_logger
from shared.slack.blocks import blocks_as_text

log = get_logger(__name__)

# Errors that no retry can fix: acknowledge and record, do not loop.
PERMANENT_SLACK_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_blocks",
    "msg_too_long",
    "no_permission",
    "missing_scope",
    "message_not_found",
    "cant_update_message",
    "restricted_action",
}


def web_client(cfg: Settings, timeout: float, *, retries: bool = False) -> Any:
    """A Web API client with the bot token. With `retries`, connection errors, rate limits
    (honouring Retry-After) and 5xx are retried; without, slack_sdk's default (one retry of a
    connection error): a user-group lookup on interact's 3-second path cannot wait."""
    from slack_sdk import WebClient

    if not retries:
        return WebClient(
            token=cfg.slack_token, base_url=cfg.slack_api_url, timeout=int(timeout) or 1
        )
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    return WebClient(
        token=cfg.slack_token,
        base_url=cfg.slack_api_url,
        timeout=int(timeout) or 1,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=3),
            RateLimitErrorRetryHandler(max_retry_count=5),
            ServerErrorRetryHandler(max_retry_count=3),
        ],
    )


class SlackPermanentError(RuntimeError):
    """Slack refused in a way retrying cannot fix (bad token, unknown channel...)."""


class Poster(Protocol):
    channel: str

    def post(
        self, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post; returns (channel id, ts) — chat.update needs the id, not the name."""
        ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...


class LogPoster:
    """No SLACK_BOT_TOKEN: the message is rendered to the log instead."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._ids = itertools.count(1)

    def post(
        self, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> tuple[str, str]:
        ts = f"log-{next(self._ids)}"
        where = f"thread {thread_ts}" if thread_ts else "new message"
        event(log, f"slack ({where}, no token; rendered to log):\n{blocks_as_text(blocks)}")
        return self.channel, ts

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        event(log, f"slack (update {ts}, no token):\n{blocks_as_text(blocks)}")


class SlackPoster:
    def __init__(self, cfg: Settings, client: Any = None) -> None:
        self.channel = cfg.slack_channel
        self._cfg = cfg
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = web_client(self._cfg, timeout=15, retries=True)
        return self._client

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        try:
            resp = getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            code = str(exc.response.get("error", "")) if exc.response is not None else ""
            if code in PERMANENT_SLACK_ERRORS:
                raise SlackPermanentError(f"Slack {method}: {code}") from exc
            raise
        data: dict[str, Any] = resp.data if hasattr(resp, "data") else dict(resp)
        return data

    def post(
        self, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> tuple[str, str]:
        data = self._call(
            "chat_postMessage",
            channel=self.channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(data.get("channel") or self.channel), str(data["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._call("chat_update", channel=channel, ts=ts, text=text, blocks=blocks)


def make_poster(cfg: Settings | None = None) -> Poster:
    cfg = cfg or settings()
    if not cfg.slack_token:
        return LogPoster(cfg.slack_channel)
    return SlackPoster(cfg)

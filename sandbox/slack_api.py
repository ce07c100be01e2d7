"""A local server that speaks the Slack Web API methods alertloop uses, and plays Slack's side
of interactivity.

Web API: chat.postMessage, chat.update, auth.test and usergroups.users.list, with bot-token
checks, Slack-shaped errors, and fault injection (429 with Retry-After, 500) so slack_sdk's retry
handlers are exercised for real.

Interactivity: `click()` does what Slack does when a person clicks a button on one of its
messages — mints a response_url (served here: 5 uses within 30 minutes, like Slack's), builds the
block_actions payload, signs it with the app's signing secret and POSTs it to the Request URL.
A button that is not on the message (any more) cannot be clicked. Replies to a response_url are
recorded (ephemeral ones are shown to one person only, so they are kept apart from messages).
`/_local/button` and `/_local/response_url` let `alertloop click` do the same from outside.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from sandbox.procs import free_port

RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    updates: int = 0
    history: list[list[dict[str, Any]]] = field(default_factory=list)


@dataclass
class ResponseUrl:
    """A response_url Slack minted for one click."""

    id: str
    channel: str
    message_ts: str
    user_id: str
    created: float
    uses: int = 0


@dataclass
class ResponsePost:
    """What an app posted to a response_url."""

    url_id: str
    user_id: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


class SlackApiServer:
    def __init__(
        self,
        token: str = "xoxb-local-test",
        port: int = 0,
        on_event: Callable[[str, SlackMessage], None] | None = None,
        interactivity_url: str = "",
        signing_secret: str = "",
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        self.token = token
        self.port = port or free_port()
        self.messages: list[SlackMessage] = []
        self.calls: list[tuple[str, int]] = []  # (method, HTTP status answered)
        self.faults: list[int] = []  # statuses to answer next, in order (429, 500, ...)
        self.on_event = on_event
        # The Slack app's interactivity settings (where clicks go, and how they are signed).
        self.interactivity_url = interactivity_url
        self.signing_secret = signing_secret
        self.usergroups: dict[str, list[str]] = dict(usergroups or {})
        self.response_urls: dict[str, ResponseUrl] = {}
        self.responses: list[ResponsePost] = []
        self.on_response: Callable[[ResponsePost], None] | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # ---- inspection helpers for tests -----------------------------------------------------

    def parents(self) -> list[SlackMessage]:
        with self._lock:
            return [m for m in self.messages if m.thread_ts is None]

    def replies(self, parent_ts: str) -> list[SlackMessage]:
        with self._lock:
            return [m for m in self.messages if m.thread_ts == parent_ts]

    def find_parent(self, needle: str) -> SlackMessage | None:
        for m in self.parents():
            if needle in json.dumps(m.blocks) or needle in m.text:
                return m
        return None

    def message(self, ts: str) -> SlackMessage | None:
        with self._lock:
            return next((m for m in self.messages if m.ts == ts), None)

    def responses_for(self, user_id: str) -> list[ResponsePost]:
        with self._lock:
            return [r for r in self.responses if r.user_id == user_id]

    # ---- interactivity: Slack's side of a click -------------------------------------------

    def find_button(
        self, action_id: str, value: str | None = None, ts: str | None = None
    ) -> tuple[SlackMessage, str, dict[str, Any]] | None:
        """The newest message showing that button (on message `ts` only, when given)."""
        from shared.slack.simulated_clicks import find_button

        with self._lock:
            candidates = [m for m in reversed(self.messages) if ts is None or m.ts == ts]
        for msg in candidates:
            found = find_button(msg.blocks, action_id, value)
            if found is not None:
                return msg, found[0], found[1]
        return None

    def mint_response_url(self, channel: str, message_ts: str, user_id: str) -> str:
        url_id = uuid.uuid4().hex
        with self._lock:
            self.response_urls[url_id] = ResponseUrl(
                url_id, channel, message_ts, user_id, time.monotonic()
            )
        return f"http://127.0.0.1:{self.port}/actions/T0ALERTLOOP/{url_id}"

    def click_request(
        self,
        action_id: str,
        user_id: str,
        value: str | None = None,
        ts: str | None = None,
        user_name: str = "",
    ) -> tuple[bytes, dict[str, str]]:
        """The signed request Slack would send for this click (LookupError: no such button)."""
        from shared.slack.simulated_clicks import block_actions_payload, signed_request

        found = self.find_button(action_id, value, ts)
        if found is None:
            where = f" on message {ts}" if ts else ""
            raise LookupError(f"no message shows a {action_id} button{where} (value {value!r})")
        msg, block_id, button = found
        payload = block_actions_payload(
            user_id=user_id,
            user_name=user_name or user_id.lower(),
            channel=msg.channel,
            message=_message_object(msg),
            block_id=block_id,
            button=button,
            response_url=self.mint_response_url(msg.channel, msg.ts, user_id),
        )
        return signed_request(payload, self.signing_secret)

    def click(
        self,
        action_id: str,
        user_id: str,
        value: str | None = None,
        ts: str | None = None,
        user_name: str = "",
        timeout: float = 10,
    ) -> Any:
        """A person clicks: the signed request goes to the app's Request URL; its answer."""
        import requests

        if not self.interactivity_url or not self.signing_secret:
            raise RuntimeError("the Slack app has no interactivity Request URL / signing secret")
        body, headers = self.click_request(action_id, user_id, value, ts, user_name)
        return requests.post(self.interactivity_url, data=body, headers=headers, timeout=timeout)

    def _respond(self, url_id: str, raw: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            minted = self.response_urls.get(url_id)
            if minted is None:
                return 404, {"ok": False, "error": "no_such_url"}
            if time.monotonic() - minted.created > RESPONSE_URL_SECONDS:
                return 404, {"ok": False, "error": "expired_url"}
            if minted.uses >= RESPONSE_URL_USES:
                return 404, {"ok": False, "error": "used_url"}
            minted.uses += 1
        try:
            body = json.loads(raw or "{}")
        except json.JSONDecodeError:
            return 400, {"ok": False, "error": "invalid_payload"}
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return 400, {"ok": False, "error": "no_text"}
        post = ResponsePost(url_id, minted.user_id, body)
        with self._lock:
            self.responses.append(post)
        if body.get("replace_original") and body.get("response_type") != "ephemeral":
            with self._lock:
                found = next((m for m in self.messages if m.ts == minted.message_ts), None)
                if found is not None:
                    found.history.append(found.blocks)
                    found.blocks = _blocks(body.get("blocks")) or found.blocks
                    found.text = str(body.get("text", found.text))
                    found.updates += 1
            if found is not None:
                self._emit("update", found)
        if self.on_response:
            self.on_response(post)
        return 200, {"ok": True}

    # ---- the API --------------------------------------------------------------------------

    def _handle(self, method: str, auth: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.faults:
                status = self.faults.pop(0)
                return status, {"ok": False, "error": "ratelimited" if status == 429 else "fatal"}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "U0ALERTLOOP", "team": "local"}
        if method == "chat.postMessage":
            channel = str(params.get("channel", ""))
            if not channel:
                return 200, {"ok": False, "error": "channel_not_found"}
            if not params.get("text") and not params.get("blocks"):
                return 200, {"ok": False, "error": "no_text"}
            with self._lock:
                self._seq += 1
                ts = f"{int(time.time())}.{self._seq:06d}"
                msg = SlackMessage(
                    channel=_channel_id(channel),
                    ts=ts,
                    text=str(params.get("text", "")),
                    blocks=_blocks(params.get("blocks")),
                    thread_ts=params.get("thread_ts") or None,
                )
                self.messages.append(msg)
            self._emit("post", msg)
            return 200, {
                "ok": True,
                "channel": msg.channel,
                "ts": ts,
                "message": {"text": msg.text, "ts": ts},
            }
        if method == "usergroups.users.list":
            group = str(params.get("usergroup", ""))
            with self._lock:
                members = self.usergroups.get(group)
            if members is None:
                return 200, {"ok": False, "error": "no_such_subteam"}
            return 200, {"ok": True, "users": list(members)}
        if method == "chat.update":
            ts = str(params.get("ts", ""))
            with self._lock:
                found = next((m for m in self.messages if m.ts == ts), None)
                if found is None:
                    return 200, {"ok": False, "error": "message_not_found"}
                if found.channel != params.get("channel"):
                    return 200, {"ok": False, "error": "channel_not_found"}
                found.history.append(found.blocks)
                found.blocks = _blocks(params.get("blocks"))
                found.text = str(params.get("text", found.text))
                found.updates += 1
            self._emit("update", found)
            return 200, {"ok": True, "channel": found.channel, "ts": ts}
        return 200, {"ok": False, "error": "unknown_method"}

    def _emit(self, kind: str, msg: SlackMessage) -> None:
        if self.on_event:
            self.on_event(kind, msg)

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> SlackApiServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                # /_local/button?action_id=…&value=…&ts=…: for `alertloop click`.
                path, _, query = self.path.partition("?")
                if path != "/_local/button":
                    self._send(404, {"ok": False, "error": "unknown_method"})
                    return
                q = {k: v[0] for k, v in parse_qs(query).items()}
                found = api.find_button(q.get("action_id", ""), q.get("value"), q.get("ts"))
                if found is None:
                    self._send(404, {"ok": False, "error": "no_such_button"})
                    return
                msg, block_id, button = found
                self._send(
                    200,
                    {
                        "ok": True,
                        "channel": msg.channel,
                        "message": _message_object(msg),
                        "block_id": block_id,
                        "button": button,
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if self.path.startswith("/actions/"):
                    status, body = api._respond(self.path.rsplit("/", 1)[-1], raw)
                    with api._lock:
                        api.calls.append(("response_url", status))
                    self._send(status, body)
                    return
                if self.path == "/_local/response_url":
                    q = json.loads(raw or "{}")
                    url = api.mint_response_url(
                        str(q.get("channel", "")), str(q.get("ts", "")), str(q.get("user", ""))
                    )
                    self._send(200, {"ok": True, "url": url})
                    return
                method = self.path.rsplit("/", 1)[-1]
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                status, body = api._handle(method, self.headers.get("Authorization", ""), params)
                with api._lock:
                    api.calls.append((method, status))
                self._send(status, body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> SlackApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _channel_id(channel: str) -> str:
    if channel.startswith("C") and channel.isupper():
        return channel
    return "C" + format(abs(hash(channel.lstrip("#"))) % 10**8, "08d")


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        parsed: list[dict[str, Any]] = json.loads(value)
        return parsed
    return list(value or [])


def _message_object(msg: SlackMessage) -> dict[str, Any]:
    """The message as a block_actions payload carries it."""
    out: dict[str, Any] = {
        "type": "message",
        "user": "U0ALERTLOOP",
        "ts": msg.ts,
        "text": msg.text,
        "blocks": msg.blocks,
    }
    if msg.thread_ts:
        out["thread_ts"] = msg.thread_ts
    return out

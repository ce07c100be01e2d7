"""A local server that speaks the Slack Web API methods alertloop uses.

chat.postMessage, chat.update and auth.test, with bot-token checks, Slack-shaped errors, and
fault injection (429 with Retry-After, 500) so slack_sdk's retry handlers are exercised for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from sandbox.procs import free_port


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    updates: int = 0
    history: list[list[dict[str, Any]]] = field(default_factory=list)


class SlackApiServer:
    def __init__(
        self,
        token: str = "xoxb-local-test",
        port: int = 0,
        on_event: Callable[[str, SlackMessage], None] | None = None,
    ) -> None:
        self.token = token
        self.port = port or free_port()
        self.messages: list[SlackMessage] = []
        self.calls: list[tuple[str, int]] = []  # (method, HTTP status answered)
        self.faults: list[int] = []  # statuses to answer next, in order (429, 500, ...)
        self.on_event = on_event
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
            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                status, body = api._handle(method, self.headers.get("Authorization", ""), params)
                with api._lock:
                    api.calls.append((method, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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

"""A tiny threaded HTTP server on 127.0.0.1 for the sandbox's fake Google services.

Each fake is a function `(Request) -> Reply`; `Listener` serves it on a free port in a daemon
thread until `stop()`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    raw_path: str

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def bearer(self) -> str | None:
        scheme, _, token = self.header("Authorization").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )

    @classmethod
    def text(cls, status: int, text: str, **headers: str) -> Reply:
        return cls(status, text.encode(), {"Content-Type": "application/text", **headers})


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up is not a sandbox bug worth a trace.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Listener:
    def __init__(self, handler: Handler, name: str, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        self.name = name
        serve = self._serve

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = f"alertloop-{name}/1"
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add
            # ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _any(self) -> None:
                serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._httpd = _Server((host, port), _H)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=name, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = Request(h.command, parts.path, query, h.headers, body, h.path)  # type: ignore[arg-type]
        try:
            reply = self.handler(req)
        except Exception as exc:  # a sandbox bug: answer it, do not hang the client
            reply = Reply.json(500, {"error": {"code": 500, "message": f"sandbox bug: {exc!r}"}})
        try:
            h.send_response(reply.status)
            for key, value in reply.headers.items():
                h.send_header(key, value)
            h.send_header("Content-Length", str(len(reply.body)))
            h.end_headers()
            h.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class LocalServer:
    """A fake service served by one Listener: start/stop, a context manager, its URL.
    Subclasses answer in `_handle` and name themselves in `listener_name`."""

    listener_name = "local"

    def __init__(self) -> None:
        self._listener: Listener | None = None

    def start(self) -> Self:
        self._listener = Listener(self._handle, self.listener_name)
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._listener is not None, "server not started"
        return self._listener.url

    def _handle(self, req: Request) -> Reply:
        raise NotImplementedError

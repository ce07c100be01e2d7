"""`alertloop fire` against a local HTTP server standing in for ingest."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.procs import free_port
from shared.cli import main


class FakeIngest:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append((dict(self.headers), json.loads(data)))
                out = json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ingest():
    servers: list[FakeIngest] = []

    def make(status: int = 200, body: dict[str, Any] | None = None) -> FakeIngest:
        servers.append(FakeIngest(status, body or {}))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_fire_sends_the_dispatch_body_with_the_token(ingest, capsys) -> None:
    srv = ingest(
        200,
        {
            "results": [
                {
                    "status": "accepted",
                    "alert": "HighErrorRate",
                    "alert_type": "HighErrorRate",
                    "run_id": "abc",
                    "plan": ["investigate", "remediate"],
                }
            ]
        },
    )
    code = main(
        [
            "fire",
            "HighErrorRate",
            "--severity",
            "critical",
            "--action",
            "investigate",
            "--namespace",
            "shop",
            "--deployment",
            "checkout",
            "--label",
            "team=pay",
            "--annotation",
            "summary=test",
            "--url",
            srv.url,
            "--token",
            "t0k",
        ]
    )
    assert code == 0
    headers, body = srv.requests[0]
    assert headers["Authorization"] == "Bearer t0k"
    assert body == {
        "event_type": "alert-fired",
        "client_payload": {
            "alert_type": "HighErrorRate",
            "severity": "critical",
            "action": "investigate",
            "labels": {"team": "pay", "namespace": "shop", "deployment": "checkout"},
            "annotations": {"summary": "test"},
            "dry_run": False,
        },
    }
    assert "accepted: HighErrorRate" in capsys.readouterr().out


def test_fire_reports_a_refusal(ingest, capsys) -> None:
    srv = ingest(401, {"error": "invalid bearer token"})
    assert main(["fire", "X", "--url", srv.url, "--token", "bad"]) == 1
    assert "401: invalid bearer token" in capsys.readouterr().err


def test_fire_reports_an_unreachable_ingest(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["fire", "X", "--url", url, "--token", "t"]) == 2
    assert "cannot reach ingest" in capsys.readouterr().err


def test_fire_rejects_malformed_labels(ingest) -> None:
    srv = ingest()
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["fire", "X", "--url", srv.url, "--token", "t", "--label", "novalue"])
    assert srv.requests == []


def test_fire_without_any_target(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTLOOP_INGEST_URL", raising=False)
    with pytest.raises(SystemExit, match="no ingest URL"):
        main(["fire", "X"])

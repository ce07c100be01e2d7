"""PrometheusClient against a tiny stdlib HTTP server that speaks the Prometheus API JSON."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from shared.prometheus import (
    PrometheusAuthError,
    PrometheusClient,
    PrometheusNotConfigured,
    PrometheusQueryError,
    PrometheusSettings,
    PrometheusUnavailable,
    Sample,
    from_env,
)


class FakePrometheus:
    """Records requests; answers with whatever `respond` returns: (status, body, delay)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.body: Any = {"status": "success", "data": {"resultType": "vector", "result": []}}
        self.delay = 0.0
        self.raw: bytes | None = None


@pytest.fixture
def fake() -> Iterator[tuple[FakePrometheus, str]]:
    state = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            state.requests.append(
                {
                    "path": self.path,
                    "form": {k: v[0] for k, v in form.items()},
                    "headers": dict(self.headers),
                }
            )
            if state.delay:
                time.sleep(state.delay)
            payload = state.raw if state.raw is not None else json.dumps(state.body).encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(url: str, **kw: Any) -> PrometheusClient:
    return PrometheusClient(PrometheusSettings(url=url, **kw))


def vector(*items: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1700000000.0, v]} for m, v in items],
        },
    }


def test_instant_parses_vector_and_special_values(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.body = vector(({"service": "a"}, "0.5"), ({"service": "b"}, "NaN"), ({}, "+Inf"))
    samples = client(url).instant("sum by (service) (rate(x[5m]))")
    assert samples[0] == Sample({"service": "a"}, 0.5)
    labels, value = samples[0]
    assert labels == {"service": "a"} and value == 0.5
    assert math.isnan(samples[1].value)
    assert samples[2].value == math.inf
    req = state.requests[0]
    assert req["path"] == "/api/v1/query"
    assert req["form"]["query"] == "sum by (service) (rate(x[5m]))"
    assert req["form"]["timeout"] == "10s"
    assert "time" not in req["form"]
    assert "Authorization" not in req["headers"]


def test_instant_at_time_and_scalar_result(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.body = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "2"]}}
    at = datetime(2024, 1, 1, tzinfo=UTC)
    assert client(url).instant("1+1", time=at) == [Sample({}, 2.0)]
    assert state.requests[0]["form"]["time"] == str(int(at.timestamp()))


def test_range_parses_matrix(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"job": "j"}, "values": [[100, "1"], [160, "-Inf"]]}],
        },
    }
    series = client(url).range("up", 100, 160, 60)
    assert series[0].labels == {"job": "j"}
    assert series[0].values == [(100.0, 1.0), (160.0, -math.inf)]
    form = state.requests[0]["form"]
    assert state.requests[0]["path"] == "/api/v1/query_range"
    assert (form["start"], form["end"], form["step"]) == ("100", "160", "60")


def test_range_chunked_splits_into_requests_of_at_most_max_points(
    fake: tuple[FakePrometheus, str],
) -> None:
    state, url = fake
    state.body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    assert client(url).range_chunked("up", 0, 1500, 60, max_points=10) == []
    spans = [(r["form"]["start"], r["form"]["end"]) for r in state.requests]
    # 26 evaluations (0, 60, …, 1500): 10 + 10 + 6, no evaluation twice, none left out.
    assert spans == [("0", "540"), ("600", "1140"), ("1200", "1500")]
    with pytest.raises(ValueError):
        client(url).range_chunked("up", 0, 10, 0)


def test_scalar(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    c = client(url)
    state.body = vector()
    assert c.scalar("x") is None
    state.body = vector(({}, "NaN"))
    assert c.scalar("x") is None
    state.body = vector(({}, "0.25"))
    assert c.scalar("x") == 0.25
    state.body = vector(({"a": "1"}, "1"), ({"a": "2"}, "2"))
    with pytest.raises(PrometheusQueryError, match="aggregate"):
        c.scalar("x")


@pytest.mark.parametrize("status", [400, 422])
def test_query_errors_carry_prometheus_message(
    fake: tuple[FakePrometheus, str], status: int
) -> None:
    state, url = fake
    state.status = status
    state.body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
    with pytest.raises(PrometheusQueryError, match="parse error at char 5") as info:
        client(url).instant("sum(")
    assert info.value.error_type == "bad_data"
    assert info.value.status_code == status


def test_503_is_unavailable(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.status = 503
    state.body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    with pytest.raises(PrometheusUnavailable, match=r"503.*query timed out"):
        client(url).instant("up")


def test_non_json_answer_is_unavailable(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.raw = b"<html>proxy</html>"
    with pytest.raises(PrometheusUnavailable):
        client(url).instant("up")


def test_401_is_auth_error(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.status = 401
    state.raw = b"Unauthorized"
    with pytest.raises(PrometheusAuthError):
        client(url).instant("up")


def test_timeout_is_unavailable(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.delay = 1.0
    started = time.monotonic()
    with pytest.raises(PrometheusUnavailable, match="timed out"):
        client(url, timeout_seconds=0.2).instant("up")
    assert time.monotonic() - started < 0.9
    assert state.requests[0]["form"]["timeout"] == "0.2s"


def test_connection_refused_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PrometheusUnavailable, match="cannot reach"):
        client(f"http://127.0.0.1:{port}", timeout_seconds=1).instant("up")


def test_bearer_header(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    client(url, auth="bearer", bearer_token="s3cret").instant("up")
    assert state.requests[0]["headers"]["Authorization"] == "Bearer s3cret"


def test_google_auth_uses_adc_token(
    fake: tuple[FakePrometheus, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth

    class Creds:
        valid = False
        token: str | None = None
        refreshes = 0

        def refresh(self, request: Any) -> None:
            Creds.refreshes += 1
            self.token = "adc-token"
            self.valid = True

    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (Creds(), "proj"))
    state, url = fake
    c = client(url, auth="google")
    c.instant("up")
    c.instant("up")
    assert state.requests[0]["headers"]["Authorization"] == "Bearer adc-token"
    assert Creds.refreshes == 1


def test_not_configured() -> None:
    c = PrometheusClient(PrometheusSettings())
    assert not c.configured
    with pytest.raises(PrometheusNotConfigured, match="PROMETHEUS_URL"):
        c.instant("up")


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMETHEUS_AUTH", "PROMETHEUS_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_URL", "http://p:9090/")
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", "s3cr3t-value")
    s = PrometheusSettings.from_env()
    assert (s.url, s.auth, s.bearer_token, s.timeout_seconds) == (
        "http://p:9090",
        "bearer",
        "s3cr3t-value",
        10,
    )
    assert "s3cr3t" not in repr(s)
    monkeypatch.setenv("PROMETHEUS_AUTH", "google")
    monkeypatch.setenv("PROMETHEUS_TIMEOUT_SECONDS", "2.5")
    c = from_env()
    assert (c.settings.auth, c.settings.timeout_seconds) == ("google", 2.5)
    monkeypatch.setenv("PROMETHEUS_AUTH", "basic")
    with pytest.raises(ValueError, match="PROMETHEUS_AUTH"):
        PrometheusSettings.from_env()
    monkeypatch.setenv("PROMETHEUS_AUTH", "none")
    monkeypatch.setenv("PROMETHEUS_TIMEOUT_SECONDS", "-1")
    with pytest.raises(ValueError, match="PROMETHEUS_TIMEOUT_SECONDS"):
        PrometheusSettings.from_env()


def test_injected_session_is_used(fake: tuple[FakePrometheus, str]) -> None:
    import requests

    _, url = fake
    session = requests.Session()
    c = PrometheusClient(PrometheusSettings(url=url), session=session)
    assert c.session is session
    c.instant("up")

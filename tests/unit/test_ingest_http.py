"""ingest's refusals, through functions-framework's own app (no servers: nothing is published
because nothing gets past validation; the integration tests prove the publishing side)."""

import json
from pathlib import Path

import pytest
from functions_framework import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN", "s3cret")
    monkeypatch.setenv("ALERTLOOP_MAX_BODY_BYTES", "2048")
    # A dead emulator address: if anything tried to publish or record, the test would fail.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    app = create_app("ingest", str(ROOT / "main.py"), "http")
    return app.test_client()


AUTH = {"Authorization": "Bearer s3cret"}


def test_get_is_405(client) -> None:
    resp = client.get("/", headers=AUTH)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer wrong"}, "invalid bearer token"),
        ({"Authorization": "Basic czNjcmV0"}, "missing"),
        ({"Authorization": "Bearer"}, "missing"),
        ({"Authorization": "token s3cret"}, "missing"),
    ],
)
def test_bad_or_missing_token_is_401(client, headers, message: str) -> None:
    resp = client.post("/", json={"version": "4"}, headers=headers)
    assert resp.status_code == 401
    assert message in resp.get_json()["error"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_configured_token_refuses_everything(client, monkeypatch) -> None:
    from shared.config import settings

    monkeypatch.delenv("ALERTLOOP_WEBHOOK_TOKEN")
    settings.cache_clear()
    resp = client.post("/", json={}, headers=AUTH)
    assert resp.status_code == 401
    assert "ALERTLOOP_WEBHOOK_TOKEN" in resp.get_json()["error"]


def test_non_json_content_type_is_415(client) -> None:
    resp = client.post("/", data="alert", headers={**AUTH, "Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_oversized_body_is_413(client) -> None:
    resp = client.post(
        "/",
        data=json.dumps({"x": "y" * 5000}),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (
            json.dumps({"version": "4", "status": "firing", "alerts": [{"status": "firing"}]}),
            "alerts.0.labels",
        ),
        (
            json.dumps({"event_type": "alert-fired", "client_payload": {"severity": "x"}}),
            "client_payload.alert_type",
        ),
    ],
)
def test_bad_body_is_400_naming_the_problem(client, data: str, message: str) -> None:
    resp = client.post("/", data=data, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert message in resp.get_json()["error"]


def test_deeply_nested_json_is_400(client) -> None:
    data = "[" * 1000 + "]" * 1000
    resp = client.post("/", data=data, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert "nested too deeply" in resp.get_json()["error"]

"""Two webhook tokens during a rotation, and token files re-read as the secret changes.

The HTTP tests go through functions-framework's own app for ingest with dead emulator
addresses: a request refused at the door publishes nothing; one accepted gets past the token
check and is refused later (400 for a non-Alertmanager body), which is what proves acceptance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from functions_framework import create_app

from shared import webhook_tokens
from shared.webhook_tokens import FILE_TTL_SECONDS, MISS_REREAD_SECONDS, WebhookTokens

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_both_env_tokens_are_accepted_and_nothing_else() -> None:
    tokens = WebhookTokens(("new", "old"), ())
    assert tokens.configured
    assert tokens.accepts("new") and tokens.accepts("old")
    assert not tokens.accepts("other") and not tokens.accepts("")


def test_no_token_anywhere_is_not_configured() -> None:
    assert not WebhookTokens(("", ""), ()).configured
    assert WebhookTokens(("", ""), ("/nowhere",)).configured  # files configured: checked, not open


def test_a_rotated_file_is_accepted_after_a_miss_without_waiting_for_the_ttl(
    tmp_path: Path,
) -> None:
    clock = Clock()
    current = tmp_path / "current"
    current.write_text("one\n")
    tokens = WebhookTokens((), (str(current),), clock=clock)
    assert tokens.accepts("one")
    current.write_text("two")  # Secret Manager: a new latest version
    clock.now += MISS_REREAD_SECONDS
    assert tokens.accepts("two")  # the miss re-read the file
    assert not tokens.accepts("one")


def test_misses_do_not_reread_more_often_than_the_miss_interval(tmp_path: Path) -> None:
    clock = Clock()
    current = tmp_path / "current"
    current.write_text("one")
    tokens = WebhookTokens((), (str(current),), clock=clock)
    assert tokens.accepts("one")
    current.write_text("two")
    clock.now += MISS_REREAD_SECONDS / 2
    assert not tokens.accepts("two")  # too soon after the last read: a flood stays cheap
    clock.now += MISS_REREAD_SECONDS
    assert tokens.accepts("two")


def test_the_ttl_rereads_even_when_the_token_still_matches(tmp_path: Path) -> None:
    clock = Clock()
    current = tmp_path / "current"
    current.write_text("one")
    tokens = WebhookTokens((), (str(current),), clock=clock)
    assert tokens.accepts("one")
    current.write_text("two")  # the old token is revoked
    clock.now += FILE_TTL_SECONDS
    assert not tokens.accepts("one")


def test_an_unreadable_file_accepts_nothing_but_the_others_still_work(tmp_path: Path) -> None:
    current = tmp_path / "current"
    current.write_text("one")
    tokens = WebhookTokens((), (str(tmp_path / "disabled-version"), str(current)))
    assert tokens.accepts("one")
    assert not tokens.accepts("")


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch):
    from shared.config import settings

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.delenv("ALERTLOOP_WEBHOOK_TOKEN", raising=False)
    settings.cache_clear()
    webhook_tokens._tokens.cache_clear()
    yield lambda: create_app("ingest", str(ROOT / "main.py"), "http").test_client()
    settings.cache_clear()
    webhook_tokens._tokens.cache_clear()


def _status(client, token: str) -> int:
    resp = client.post(
        "/", json={"not": "alertmanager"}, headers={"Authorization": f"Bearer {token}"}
    )
    return int(resp.status_code)


def test_ingest_accepts_the_current_and_the_previous_token(ingest, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN", "new-token")
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS", "old-token")
    client = ingest()
    assert _status(client, "new-token") == 400  # past the door, refused as a body
    assert _status(client, "old-token") == 400
    assert _status(client, "some-other") == 401


def test_ingest_takes_a_rotated_secret_file_without_a_restart(
    ingest, monkeypatch, tmp_path
) -> None:
    current, previous = tmp_path / "webhook-token", tmp_path / "webhook-token-previous"
    current.write_text("t1")
    previous.write_text("")
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN_FILES", f"{current},{previous}")
    monkeypatch.setattr(webhook_tokens, "MISS_REREAD_SECONDS", 0.0)
    client = ingest()
    assert _status(client, "t1") == 400
    assert _status(client, "t2") == 401
    # The documented rotation: previous <- t1, current <- t2; both work at once, no restart.
    previous.write_text("t1")
    current.write_text("t2")
    assert _status(client, "t2") == 400
    assert _status(client, "t1") == 400
    # Alertmanager sends t2 now: the previous slot is emptied, and t1 is refused.
    previous.write_text("")
    assert _status(client, "t3") == 401  # a miss re-reads
    assert _status(client, "t1") == 401
    assert _status(client, "t2") == 400


def test_ingest_with_only_unset_tokens_refuses_everything(ingest, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS", "")
    client = ingest()
    resp = client.post("/", json={}, headers={"Authorization": "Bearer x"})
    assert resp.status_code == 401
    assert "ALERTLOOP_WEBHOOK_TOKEN" in resp.get_json()["error"]

"""Redaction against a corpus of realistic leaked-secret lines and lines that must survive."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.investigation.redact import REDACTED, redact

CORPUS = Path(__file__).resolve().parents[1] / "data" / "secrets_corpus.txt"


def _corpus(kind: str) -> list[tuple[str, ...]]:
    rows = []
    for raw in CORPUS.read_text().splitlines():
        if not raw or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if parts[0] == kind:
            rows.append(tuple(parts[1:]))
    return rows


LEAKS = _corpus("LEAK")
SAFE = _corpus("SAFE")


def test_corpus_is_substantial() -> None:
    assert len(LEAKS) >= 30 and len(SAFE) >= 15


@pytest.mark.parametrize(("secret", "line"), LEAKS, ids=[s[:12] for s, _ in LEAKS])
def test_leaked_secret_is_redacted(secret: str, line: str) -> None:
    out = redact(line)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize("line", [s[0] for s in SAFE])
def test_safe_line_is_untouched(line: str) -> None:
    assert redact(line) == line


def test_context_is_kept() -> None:
    out = redact("DATABASE_URL=postgres://api:pw123456@db.shop.svc:5432/orders")
    assert "db.shop.svc:5432/orders" in out or "DATABASE_URL" in out
    out = redact("Authorization: Bearer abcdefghijklmnop")
    assert out == f"Authorization: Bearer {REDACTED}"
    out = redact("connecting to mysql://root:hunter2@10.0.0.5:3306/shop")
    assert out == f"connecting to mysql://root:{REDACTED}@10.0.0.5:3306/shop"


def test_idempotent() -> None:
    for secret, line in LEAKS:
        once = redact(line)
        assert redact(once) == once, secret


@given(st.text(max_size=200))
def test_never_crashes_on_anything(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)

"""The console's pages in real headless Chromium (Debian `chromium`), on a phone-sized screen.

The console is the function as the buildpack loads it, served on 127.0.0.1 over the real ledger
on the Firestore emulator. Screenshots go to test-artifacts/console/. Every request each page
makes is recorded: none may leave 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from shared.console import app as console_app
from shared.ledger import Ledger
from tests.browser import Chromium
from tests.console_seed import Known, seed_known
from tests.console_server import serve_console

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
TOKEN = "browser-test-token"


@pytest.fixture
def console(store: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Known]]:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", TOKEN)
    monkeypatch.setenv("ALERTLOOP_CONSOLE_CACHE_SECONDS", "0")
    console_app.snapshots.clear()
    known = seed_known(store)
    with serve_console() as base:
        yield base, known


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    with Chromium(tmp_path) as chromium:
        yield chromium


def _only_local(requests: list[str], base: str) -> None:
    port = urlparse(base).port
    for url in requests:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "about"):
            continue
        assert parsed.hostname == "127.0.0.1" and parsed.port == port, url


def _text(browser: Chromium) -> str:
    value: Any = browser.evaluate("document.body.innerText")
    return str(value)


def test_pages_in_chromium(console: tuple[str, Known], browser: Chromium) -> None:
    base, known = console
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    browser.open(f"{base}/health")  # not signed in yet
    assert "Not signed in" in _text(browser)

    # The login link `make run` prints: it sets the cookie and lands on the incidents list.
    browser.open(f"{base}/login?token={TOKEN}")
    assert browser.evaluate("location.pathname") == "/"
    text = _text(browser)
    assert "Incidents" in text and "ApplicationDown" in text and "DatabaseDown" in text
    assert browser.evaluate("document.querySelectorAll('a.card').length") == len(known.runs)
    browser.screenshot(ARTIFACTS / "incidents.png")
    # readable on a phone: nothing wider than the screen
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    browser.open(f"{base}/?state=open&alert_type=HighErrorRate")
    assert browser.evaluate("document.querySelectorAll('a.card').length") == 1

    # An incident with a remediation and a resolve.
    browser.open(f"{base}/incidents/{known.restart.incident_id}")
    text = _text(browser)
    for expected in (
        "Alert started firing",
        "Investigation",
        "Cluster change: restart",
        "Refused: restart (guard: cooldown)",
        "Resolved",
        "MTTR 4 min",
        f"alertloop replay {known.restart.run_id}",
    ):
        assert expected in text, expected
    # hostile alert text shows as text, and runs nothing
    assert "<script>alert(1)</script>" in text
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.images.length") == 0
    assert "hunter2" not in text
    browser.screenshot(ARTIFACTS / "incident.png")

    browser.open(f"{base}/health")
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 5
    text = _text(browser)
    assert "False-positive rate" in text and "Team-action rate" in text
    browser.screenshot(ARTIFACTS / "health.png")
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    assert browser.requests, "the browser recorded no requests"
    _only_local(browser.requests, base)

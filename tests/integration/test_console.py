"""The console function (as the buildpack loads it) over the real ledger on the emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from prometheus_client.parser import text_string_to_metric_families

from shared.console import app as console_app
from shared.console.auth import COOKIE
from shared.ledger import IncidentFilter, Ledger
from shared.model import utcnow
from tests.conftest import reset_settings
from tests.console_seed import (
    EXPECTED_EXECUTION_RATIO,
    EXPECTED_FALSE_POSITIVE_RATIO,
    EXPECTED_RUNS_BY_STATE,
    EXPECTED_TEAM_ACTION_RATIO,
    Known,
    seed_known,
)
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "console-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def known(store: Ledger, monkeypatch: pytest.MonkeyPatch) -> Known:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", TOKEN)
    monkeypatch.setenv("ALERTLOOP_CONSOLE_CACHE_SECONDS", "0")
    console_app.snapshots.clear()
    return seed_known(store)


@pytest.fixture
def client(known: Known) -> Any:
    return create_app("console", str(ROOT / "main.py"), "http").test_client()


def test_every_page_needs_the_token(client: Any) -> None:
    for path in ("/", "/health", "/metrics", "/incidents/x"):
        resp = client.get(path)
        assert resp.status_code == 401, path
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/", headers={"Cookie": f"{COOKIE}=forged"}).status_code == 401
    assert client.get("/login?token=wrong").status_code == 401


def test_login_link_sets_a_cookie_and_drops_the_token_from_the_address(client: Any) -> None:
    resp = client.get(f"/login?token={TOKEN}&next=/health")
    assert resp.status_code == 303 and resp.headers["Location"] == "/health"
    cookie = resp.headers["Set-Cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/health").status_code == 200  # the test client keeps the cookie
    resp = client.get(f"/login?token={TOKEN}&next=//evil.example/")
    assert resp.headers["Location"] == "/"
    resp = client.get(f"/?state=open&token={TOKEN}")
    assert resp.status_code == 303 and resp.headers["Location"] == "/?state=open"


def test_incident_list_filters_and_paginates(
    client: Any, known: Known, store: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    resp = client.get("/", headers=AUTH)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for run in known.runs:
        assert f"/incidents/{run.incident_id}" in html
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]

    open_only = client.get("/?state=open", headers=AUTH).get_data(as_text=True)
    assert f"/incidents/{known.proposal.incident_id}" in open_only
    assert f"/incidents/{known.restart.incident_id}" not in open_only
    by_type = client.get("/?alert_type=DatabaseDown", headers=AUTH).get_data(as_text=True)
    assert by_type.count('class="card"') == 1 and known.database.incident_id in by_type

    # Pagination: 12 more incidents, pages of 5, newest first, every incident exactly once.
    for _ in range(12):
        seed_run(store, make_alert("ApplicationDown", labels={"namespace": "pages"}))
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = store.incidents_page(IncidentFilter(namespace="pages"), cursor, 5)
        seen.extend(i["incident_id"] for i in page.incidents)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 12 == len(set(seen))
    opened = [store.get_incident(i)["opened_at"] for i in seen]  # type: ignore[index]
    assert opened == sorted(opened, reverse=True)
    monkeypatch.setenv("ALERTLOOP_CONSOLE_PAGE_SIZE", "5")
    reset_settings()
    html = client.get("/?namespace=pages", headers=AUTH).get_data(as_text=True)
    assert html.count('class="card"') == 5 and "Older →" in html
    older = re.search(r'href="(/\?namespace=pages&amp;cursor=[^"]+)"', html)
    assert older, html
    page2 = client.get(older.group(1).replace("&amp;", "&"), headers=AUTH).get_data(as_text=True)
    assert page2.count('class="card"') == 5 and "← Newest" in page2
    assert set(re.findall(r"/incidents/(\w+)", page2)) == set(seen[5:10])


def test_incident_page_shows_the_timeline(client: Any, known: Known) -> None:
    html = client.get(f"/incidents/{known.restart.incident_id}", headers=AUTH).get_data(
        as_text=True
    )
    for text in (
        "Alert started firing",
        "Received by alertloop",
        "Investigation",
        "Cluster change: restart",
        "Refused: restart (guard: cooldown)",
        "Resolved",
        "MTTR 4 min",
        "Acknowledged",
        "useful",
        f"alertloop replay {known.restart.run_id}",
        "https://runbooks.example.com/ApplicationDown",
        "generation",  # before/after of the change
    ):
        assert text in html, text
    # outside text is escaped and redacted, never markup
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "hunter2" not in html and "[REDACTED]" in html
    # every src/href points at this console, or is a plain link a person may follow
    assert not re.search(r'\ssrc="(?!data:)', html)

    dead = client.get(f"/incidents/{known.dead.incident_id}", headers=AUTH).get_data(as_text=True)
    assert "Dead-lettered after 5 attempts" in dead
    assert f"alertloop replay {known.dead.run_id} --from budget" in dead
    proposal = client.get(f"/incidents/{known.proposal.incident_id}", headers=AUTH).get_data(
        as_text=True
    )
    assert "Rollback proposal" in proposal and "revision 3 → 2" in proposal
    assert client.get("/incidents/nope", headers=AUTH).status_code == 404
    assert client.get("/incidents/a%2Fb", headers=AUTH).status_code == 404


def test_health_page_has_the_five_measures(client: Any, known: Known) -> None:
    html = client.get("/health", headers=AUTH).get_data(as_text=True)
    for title in (
        "Alerts vs executions per day",
        "Investigation duration",
        "MTTR",
        "False-positive rate",
        "Team-action rate",
    ):
        assert title in html
    assert html.count("<svg") == 5
    assert "target &lt; 5 min" in html and "limit 10%" in html
    per_type = client.get("/health?alert_type=HighCPUUsage", headers=AUTH).get_data(as_text=True)
    assert "(HighCPUUsage)" in per_type
    hostile = client.get("/health?alert_type=%3Cscript%3E", headers=AUTH).get_data(as_text=True)
    assert "<script>" not in hostile


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_from_the_known_runs(client: Any, known: Known) -> None:
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    s = _samples(resp.get_data(as_text=True))
    for (alert_type, state), n in EXPECTED_RUNS_BY_STATE.items():
        assert s[("alertloop_runs", (("alert_type", alert_type), ("state", state)))] == n
    assert s[("alertloop_runs_waiting", (("alert_type", "HighMemoryUsage"),))] == 1
    assert s[("alertloop_actions", (("action", "restart"), ("outcome", "applied")))] == 1
    assert s[("alertloop_actions", (("action", "restart"), ("outcome", "refused")))] == 1
    assert s[("alertloop_refusals", (("guard", "cooldown"),))] == 1
    assert s[("alertloop_dead_letters", (("stage", "budget"),))] == 1
    all_ = (("alert_type", "all"),)
    assert s[("alertloop_loop_false_positive_ratio", all_)] == EXPECTED_FALSE_POSITIVE_RATIO
    assert s[("alertloop_loop_team_action_ratio", all_)] == EXPECTED_TEAM_ACTION_RATIO
    assert s[("alertloop_loop_execution_ratio", all_)] == EXPECTED_EXECUTION_RATIO
    inv = ("alertloop_stage_duration_seconds_bucket", (("le", "5.0"), ("stage", "investigate")))
    assert s[inv] == 3  # 2.5 s, 3 s and 1 s; 10 s and 40 s are slower
    assert s[("alertloop_loop_mttr_seconds", all_)] == 180.0  # (240 + 120) / 2


def test_the_ledger_unavailable_is_a_clear_503(
    client: Any, monkeypatch: pytest.MonkeyPatch, known: Known
) -> None:
    from shared.ledger import LedgerError

    def broken(*_: object, **__: object) -> None:
        raise LedgerError("Firestore: unavailable")

    monkeypatch.setattr(Ledger, "incidents_page", broken)
    resp = client.get("/", headers=AUTH)
    assert resp.status_code == 503 and "ledger is unavailable" in resp.get_data(as_text=True)


def test_slack_run_log_button_opens_the_incident_page(
    store: Ledger, slack_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.notifier import Notifier

    monkeypatch.setenv("ALERTLOOP_CONSOLE_URL", "http://127.0.0.1:8099/")
    reset_settings()
    run = seed_run(store, make_alert("HighCPUUsage", starts_at=utcnow()))
    Notifier(ledger=store).project_incident(run.incident_id)
    parent = slack_api.find_parent("HighCPUUsage")
    assert parent is not None
    urls = [
        e.get("url") for b in parent.blocks if b.get("type") == "actions" for e in b["elements"]
    ]
    assert f"http://127.0.0.1:8099/incidents/{run.incident_id}" in urls


def test_the_snapshot_refreshes_incrementally(known: Known, store: Ledger) -> None:
    from shared.console.data import SnapshotCache
    from shared.console.settings import console_settings
    from tests.seed import resolve_run

    cache = SnapshotCache()
    cfg = console_settings()
    first = cache.get(store, cfg)
    assert {r["id"] for r in first.runs} == {r.run_id for r in known.runs}
    # a new run, and a change to an old one, show up on the next (incremental) refresh
    new = seed_run(store, make_alert("HighCPUUsage", labels={"namespace": "later"}))
    resolve_run(store, known.database)
    calls: list[str] = []
    real = store.runs_updated_since

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("delta")
        return real(*args, **kwargs)

    store.runs_updated_since = spy  # type: ignore[method-assign]
    second = cache.get(store, cfg)
    assert calls == ["delta"]
    by_id = {r["id"]: r for r in second.runs}
    assert new.run_id in by_id
    assert by_id[known.database.run_id]["state"] == "resolved"
    assert len(by_id) == len(known.runs) + 1

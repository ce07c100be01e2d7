"""The console's pure parts: auth, the timeline, charts, daily loop health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.console import auth
from shared.console.charts import Series, chart
from shared.console.settings import ConsoleSettings
from shared.console.timeline import build, diff
from shared.health import daily_health, loop_health
from shared.ledger import IncidentRecord

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def cfg(**kw: object) -> ConsoleSettings:
    base: dict[str, object] = dict(
        auth="token",
        token="s3cret",
        cache_seconds=0,
        metrics_window_hours=24,
        health_days=30,
        slack_workspace_url="https://slack.com",
        page_size=50,
    )
    base.update(kw)
    return ConsoleSettings(**base)  # type: ignore[arg-type]


def test_auth_modes() -> None:
    c = cfg()
    auth.check(auth.Credentials(authorization="Bearer s3cret"), c)
    auth.check(auth.Credentials(cookie=auth.session_value("s3cret")), c)
    for creds in (
        auth.Credentials(),
        auth.Credentials(authorization="Bearer nope"),
        auth.Credentials(authorization="Basic s3cret"),
        auth.Credentials(cookie="s3cret"),  # the cookie is an HMAC, never the token itself
    ):
        try:
            auth.check(creds, c)
        except auth.Unauthorized:
            continue
        raise AssertionError(creds)
    try:
        auth.check(auth.Credentials(authorization="Bearer "), cfg(token=""))
        raise AssertionError("no token configured must refuse everything")
    except auth.Unauthorized as exc:
        assert "ALERTLOOP_CONSOLE_TOKEN" in str(exc)
    auth.check(auth.Credentials(), cfg(auth="iam", token=""))
    assert not auth.login_ok("s3cret", cfg(auth="iam"))
    assert auth.safe_next("/incidents/x") == "/incidents/x"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "evil"):
        assert auth.safe_next(bad) == "/", bad


def test_diff_shows_what_changed() -> None:
    assert diff({"replicas": 2, "a": {"b": 1}}, {"replicas": 3, "a": {"b": 1}}) == [
        ("replicas", "2", "3")
    ]
    assert diff({}, {"maxReplicas": 6}) == [("maxReplicas", "—", "6")]
    assert diff(None, None) == []


def test_timeline_orders_events_and_computes_mttr() -> None:
    t = NOW - timedelta(minutes=10)
    run = {
        "run_id": "r1",
        "alert_name": "ApplicationDown",
        "alert": {"name": "ApplicationDown", "annotations": {"summary": "down"}},
        "starts_at": t,
        "received_at": t + timedelta(seconds=2),
        "plan": ["investigate"],
        "status": "resolved",
        "resolved_at": t + timedelta(minutes=6),
        "mttr_seconds": 360.0,
        "findings": {
            "investigate": {
                "status": "ok",
                "summary": "found it",
                "started": t + timedelta(seconds=3),
                "finished": t + timedelta(seconds=5),
            }
        },
    }
    audit = [
        {"id": "a", "at": t + timedelta(seconds=8), "run_id": "r1", "action": "restart",
         "outcome": "applied", "target": "deployment/x", "before": {"g": 1}, "after": {"g": 2}},
    ]  # fmt: skip
    incident = {
        "hands_off": {"by": "U1", "by_name": "bo", "at": t + timedelta(minutes=1)},
        "silences": {"s1": {"id": "s1", "matchers": [{"name": "alertname", "value": "X"}],
                            "by": "U2", "at": t + timedelta(minutes=2), "status": "active"}},
    }  # fmt: skip
    tl = build(IncidentRecord(incident, [run], audit, []))
    kinds = [e.kind for e in tl.events]
    assert kinds == ["alert", "received", "stage", "change", "human", "human", "resolve"]
    stage = tl.events[2]
    assert stage.duration_s == 2.0 and stage.detail == "found it"
    assert tl.events[3].changes == [("g", "1", "2")]
    assert tl.events[4].actor == "bo" and "Taken over" in tl.events[4].title
    assert 'alertname="X"' in tl.events[5].detail
    assert tl.mttr_s == 360.0


def test_charts_escape_names_and_draw_targets() -> None:
    svg = chart(
        "t",
        ["2026-11-26", "2026-11-27"],
        [Series("<script>x</script>", [0.2, None])],
        target=0.1,
        target_label="limit 10%",
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'class="target"' in svg and "limit 10%" in svg
    assert "<circle" in svg  # a lone point between gaps is still drawn


def test_daily_health_buckets_by_day() -> None:
    def run(days_ago: float, **kw: object) -> dict[str, object]:
        base: dict[str, object] = {
            "alert_type": "HighCPUUsage",
            "received_at": NOW - timedelta(days=days_ago),
            "plan": ["investigate"],
            "findings": {"investigate": {"status": "ok"}},
            "timings": {"investigate_seconds": 2.0},
            "state": "investigated",
        }
        base.update(kw)
        return base

    runs = [run(0.1), run(0.2, state="resolved", mttr_seconds=60.0), run(2.1), run(40)]
    daily = daily_health(runs, NOW, days=7)
    assert len(daily["days"]) == 7 and daily["days"][-1] == "2026-11-27"
    all_ = daily["series"]["all"]
    assert [d["runs"] for d in all_] == [0, 0, 0, 0, 1, 0, 2]
    assert all_[-1]["false_positive_rate"] == 1.0
    assert all_[0]["false_positive_rate"] is None
    assert set(daily["series"]) == {"all", "HighCPUUsage"}


def test_a_verdict_overrides_the_false_positive_heuristic() -> None:
    def resolved(mttr: float, verdict: str = "") -> dict[str, object]:
        run: dict[str, object] = {
            "alert_type": "X",
            "received_at": NOW - timedelta(hours=1),
            "plan": [],
            "state": "resolved",
            "mttr_seconds": mttr,
        }
        if verdict:
            run["verdict"] = {"value": verdict, "by": "U1"}
        return run

    runs = [resolved(60, "useful"), resolved(3600, "noise"), resolved(60), resolved(3600)]
    # heuristic alone: the two quick ones; with verdicts: the quick unjudged one + the noise one
    assert loop_health(runs, NOW)["overall"]["false_positive_rate"] == 0.5
    assert loop_health(runs[:2], NOW)["overall"]["false_positive_rate"] == 0.5
    assert loop_health([resolved(60, "useful")], NOW)["overall"]["false_positive_rate"] == 0.0

"""Error-budget analysis against a real Prometheus holding 30 days of backfilled scenarios.

One Prometheus per session holds every scenario (told apart by the ``service`` label). Queries
are evaluated at the last sample time `END`, on the 5-minute sample grid, so the results do not
depend on how long the run takes.

Expected values are computed by hand from the generated samples: the increase over a window W is
``v(END) - v(END - W)`` summed over the service's series. Prometheus 2.42 range selectors are
closed ([END - W, END]) and there is a sample exactly at both ends, so rate() needs no
extrapolation and the ratio errors/total is exact up to float rounding: tolerance rel 1e-6.
(With left-open windows, as in Prometheus 3, both counters would be extrapolated by the same
factor and one step of history would drop out; the tolerance would then need ~step/W.)
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.prometheus import (
    DAY,
    PrometheusSandbox,
    SyntheticSeries,
    aligned_end,
    budget_scenarios,
    sandbox_unavailable,
)
from shared.budget import BudgetSettings, analyse, analyse_budget
from shared.budget.burn import window_seconds
from shared.model import Alert, Finding
from shared.prometheus import PrometheusClient, PrometheusSettings
from shared.run import Run

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

STEP = 300.0
END = aligned_end(STEP, margin=120)
SCENARIOS = budget_scenarios(END, STEP)
SETTINGS = BudgetSettings()  # defaults: 99% over 30 days, http_requests_total{code=~"5.."}
WINDOWS = ("5m", "30m", "1h", "6h", "1d", "3d", "30d")


@pytest.fixture(scope="session")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusSandbox]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    series = [s for group in SCENARIOS.values() for s in group]
    with PrometheusSandbox(series, tmp_path_factory.mktemp("prom-budget")) as sandbox:
        print(f"\nbudget sandbox: {len(series)} series, timings {sandbox.timings}")
        yield sandbox


@pytest.fixture(scope="session")
def client(prom: PrometheusSandbox) -> PrometheusClient:
    return PrometheusClient(PrometheusSettings(url=prom.url, timeout_seconds=10))


def value_at(s: SyntheticSeries, t: float) -> float:
    return next(v for ts, v in s.samples if ts == t)


def hand_ratio(service: str, window: str, handler: str | None = None) -> float:
    errors = total = 0.0
    for s in SCENARIOS[service]:
        if handler and s.labels["handler"] != handler:
            continue
        inc = value_at(s, END) - value_at(s, END - window_seconds(window))
        total += inc
        if s.labels["code"].startswith("5"):
            errors += inc
    return errors / total


def budget_run(service: str, investigate: dict[str, Any] | None = None) -> Run:
    """The run as the budget stage loads it (path B: investigate -> budget)."""
    alert = Alert(
        name="ErrorBudgetExhausted",
        labels={"service": service, "namespace": "shop", "severity": "warning"},
        starts_at=datetime.fromtimestamp(END, UTC),
        fingerprint=f"fp-{service}",
    )
    findings = []
    if investigate is not None:
        findings.append(Finding(stage="investigate", status="ok", summary="", details=investigate))
    return Run(
        run_id=f"run-{service}",
        source="dispatch",
        alert=alert,
        alert_type="ErrorBudgetExhausted",
        plan=["investigate", "budget"],
        findings=findings,
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def run(client: PrometheusClient, service: str, investigate: dict[str, Any] | None) -> Finding:
    finding = analyse(budget_run(service, investigate), client=client, settings=SETTINGS, now=END)
    json.dumps(finding.details, allow_nan=False)  # JSON-serialisable, no NaN
    print(f"\n--- {service} ---\n{finding.summary}")
    return finding


def assert_burns_match_hand(finding: Finding, service: str) -> None:
    for w in WINDOWS:
        expected = hand_ratio(service, w)
        got = finding.details["windows"][w]["error_ratio"]
        assert got == pytest.approx(expected, rel=1e-5), w
        burn = finding.details["burn_rates"][w]
        assert burn == pytest.approx(expected / 0.01, rel=1e-5), w
    consumed = hand_ratio(service, "30d") / 0.01
    assert finding.details["budget"]["consumed"] == pytest.approx(consumed, rel=1e-5)
    assert finding.details["budget"]["remaining"] == pytest.approx(max(0, 1 - consumed), abs=1e-5)


def actions(finding: Finding) -> list[str]:
    return [r["action"] for r in finding.details["recommendations"]]


DEPLOY_CHECKOUT = {
    "recent": True,
    "revision": 8,
    "previous_revision": 7,
    "created": iso(END - 50 * 60),
    "images": ["shop/checkout:1.8.0"],
}


def test_spike_after_deploy_proposes_rollback(client: PrometheusClient) -> None:
    f = run(client, "checkout", {"recent_deploy": DEPLOY_CHECKOUT, "hpa": None})
    assert f.status == "ok" and f.stage == "budget"
    assert_burns_match_hand(f, "checkout")
    # By hand: 45 of the last 60 minutes at (5 rps * 40% + 5 rps * 0.1%) / 10 rps = 20.05%
    # errors (burn 20.05), 15 minutes at 0.1% (burn 0.1).
    assert f.details["burn_rates"]["1h"] == pytest.approx((45 * 20.05 + 15 * 0.1) / 60, rel=1e-5)
    assert f.details["tier"]["name"] == "fast-burn"
    assert f.details["tier"]["severity"] == "page"
    assert f.details["pattern"] == "spike"
    # first 5m-ratio point above 1% is the first sample after the change
    assert f.details["burn_started_at"] == iso(END - 45 * 60 + STEP)
    assert f.details["recent_deploy"]["burn_started_after_deploy"] is True
    assert actions(f)[0] == "rollback"
    assert "revision 7" in f.details["recommendations"][0]["text"]
    assert f.details["endpoints"][0]["endpoint"] == "/api/checkout"
    assert f.details["endpoint_label"] == "handler"
    eta = f.details["exhaustion_eta_seconds"]
    remaining = f.details["budget"]["remaining"]
    assert eta == pytest.approx(remaining * 30 * DAY / f.details["burn_rates"]["1h"], rel=1e-4)
    assert "rollback to revision 7" in f.summary


def test_gradual_burn_recommends_capacity_and_names_endpoint(client: PrometheusClient) -> None:
    hpa = {
        "name": "search",
        "current_replicas": 10,
        "desired_replicas": 10,
        "min_replicas": 2,
        "max_replicas": 10,
        "at_max": True,
        "conditions": [],
    }
    old_deploy = dict(DEPLOY_CHECKOUT, recent=False, created=iso(END - 20 * DAY))
    f = run(client, "search", {"recent_deploy": old_deploy, "hpa": hpa})
    assert f.status == "ok"
    assert_burns_match_hand(f, "search")
    assert f.details["pattern"] == "gradual"
    assert f.details["tier"]["name"] == "chronic-burn"
    assert f.details["tier"]["severity"] == "ticket"
    # By hand: 0.2% + 2.8% * x / 10d crosses 1% at x = 10d * 0.8/2.8 (overall, with
    # /api/suggest's 2 rps at 0.1%: crossing where (10 r + 0.002) / 12 > 0.01 -> r > 1.18%).
    crossing = END - 10 * DAY + 10 * DAY * (0.0118 - 0.002) / 0.028
    started = datetime.fromisoformat(f.details["burn_started_at"]).timestamp()
    assert abs(started - crossing) <= 2 * STEP
    assert actions(f)[:2] == ["raise_capacity", "fix_endpoints"]
    assert "/api/search" in f.details["recommendations"][1]["text"]
    assert "rollback" not in actions(f)


def test_healthy_service(client: PrometheusClient) -> None:
    f = run(client, "catalog", None)
    assert f.status == "ok"
    assert_burns_match_hand(f, "catalog")
    assert f.details["burn_rates"]["30d"] == pytest.approx(0.1, rel=1e-5)
    assert f.details["budget"]["remaining"] == pytest.approx(0.9, rel=1e-5)
    assert f.details["tier"]["name"] == "none"
    assert f.details["pattern"] == "healthy"
    assert f.details["exhaustion_eta_seconds"] is None
    rec = f.details["recommendations"]
    assert [r["action"] for r in rec] == ["none"]
    assert rec[0]["text"].startswith("Budget healthy")
    assert any("no tier breached" in e for e in rec[0]["evidence"])


def test_one_endpoint_failing(client: PrometheusClient) -> None:
    old = dict(DEPLOY_CHECKOUT, recent=False, created=iso(END - 9 * DAY))
    f = run(client, "orders", {"recent_deploy": old})  # no hpa key at all
    assert f.status == "ok"
    assert_burns_match_hand(f, "orders")
    assert f.details["endpoints"][0]["endpoint"] == "/api/orders"
    top = f.details["endpoints"][0]
    assert top["error_ratio_1h"] == pytest.approx(hand_ratio("orders", "1h", "/api/orders"))
    assert top["share_of_errors_1h"] == pytest.approx(0.3 / (0.3 + 0.006), rel=1e-5)
    assert "/health" not in [e["endpoint"] for e in f.details["endpoints"]]
    assert f.details["tier"]["name"] == "chronic-burn"
    assert f.details["burn_started_at"] == iso(END - 2 * DAY + STEP)
    assert f.details["recent_deploy"]["burn_started_after_deploy"] is False
    assert "rollback" not in actions(f)
    assert actions(f)[0] == "fix_endpoints"
    assert "/api/orders" in f.details["recommendations"][0]["text"]
    assert "/api/users" not in f.details["recommendations"][0]["text"]


def test_no_data_is_skipped(client: PrometheusClient) -> None:
    f = run(client, "ghost", {})
    assert f.status == "skipped"
    assert "no request data" in f.summary and "service=ghost" in f.summary


def test_not_configured_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    f = analyse_budget(budget_run("checkout"))
    assert f.status == "skipped" and "PROMETHEUS_URL" in f.summary


def test_prometheus_down_is_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = PrometheusClient(PrometheusSettings(url=f"http://127.0.0.1:{port}", timeout_seconds=1))
    f = analyse(budget_run("checkout"), client=down, settings=SETTINGS, now=END)
    assert f.status == "error" and "unavailable" in f.summary


def test_bad_selector_is_error(client: PrometheusClient) -> None:
    settings = BudgetSettings(errors_selector='http_requests_total{code=~"("}')
    f = analyse(budget_run("checkout"), client=client, settings=settings, now=END)
    assert f.status == "error" and "rejected" in f.summary


def test_annotations_override_objective(client: PrometheusClient) -> None:
    catalog = budget_run("catalog")
    alert = catalog.alert.model_copy(update={"annotations": {"slo_objective": "99.95"}})
    catalog = catalog.model_copy(update={"alert": alert})
    f = analyse(catalog, client=client, settings=SETTINGS, now=END)
    assert f.details["objective"] == pytest.approx(0.9995)
    assert f.details["burn_rates"]["30d"] == pytest.approx(0.001 / 0.0005, rel=1e-5)
    assert f.details["budget"]["remaining"] == 0

"""Pure error-budget math, settings and PromQL building: no servers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.budget import burn, queries
from shared.budget.analysis import Recommendation, recommend
from shared.budget.settings import BudgetConfigError, BudgetSettings, parse_objective

PERIOD = 30 * 86400


def test_window_seconds() -> None:
    assert [burn.window_seconds(w) for w in ("5m", "6h", "3d")] == [300, 21600, 259200]
    with pytest.raises(ValueError):
        burn.window_seconds("5s")
    assert burn.windows_for(30)[-1] == "30d"
    assert burn.windows_for(3) == burn.SHORT_WINDOWS


def test_error_ratio_and_burn_rate() -> None:
    assert burn.error_ratio(1.0, 100.0) == 0.01
    assert burn.error_ratio(None, 100.0) == 0.0  # no error series but traffic: 0 errors
    assert burn.error_ratio(1.0, 0.0) is None
    assert burn.error_ratio(1.0, None) is None
    assert burn.error_ratio(math.nan, 10.0) == 0.0
    assert burn.burn_rate(0.01, 0.99) == pytest.approx(1.0)
    assert burn.burn_rate(0.144, 0.99) == pytest.approx(14.4)
    assert burn.burn_rate(0.001, 0.999) == pytest.approx(1.0)
    assert burn.burn_rate(None, 0.99) is None
    with pytest.raises(ValueError):
        burn.burn_rate(0.1, 1.0)


@given(errors=st.floats(0, 1e6), total=st.floats(1e-3, 1e6), objective=st.floats(0.5, 0.9999))
def test_burn_rate_properties(errors: float, total: float, objective: float) -> None:
    ratio = burn.error_ratio(errors, total)
    assert ratio is not None and 0 <= ratio <= 1
    b = burn.burn_rate(ratio, objective)
    assert b is not None and b >= 0
    state = burn.budget_state(b)
    assert 0 <= state.remaining <= 1
    assert state.exhausted == (b >= 1)


def test_budget_state() -> None:
    assert burn.budget_state(0.25) == burn.BudgetState(0.25, 0.75)
    s = burn.budget_state(1.5)
    assert s.remaining == 0 and s.exhausted


def test_tier_thresholds_match_sre_workbook() -> None:
    thresholds = [r.threshold(PERIOD) for r in burn.TIER_RULES]
    assert thresholds == pytest.approx([14.4, 6.0, 1.0])
    # a 28-day SLO scales the same budget fractions
    assert burn.TIER_RULES[0].threshold(28 * 86400) == pytest.approx(13.44)


@pytest.mark.parametrize(
    ("burns", "expected"),
    [
        ({"1h": 15, "5m": 15, "6h": 7, "30m": 7, "3d": 2}, "fast-burn"),
        ({"1h": 15, "5m": 2, "6h": 7, "30m": 7, "3d": 2}, "slow-burn"),  # 5m recovered
        ({"1h": 3, "5m": 3, "6h": 3, "30m": 3, "3d": 1.2}, "chronic-burn"),
        ({"1h": 3, "5m": 3, "6h": 0.9, "30m": 3, "3d": 1.2}, None),  # 6h below 1x
        ({"1h": 0.1, "5m": 0.1, "6h": 0.1, "30m": 0.1, "3d": 0.1}, None),
        ({"1h": None, "5m": None, "6h": None, "30m": None, "3d": None}, None),
    ],
)
def test_breached_tier(burns: dict[str, float | None], expected: str | None) -> None:
    tier = burn.breached_tier(burn.evaluate_tiers(burns, PERIOD))
    assert (tier.rule.name if tier else None) == expected
    if tier:
        assert tier.rule.long_window in tier.describe()


def test_exhaustion_eta() -> None:
    # 50% left, burning 10x: a 30-day budget lasts 3 days at 10x, half of it 1.5 days
    assert burn.exhaustion_eta_seconds(0.5, 10, PERIOD) == pytest.approx(1.5 * 86400)
    assert burn.exhaustion_eta_seconds(0.0, 10, PERIOD) == 0
    assert burn.exhaustion_eta_seconds(0.5, 1.0, PERIOD) is None  # sustainable
    assert burn.exhaustion_eta_seconds(0.5, None, PERIOD) is None


def pts(values: list[float], step: float = 300, start: float = 0) -> list[tuple[float, float]]:
    return [(start + i * step, v) for i, v in enumerate(values)]


def test_find_onset_spike() -> None:
    o = burn.find_onset(pts([0.001] * 30 + [0.2] * 10), 0.01)
    assert o.started_at == 30 * 300
    assert not o.always_above
    assert o.pre_ratio == pytest.approx(0.001)
    assert o.post_ratio == pytest.approx(0.2)


def test_find_onset_tolerates_short_dips_and_nan() -> None:
    values = [0.001] * 20 + [0.05] * 5 + [0.005] * 2 + [math.nan] + [0.05] * 5
    o = burn.find_onset(pts(values), 0.01, max_gap_seconds=1800)
    assert o.started_at == 20 * 300
    # a long quiet stretch ends the episode
    values = [0.05] * 5 + [0.001] * 20 + [0.05] * 5
    assert burn.find_onset(pts(values), 0.01).started_at == 25 * 300


def test_find_onset_none_and_always() -> None:
    assert burn.find_onset(pts([0.001] * 20), 0.01).started_at is None
    assert burn.find_onset([], 0.01).started_at is None
    o = burn.find_onset(pts([0.02] * 20), 0.01)
    assert o.started_at == 0 and o.always_above
    # recovered for longer than the gap: no current episode
    assert burn.find_onset(pts([0.05] * 10 + [0.001] * 10), 0.01).started_at is None


def test_classify() -> None:
    hot = {"1h": 15.0, "6h": 3.0, "3d": 0.5}
    spike = burn.find_onset(pts([0.001] * 30 + [0.2] * 10), 0.01)
    assert burn.classify(hot, spike, 0.01) == "spike"
    ramp = [0.002 + 0.0005 * i for i in range(40)]
    gradual = burn.find_onset(pts(ramp), 0.01)
    assert burn.classify({"1h": 2.0, "6h": 1.9, "3d": 1.5}, gradual, 0.01) == "gradual"
    chronic = burn.find_onset(pts([0.02] * 10), 0.01)
    assert burn.classify({"1h": 2.0, "6h": 2.0}, chronic, 0.01) == "gradual"
    none = burn.Onset(None, False, None, None)
    assert burn.classify({"1h": 0.2, "6h": 0.3}, none, 0.01) == "healthy"
    assert burn.classify({"1h": 0.2, "6h": 0.3}, none, 0.01, period_burn=1.2) == "recovered"
    assert burn.classify({"1h": 20.0, "6h": 5.0, "3d": 1.0}, none, 0.01) == "spike"
    assert burn.classify({"1h": 2.0, "6h": 2.0, "3d": 1.8}, none, 0.01) == "gradual"
    assert burn.classify({}, none, 0.01) == "unknown"


def test_parse_objective() -> None:
    assert parse_objective("0.995", "x") == pytest.approx(0.995)
    assert parse_objective("99.9", "x") == pytest.approx(0.999)
    assert parse_objective("99%", "x") == pytest.approx(0.99)
    for bad in ("abc", "0", "100", "-1"):
        with pytest.raises(BudgetConfigError):
            parse_objective(bad, "x")


def test_settings_env_and_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_SLO_OBJECTIVE", "99.5")
    monkeypatch.setenv("BUDGET_SLO_PERIOD_DAYS", "28")
    monkeypatch.setenv("BUDGET_ENDPOINT_LABELS", "route, path")
    monkeypatch.setenv("BUDGET_ERRORS_SELECTOR", 'grpc_server_handled_total{grpc_code!="OK"}')
    s = BudgetSettings.from_env()
    assert s.objective == pytest.approx(0.995) and s.period_days == 28
    assert s.endpoint_labels == ("route", "path")
    assert s.errors_selector.startswith("grpc_server_handled_total")
    o = s.with_annotations({"slo_objective": "0.9", "slo_endpoint_label": "uri"})
    assert o.objective == pytest.approx(0.9) and o.endpoint_labels == ("uri",)
    assert s.with_annotations({}) is s
    with pytest.raises(BudgetConfigError, match="slo_total_selector"):
        s.with_annotations({"slo_total_selector": "sum(rate(x[5m]))"})
    monkeypatch.setenv("BUDGET_SLO_PERIOD_DAYS", "zero")
    with pytest.raises(BudgetConfigError, match="BUDGET_SLO_PERIOD_DAYS"):
        BudgetSettings.from_env()


def test_with_matchers_and_quoting() -> None:
    m = queries.alert_matchers(
        {"service": 'we"ird', "job": "", "namespace": "shop", "x": "y"},
        ["service", "job", "namespace"],
    )
    assert m == {"service": 'we"ird', "namespace": "shop"}
    assert (
        queries.with_matchers('http_requests_total{code=~"5.."}', m)
        == 'http_requests_total{code=~"5..",namespace="shop",service="we\\"ird"}'
    )
    assert queries.with_matchers("up", {"a": "b"}) == 'up{a="b"}'
    assert queries.with_matchers("up{}", {"a": "b"}) == 'up{a="b"}'
    assert queries.with_matchers("up", {}) == "up"


def test_windows_query_is_one_batched_query() -> None:
    q = queries.windows_query("e", "t", ("5m", "1h"))
    assert q.count(" or ") == 3
    assert "sum(rate(e[5m]))" in q and '"window", "1h"' in q and '"kind", "total"' in q


def _recommend(**kw: object) -> list[Recommendation]:
    args: dict[str, object] = {
        "pattern": "healthy",
        "tier": None,
        "budget": burn.budget_state(0.1),
        "burns": {"1h": 0.1, "6h": 0.1, "3d": 0.1},
        "eta": None,
        "endpoints": [],
        "endpoint_label": "handler",
        "deploy": None,
        "hpa": None,
        "period_window": "30d",
    }
    args.update(kw)
    return recommend(**args)  # type: ignore[arg-type]


def _tier(name: str) -> burn.TierResult:
    rule = next(r for r in burn.TIER_RULES if r.name == name)
    return burn.TierResult(rule, rule.threshold(PERIOD), 20.0, 20.0)


def test_recommend_healthy_says_why() -> None:
    recs = _recommend()
    assert [r.action for r in recs] == ["none"]
    assert "Budget healthy" in recs[0].text
    assert any("90.0% of the 30d budget remaining" in e for e in recs[0].evidence)


def test_recommend_rollback_after_deploy_then_capacity() -> None:
    deploy = {
        "revision": 5,
        "previous_revision": 4,
        "created": "2024-01-01T00:00:00+00:00",
        "burn_started_after_deploy": True,
        "minutes_from_deploy_to_burn": 5.0,
    }
    hpa = {"name": "web", "at_max": True, "max_replicas": 10, "current_replicas": 10}
    recs = _recommend(
        pattern="spike",
        tier=_tier("fast-burn"),
        deploy=deploy,
        hpa=hpa,
        eta=7200.0,
        burns={"1h": 20.0, "3d": 1.0},
    )
    assert [r.action for r in recs] == ["rollback", "raise_capacity"]
    assert "revision 4" in recs[0].text
    assert any("exhausted in 2.0h" in e for e in recs[0].evidence)
    no_prev = dict(deploy, previous_revision=None)
    recs = _recommend(pattern="spike", tier=_tier("fast-burn"), deploy=no_prev)
    assert recs[0].action == "investigate"


def test_recommend_gradual_names_endpoints() -> None:
    endpoints = [
        {"endpoint": "/a", "share_of_errors_1h": 0.9, "error_ratio_1h": 0.03},
        {"endpoint": "/b", "share_of_errors_1h": 0.02, "error_ratio_1h": 0.001},
    ]
    recs = _recommend(pattern="gradual", tier=_tier("chronic-burn"), endpoints=endpoints)
    assert recs[0].action == "fix_endpoints"
    assert "/a" in recs[0].text and "/b" not in recs[0].text
    recs = _recommend(pattern="gradual", tier=_tier("chronic-burn"))
    assert recs[0].action == "scale"


def test_recommend_exhausted_but_quiet() -> None:
    recs = _recommend(pattern="recovered", budget=burn.budget_state(1.2))
    assert recs[0].action == "none" and "exhausted" in recs[0].text

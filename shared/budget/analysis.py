"""The budget stage: query Prometheus, compute burn rates and tiers, correlate, recommend."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import promql
from shared.budget import burn, queries
from shared.budget.settings import BudgetConfigError, BudgetSettings
from shared.model import Finding, FindingStatus, utcnow
from shared.prometheus import (
    PrometheusAuthError,
    PrometheusClient,
    PrometheusError,
    PrometheusNotConfigured,
    PrometheusQueryError,
    PrometheusSettings,
    PrometheusUnavailable,
)
from shared.run import Run

STAGE = "budget"
RANGE_MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series
MIN_RANGE_STEP = 300
MIN_ENDPOINT_SHARE = 0.1


@dataclass
class Recommendation:
    priority: int  # 1 = do first
    action: str  # rollback | raise_capacity | scale | fix_endpoints | investigate | none
    text: str
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "action": self.action,
            "text": self.text,
            "evidence": list(self.evidence),
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _clean(v: float | None, digits: int = 6) -> float | None:
    """JSON-safe float: NaN/Inf -> None, rounded to `digits` significant digits."""
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _parse_time(raw: Any) -> float | None:
    if isinstance(raw, datetime):
        dt = raw
    elif isinstance(raw, str) and raw:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.1f}%"


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}x"


# -- Prometheus reads -------------------------------------------------------------------------


def window_rates(
    client: PrometheusClient, errors: str, total: str, windows: Sequence[str], at: float
) -> dict[str, tuple[float | None, float | None]]:
    """{window: (errors/s, requests/s)} from one instant query."""
    samples = client.instant(queries.windows_query(errors, total, windows), time=at)
    out: dict[str, list[float | None]] = {w: [None, None] for w in windows}
    for labels, value in samples:
        w, kind = labels.get("window", ""), labels.get("kind", "")
        if w in out and kind in ("errors", "total") and math.isfinite(value):
            out[w][0 if kind == "errors" else 1] = value
    return {w: (v[0], v[1]) for w, v in out.items()}


def endpoint_breakdown(
    client: PrometheusClient,
    errors: str,
    total: str,
    settings: BudgetSettings,
    period: str,
    at: float,
) -> tuple[str | None, list[dict[str, Any]]]:
    """(endpoint label used, top endpoints by errors over the period, with 1h figures)."""
    labels = [lbl for lbl in settings.endpoint_labels if promql.is_label_name(lbl)]
    if not labels:
        return None, []
    windows = ("1h", period)
    samples = client.instant(queries.endpoints_query(errors, total, labels, windows), time=at)
    chosen = next(
        (lbl for lbl in labels if any(s.labels.get(lbl) for s in samples)),
        None,
    )
    if chosen is None:
        return None, []
    acc: dict[str, dict[str, float]] = {}
    for s in samples:
        name = s.labels.get(chosen, "")
        if not name or not math.isfinite(s.value):
            continue
        key = f"{s.labels.get('kind')}_{'recent' if s.labels.get('window') == '1h' else 'period'}"
        entry = acc.setdefault(name, {})
        entry[key] = entry.get(key, 0.0) + s.value
    errors_period = sum(e.get("errors_period", 0.0) for e in acc.values())
    errors_recent = sum(e.get("errors_recent", 0.0) for e in acc.values())
    requests_period = sum(e.get("total_period", 0.0) for e in acc.values())
    allowed = settings.allowed_error_ratio * requests_period
    rows = []
    for name, e in acc.items():
        ep, er = e.get("errors_period", 0.0), e.get("errors_recent", 0.0)
        if ep <= 0 and er <= 0:
            continue
        rows.append(
            {
                "endpoint": name,
                "errors": _clean(ep),
                "requests": _clean(e.get("total_period", 0.0)),
                "error_ratio": _clean(burn.error_ratio(ep, e.get("total_period"))),
                "share_of_errors": _clean(ep / errors_period if errors_period else None),
                "budget_consumed": _clean(ep / allowed if allowed else None),
                "errors_1h": _clean(er),
                "error_ratio_1h": _clean(burn.error_ratio(er, e.get("total_recent"))),
                "share_of_errors_1h": _clean(er / errors_recent if errors_recent else None),
            }
        )
    rows.sort(key=lambda r: (r["share_of_errors_1h"] or 0, r["errors"] or 0), reverse=True)
    return chosen, rows[: settings.top_endpoints]


def ratio_points(
    client: PrometheusClient, errors: str, total: str, period_seconds: int, at: float
) -> tuple[list[tuple[float, float]], int]:
    step = max(MIN_RANGE_STEP, math.ceil(period_seconds / RANGE_MAX_POINTS))
    query = queries.ratio_query(errors, total, f"{step}s")
    series = client.range(query, at - period_seconds, at, step)
    points = series[0].values if series else []
    return points, step


# -- correlation and recommendations ----------------------------------------------------------


def deploy_correlation(
    deploy: Mapping[str, Any] | None,
    onset: float | None,
    pattern: str,
    settings: BudgetSettings,
    step: int,
) -> dict[str, Any] | None:
    if not isinstance(deploy, Mapping):
        return None
    created = _parse_time(deploy.get("created"))
    out: dict[str, Any] = {
        "revision": deploy.get("revision"),
        "previous_revision": deploy.get("previous_revision"),
        "created": deploy.get("created"),
        "recent": bool(deploy.get("recent")),
        "images": list(deploy.get("images") or []),
        "burn_started_after_deploy": False,
        "minutes_from_deploy_to_burn": None,
    }
    if created is not None and onset is not None:
        delta = onset - created
        out["minutes_from_deploy_to_burn"] = round(delta / 60, 1)
        # the onset is only known to one range step
        out["burn_started_after_deploy"] = (
            -step <= delta <= settings.deploy_correlation_minutes * 60 and pattern == "spike"
        )
    return out


def recommend(
    *,
    pattern: str,
    tier: burn.TierResult | None,
    budget: burn.BudgetState,
    burns: Mapping[str, float | None],
    eta: float | None,
    endpoints: Sequence[Mapping[str, Any]],
    endpoint_label: str | None,
    deploy: Mapping[str, Any] | None,
    hpa: Mapping[str, Any] | None,
    period_window: str,
) -> list[Recommendation]:
    recs: list[Recommendation] = []
    burning = pattern in ("spike", "gradual", "unknown") and tier is not None
    # endpoints worth naming: at least 10% of recent (else period) errors
    top = [
        e
        for e in endpoints
        if (e.get("share_of_errors_1h") or e.get("share_of_errors") or 0) >= MIN_ENDPOINT_SHARE
    ]
    names = ", ".join(str(e["endpoint"]) for e in top[:3])
    ep_evidence = [
        f"{endpoint_label}={e['endpoint']}: {_pct(e.get('share_of_errors_1h'))} of errors in "
        f"the last 1h, error ratio {_pct(e.get('error_ratio_1h'))}"
        for e in top[:3]
    ]
    if deploy and deploy.get("burn_started_after_deploy"):
        prev = deploy.get("previous_revision")
        evidence = [
            f"burn started {deploy.get('minutes_from_deploy_to_burn')} min after deploy of "
            f"revision {deploy.get('revision')} ({deploy.get('created')})",
            f"burn {_x(burns.get('1h'))} over 1h vs {_x(burns.get('3d'))} over 3d (spike)",
        ]
        if prev is not None:
            recs.append(
                Recommendation(
                    1,
                    "rollback",
                    f"Propose rollback to revision {prev} (needs approval)",
                    evidence,
                )
            )
        else:
            recs.append(
                Recommendation(
                    1,
                    "investigate",
                    f"Investigate deploy revision {deploy.get('revision')}: no previous "
                    "revision to roll back to",
                    evidence,
                )
            )
    if hpa and hpa.get("at_max") and (burning or budget.exhausted):
        recs.append(
            Recommendation(
                2,
                "raise_capacity",
                f"Raise capacity: HPA {hpa.get('name')} is at its maximum of "
                f"{hpa.get('max_replicas')} replicas",
                [
                    f"HPA {hpa.get('name')}: {hpa.get('current_replicas')} current, "
                    f"{hpa.get('desired_replicas')} desired, max {hpa.get('max_replicas')}",
                ],
            )
        )
    if pattern == "gradual" and (burning or budget.exhausted):
        text = "Gradual burn: scale capacity or fix the root cause"
        if names:
            text += f" in {names}"
        recs.append(
            Recommendation(
                3,
                "scale" if not names else "fix_endpoints",
                text,
                [
                    f"burn {_x(burns.get('1h'))} over 1h ~ {_x(burns.get('3d'))} over 3d (gradual)",
                    *ep_evidence,
                ],
            )
        )
    elif (
        pattern in ("spike", "unknown")
        and (burning or budget.exhausted)
        and not any(r.action == "rollback" for r in recs)
    ):
        text = "Error spike not explained by a recent deploy: fix the root cause"
        if names:
            text += f" in {names}"
        recs.append(Recommendation(3, "fix_endpoints", text, ep_evidence or ["no endpoint label"]))
    if not recs and budget.exhausted:
        recs.append(
            Recommendation(
                4,
                "none",
                "Budget exhausted by past errors but not burning now: freeze risky changes "
                "until it recovers",
                [
                    f"{_pct(budget.consumed)} of the {period_window} budget consumed",
                    f"burn {_x(burns.get('1h'))} over 1h",
                ],
            )
        )
    if not recs and not burning:
        evidence = [
            f"burn {_x(burns.get('1h'))} over 1h, {_x(burns.get('6h'))} over 6h, "
            f"{_x(burns.get('3d'))} over 3d: no tier breached",
            f"{_pct(budget.remaining)} of the {period_window} budget remaining",
        ]
        recs.append(Recommendation(5, "none", "Budget healthy: no action needed", evidence))
    if not recs:  # burning (tier breached) but nothing more specific to say
        recs.append(
            Recommendation(
                3,
                "scale",
                "Scale capacity or fix the root cause",
                [tier.describe()] if tier else [],
            )
        )
    if eta is not None and eta > 0 and recs and recs[0].action != "none":
        recs[0].evidence.append(f"budget exhausted in {_duration(eta)} at the current burn")
    recs.sort(key=lambda r: r.priority)
    return recs


# -- the stage --------------------------------------------------------------------------------


def _investigation(envelope: Run) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    finding = envelope.finding("investigate")
    details = finding.details if finding else {}
    deploy = details.get("recent_deploy") if isinstance(details, Mapping) else None
    hpa = details.get("hpa") if isinstance(details, Mapping) else None
    return (
        deploy if isinstance(deploy, Mapping) else None,
        hpa if isinstance(hpa, Mapping) else None,
    )


def _finding(
    status: FindingStatus, summary: str, details: dict[str, Any], started: datetime
) -> Finding:
    return Finding(
        stage=STAGE,
        status=status,
        summary=summary,
        details=details,
        started=started,
        finished=utcnow(),
    )


def analyse(
    envelope: Run,
    client: PrometheusClient | None = None,
    settings: BudgetSettings | None = None,
    now: datetime | float | None = None,
) -> Finding:
    """The budget finding for an envelope; `now` fixes the evaluation time (tests, replays)."""
    started = utcnow()
    alert = envelope.alert
    try:
        settings = (settings or BudgetSettings.from_env()).with_annotations(alert.annotations)
    except BudgetConfigError as exc:
        return _finding("error", f"Budget settings invalid: {exc}", {"error": str(exc)}, started)
    try:
        client = client or PrometheusClient(PrometheusSettings.from_env())
    except ValueError as exc:
        return _finding(
            "error", f"Prometheus settings invalid: {exc}", {"error": str(exc)}, started
        )
    if not client.configured:
        return _finding(
            "skipped",
            "Error-budget analysis skipped: Prometheus is not configured. Set PROMETHEUS_URL "
            "(and PROMETHEUS_AUTH=bearer|google for secured or Google Managed Prometheus).",
            {"reason": "prometheus_not_configured"},
            started,
        )
    at = now.timestamp() if isinstance(now, datetime) else (now if now is not None else time.time())
    matchers = queries.alert_matchers(alert.labels, settings.match_labels)
    try:
        errors = queries.with_matchers(settings.errors_selector, matchers)
        total = queries.with_matchers(settings.total_selector, matchers)
    except promql.PromQLError as exc:
        return _finding("error", f"Budget settings invalid: {exc}", {"error": str(exc)}, started)
    base: dict[str, Any] = {
        "objective": settings.objective,
        "period_days": settings.period_days,
        "errors_selector": errors,
        "total_selector": total,
        "matchers": matchers,
        "evaluated_at": _iso(at),
    }
    scope = ", ".join(f"{k}={v}" for k, v in sorted(matchers.items())) or "all series"
    try:
        return _analyse(envelope, client, settings, at, errors, total, base, scope, started)
    except PrometheusNotConfigured as exc:
        return _finding("skipped", f"Error-budget analysis skipped: {exc}", base, started)
    except PrometheusQueryError as exc:
        return _finding(
            "error",
            f"Prometheus rejected the budget query for {scope}: {exc}. Check the SLO selectors "
            "(BUDGET_ERRORS_SELECTOR / BUDGET_TOTAL_SELECTOR or slo_* annotations).",
            {**base, "error": str(exc)},
            started,
        )
    except (PrometheusUnavailable, PrometheusAuthError, PrometheusError) as exc:
        return _finding(
            "error",
            f"Error-budget analysis failed: Prometheus unavailable ({exc})",
            {**base, "error": str(exc)},
            started,
        )


def _analyse(
    envelope: Run,
    client: PrometheusClient,
    settings: BudgetSettings,
    at: float,
    errors: str,
    total: str,
    base: dict[str, Any],
    scope: str,
    started: datetime,
) -> Finding:
    windows = burn.windows_for(settings.period_days)
    period = f"{settings.period_days}d"
    rates = window_rates(client, errors, total, windows, at)
    ratios = {w: burn.error_ratio(e, t) for w, (e, t) in rates.items()}
    burns = {w: burn.burn_rate(r, settings.objective) for w, r in ratios.items()}
    if ratios.get(period) is None:
        return _finding(
            "skipped",
            f"Error-budget analysis skipped: no request data for {scope} over {period} "
            f"(selector {total}). Check the alert labels or BUDGET_TOTAL_SELECTOR.",
            {**base, "reason": "no_data", "queries": 1},
            started,
        )
    budget = burn.budget_state(burns[period] or 0.0)
    tiers = burn.evaluate_tiers(burns, settings.period_seconds)
    tier = burn.breached_tier(tiers)
    current = burns.get("1h") if burns.get("1h") is not None else burns.get("6h")
    eta = burn.exhaustion_eta_seconds(budget.remaining, current, settings.period_seconds)

    points, step = ratio_points(client, errors, total, settings.period_seconds, at)
    onset = burn.find_onset(
        points, settings.allowed_error_ratio, max_gap_seconds=max(1800, 2 * step)
    )
    pattern = burn.classify(burns, onset, settings.allowed_error_ratio, burns.get(period))
    endpoint_label, endpoints = endpoint_breakdown(client, errors, total, settings, period, at)

    deploy_raw, hpa_raw = _investigation(envelope)
    deploy = deploy_correlation(deploy_raw, onset.started_at, pattern, settings, step)
    hpa = dict(hpa_raw) if hpa_raw else None
    recs = recommend(
        pattern=pattern,
        tier=tier,
        budget=budget,
        burns=burns,
        eta=eta,
        endpoints=endpoints,
        endpoint_label=endpoint_label,
        deploy=deploy,
        hpa=hpa,
        period_window=period,
    )
    details: dict[str, Any] = {
        **base,
        "windows": {
            w: {
                "errors_per_second": _clean(rates[w][0]),
                "requests_per_second": _clean(rates[w][1]),
                "error_ratio": _clean(ratios[w]),
                "burn_rate": _clean(burns[w]),
            }
            for w in windows
        },
        "burn_rates": {w: _clean(b) for w, b in burns.items()},
        "budget": {
            "consumed": _clean(budget.consumed),
            "remaining": _clean(budget.remaining),
            "exhausted": budget.exhausted,
        },
        "tier": {
            "name": tier.rule.name if tier else "none",
            "severity": tier.rule.severity if tier else "none",
            "rule": tier.describe() if tier else "",
            "evaluated": [
                {
                    "name": t.rule.name,
                    "severity": t.rule.severity,
                    "long_window": t.rule.long_window,
                    "short_window": t.rule.short_window,
                    "threshold": _clean(t.threshold),
                    "breached": t.breached,
                }
                for t in tiers
            ],
        },
        "exhaustion_eta_seconds": _clean(eta),
        "exhaustion_eta": _iso(at + eta) if eta is not None else None,
        "pattern": pattern,
        "burn_started_at": _iso(onset.started_at),
        "burn_started_before_range": onset.always_above,
        "range_step_seconds": step,
        "endpoint_label": endpoint_label,
        "endpoints": endpoints,
        "recent_deploy": deploy,
        "hpa": hpa,
        "recommendations": [r.as_dict() for r in recs],
        "queries": 3,
    }
    summary = _summary(
        settings,
        period,
        budget,
        burns,
        tier,
        eta,
        pattern,
        onset,
        at,
        endpoint_label,
        endpoints,
        deploy,
        recs,
    )
    return _finding("ok", summary, details, started)


def _summary(
    settings: BudgetSettings,
    period: str,
    budget: burn.BudgetState,
    burns: Mapping[str, float | None],
    tier: burn.TierResult | None,
    eta: float | None,
    pattern: str,
    onset: burn.Onset,
    at: float,
    endpoint_label: str | None,
    endpoints: Sequence[Mapping[str, Any]],
    deploy: Mapping[str, Any] | None,
    recs: Sequence[Recommendation],
) -> str:
    slo = f"{settings.objective * 100:g}% over {period}"
    state = "EXHAUSTED" if budget.exhausted else f"{_pct(budget.remaining)} remaining"
    lines = [
        f"Error budget ({slo}): {state} ({_pct(budget.consumed)} consumed). "
        f"Burn {_x(burns.get('1h'))} over 1h, {_x(burns.get('6h'))} over 6h, "
        f"{_x(burns.get('3d'))} over 3d.",
    ]
    tier_text = f"Tier: {tier.rule.severity} ({tier.rule.name})" if tier else "Tier: none breached"
    if eta:
        tier_text += f"; budget gone in {_duration(eta)} at the current burn"
    lines.append(tier_text + ".")
    if pattern in ("spike", "gradual") and onset.started_at is not None:
        when = datetime.fromtimestamp(onset.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        since = "before " if onset.always_above else ""
        ago = _duration(at - onset.started_at)
        text = f"{pattern.capitalize()} burn since {since}{when} ({ago} ago)"
        if deploy and deploy.get("burn_started_after_deploy"):
            text += f", right after deploy of revision {deploy.get('revision')}"
        lines.append(text + ".")
    if endpoints and pattern not in ("healthy",):
        top = endpoints[0]
        share = top.get("share_of_errors_1h") or top.get("share_of_errors")
        lines.append(f"Top endpoint: {endpoint_label}={top['endpoint']} ({_pct(share)} of errors).")
    if recs:
        lines.append(f"Recommendation: {recs[0].text}.")
    return "\n".join(lines)

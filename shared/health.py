"""Loop health: is the alert-to-remediation loop doing its job? Computed from the run ledger.

The five measures of the reference design, per alert type and overall:
- execution: runs whose whole plan ran, against runs recorded (should match the alert rate);
- investigation duration (target < 5 min);
- MTTR (resolution - start, for resolved runs);
- false-positive rate (> 10% means the alert's threshold needs work);
- team action rate (target < 20%).

The last two are facts where people gave them, heuristics only where they did not:
- a run whose incident got a verdict in Slack (Useful / Noise / Needed manual work, mirrored
  onto `runs/{id}.verdict`) is a false positive exactly when the verdict is Noise; otherwise a
  resolved run that cleared by itself within `quick_minutes` with no cluster change is guessed to
  be one;
- a run counts as team action when its verdict is Needed manual work or a person decided its
  rollback proposal (`approval_decision`); without either, when the heuristic says a human was
  needed (a proposal, a refusal or error, a dead-lettered stage, a database alert).
The report says which share of each measure rests on verdicts and decisions.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

INVESTIGATION_TARGET_SECONDS = 300.0
FALSE_POSITIVE_LIMIT = 0.10
TEAM_ACTION_TARGET = 0.20
CHANGES = {"restart", "scale_deployment", "raise_hpa_max"}
VERDICTS = ("useful", "noise", "manual")


@dataclass
class Measures:
    runs: int = 0
    executed: int = 0
    resolved: int = 0
    fp_runs: int = 0  # runs the false-positive rate is over: resolved, or judged by a verdict
    fp_judged: int = 0  # … of which people gave a verdict
    false_positives: int = 0
    team_judged: int = 0  # runs with a verdict or a decided rollback proposal
    team_actions: int = 0
    investigation_seconds: list[float] = field(default_factory=list)
    mttr_seconds: list[float] = field(default_factory=list)

    def summary(self, days: float) -> dict[str, Any]:
        inv = sorted(self.investigation_seconds)
        return {
            "runs": self.runs,
            "alerts_per_day": round(self.runs / days, 2) if days else None,
            "execution_rate": _ratio(self.executed, self.runs),
            "investigation_p50_s": _pct(inv, 0.5),
            "investigation_p95_s": _pct(inv, 0.95),
            "investigation_max_s": inv[-1] if inv else None,
            "mttr_mean_s": statistics.fmean(self.mttr_seconds) if self.mttr_seconds else None,
            "mttr_p50_s": _pct(sorted(self.mttr_seconds), 0.5),
            "false_positive_rate": _ratio(self.false_positives, self.fp_runs),
            "false_positive_verdict_share": _ratio(self.fp_judged, self.fp_runs),
            "false_positive_runs": self.fp_runs,
            "team_action_rate": _ratio(self.team_actions, self.runs),
            "team_action_fact_share": _ratio(self.team_judged, self.runs),
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def needs_team(run: dict[str, Any]) -> bool:
    findings = run.get("findings") or {}
    if run.get("state") == "failed" or "deadletter" in findings:
        return True
    if any((f or {}).get("status") == "error" for f in findings.values()):
        return True
    details = (findings.get("remediate") or {}).get("details") or {}
    action = str(details.get("action", ""))
    if action.startswith("propose") or details.get("refused"):
        return True
    return _is_database(str(run.get("alert_type", "")))


def _is_database(alert_type: str) -> bool:
    from shared.config import settings
    from shared.policy import PolicyError, cached_policy

    try:
        _, entry = cached_policy(settings().policy_file).resolve(alert_type)
    except PolicyError:
        return False
    return entry.database


def verdict(run: dict[str, Any]) -> str | None:
    """The people's verdict on the run's incident (mirrored onto the run), if any."""
    value = (
        (run.get("verdict") or {}).get("value") if isinstance(run.get("verdict"), dict) else None
    )
    return value if value in VERDICTS else None


def decided_by_people(run: dict[str, Any]) -> bool:
    """A person approved or rejected the run's rollback proposal."""
    decision = run.get("approval_decision")
    return isinstance(decision, dict) and decision.get("outcome") in ("approved", "rejected")


def changed_cluster(run: dict[str, Any]) -> bool:
    details = ((run.get("findings") or {}).get("remediate") or {}).get("details") or {}
    return details.get("action") in CHANGES and not details.get("dry_run")


# The run fields the measures read (a projection: the ledger need not send whole findings).
FINDING_STAGES = ("investigate", "remediate", "budget", "rollback", "deadletter")
HEALTH_FIELDS: tuple[str, ...] = (
    "run_id",
    "incident_id",
    "received_at",
    "alert_type",
    "cluster",
    "plan",
    "state",
    "status",
    "mttr_seconds",
    "timings",
    "verdict",
    "approval_decision",
    *(f"findings.{s}.status" for s in FINDING_STAGES),
    "findings.remediate.details.action",
    "findings.remediate.details.refused",
    "findings.remediate.details.dry_run",
)


def tally(m: Measures, run: dict[str, Any], quick_minutes: float) -> None:
    """Count one run into `m` (the one place the five measures are defined): the false-positive
    and team-action measures are facts where people gave them (a verdict, a decided rollback),
    heuristics only where they did not."""
    m.runs += 1
    findings = run.get("findings") or {}
    if all(stage in findings for stage in run.get("plan") or []):
        m.executed += 1
    inv = (run.get("timings") or {}).get("investigate_seconds")
    if isinstance(inv, int | float):
        m.investigation_seconds.append(float(inv))
    judged = verdict(run)
    resolved = run.get("state") == "resolved" and run.get("mttr_seconds") is not None
    quick = False
    if resolved:
        mttr = float(run["mttr_seconds"])
        m.resolved += 1
        m.mttr_seconds.append(mttr)
        quick = mttr <= quick_minutes * 60 and not changed_cluster(run)
    if judged is not None:
        m.fp_runs += 1
        m.fp_judged += 1
        m.false_positives += judged == "noise"
    elif resolved:
        m.fp_runs += 1
        m.false_positives += quick
    if judged is not None or decided_by_people(run):
        m.team_judged += 1
        m.team_actions += judged == "manual" or decided_by_people(run)
    elif needs_team(run):
        m.team_actions += 1


def loop_health(
    runs: list[dict[str, Any]], now: datetime, days: float = 30, quick_minutes: float = 5
) -> dict[str, Any]:
    since = now - timedelta(days=days)
    overall = Measures()
    by_type: dict[str, Measures] = defaultdict(Measures)
    for run in runs:
        received = as_time(run.get("received_at"))
        if received is None or received < since:
            continue
        for m in (overall, by_type[str(run.get("alert_type", "?"))]):
            tally(m, run, quick_minutes)
    report = {
        "window_days": days,
        "overall": overall.summary(days),
        "by_alert_type": {k: v.summary(days) for k, v in sorted(by_type.items())},
    }
    report["warnings"] = warnings(report)
    return report


ALL = "all"


def daily_health(
    runs: list[dict[str, Any]], now: datetime, days: int = 30, quick_minutes: float = 5
) -> dict[str, Any]:
    """The five measures per UTC day over the last `days` days (today included), overall
    (`"all"`) and per alert type: {"days": [date, ...], "series": {name: [summary, ...]}}.
    Days without runs have a summary with runs = 0 (and None for the rates)."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    buckets: dict[str, list[Measures]] = defaultdict(lambda: [Measures() for _ in dates])
    buckets[ALL]  # the overall series exists even without runs
    for run in runs:
        received = as_time(run.get("received_at"))
        if received is None:
            continue
        i = index.get(received.astimezone(UTC).date())
        if i is None:
            continue
        for name in (ALL, str(run.get("alert_type", "?"))):
            tally(buckets[name][i], run, quick_minutes)
    order = [ALL, *sorted(k for k in buckets if k != ALL)]
    return {
        "days": [d.isoformat() for d in dates],
        "series": {name: [m.summary(1) for m in buckets[name]] for name in order},
    }


def warnings(report: dict[str, Any]) -> list[str]:
    out = []
    o = report["overall"]
    if (
        o["investigation_p95_s"] is not None
        and o["investigation_p95_s"] > INVESTIGATION_TARGET_SECONDS
    ):
        out.append(f"investigations are slow: p95 {o['investigation_p95_s']:.0f}s (target < 300s)")
    if o["execution_rate"] is not None and o["execution_rate"] < 1:
        out.append(f"{(1 - o['execution_rate']):.0%} of runs did not run their whole plan")
    if o["team_action_rate"] is not None and o["team_action_rate"] > TEAM_ACTION_TARGET:
        out.append(f"team action rate {o['team_action_rate']:.0%} (target < 20%)")
    for name, m in report["by_alert_type"].items():
        fp = m["false_positive_rate"]
        if fp is not None and fp > FALSE_POSITIVE_LIMIT:
            out.append(f"{name}: {fp:.0%} false positives (> 10%): its threshold needs work")
    return out


def render(report: dict[str, Any]) -> str:
    def fmt(v: Any, unit: str = "") -> str:
        if v is None:
            return "—"
        if isinstance(v, float) and unit == "%":
            return f"{v:.0%}"
        if isinstance(v, float):
            return f"{v:.1f}{unit}"
        return f"{v}{unit}"

    head = f"{'alert type':<24}{'runs':>6}{'/day':>7}{'exec':>7}{'inv p95':>9}{'MTTR p50':>10}"
    head += f"{'false+':>8}{'judged':>8}{'team':>7}{'facts':>7}"
    lines = [f"Loop health over the last {report['window_days']:g} days", head]
    rows = [("all", report["overall"]), *report["by_alert_type"].items()]
    for name, m in rows:
        lines.append(
            f"{name[:23]:<24}{m['runs']:>6}{fmt(m['alerts_per_day']):>7}"
            f"{fmt(m['execution_rate'], '%'):>7}{fmt(m['investigation_p95_s'], 's'):>9}"
            f"{fmt(m['mttr_p50_s'], 's'):>10}{fmt(m['false_positive_rate'], '%'):>8}"
            f"{fmt(m['false_positive_verdict_share'], '%'):>8}"
            f"{fmt(m['team_action_rate'], '%'):>7}{fmt(m['team_action_fact_share'], '%'):>7}"
        )
    lines.append("targets: investigation < 5 min, false positives <= 10%, team action < 20%")
    o = report["overall"]
    lines.append(
        f"false+ rests on verdicts for {fmt(o['false_positive_verdict_share'], '%')} of its runs "
        f"(judged), team action on verdicts and rollback decisions for "
        f"{fmt(o['team_action_fact_share'], '%')} (facts); the rest is heuristic. Give verdicts "
        "with the Useful / Noise / Needed manual work buttons in Slack."
    )
    lines.extend(f"warning: {w}" for w in report["warnings"])
    return "\n".join(lines)

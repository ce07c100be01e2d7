"""/metrics: the loop's own numbers in Prometheus exposition format, computed from the ledger.

The ledger is the one truth, so every number is recomputed from a snapshot of it
(shared.console.data) rather than counted in process memory (which would be per instance and
lost on every cold start). That makes them gauges over a rolling window
(ALERTLOOP_METRICS_WINDOW_HOURS, default 24 h, exported as alertloop_metrics_window_seconds),
and they are typed as such — stage durations are a *gauge* histogram (buckets of the window's
stage runs; `histogram_quantile` works on them directly, without `rate`).

Families whose name starts with alertloop_loop_ are the reference design's five loop-health
measures; their alert_type="all" series is the whole loop (ratios and quantiles do not add up,
so never sum them across alert types).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from shared.console.data import Snapshot
from shared.health import ALL, Measures, as_time, tally

PREFIX = "alertloop_"
STAGE_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A firing run whose first stage has not finished this long after it arrived is "waiting":
# investigate's own timeout is 300 s, so 10 min means it is not being executed.
WAITING_AFTER = timedelta(minutes=10)
QUICK_MINUTES = 5.0


def _families(snap: Snapshot, window: timedelta) -> Iterator[Any]:
    from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily

    now = snap.taken_at
    since = now - window
    runs = [r for r in snap.runs if (as_time(r.get("received_at")) or since) >= since]
    hours = window.total_seconds() / 3600

    yield GaugeMetricFamily(
        f"{PREFIX}metrics_window_seconds",
        "The rolling window the alertloop_ gauges cover (ALERTLOOP_METRICS_WINDOW_HOURS).",
        value=window.total_seconds(),
    )

    by_state = GaugeMetricFamily(
        f"{PREFIX}runs",
        f"Runs received in the last {hours:g} h, by alert type and current state.",
        labels=["alert_type", "state"],
    )
    for (alert_type, state), n in sorted(
        Counter((_s(r.get("alert_type")), _s(r.get("state"))) for r in runs).items()
    ):
        by_state.add_metric([alert_type, state], n)
    yield by_state

    waiting = GaugeMetricFamily(
        f"{PREFIX}runs_waiting",
        "Firing runs received more than 10 min ago whose first planned stage has not finished "
        "(alerts arrive but the loop does not execute them).",
        labels=["alert_type"],
    )
    for alert_type, n in sorted(
        Counter(_s(r.get("alert_type")) for r in runs_waiting(runs, now)).items()
    ):
        waiting.add_metric([alert_type], n)
    yield waiting

    open_incidents = GaugeMetricFamily(
        f"{PREFIX}incidents_open",
        "Incidents with a firing run (among runs received in the health window), by the "
        "alert type of that run.",
        labels=["alert_type"],
    )
    seen: dict[str, set[str]] = defaultdict(set)
    for r in snap.runs:
        if r.get("status") == "firing" and r.get("state") != "resolved":
            seen[_s(r.get("alert_type"))].add(_s(r.get("incident_id") or r.get("id")))
    for alert_type, ids in sorted(seen.items()):
        open_incidents.add_metric([alert_type], len(ids))
    yield open_incidents

    durations = GaugeHistogramMetricFamily(
        f"{PREFIX}stage_duration_seconds",
        f"How long each stage took, for the runs received in the last {hours:g} h.",
        labels=["stage"],
    )
    per_stage: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        for key, value in (r.get("timings") or {}).items():
            if key.endswith("_seconds") and isinstance(value, int | float):
                per_stage[key.removesuffix("_seconds")].append(float(value))
    for stage, values in sorted(per_stage.items()):
        buckets = [(str(float(b)), sum(1 for v in values if v <= b)) for b in STAGE_BUCKETS]
        buckets.append(("+Inf", len(values)))
        durations.add_metric([stage], buckets, sum(values))
    yield durations

    actions = GaugeMetricFamily(
        f"{PREFIX}actions",
        f"Audited actions (cluster changes, dry-runs, proposals, refusals, human decisions) in "
        f"the last {hours:g} h, by kind and outcome.",
        labels=["action", "outcome"],
    )
    refusals = GaugeMetricFamily(
        f"{PREFIX}refusals",
        f"Actions the guardrails refused in the last {hours:g} h, by the rule that refused.",
        labels=["guard"],
    )
    audit = [a for a in snap.audit if (as_time(a.get("at")) or since) >= since]
    for (action, outcome), n in sorted(
        Counter((_s(a.get("action")), _s(a.get("outcome"))) for a in audit).items()
    ):
        actions.add_metric([action, outcome], n)
    refused = Counter(_s(a.get("guard")) for a in audit if a.get("outcome") == "refused")
    for guard, n in sorted(refused.items()):
        refusals.add_metric([guard], n)
    yield actions
    yield refusals

    dead = GaugeMetricFamily(
        f"{PREFIX}dead_letters",
        f"Runs received in the last {hours:g} h with a stage that kept failing and was "
        "dead-lettered, by stage.",
        labels=["stage"],
    )
    dead_by_stage: Counter[str] = Counter()
    for r in runs:
        for stage in r.get("failures") or {}:
            dead_by_stage[_s(stage)] += 1
    for stage, n in sorted(dead_by_stage.items()):
        dead.add_metric([stage], n)
    yield dead
    poison = [p for p in snap.poison if (as_time(p.get("at")) or since) >= since]
    yield GaugeMetricFamily(
        f"{PREFIX}poison_messages",
        f"Malformed messages set aside (deadletters collection) in the last {hours:g} h.",
        value=len(poison),
    )

    yield from _loop_measures(runs, now, window)
    yield from _outcome_measures(snap, window)

    yield GaugeMetricFamily(
        f"{PREFIX}ledger_read_seconds",
        "How long the console's last read of the ledger took.",
        value=snap.read_seconds,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}ledger_snapshot_timestamp_seconds",
        "When the numbers above were read from the ledger.",
        value=snap.taken_at.timestamp(),
    )


def runs_waiting(runs: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        received = as_time(r.get("received_at"))
        plan = r.get("plan") or []
        if r.get("status") == "resolved" or not plan or received is None:
            continue
        if now - received < WAITING_AFTER:
            continue
        findings = r.get("findings") or {}
        if plan[0] not in findings and "deadletter" not in findings:
            out.append(r)
    return out


def _loop_measures(runs: list[dict[str, Any]], now: datetime, window: timedelta) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    days = window.total_seconds() / 86400
    measures: dict[str, Measures] = defaultdict(Measures)
    measures[ALL] = Measures()
    for r in runs:
        for name in (ALL, _s(r.get("alert_type"))):
            tally(measures[name], r, QUICK_MINUTES)
    summaries = {name: m.summary(days) for name, m in sorted(measures.items())}
    label = ["alert_type"]

    def family(name: str, doc: str, key: str, extra: list[str] | None = None) -> Any:
        fam = GaugeMetricFamily(f"{PREFIX}loop_{name}", doc, labels=label + (extra or []))
        for alert_type, s in summaries.items():
            if s[key] is not None:
                fam.add_metric([alert_type], float(s[key]))
        return fam

    yield family(
        "alerts_per_day",
        "Runs (alerts) per day over the window: should match the alert rate.",
        "alerts_per_day",
    )
    yield family(
        "execution_ratio", "Share of runs whose whole plan ran (target 1).", "execution_rate"
    )
    inv = GaugeMetricFamily(
        f"{PREFIX}loop_investigation_seconds",
        "Investigation duration over the window, p50 and p95 (target < 300 s).",
        labels=["alert_type", "quantile"],
    )
    for alert_type, s in summaries.items():
        for q, key in (("0.5", "investigation_p50_s"), ("0.95", "investigation_p95_s")):
            if s[key] is not None:
                inv.add_metric([alert_type, q], float(s[key]))
    yield inv
    yield family(
        "mttr_seconds",
        "Mean time to resolve (resolution - alert start) of resolved runs.",
        "mttr_mean_s",
    )
    yield family(
        "false_positive_ratio",
        "Resolved runs that were noise (verdict, or cleared within 5 min with no change); "
        "over 0.10 the alert's threshold needs work.",
        "false_positive_rate",
    )
    yield family(
        "team_action_ratio", "Runs that needed a person (target < 0.20).", "team_action_rate"
    )
    resolved = GaugeMetricFamily(
        f"{PREFIX}loop_resolved_runs",
        "Resolved runs over the window (the false-positive ratio's sample size).",
        labels=label,
    )
    for alert_type, m in sorted(measures.items()):
        resolved.add_metric([alert_type], m.resolved)
    yield resolved


def _outcome_measures(snap: Snapshot, window: timedelta) -> Iterator[Any]:
    """Loop health from verified outcomes (shared.outcomes.health), not from actions taken."""
    from prometheus_client.core import GaugeMetricFamily

    from shared.outcomes.health import outcome_health

    trips = sum(1 for a in snap.audit if a.get("outcome") == "brake_tripped")
    report = outcome_health(snap.outcomes, trips, snap.taken_at, window.total_seconds() / 86400)
    rows = {ALL: report["overall"], **report["by_alert_type"]}
    for key, name, doc in (
        ("verified_fix_rate", "verified_fix_ratio", "Outcomes that fixed their alert."),
        ("relapse_rate", "relapse_ratio", "Fixed outcomes whose alert fired again within 24 h."),
        (
            "cleared_anyway_rate",
            "cleared_anyway_ratio",
            "Outcomes whose alert usually clears within the window without any action.",
        ),
        (
            "team_action_rate",
            "verified_team_action_ratio",
            "Outcomes after which a person had to act (not fixed, relapsed, approved).",
        ),
        ("verified_mttr_s", "verified_mttr_seconds", "Mean action-to-verified-fix time."),
        ("outcomes", "outcomes", "Outcome checks recorded over the window."),
    ):
        fam = GaugeMetricFamily(f"{PREFIX}loop_{name}", doc, labels=["alert_type"])
        for alert_type, m in rows.items():
            if m[key] is not None:
                fam.add_metric([alert_type], float(m[key]))
        yield fam
    yield GaugeMetricFamily(
        f"{PREFIX}brake_trips", "Brakes tripped by outcomes over the window.", value=trips
    )


def _s(value: Any) -> str:
    return str(value) if value is not None else ""


class _Collector:
    def __init__(self, snap: Snapshot, window: timedelta) -> None:
        self.snap = snap
        self.window = window

    def collect(self) -> Iterator[Any]:
        return _families(self.snap, self.window)


def exposition(snap: Snapshot, window: timedelta) -> tuple[bytes, str]:
    """(body, content type) of the Prometheus text exposition for a snapshot."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snap, window))
    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = ["exposition", "runs_waiting"]

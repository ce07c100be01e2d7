"""The console's pages: incidents list, incident timeline, loop health (HTML strings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from shared.console import charts
from shared.console.charts import Series
from shared.console.data import Snapshot
from shared.console.timeline import build
from shared.health import (
    ALL,
    FALSE_POSITIVE_LIMIT,
    INVESTIGATION_TARGET_SECONDS,
    TEAM_ACTION_TARGET,
    as_time,
    daily_health,
    loop_health,
)
from shared.ledger import IncidentFilter, IncidentPage, IncidentRecord
from shared.slack.blocks import safe_url
from shared.untrusted import for_html, link_or_text

SINCE_CHOICES = (("", "any time"), ("1h", "last hour"), ("24h", "last 24 h"),
                 ("7d", "last 7 days"), ("30d", "last 30 days"))  # fmt: skip
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
         "30d": timedelta(days=30)}  # fmt: skip
_CSS_WORD = re.compile(r"^[a-z_]{1,20}$")


@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2
    from markupsafe import Markup

    from shared.console.templates import CSS, TEMPLATES

    env = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    # for_html's output is escaped already: mark it so autoescape does not escape it twice.
    env.filters["u"] = lambda value, n=10_000: Markup(  # noqa: S704
        for_html("" if value is None else value, n)
    )
    env.filters["when"] = when
    env.filters["dur"] = dur
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:g}"
    env.filters["css"] = lambda v: v if isinstance(v, str) and _CSS_WORD.match(v) else ""
    env.globals["css"] = Markup(CSS)  # noqa: S704 - our own constant
    return env


def _render(name: str, **context: Any) -> str:
    return str(_env().get_template(name).render(**context))


def when(value: Any) -> str:
    t = as_time(value)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "—"


def dur(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    v = float(value)
    if v < 1:
        return f"{v:.2f} s"
    if v < 90:
        return f"{v:.1f} s"
    if v < 5400:
        return f"{v / 60:.0f} min"
    return f"{int(v // 3600)} h {int(v % 3600 // 60)} min"


# ---- incidents list ---------------------------------------------------------------------------


class BadQuery(ValueError):
    """A filter value the form never sends (the message names the parameter, not the value)."""


def incident_filter(args: dict[str, str], now: datetime) -> tuple[IncidentFilter, str]:
    since = args.get("since", "")
    status = args.get("state", "")
    if status not in ("", "open", "resolved"):
        raise BadQuery("state must be open or resolved.")
    if since and since not in SINCE:
        raise BadQuery(f"since must be one of {', '.join(SINCE)}.")
    return (
        IncidentFilter(
            status=status,
            alert_type=args.get("alert_type", "")[:200],
            cluster=args.get("cluster", "")[:200],
            namespace=args.get("namespace", "")[:200],
            since=now - SINCE[since] if since in SINCE else None,
        ),
        since if since in SINCE else "",
    )


def incidents_page(
    page: IncidentPage,
    flt: IncidentFilter,
    since: str,
    cursor: str,
    alert_types: list[str],
    problem: str = "",
) -> str:
    base = {
        k: v
        for k, v in (
            ("state", flt.status),
            ("alert_type", flt.alert_type),
            ("cluster", flt.cluster),
            ("namespace", flt.namespace),
            ("since", since),
        )
        if v
    }
    rows = []
    for inc in page.incidents:
        # From the first alert's start (not when alertloop opened the incident).
        starts = [as_time((r or {}).get("starts_at")) for r in (inc.get("runs") or {}).values()]
        known = [t for t in starts if t is not None]
        opened = min(known) if known else as_time(inc.get("opened_at"))
        resolved = as_time(inc.get("resolved_at"))
        duration = (resolved - opened).total_seconds() if opened and resolved else None
        rows.append({**inc, "duration_s": duration})
    types = sorted(set(alert_types) | ({flt.alert_type} if flt.alert_type else set()))
    return _render(
        "incidents",
        incidents=rows,
        flt=flt,
        since=since,
        since_choices=SINCE_CHOICES,
        alert_types=types,
        cursor=cursor,
        newest_url="/?" + urlencode(base) if base else "/",
        next_url="/?" + urlencode({**base, "cursor": page.next_cursor}) if page.next_cursor else "",
        problem=problem,
    )


# ---- one incident -----------------------------------------------------------------------------


def slack_thread_url(slack: dict[str, Any], workspace_url: str) -> str:
    channel = str(slack.get("channel") or "")
    ts = str(slack.get("ts") or "")
    if not re.fullmatch(r"[A-Z0-9]{2,30}", channel) or not re.fullmatch(r"\d+\.\d+", ts):
        return ""
    return safe_url(f"{workspace_url}/archives/{channel}/p{ts.replace('.', '')}")


def replay_commands(runs: list[dict[str, Any]]) -> list[str]:
    out = []
    for run in runs:
        run_id = str(run.get("run_id", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run_id):
            continue
        out.append(f"alertloop replay {run_id}")
    return out


def incident_page(
    record: IncidentRecord, workspace_url: str, link_hosts: tuple[str, ...] = ()
) -> str:
    inc = record.incident
    tl = build(record)
    latest = (record.runs[-1].get("alert") or {}) if record.runs else {}
    # Outside URLs: only hosts the policy allows become links (shared.untrusted.link_or_text).
    runbook_url, runbook_text = link_or_text(
        (latest.get("annotations") or {}).get("runbook_url", ""), link_hosts
    )
    runbook_url = safe_url(runbook_url)
    source_url, source_text = link_or_text(latest.get("generator_url", ""), link_hosts)
    runs = [
        {
            "run_id": r.get("run_id", ""),
            "alert_name": r.get("alert_name") or (r.get("alert") or {}).get("name", ""),
            "state": r.get("state", ""),
            "received_at": r.get("received_at"),
            "mttr_seconds": r.get("mttr_seconds"),
        }
        for r in record.runs
    ]
    return _render(
        "incident",
        inc=inc,
        tl=tl,
        runs=runs,
        truncated=record.truncated_runs,
        multi=len(record.runs) > 1,
        slack_url=slack_thread_url(inc.get("slack") or {}, workspace_url),
        runbook_url=runbook_url,
        runbook_text="" if runbook_url else runbook_text,
        source_url=safe_url(source_url),
        source_text=source_text,
        commands=replay_commands(record.runs),
    )


# ---- loop health ------------------------------------------------------------------------------


def health_page(snap: Snapshot, days: int, selected: str) -> str:
    from markupsafe import Markup

    now = snap.taken_at
    report, daily = snap.computed(
        f"health:{days}",
        lambda: (loop_health(snap.runs, now, days=days), daily_health(snap.runs, now, days=days)),
    )
    names = list(daily["series"])
    if selected not in daily["series"]:
        selected = ALL
    series = daily["series"][selected]
    dates = [d[5:] for d in daily["days"]]  # MM-DD
    rows = [(ALL, report["overall"]), *report["by_alert_type"].items()]

    def col(key: str) -> list[float | None]:
        return [s[key] for s in series]

    executed = [
        (s["runs"] * s["execution_rate"]) if s["execution_rate"] is not None else None
        for s in series
    ]
    label = "all alert types" if selected == ALL else selected
    parts = [
        charts.chart(
            f"Alerts vs executions per day ({label})",
            dates,
            [
                Series("alerts (runs)", [float(s["runs"]) for s in series], bars=True),
                Series("executed (whole plan ran)", executed, bars=True),
            ],
            fmt=charts.count,
        ),
        charts.chart(
            f"Investigation duration ({label})",
            dates,
            [Series("p50", col("investigation_p50_s")), Series("p95", col("investigation_p95_s"))],
            target=INVESTIGATION_TARGET_SECONDS,
            target_label="target < 5 min",
            fmt=charts.seconds,
        ),
        charts.chart(
            f"MTTR ({label})",
            dates,
            [Series("mean", col("mttr_mean_s")), Series("p50", col("mttr_p50_s"))],
            fmt=charts.seconds,
        ),
        charts.chart(
            f"False-positive rate ({label})",
            dates,
            [Series("false positives / resolved", col("false_positive_rate"))],
            target=FALSE_POSITIVE_LIMIT,
            target_label="limit 10%",
            fmt=charts.percent,
            y_max=1.0,
        ),
        charts.chart(
            f"Team-action rate ({label})",
            dates,
            [Series("runs that needed a person", col("team_action_rate"))],
            target=TEAM_ACTION_TARGET,
            target_label="target < 20%",
            fmt=charts.percent,
            y_max=1.0,
        ),
    ]
    return _render(
        "health",
        days=days,
        names=names,
        selected=selected,
        report=report,
        rows=rows,
        # charts.chart escapes every outside value it draws (series names, alert types).
        charts=Markup("".join(parts)),  # noqa: S704
        taken_at=snap.taken_at,
        read_s=snap.read_seconds,
        autonomy=snap.autonomy,
    )


def message_page(heading: str, message: str) -> str:
    return _render("message", heading=heading, message=message)

"""Match the diagnosis catalogue against an investigation's evidence and rank the hypotheses.

    ev = Evidence.from_details(details, incident_start)     # what investigate collected
    result = diagnose(ev)                                   # ranked hypotheses, or unknown
    result.lines()                                          # "Likely cause: …" and what follows

Pure: no I/O. Every quoted piece of evidence is redacted (shared.untrusted) before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.investigation.catalogue import (
    HIGH,
    NAMED,
    Catalogue,
    Entry,
    Matcher,
    default_catalogue,
)
from shared.untrusted import redact

MAX_QUOTE = 180
MAX_CANDIDATES = 4  # items of one kind tried per matcher (first match wins)
RUNNER_UP_GAP = 15  # a runner-up is shown when this close to the best
# The time rule. Evidence with a time (an event's last sighting, a container's or a finished
# pod's end, a timestamped log line) that ended more than STALE before the incident began is
# earlier history: it is shown as such and never names the cause (an eviction of two days ago is
# not today's latency). One hour is the API server's default event TTL (--event-ttl=1h: older
# events are gone from a real cluster anyway) and the longest change window. Evidence that is
# still true (a container waiting in CrashLoopBackOff, a pod Pending, an event seen up to now)
# is current whatever its first timestamp.
STALE = timedelta(hours=1)
# Transient evidence (a failing readiness probe stops when the pod recovers) must also be seen
# within ONGOING of the start, or after it: kubelet repeats a failing probe every periodSeconds
# (10 s by default) and its event's lastTimestamp with it, so 15 quiet minutes mean it stopped.
ONGOING = timedelta(minutes=15)
MAX_HISTORY = 2  # earlier-history items shown


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass
class Evidence:
    """What the catalogue is matched against (built from investigate's details)."""

    containers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)  # pod, container, source, lines
    pods: list[dict[str, Any]] = field(default_factory=list)
    workload: dict[str, Any] = field(default_factory=dict)  # kind, name, conditions
    hpa: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    upstreams: dict[str, dict[str, Any]] = field(default_factory=dict)
    prom: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)  # kind, what, at, detail
    quotas: list[dict[str, Any]] = field(default_factory=list)
    incident_start: datetime | None = None
    change_window: float | None = None  # ALERTLOOP_RECENT_DEPLOY_MINUTES: caps every change window
    # evidence left out by the time rule, as "what (how long before the alert)": earlier history
    history: list[str] = field(default_factory=list)
    # (pod, container) of the sidecars whose logs were read (a proxy beside the app)
    sidecars: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_details(cls, details: dict[str, Any], incident_start: datetime | None) -> Evidence:
        ev = cls(incident_start=incident_start)
        for p in details.get("pods") or []:
            ev.pods.append(p)
            for c in p.get("containers") or []:
                ev.containers.append(_container(p, c, init=False))
            for c in p.get("init_containers") or []:
                ev.containers.append(_container(p, c, init=True))
        diag = details.get("diagnosis_evidence") or {}
        ev.events = list(diag.get("events") or details.get("events") or [])
        for entry in details.get("logs") or []:
            for source in ("previous", "current", "init"):
                lines = entry.get(source)
                if entry.get("sidecar"):
                    ev.sidecars.add((entry.get("pod", ""), entry.get("container", "")))
                if lines:
                    ev.logs.append(
                        {
                            "pod": entry.get("pod", ""),
                            "container": entry.get("init_container") or entry.get("container", ""),
                            "source": source,
                            "lines": lines,
                        }
                    )
        ev.workload = dict(diag.get("workload") or {})
        ev.hpa = _hpa(details)
        ev.nodes = list(diag.get("nodes") or [])
        ev.upstreams = dict(diag.get("upstreams") or {})
        ev.quotas = list(diag.get("quotas") or [])
        prom = details.get("prometheus") or {}
        cpu = prom.get("cpu") or {}
        if cpu.get("throttled_ratio") is not None:
            ev.prom["cpu_throttled_ratio"] = cpu["throttled_ratio"]
            ev.prom["cpu_limit"] = cpu.get("limits_cores")
        trend = details.get("memory_trend") or {}
        if trend.get("verdict") and trend.get("series"):
            from shared.investigation.trend import human_bytes

            ev.prom["memory_verdict"] = trend["verdict"]
            ev.prom["memory_pod"] = trend.get("pod") or ""
            for key, field_ in (
                ("memory_growth", "growth_bytes_per_hour"),
                ("memory_now", "current_bytes"),
                ("memory_limit", "limit_bytes"),
            ):
                if trend.get(field_) is not None:  # unknown: its clause is left out
                    ev.prom[key] = human_bytes(trend[field_])
        ev.changes = list(diag.get("changes") or [])
        rd = details.get("recent_deploy") or {}
        if rd.get("window_minutes") is not None:
            ev.change_window = float(rd["window_minutes"])
        return ev


def _hpa(details: dict[str, Any]) -> dict[str, Any] | None:
    """The HPA with what its own status says about its metrics, and metrics-server as our read
    saw it. The HPA's status is the authority: a metrics-server we could not find is only a
    suspicion while the HPA shows metrics it has read."""
    h = details.get("hpa")
    if not h:
        return None
    conditions = h.get("conditions") or []
    active = [c for c in conditions if c.get("type") == "ScalingActive"]
    values = [
        m
        for m in h.get("current_metrics") or []
        if m.get("average_utilization") is not None or m.get("average_value") is not None
    ]
    readable: bool | None = None
    if (active and active[0].get("status") == "True") or values:
        readable = True
    elif active and active[0].get("status") == "False":
        readable = False
    available = details.get("metrics_server_available")
    why = (details.get("kubernetes") or {}).get("metrics_server") or ""
    if available is True:
        server = "available"
    elif available is None:
        server = "unknown"
    elif _ABSENT.search(why):
        server = "absent"  # not registered / not in discovery: nothing says it is broken
    else:
        server = "unavailable"  # the APIService itself reports it is not Available
    return {
        **h,
        "metrics_readable": readable,
        "metrics_server": server,
        "metrics_server_why": why or "not available",
    }


_ABSENT = re.compile(r"not registered|not served|cannot tell")


def _container(pod: dict[str, Any], c: dict[str, Any], *, init: bool) -> dict[str, Any]:
    last = c.get("last_termination") or {}
    limits = (c.get("resources") or {}).get("limits") or {}
    return {
        "pod": pod.get("name", ""),
        "container": c.get("name", ""),
        "image": c.get("image", ""),
        "init": init,
        "node": pod.get("node") or "",
        "restarts": c.get("restart_count", 0),
        "ready": bool(c.get("ready")),
        "waiting_reason": c.get("waiting_reason") or "",
        "waiting_message": c.get("waiting_message") or "",
        "terminated_reason": c.get("terminated_reason") or last.get("reason") or "",
        "exit_code": c.get("terminated_exit_code")
        if c.get("terminated_reason")
        else last.get("exit_code"),
        "terminated_message": c.get("terminated_message") or last.get("message") or "",
        # when it last stopped: its current termination if it is terminated now, else the last
        "finished_at": c.get("terminated_finished_at")
        if c.get("terminated_reason")
        else last.get("finished_at"),
        "memory_limit": limits.get("memory") or "no limit",
        "cpu_limit": limits.get("cpu") or "no limit",
    }


# --------------------------------------------------------------------------- matching


Capture = dict[str, Any]


def _search(pattern: str | None, text: str) -> re.Match[str] | bool | None:
    """True when there is no pattern; the match (or None) otherwise."""
    if pattern is None:
        return True
    return re.search(pattern, text or "")


_NUMBERED = re.compile(r"^([a-z_]+?)\d+$")


def _groups(m: re.Match[str] | bool | None) -> dict[str, str]:
    """Named groups that matched; `host2` (an alternative spelling's group) also as `host`."""
    if not isinstance(m, re.Match):
        return {}
    out = {k: v for k, v in m.groupdict().items() if v is not None}
    for k, v in list(out.items()):
        base = _NUMBERED.match(k)
        if base and base.group(1) not in out:
            out[base.group(1)] = v
    return out


def _container_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.container
    assert spec is not None
    for c in ev.containers:
        if spec.init is not None and c["init"] != spec.init:
            continue
        if c["restarts"] < spec.min_restarts:
            continue
        reasons = [r for r in (c["waiting_reason"], c["terminated_reason"]) if r]
        reason_m: Any = True
        if spec.reason is not None:
            reason_m = next((x for r in reasons if (x := re.search(spec.reason, r))), None)
            if not reason_m:
                continue
        if spec.exit_code is not None and c["exit_code"] not in spec.exit_code:
            continue
        msg_m: Any = True
        text = c["waiting_message"] or c["terminated_message"]
        if spec.message is not None:
            msg_m = next(
                (
                    x
                    for t in (c["waiting_message"], c["terminated_message"])
                    if t and (x := re.search(spec.message, t))
                ),
                None,
            )
            if not msg_m:
                continue
            text = msg_m.string
        quote = text or (
            f"{c['container']}: {c['waiting_reason'] or c['terminated_reason']}"
            + (f" (exit code {c['exit_code']})" if c["exit_code"] is not None else "")
        )
        yield {
            **{
                k: v
                for k, v in c.items()
                if k not in ("waiting_message", "terminated_message", "finished_at")
            },
            "reason": reasons[0] if reasons else "",
            **_groups(reason_m),
            **_groups(msg_m),
            "_quote": f"pod {c['pod']}: {quote}",
            # waiting now (CrashLoopBackOff …): current; otherwise as old as its last stop
            "_at": None if c["waiting_reason"] else _parse_time(c.get("finished_at")),
        }


def _event_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.event
    assert spec is not None
    for e in ev.events:
        if spec.type and e.get("type", "Warning") != spec.type:
            continue
        if not re.search(spec.reason, e.get("reason", "")):
            continue
        if not _search(spec.object, e.get("object", "")):
            continue
        msg = _search(spec.message, e.get("message", ""))
        if not msg:
            continue
        yield {
            "event_reason": e.get("reason", ""),
            "object": e.get("object", ""),
            "count": e.get("count", 1),
            **_groups(msg),
            "_quote": f"{e.get('reason')} on {e.get('object')} (x{e.get('count', 1)}): "
            f"{e.get('message', '')}",
            "_at": _parse_time(e.get("last_seen")),
        }


def _log_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.log
    assert spec is not None
    rx = re.compile(spec.pattern)
    for entry in ev.logs:
        if spec.source != "any" and entry["source"] != spec.source:
            continue
        lines = entry["lines"]
        for i in range(len(lines) - 1, -1, -1):  # the last occurrence is closest to the failure
            # a record may span lines (Rust prints a panic's message under its location)
            text = "\n".join(lines[i : i + spec.span]) if spec.span > 1 else lines[i]
            found = rx.search(text)
            if found and (spec.level == "any" or not _not_a_cause(lines, i, spec.level)):
                yield {
                    "pod": entry["pod"],
                    "container": entry["container"],
                    "log_source": entry["source"],
                    "_line": i,
                    **_groups(found),
                    "_quote": f"{entry['pod']} {entry['source']} log: "
                    + " ".join(x.strip() for x in text.splitlines()),
                    "_at": _log_time(lines, i),
                }
                break


# The level rule. A record logged below error level (debug, info, notice, warn) is no cause:
# "SYNC_INTERVAL not set, using default" at WARN is the app coping. Levels as loggers write them:
# JSON/zap/GCP ("level"/"severity"/"lvl"), logfmt level=warn, klog "W1207 …", Ruby's Logger
# "W, [", .NET console "warn:", "[WARN]", Python "WARNING:root:", "- WARNING -", and logback/log4j
# "… WARN 1 --- [main]" near the start. A continuation line (indented: a .NET message, a stack
# frame) has the level of the record header above it. Whatever the level, a line saying the app
# falls back to a default is no cause either.
_INFO = r"(?:trace|debug|info|notice)"
_WARN = r"(?:warn|warning)"
_LEVEL_KEY = r'"(?:level|severity|lvl|log\.level)"\s*:\s*"'
_JSON_LEVEL = re.compile(_LEVEL_KEY + r"(?P<level>\w+)\"")


def _text_level(low: str, klog: str, upper: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(?:{klog}\d{{4}} |{klog}, \[|(?i:{low}):(?:\s|\w)|.{{0,60}}?(?:\blevel=(?i:{low})\b|"
        rf"\[(?i:{low})\]|(?<![\w'\"-])(?:{upper})(?![\w'\"-])))"  # a quoted 'INFO' is data
    )


_ERROR_LEVEL = _text_level(
    r"(?:error|fail|fatal|crit\w*|panic)", "[EF]", "ERROR|FATAL|CRITICAL|SEVERE|PANIC"
)
_WARN_LEVEL = _text_level(_WARN, "W", "WARN|WARNING")
_INFO_LEVEL = _text_level(_INFO, "[ID]", "TRACE|DEBUG|INFO|NOTICE")
_DEFAULTED = re.compile(
    r"(?i)using (?:the )?default|falling back|fall(?:s|ing)? back to|defaulting to|"
    r"not set, ignoring"
)


def _level(line: str) -> str | None:
    """ "info" (debug … notice), "warn", "error" (or above), or None when the line shows none."""
    m = _JSON_LEVEL.search(line)
    if m:
        word = m["level"].lower()
        if re.fullmatch(_INFO, word):
            return "info"
        return "warn" if re.fullmatch(_WARN, word) else "error"
    for name, rx in (("error", _ERROR_LEVEL), ("warn", _WARN_LEVEL), ("info", _INFO_LEVEL)):
        if rx.search(line):
            return name
    return None


def _not_a_cause(lines: list[str], i: int, lowest: str) -> bool:
    """The level rule: line i is an info/debug record (or a warning, unless this evidence counts
    at WARN), or it says the app falls back to a default."""
    if _DEFAULTED.search(lines[i]):
        return True
    level = _level(lines[i])
    if level is None and lines[i][:1].isspace():  # a continuation: its header's level
        for j in range(i - 1, max(i - _LOOK_BACK, -1), -1):
            if not lines[j][:1].isspace():
                level = _level(lines[j])
                break
    return level == "info" or (level == "warn" and lowest != "warn")


# An ISO-8601 / RFC 3339 time near the start of a log line (most loggers put it first; Ruby's
# Logger writes "I, [2026-12-03T06:48:00.462 #1]"). A time without a zone may be local: it is
# taken as the latest UTC it can be (zones run from UTC-12 to UTC+14), so that a local clock
# never makes current evidence look old.
_UNZONED_SLACK = timedelta(hours=12)
_LINE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_LOOK_BACK = 40  # lines of a stack trace searched upwards for the time of its header
# A record's time starts within this many characters ('{"@timestamp":"', 'I, [', 'level=error
# ts='); a date further on is part of the message (a certificate's expiry)
_HEADER = 32


def _log_time(lines: list[str], i: int) -> datetime | None:
    """The time of line i: its own timestamp, else that of the nearest line above it (a stack
    trace's frames carry none); None when the log has no timestamps there."""
    for j in range(i, max(i - _LOOK_BACK, -1), -1):
        m = _LINE_TIME.search(lines[j][:80])
        if m and m.start() <= _HEADER:  # a record's own time, not a date in its message
            zone = m.group(3) or "Z"
            if zone != "Z" and ":" not in zone:
                zone = zone[:3] + ":" + zone[3:]
            t = _parse_time(f"{m.group(1)}T{m.group(2)}{zone}")
            return t + _UNZONED_SLACK if t is not None and not m.group(3) else t
    return None


def _pod_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.pod
    assert spec is not None
    for p in ev.pods:
        if spec.unschedulable is not None and bool(p.get("unschedulable")) != spec.unschedulable:
            continue
        reason = _search(spec.reason, p.get("reason") or "")
        if spec.reason is not None and not reason:
            continue
        text = p.get("message") or p.get("scheduling_message") or ""
        msg = _search(spec.message, text)
        if not msg:
            continue
        yield {
            "pod": p.get("name", ""),
            "node": p.get("node") or "",
            **_groups(reason),
            **_groups(msg),
            "_quote": f"pod {p.get('name')}: {p.get('reason') or ''} {text}".strip(),
            # a finished pod (evicted) is as old as its end; a live one (Pending) is current
            "_at": _parse_time(p.get("ended_at")),
        }


def _workload_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.workload
    assert spec is not None
    for c in ev.workload.get("conditions") or []:
        if c.get("type") != spec.condition or c.get("status") != spec.status:
            continue
        r = _search(spec.reason, c.get("reason", ""))
        if not r:
            continue
        yield {
            "workload": ev.workload.get("name", ""),
            "condition_reason": c.get("reason", ""),
            **_groups(r),
            "_quote": f"{ev.workload.get('kind', '').lower()}/{ev.workload.get('name')}: "
            f"{c.get('type')}={c.get('status')} {c.get('reason', '')}: {c.get('message', '')}",
        }


def _hpa_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec, h = m.hpa, ev.hpa
    assert spec is not None
    if not h:
        return
    if spec.at_max is not None and bool(h.get("at_max")) != spec.at_max:
        return
    if spec.scaling_active is not None and bool(h.get("scaling_active")) != spec.scaling_active:
        return
    if spec.metrics_readable is not None and h.get("metrics_readable") is not spec.metrics_readable:
        return
    server = _search(spec.metrics_server, str(h.get("metrics_server") or "unknown"))
    if not server:
        return
    failed = " ".join(h.get("failed_metrics") or [])
    msg = _search(spec.message, failed)
    if not msg:
        return
    quote = (
        f"HPA {h.get('name')}: {h.get('current_replicas')} replicas, max {h.get('max_replicas')}"
    )
    if failed:
        quote += f"; {failed}"
    if spec.metrics_server is not None:
        quote += f"; metrics-server: {h.get('metrics_server_why', '')}"
    yield {
        "hpa": h.get("name", ""),
        "max_replicas": h.get("max_replicas"),
        "current_replicas": h.get("current_replicas"),
        "why": h.get("metrics_server_why", ""),
        **_groups(msg),
        "_quote": quote,
    }


def _upstream_hits(m: Matcher, ev: Evidence, ctx: Capture) -> Iterator[Capture]:
    spec = m.upstream
    assert spec is not None
    # the host an earlier matcher captured; without one, every host the logs failed to reach
    # (shared.investigation.upstreams found them, and kept the line)
    hosts = [str(ctx["host"])] if ctx.get("host") else list(ev.upstreams)
    for host in hosts:
        up = ev.upstreams.get(host)
        if not up or not re.search(spec.state, up.get("state", "")):
            continue
        line = "" if ctx.get("host") else str(up.get("line") or "")
        yield {
            "host": host,
            "upstream": up.get("target", ""),
            "upstream_state": up.get("detail", up.get("state", "")),
            "upstream_database": up.get("database", False),
            "_pre": [f"log: {line.strip()}"] if line else [],
            "_quote": f"upstream {up.get('target')}: {up.get('detail', up.get('state'))}",
        }


def _node_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.node
    assert spec is not None
    for n in ev.nodes:
        for c in n.get("problems") or []:
            if re.search(spec.condition, c.get("type", "")):
                yield {
                    "node": n.get("name", ""),
                    "node_condition": c.get("type", ""),
                    "_quote": f"node {n.get('name')}: {c.get('type')}={c.get('status')} "
                    f"{c.get('reason', '')} {c.get('message', '')}".strip(),
                }


def _prom_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.prom
    assert spec is not None
    value = ev.prom.get(spec.figure)
    if value is None:
        return
    if spec.above is not None and not (isinstance(value, int | float) and value > spec.above):
        return
    if spec.equals is not None and value != spec.equals:
        return
    shown = f"{value:.0%}" if isinstance(value, float) else str(value)
    yield {
        **{k: v for k, v in ev.prom.items() if k != spec.figure},
        spec.figure: shown,
        "cpu_limit_cores": ev.prom.get("cpu_limit"),
        "_quote": f"Prometheus: {spec.figure.replace('_', ' ')} {shown}",
    }


def _change_hits(m: Matcher, ev: Evidence) -> Iterator[Capture]:
    spec = m.change
    assert spec is not None
    for ch in ev.changes:
        if ch.get("kind") != spec.kind:
            continue
        if not change_fits(ch, ev.incident_start, spec.before_minutes, ev.change_window):
            continue
        yield {
            "change": ch.get("what", ""),
            "change_minutes": ch.get("minutes_before"),
            **{k: v for k, v in (ch.get("fields") or {}).items()},
            "_quote": f"{ch.get('what')} {ch.get('minutes_before')} min before the alert",
        }


def change_fits(
    ch: dict[str, Any],
    start: datetime | None,
    before_minutes: float = 60,
    window: float | None = None,
) -> bool:
    """A change counts only when it happened shortly before the incident began (at most
    `before_minutes`, capped by the configured recent-deploy window) and not more than 2 minutes
    after it."""
    at = _parse_time(ch.get("at"))
    if at is None or start is None:
        return False
    before = (start - at).total_seconds() / 60
    ch["minutes_before"] = round(before)
    limit = min(before_minutes, window) if window is not None else before_minutes
    return -2 <= before <= limit


def _hits(m: Matcher, ev: Evidence, ctx: Capture) -> Iterator[Capture]:
    """The matcher's hits that the time rule keeps; the others become earlier history."""
    ongoing = m.event is not None and m.event.ongoing
    for hit in _raw_hits(m, ev, ctx):
        at = hit.pop("_at", None)
        age = _age(at, ev.incident_start)
        if age is None:
            yield hit
            continue
        if age > STALE or (ongoing and age > ONGOING):
            _remember(ev, f"{redact(hit['_quote'])[:MAX_QUOTE]} ({_human(age)} before the alert)")
            continue
        yield hit


def _age(at: datetime | None, start: datetime | None) -> timedelta | None:
    """How long before the incident's start the evidence was last seen (None: current or
    unknown; negative: after the start)."""
    if at is None or start is None:
        return None
    return start - at


def _human(age: timedelta) -> str:
    minutes = age.total_seconds() / 60
    if minutes < 120:
        return f"{round(minutes)} min"
    if minutes < 48 * 60:
        return f"{round(minutes / 60)} h"
    return f"{round(minutes / 1440)} days"


def _remember(ev: Evidence, item: str) -> None:
    if item not in ev.history:
        ev.history.append(item)


def _raw_hits(m: Matcher, ev: Evidence, ctx: Capture) -> Iterator[Capture]:
    kind = m.kind
    if kind == "upstream":
        return _upstream_hits(m, ev, ctx)
    return {
        "container": _container_hits,
        "event": _event_hits,
        "log": _log_hits,
        "pod": _pod_hits,
        "workload": _workload_hits,
        "hpa": _hpa_hits,
        "node": _node_hits,
        "prom": _prom_hits,
        "change": _change_hits,
    }[kind](m, ev)


def _match(matchers: list[Matcher], ev: Evidence, ctx: Capture) -> Capture | None:
    if not matchers:
        return ctx
    head, rest = matchers[0], matchers[1:]
    for i, hit in enumerate(_hits(head, ev, ctx)):
        if i >= MAX_CANDIDATES:
            break
        quotes = [*ctx.get("_quotes", []), *hit.pop("_pre", []), hit.pop("_quote")]
        merged = {**hit, **{k: v for k, v in ctx.items() if v not in (None, "")}}
        merged["_quotes"] = quotes
        done = _match(rest, ev, merged)
        if done is not None:
            return done
    return None


_GAP = "\x00"  # stands for a field nothing captured, until its clause is dropped
_VALUE = re.compile(r"\x01(\d+)\x02")  # stands for a captured value while clauses are cut


class _Fill(dict[str, Any]):
    """Fills `{a|b}` (the first alternative captured) and `{a|'text'}` (else the text) with
    markers: captured values as \\x01N\\x02 (kept aside, so that their own colons and commas
    never look like clause bounds), missing fields as _GAP."""

    def __init__(self, captures: Capture) -> None:
        super().__init__(captures)
        self.captured: list[str] = []

    def __getitem__(self, key: str) -> str:
        for alt in key.split("|"):
            if dict.__contains__(self, alt):
                self.captured.append(str(dict.__getitem__(self, alt)))
                return f"\x01{len(self.captured) - 1}\x02"
            if len(alt) >= 2 and alt[0] == alt[-1] == "'":
                return alt[1:-1]
        return _GAP


# The clause around a missing field: a parenthesis holding it, else the ": …" / ", …" / " at …"
# tail it stands in (from the nearest separator before it to the next bound). A clause with
# nothing else captured is dropped whole ("(?)" never shows); one that still says something
# captured loses only the missing field.
_GAP_PAREN = re.compile(r"\s*\([^()]*\x00[^()]*\)")
_SEPARATOR = re.compile(r"(?::|,|;| at| in| of| with| on| from| for)\s")
_BOUND = re.compile(r"[:,;()]")


def _cut(clause: str) -> str:
    return clause.replace(_GAP, "") if "\x01" in clause else ""


def _drop_gaps(text: str) -> str:
    text = _GAP_PAREN.sub(lambda m: _cut(m[0]), text)
    while (gap := text.find(_GAP)) >= 0:
        seps = list(_SEPARATOR.finditer(text, 0, gap))
        if not seps:  # in the sentence's first clause: only the field goes
            text = text.replace(_GAP, "", 1)
            continue
        start = seps[-1].start()
        bound = _BOUND.search(text, gap + 1)
        end = bound.start() if bound else len(text)
        text = text[:start] + _cut(text[start:end]) + " " + text[end:]
    return text


def _derived(caps: Capture) -> None:
    """Fields templates use that combine captures: `endpoint` = host[:port]."""
    host, port = caps.get("host"), caps.get("port")
    if host and "endpoint" not in caps:
        caps["endpoint"] = f"{host}:{port}" if port and not str(host).endswith(f":{port}") else host


def fill(template: str, captures: Capture) -> str:
    """The template with its captures; a clause whose field nothing captured is left out."""
    mapping = _Fill({k: v for k, v in captures.items() if v not in (None, "")})
    text = _drop_gaps(template.format_map(mapping))
    text = re.sub(r"\s+(?=[:,;)])|(?<=\()\s+", "", re.sub(r"\s{2,}", " ", text)).strip()
    return _VALUE.sub(lambda m: mapping.captured[int(m[1])], text)


@dataclass
class Hypothesis:
    entry: Entry
    cause: str
    fix: str
    evidence: list[str]
    captures: dict[str, Any]

    # points taken off the entry's strength (an exception handled by a healthy pod)
    penalty: int = 0
    # a language entry whose exception block also matched a specific entry: ranked below it
    deferred: bool = False
    # found in a sidecar's log (a proxy beside the app), not the app's own
    sidecar: bool = False

    @property
    def strength(self) -> int:
        return self.entry.strength - self.penalty

    @property
    def confidence(self) -> str:
        s = self.strength
        return "high" if s >= HIGH else "medium" if s >= NAMED + 15 else "low"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "strength": self.strength,
            "confidence": self.confidence,
            "cause": self.cause,
            "fix": self.fix,
            "evidence": self.evidence,
        }


@dataclass
class Diagnosis:
    hypotheses: list[Hypothesis]
    checked: list[str]
    change_context: str = ""
    database: bool = False
    history: list[str] = field(default_factory=list)  # evidence older than the incident

    @property
    def best(self) -> Hypothesis | None:
        h = self.hypotheses[0] if self.hypotheses else None
        return h if h is not None and h.strength >= NAMED else None

    def runner_ups(self) -> list[Hypothesis]:
        best = self.best
        if best is None:
            return []
        seen = {best.entry.family}
        out = []
        for h in self.hypotheses[1:]:
            if h.entry.family in seen or h.strength < max(best.strength - RUNNER_UP_GAP, NAMED):
                continue
            seen.add(h.entry.family)
            out.append(h)
        return out[:2]

    def likely_cause_line(self) -> str:
        best = self.best
        if best is None:
            return "Likely cause: unknown — checked " + ", ".join(self.checked)
        line = f"Likely cause: {best.cause} [{best.entry.id}, {best.confidence} confidence]"
        if self.change_context and best.entry.family != "change":
            line += f"; began after {self.change_context}"
        return line

    def lines(self) -> list[str]:
        out = [self.likely_cause_line()]
        best = self.best
        if best is not None:
            out.extend(f"Evidence: {q}" for q in best.evidence[:2])
            for h in self.runner_ups():
                out.append(f"Also possible: {h.cause} [{h.entry.id}]")
        if self.history:
            out.append(
                "Earlier history (before this incident, not its cause): "
                + "; ".join(self.history[:MAX_HISTORY])
            )
        return out

    def fix(self) -> str:
        best = self.best
        return best.fix if best else ""

    def as_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "best": best.entry.id if best else "unknown",
            "confidence": best.confidence if best else "none",
            "hypotheses": [h.as_dict() for h in self.hypotheses[:6]],
            "checked": self.checked,
            "change_context": self.change_context,
            "database": self.database,
            "history": self.history,
        }


DATABASE_FIX = (
    "Database-class workload: ops handle it; alertloop proposes no change to it (facts only above)."
)


def diagnose(
    ev: Evidence, catalogue: Catalogue | None = None, *, database: bool = False
) -> Diagnosis:
    """Every catalogue entry whose evidence is all present, strongest first."""
    cat = catalogue or default_catalogue()
    ev.history.clear()
    found: list[Hypothesis] = []
    for entry in cat.entries:
        caps = _match(entry.all, ev, {})
        if caps is not None and entry.any:
            caps = next(
                (c for alt in entry.any if (c := _match([alt], ev, caps)) is not None), None
            )
        if caps is None:
            continue
        if any(_match([v], ev, caps) is not None for v in entry.none):
            continue
        if database and entry.changes_workload:
            continue  # never invite a change to a database-class workload
        quotes = [redact(q)[:MAX_QUOTE] for q in caps.pop("_quotes", [])]
        _derived(caps)
        fix = DATABASE_FIX if database else fill(entry.fix, caps)
        if caps.get("upstream_database"):
            fix = fill(entry.fix, caps).split(";")[0] + (
                f"; {caps.get('upstream')} is a database-class workload: ops handle it"
            )
        cause, penalty = entry.cause, 0
        if entry.handled_cause and _handled(caps, ev):
            cause, penalty = entry.handled_cause, HANDLED_PENALTY
        found.append(
            Hypothesis(entry, redact(fill(cause, caps)), redact(fix), quotes, caps, penalty)
        )
    # A generic entry (a correlation such as "a rollout happened", or a symptom such as "exit
    # code 1", "readiness failing") never outranks a specific cause found in the evidence (a
    # named exception, a missing variable, a refused dependency): the specific one is the cause,
    # the rollout its context ("began after revision N").
    specific = any(not h.entry.generic and h.strength >= NAMED for h in found)
    # A language runtime's crash report ("Unhandled exception. System.UnauthorizedAccessException:
    # Access to the path … is denied", "Psych::SyntaxError" while loading database.yml) is the
    # fact; a specific entry matching the same exception block names its cause: it ranks first.
    for h in found:
        h.deferred = h.entry.language and any(_same_block(h, o, ev) for o in found)
        h.sidecar = (h.captures.get("pod"), h.captures.get("container")) in ev.sidecars
    # A sidecar (a Cloud SQL proxy, an Envoy) stating a specific cause explains an app that only
    # logs an exception or a failed call to localhost (the sidecar's port); the app's own
    # specific cause toward anything else wins over a sidecar's log (Envoy's resets are noise).
    own = any(not h.sidecar and _specific(h) and not _local(h) for h in found)
    side = not own and any(h.sidecar and _specific(h) for h in found)
    found.sort(
        key=lambda h: (
            specific and (h.entry.generic or h.deferred),
            h.sidecar if own else side and not (h.sidecar and _specific(h)),
            -h.strength,
            -len(h.entry.all) - bool(h.entry.any),
        )
    )
    history = [h for h in ev.history if not _explains(h, found)]
    return Diagnosis(found, _checked(ev), _change_context(ev), database, history)


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _specific(h: Hypothesis) -> bool:
    return not h.entry.generic and not h.entry.language and h.strength >= NAMED


def _local(h: Hypothesis) -> bool:
    """The cause is a call to this pod's own loopback: a sidecar's port."""
    return str(h.captures.get("host") or "").lower() in _LOCAL_HOSTS


# A logged exception whose pod keeps running, ready and without a restart was handled: it may
# explain an error rate, but it is no crash, and weaker evidence than one that killed the process.
HANDLED_PENALTY = 14  # 79 - 14 = 65: a handled exception stays named, at medium confidence


def _handled(caps: Capture, ev: Evidence) -> bool:
    """True when the exception line is in the current log of a container that is running,
    ready and has never restarted (nothing says the process died of it)."""
    if caps.get("log_source") != "current":
        return False
    c = next(
        (
            c
            for c in ev.containers
            if c["pod"] == caps.get("pod") and c["container"] == caps.get("container")
        ),
        None,
    )
    return bool(
        c is not None
        and c.get("ready")
        and not c.get("restarts")
        and not c.get("waiting_reason")
        and not c.get("terminated_reason")
    )


# Lines of one log around an exception searched for the specific cause it states (a .NET inner
# exception, a Rails message above a Psych trace, a Spring "Caused by" further down)
BLOCK = 25


def _same_block(lang: Hypothesis, other: Hypothesis, ev: Evidence) -> bool:
    """True when `other` is a specific (non-generic, non-language) cause found in the same
    record as the language entry's exception: the same log, within BLOCK lines, and no line in
    between (nor the later one) is a record of its own (a timestamp or a level at its start). A
    retry warning a few records before a panic is another story."""
    if other.entry.generic or other.entry.language or other.strength < NAMED:
        return False
    a, b = lang.captures, other.captures
    if a.get("_line") is None or b.get("_line") is None:
        return False
    keys = ("pod", "container", "log_source")
    if any(a.get(k) != b.get(k) for k in keys):
        return False
    lo, hi = sorted((int(a["_line"]), int(b["_line"])))
    if hi - lo > BLOCK:
        return False
    log = next(
        (
            x
            for x in ev.logs
            if (x["pod"], x["container"], x["source"]) == tuple(a[k] for k in keys)
        ),
        None,
    )
    if log is None:
        return False
    return not any(_own_record(line) for line in log["lines"][lo + 1 : hi + 1])


def _own_record(line: str) -> bool:
    """The line starts a record of its own: a time or a level at its start."""
    time = _LINE_TIME.search(line[:80])
    return bool(time and time.start() <= _HEADER) or _level(line) is not None


def _explains(item: str, found: list[Hypothesis]) -> bool:
    """True when a named hypothesis quotes this item as its evidence (then it is not history)."""
    return any(item.startswith(q[:60]) for h in found for q in h.evidence)


def _change_context(ev: Evidence) -> str:
    fitting = [c for c in ev.changes if change_fits(c, ev.incident_start, 60, ev.change_window)]
    if not fitting:
        return ""
    c = min(fitting, key=lambda c: abs(c.get("minutes_before") or 0))
    return f"{c.get('what')} {c.get('minutes_before')} min before the alert"


def _checked(ev: Evidence) -> list[str]:
    parts = [
        f"{len(ev.pods)} pods",
        f"{len(ev.events)} events",
        f"{len(ev.logs)} container logs",
    ]
    if ev.hpa:
        parts.append("the HPA")
    if ev.changes:
        parts.append(f"{len(ev.changes)} recent changes")
    if ev.upstreams:
        parts.append("upstreams " + ", ".join(sorted(ev.upstreams)))
    if ev.prom:
        parts.append("Prometheus")
    parts.append("no catalogue cause matched strongly")
    return parts

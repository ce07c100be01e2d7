"""An incident's timeline, from what the ledger recorded (pure: no I/O, no HTML).

Per run: the alert's start, its receipt, each stage's start and finish with its duration and
finding, each dead letter, the resolve with its MTTR. From the audit trail: every cluster change
with before/after, refusals, proposals and human decisions. From the approvals: each rollback
proposal and what became of it. From the incident: acknowledgement, silences, take-over and the
verdict (recorded by the Slack interactions). Everything in `subject`, `detail`, `actor` and
`changes` is outside text: the page renders it through shared.untrusted.for_html.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.health import as_time
from shared.ledger import IncidentRecord
from shared.slack.incident import STAGE_TITLES

CHANGE_OUTCOMES = {"applied", "not_applied", "unknown", "in_progress", "dry_run"}
DECISION_OUTCOMES = {"approved", "rejected", "expired"}
# The only commands a timeline shows: what shared.dead_lettering.replay_command writes, with ids
# from our own alphabet. Anything else in the ledger is not offered for copy and paste into a
# shell (no ;, |, $(…), newlines).
REPLAY_LINE = re.compile(
    r"alertloop replay [A-Za-z0-9_-]{1,64}( --from [a-z_]{1,30})?( --force)?"
    r"( \(then approve the new proposal\))?"
)
# Incident fields the Slack interactions record, and the words their audit records use (an
# audit record of the same act makes the incident field's own event redundant).
HUMAN_FIELDS = (
    ("acknowledged", "ack", "Acknowledged"),
    ("hands_off", "take", "Taken over by a person: automation stands down"),
    ("verdict", "verdict", "Verdict"),
)


@dataclass
class Event:
    at: datetime | None
    # alert|received|stage|deadletter|change|refusal|proposal|decision|human|resolve|outcome
    kind: str
    title: str  # our own words
    run_id: str = ""
    status: str = ""  # ok|error|skipped|applied|refused|… (our vocabulary, or the ledger's)
    subject: str = ""  # outside text: target, alert name
    detail: str = ""  # outside text: summary, reason
    actor: str = ""  # outside text
    finished: datetime | None = None
    duration_s: float | None = None
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)
    command: str = ""  # a command a person may run (our own text plus ids)


@dataclass
class Timeline:
    events: list[Event]
    started: datetime | None  # the earliest alert start
    resolved: datetime | None  # the last resolve, when every run resolved
    mttr_s: float | None


def build(record: IncidentRecord) -> Timeline:
    events: list[Event] = []
    for run in record.runs:
        events.extend(_run_events(run))
    human_words = {str(a.get("action", "")).lower() for a in record.audit}
    for doc in record.audit:
        events.append(_audit_event(doc))
    for approval in record.approvals:
        events.append(_approval_event(approval))
    events.extend(_incident_events(record.incident, human_words))
    events.sort(key=lambda e: (e.at is None, e.at.timestamp() if e.at else 0.0))
    starts = [t for t in (as_time(r.get("starts_at")) for r in record.runs) if t]
    ends = [as_time(r.get("resolved_at")) for r in record.runs]
    all_resolved = bool(record.runs) and all(r.get("status") == "resolved" for r in record.runs)
    started = min(starts) if starts else None
    resolved = max(t for t in ends if t) if all_resolved and any(ends) else None
    mttr = (resolved - started).total_seconds() if started and resolved else None
    return Timeline(events, started, resolved, mttr)


def _run_events(run: dict[str, Any]) -> list[Event]:
    run_id = str(run.get("run_id", ""))
    alert = run.get("alert") or {}
    name = str(run.get("alert_name") or alert.get("name") or "")
    out = [
        Event(
            as_time(run.get("starts_at")) or as_time(alert.get("starts_at")),
            "alert",
            "Alert started firing",
            run_id,
            subject=name,
            detail=str((alert.get("annotations") or {}).get("summary", "")),
        ),
        Event(
            as_time(run.get("received_at")),
            "received",
            "Received by alertloop",
            run_id,
            detail=f"plan: {' → '.join(run.get('plan') or []) or 'notify only'}",
        ),
    ]
    for stage, finding in (run.get("findings") or {}).items():
        if not isinstance(finding, dict) or stage == "deadletter":
            continue
        started = as_time(finding.get("started"))
        finished = as_time(finding.get("finished"))
        duration = (finished - started).total_seconds() if started and finished else None
        out.append(
            Event(
                started,
                "stage",
                STAGE_TITLES.get(stage, "Stage"),
                run_id,
                status=str(finding.get("status", "")),
                subject=stage,
                detail=str(finding.get("summary", "")),
                finished=finished,
                duration_s=duration,
            )
        )
    for stage, failure in (run.get("failures") or {}).items():
        failure = failure if isinstance(failure, dict) else {}
        out.append(
            Event(
                as_time(failure.get("at")),
                "deadletter",
                f"Dead-lettered after {failure.get('attempts', '?')} attempts",
                run_id,
                status="error",
                subject=str(stage),
                detail=str(failure.get("error", "")),
                command=_replay_line(failure.get("replay")),
            )
        )
    if run.get("status") == "resolved":
        mttr = run.get("mttr_seconds")
        out.append(
            Event(
                as_time(run.get("resolved_at")),
                "resolve",
                "Resolved",
                run_id,
                status="resolved",
                subject=name,
                duration_s=float(mttr) if isinstance(mttr, int | float) else None,
            )
        )
    # Outcome checks and brakes (shared.outcomes): the same line the thread got.
    times = run.get("outcome_at") or {}
    for key, line in sorted((run.get("outcome_lines") or {}).items()):
        word = str(line).split(" — ", 1)[0].removeprefix("Outcome: ").removesuffix(":")
        out.append(
            Event(
                as_time(times.get(key)),
                "outcome",
                "Brake" if str(line).startswith("Brake:") else "Outcome",
                run_id,
                status=word if str(line).startswith("Outcome:") else "brake",
                subject=name,
                detail=str(line),
            )
        )
    return out


def _audit_event(doc: dict[str, Any]) -> Event:
    outcome = str(doc.get("outcome", ""))
    action = str(doc.get("action", ""))
    reason = str(doc.get("reason", ""))
    base = Event(
        as_time(doc.get("at")),
        "audit",
        "",
        str(doc.get("run_id", "")),
        status=outcome,
        subject=str(doc.get("target", "")),
        actor=str(doc.get("actor") or doc.get("identity") or ""),
        detail=reason,
    )
    if outcome == "refused":
        guard = str(doc.get("guard", ""))
        return replace(
            base,
            kind="refusal",
            title=f"Refused: {action}" + (f" (guard: {guard})" if guard else ""),
        )
    if outcome in CHANGE_OUTCOMES:
        dry = outcome == "dry_run" or bool(doc.get("dry_run"))
        return replace(
            base,
            kind="change",
            title="Dry run (no change made)" if dry else f"Cluster change: {action}",
            changes=diff(doc.get("before"), doc.get("after")),
        )
    if outcome == "proposed":
        return replace(base, kind="proposal", title=f"Proposed: {action} (approval required)")
    if outcome in DECISION_OUTCOMES:
        return replace(base, kind="decision", title=f"{outcome.capitalize()}: {action}")
    return replace(
        base,
        kind="human" if not doc.get("run_id") else "audit",
        title=(action or "Recorded") + (f": {outcome}" if outcome else ""),
        changes=diff(doc.get("before"), doc.get("after")),
    )


def _approval_event(doc: dict[str, Any]) -> Event:
    status = str(doc.get("status", ""))
    who = doc.get("approved_by") or doc.get("rejected_by") or ""
    frm = doc.get("from_revision", doc.get("from", ""))
    to = doc.get("to_revision", doc.get("to", ""))
    detail = f"revision {frm} → {to}" if frm != "" or to != "" else ""
    expires = as_time(doc.get("expires_at"))
    if expires is not None and status == "proposed":
        detail += f" · expires {expires.strftime('%Y-%m-%d %H:%M UTC')}"
    return Event(
        as_time(doc.get("created_at")),
        "proposal",
        f"Rollback proposal — now {status or 'unknown'}",
        str(doc.get("run_id", "")),
        status=status,
        subject=str(doc.get("target", "")),
        detail=detail.strip(" ·"),
        actor=str(who),
    )


def _incident_events(inc: dict[str, Any], audited: set[str]) -> list[Event]:
    out = []
    for key, word, title in HUMAN_FIELDS:
        value = inc.get(key)
        if not isinstance(value, dict) or not value:
            continue
        if any(word in a for a in audited):
            continue  # its audit record is on the timeline already
        detail = str(value.get("value", "")) if key == "verdict" else ""
        out.append(
            Event(
                as_time(value.get("at")),
                "human",
                title,
                status=detail,
                actor=str(value.get("by_name") or value.get("by") or ""),
                detail=detail,
            )
        )
    silences = inc.get("silences") or {}
    if isinstance(silences, dict) and not any("silenc" in a for a in audited):
        for sid, s in silences.items():
            s = s if isinstance(s, dict) else {}
            ends = as_time(s.get("ends_at"))
            out.append(
                Event(
                    as_time(s.get("at")),
                    "human",
                    "Silenced in Alertmanager",
                    status=str(s.get("status", "")),
                    subject=str(s.get("id") or sid),
                    detail=_matchers(s.get("matchers"))
                    + (f" · until {ends.strftime('%Y-%m-%d %H:%M UTC')}" if ends else ""),
                    actor=str(s.get("by_name") or s.get("by") or ""),
                )
            )
    return out


def _matchers(value: Any) -> str:
    if isinstance(value, list):
        parts = []
        for m in value:
            if isinstance(m, dict):
                op = "=~" if m.get("isRegex") else "="
                parts.append(f'{m.get("name", "")}{op}"{m.get("value", "")}"')
            else:
                parts.append(str(m))
        return ", ".join(parts)
    return str(value or "")


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    if isinstance(value, dict) and depth < 4:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1))
        return out
    return {prefix or "value": value}


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def diff(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, before, after) for every field that differs (all of them when nothing does)."""
    if not before and not after:
        return []
    b = _flatten(before or {})
    a = _flatten(after or {})
    keys = sorted(set(b) | set(a))
    changed = [k for k in keys if b.get(k) != a.get(k)] or keys
    return [(k, _show(b.get(k)), _show(a.get(k))) for k in changed]


def _replay_line(value: Any) -> str:
    text = str(value or "")
    return text if REPLAY_LINE.fullmatch(text) else ""

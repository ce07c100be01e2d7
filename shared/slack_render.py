"""Block Kit rendering of a run. Pure functions: no clients, no I/O.

Everything that came from an alert (labels, annotations, findings quoting logs) is escaped:
Slack only parses `<...>` sequences (mentions, links), so escaping &, < and > makes
`<!channel>` and `<http://evil|click>` inert text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.envelope import Alert, Finding

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_URL_MAX = 3000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

STAGE_TITLES = {
    "investigate": "Investigation",
    "remediate": "Remediation",
    "budget": "Error-budget analysis",
    "deadletter": "Stage failed",
}
STATE_TITLES = {
    "firing": "FIRING — investigating…",
    "investigated": "INVESTIGATED",
    "remediated": "REMEDIATED",
    "analysed": "ANALYSED",
    "resolved": "RESOLVED",
    "failed": "NEEDS ATTENTION",
}
STATUS_MARK = {"ok": ":white_check_mark:", "skipped": ":fast_forward:", "error": ":x:"}


def escape(text: Any) -> str:
    """Make alert-provided text safe for mrkdwn: no mentions, no links, no control bytes."""
    s = _CONTROL.sub("", str(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(url: str) -> str:
    """Only http(s) URLs become buttons (no javascript:, no slack:// deep links)."""
    url = url.strip()
    if re.match(r"^https?://[^\s<>|]+$", url) and len(url) <= BUTTON_URL_MAX:
        return url
    return ""


@dataclass
class RunView:
    run_id: str
    alert: Alert
    alert_type: str
    state: str
    plan: list[str]
    findings: list[Finding] = field(default_factory=list)
    dry_run: bool = False
    mttr_seconds: float | None = None
    run_url: str = ""
    automatic_action: str = ""
    follow_up: str = ""
    flap_count: int = 0


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 90:
        return f"{int(seconds)} s"
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _slack_date(ts: datetime) -> str:
    return f"<!date^{int(ts.timestamp())}^{{date_short_pretty}} {{time}}|{ts.isoformat()}>"


def _emoji(view: RunView) -> str:
    if view.state == "resolved":
        return ":large_green_circle:"
    return ":red_circle:" if view.alert.severity == "critical" else ":large_orange_circle:"


def _workload(labels: dict[str, str]) -> str:
    for key in (
        "deployment",
        "statefulset",
        "daemonset",
        "service",
        "pod",
        "job",
        "app",
        "app.kubernetes.io/name",
        "instance",
    ):
        if labels.get(key):
            return f"{key}/{labels[key]}"
    return "—"


def parent_text(view: RunView) -> str:
    """Notification fallback text (push notifications, screen readers)."""
    state = STATE_TITLES.get(view.state, view.state.upper())
    s = f"[{state}] {view.alert.name} ({view.alert.severity})"
    summary = view.alert.annotations.get("summary")
    if summary:
        s += f": {summary}"
    return truncate(escape(s), SECTION_MAX)


def render_parent(view: RunView) -> list[dict[str, Any]]:
    alert = view.alert
    state = STATE_TITLES.get(view.state, view.state.upper())
    if view.state == "resolved" and view.mttr_seconds is not None:
        state = f"RESOLVED after {_duration(view.mttr_seconds)}"
    dry = " [dry-run]" if view.dry_run else ""
    flap = f" [flapping x{view.flap_count + 1}]" if view.flap_count else ""
    header = truncate(f"{state}: {alert.name}{dry}{flap}", HEADER_MAX)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
    ]
    summary = alert.annotations.get("summary") or alert.annotations.get("message") or ""
    description = alert.annotations.get("description", "")
    body = f"{_emoji(view)} *{escape(summary or alert.name)}*"
    if description:
        body += f"\n{escape(description)}"
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, SECTION_MAX)}}
    )
    fields = [
        f"*Severity*\n{escape(alert.severity)}",
        f"*Namespace*\n{escape(alert.labels.get('namespace', '—'))}",
        f"*Workload*\n{escape(_workload(alert.labels))}",
        f"*Started*\n{_slack_date(alert.starts_at)}",
    ]
    if view.automatic_action:
        fields.append(f"*Automatic action*\n{escape(view.automatic_action)}")
    if view.follow_up:
        fields.append(f"*Manual follow-up*\n{escape(view.follow_up)}")
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": truncate(f, FIELD_MAX)} for f in fields],
        }
    )
    done = {f.stage: f for f in view.findings}
    steps = []
    for stage in view.plan:
        f = done.get(stage)
        mark = STATUS_MARK.get(f.status, "") if f else ":hourglass_flowing_sand:"
        steps.append(f"{mark} {STAGE_TITLES.get(stage, stage)}")
    context = " · ".join(steps) if steps else "notify only"
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{context} · alert type `{escape(view.alert_type)}` · "
                    f"run `{view.run_id}`",
                }
            ],
        }
    )
    buttons = []
    for label, url in (
        ("Runbook", alert.annotations.get("runbook_url", "")),
        ("Alert source", alert.generator_url),
        ("Run log", view.run_url),
    ):
        if safe_url(url):
            buttons.append(
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": label},
                    "url": safe_url(url),
                    "action_id": f"link_{label.lower()[:6]}",
                }
            )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def finding_text(finding: Finding) -> str:
    title = STAGE_TITLES.get(finding.stage, finding.stage)
    return truncate(escape(f"{title}: {finding.status} — {finding.summary}"), SECTION_MAX)


def render_finding(finding: Finding) -> list[dict[str, Any]]:
    title = STAGE_TITLES.get(finding.stage, finding.stage)
    mark = STATUS_MARK.get(finding.status, "")
    head = f"{mark} *{title}* — {finding.status} ({finding.duration_seconds:.1f} s)"
    body = f"{head}\n{escape(finding.summary)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, SECTION_MAX)}}
    ]
    approval_id = finding.details.get("approval_id")
    rollback = finding.details.get("action") in (None, "propose_rollback")
    if isinstance(approval_id, str) and approval_id and rollback:
        # A pending rollback proposal: the buttons post to the approve function, which checks
        # the signature, the approver and the proposal (single use, expiring) before anything.
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{approval_id}"[:255],
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Approve rollback"},
                        "style": "primary",
                        "action_id": "approve_rollback",
                        "value": approval_id,
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "action_id": "reject_rollback",
                        "value": approval_id,
                    },
                ],
            }
        )
    return blocks


def render_resolved(view: RunView) -> tuple[str, list[dict[str, Any]]]:
    took = f" after {_duration(view.mttr_seconds)}" if view.mttr_seconds is not None else ""
    text = f":large_green_circle: Resolved{took}. {escape(view.alert.name)} stopped firing."
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def render_reopened(view: RunView, previous_run: str = "") -> tuple[str, list[dict[str, Any]]]:
    """A new run of the incident (flapping, or another alert about the same workload)."""
    if view.flap_count:
        what = f"Firing again (flapping, {view.flap_count + 1} times in the hold-down window)"
    else:
        what = f"Another alert joined this incident: {escape(view.alert.name)}"
    text = f":repeat: {what}. Run `{view.run_id}` continues in this thread."
    if previous_run:
        text += f" (previous run `{previous_run}`)"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def render_digest(group: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One message for an alert storm: counts, not hundreds of parents."""
    total, firing, resolved = (
        group.get("total", 0),
        group.get("firing", 0),
        group.get("resolved", 0),
    )
    state = "RESOLVED" if firing == 0 else "ALERT STORM"
    header = truncate(f"{state}: {total} alerts in one group ({firing} firing)", HEADER_MAX)
    names = ", ".join(f"{escape(k)} x{v}" for k, v in (group.get("by_name") or {}).items())
    workloads = ", ".join(f"{escape(k)} x{v}" for k, v in (group.get("by_workload") or {}).items())
    truncated = int(group.get("truncated") or 0)
    left_out = (
        f"\n*Left out by Alertmanager:* {truncated} more alert(s) in this group "
        "(`truncatedAlerts`; raise max_alerts to receive them)"
        if truncated
        else ""
    )
    body = (
        f"*Alerts:* {names}\n*Workloads:* {workloads}\n*Resolved:* {resolved} of {total}"
        f"{left_out}\n"
        "Every alert is a recorded run and follows its policy (guardrails and the fleet-wide "
        "rate limit still apply); this digest replaces one message per alert."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, SECTION_MAX)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"group `{escape(str(group.get('group_key', ''))[:200])}`",
                }
            ],
        },
    ]
    return truncate(escape(header), SECTION_MAX), blocks


_SLACK_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")


def blocks_as_text(blocks: list[dict[str, Any]]) -> str:
    """A readable plain rendering of blocks, for logs and the local demo."""
    lines: list[str] = []
    for b in blocks:
        if b["type"] in ("header", "section") and "text" in b:
            lines.append(b["text"]["text"])
        for f in b.get("fields", []):
            lines.append("  " + f["text"].replace("\n", ": ", 1))
        for e in b.get("elements", []):
            if e.get("type") == "button":
                lines.append(f"  [{e['text']['text']}] {e.get('url', '')}".rstrip())
            elif "text" in e:
                lines.append(e["text"] if isinstance(e["text"], str) else e["text"]["text"])
    return _SLACK_DATE.sub(r"\1", "\n".join(lines))


def render_incident_runs(views: list[RunView]) -> list[dict[str, Any]]:
    """The alerts of a multi-alert incident (flap chain, or alerts about one workload)."""
    lines = []
    for v in views[-15:]:
        mark = ":large_green_circle:" if v.state == "resolved" else ":red_circle:"
        lines.append(
            f"{mark} {escape(v.alert.name)} — {escape(v.state)} since "
            f"{_slack_date(v.alert.starts_at)} · run `{v.run_id}`"
        )
    more = len(views) - 15
    head = f"*Alerts in this incident* ({len(views)})"
    if more > 0:
        head += f", the last 15 of {len(views)}"
    text = truncate(head + "\n" + "\n".join(lines), SECTION_MAX)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def render_unresolved(view: RunView) -> tuple[str, list[dict[str, Any]]]:
    text = (
        f":red_circle: Firing again: Alertmanager reports {escape(view.alert.name)} active again "
        "with the same start time (it was resolved); the incident is open."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def render_notice(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}]


def render_rollup(counts: dict[str, int], shown: int) -> tuple[str, list[dict[str, Any]]]:
    """Past the storm's line limit: one message, updated, counting the rest."""
    total = sum(counts.values())
    parts = ", ".join(f"{escape(k)} x{v}" for k, v in sorted(counts.items()))
    text = (
        f":heavy_plus_sign: {total} more action(s) and refusal(s) after the first {shown}: "
        f"{parts}. Every one is in the audit trail and on its run."
    )
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}
    ]

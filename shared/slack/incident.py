"""Block Kit rendering of a run. Pure functions: no clients, no I/O.

Every value that came from outside — alert name, labels, annotations, finding summaries (which
quote logs, events and object names), digest group keys, workload names — goes through
shared.untrusted: secrets redacted, invisible characters stripped, mrkdwn markup, mentions,
links and emoji shortcodes made inert, lengths limited. Only our own prose keeps its formatting
(the `*Severity*` titles, the status marks). mrkdwn text objects holding outside text are
`verbatim` (Slack does not auto-link or auto-mention in them) and plain_text ones have emoji
off, so a second line of defence holds if a value ever slips past the renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared.model import Alert, Finding
from shared.slack.blocks import (
    FIELD_MAX,
    HEADER_MAX,
    SECTION_MAX,
    duration,
    mrkdwn,
    plain,
    safe_url,
    slack_date,
    truncate,
)
from shared.untrusted import for_mrkdwn, for_plain_text, link_or_text
from shared.workload.labels import workload_from_labels

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
    """Outside text for mrkdwn (shared.untrusted.for_mrkdwn, limited to a section)."""
    return for_mrkdwn(text, SECTION_MAX)


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
    # Hosts the policy allows as links (policy.link_hosts): other outside URLs are text.
    link_hosts: tuple[str, ...] = ()
    flap_count: int = 0
    cluster: str = ""  # the cluster the run was routed to (empty: the one default cluster)


def _emoji(view: RunView) -> str:
    if view.state == "resolved":
        return ":large_green_circle:"
    return ":red_circle:" if view.alert.severity == "critical" else ":large_orange_circle:"


def _workload(labels: dict[str, str]) -> str:
    """`label/name` from the alert's labels, by the one resolver (outside text: render it)."""
    wl = workload_from_labels(labels)
    return f"{wl.label}/{wl.name}" if wl.name else "—"


def remediation_title(view: RunView) -> str:
    """What the remediate stage did, named for what happened: a refused, proposed or skipped
    remediation is not REMEDIATED."""
    found = [f for f in view.findings if f.stage == "remediate"]
    if not found:
        return STATE_TITLES["remediated"]
    f = found[-1]
    d = f.details or {}
    refused = d.get("refused") or {}
    outcome = d.get("outcome")
    if refused:
        return "DRY-RUN" if refused.get("guard") == "dry_run" else "REFUSED"
    if d.get("approval_id") or str(d.get("action") or "").startswith("propose"):
        return "PROPOSED"
    if outcome == "unknown":
        return "OUTCOME UNKNOWN"
    if f.status == "error" or outcome in ("not_applied", "conflict"):
        return "REMEDIATION FAILED"
    if f.status == "skipped" or d.get("action") in (None, "", "none"):
        return "NO ACTION"
    return STATE_TITLES["remediated"]


def _state_title(view: RunView, fallback: str) -> str:
    if view.state == "remediated":
        return remediation_title(view)
    return STATE_TITLES.get(view.state, fallback)


def parent_text(view: RunView) -> str:
    """Notification fallback text (push notifications, screen readers)."""
    state = _state_title(view, for_mrkdwn(view.state.upper(), 40))
    s = f"[{state}] {for_mrkdwn(view.alert.name, 200)} ({for_mrkdwn(view.alert.severity, 40)})"
    summary = view.alert.annotations.get("summary")
    if summary:
        s += f": {for_mrkdwn(summary, SECTION_MAX - len(s) - 2)}"
    return truncate(s, SECTION_MAX)


def render_parent(view: RunView) -> list[dict[str, Any]]:
    alert = view.alert
    state = _state_title(view, for_plain_text(view.state.upper(), 40))
    if view.state == "resolved" and view.mttr_seconds is not None:
        state = f"RESOLVED after {duration(view.mttr_seconds)}"
    dry = " [dry-run]" if view.dry_run else ""
    flap = f" [flapping x{view.flap_count + 1}]" if view.flap_count else ""
    room = HEADER_MAX - len(state) - len(dry) - len(flap) - 2
    header = truncate(f"{state}: {for_plain_text(alert.name, max(room, 1))}{dry}{flap}", HEADER_MAX)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(header)}]
    summary = alert.annotations.get("summary") or alert.annotations.get("message") or ""
    description = alert.annotations.get("description", "")
    # Our bold around the summary; the summary itself cannot open or close markup.
    body = f"{_emoji(view)} *{for_mrkdwn(summary or alert.name, 1000)}*"
    if description:
        body += f"\n{for_mrkdwn(description, SECTION_MAX - len(body) - 1)}"
    blocks.append({"type": "section", "text": mrkdwn(truncate(body, SECTION_MAX))})
    titled = [
        ("Severity", alert.severity),
        ("Namespace", alert.labels.get("namespace", "—")),
        ("Workload", _workload(alert.labels)),
    ]
    # Which cluster a change would touch is the first thing an on-call person checks.
    if view.cluster:
        titled.insert(1, ("Cluster", view.cluster))
    # Policy text is configuration, but an override file is not ours: rendered the same way.
    if view.automatic_action:
        titled.append(("Automatic action", view.automatic_action))
    if view.follow_up:
        titled.append(("Manual follow-up", view.follow_up))
    fields = [
        f"*{title}*\n{for_mrkdwn(value, FIELD_MAX - len(title) - 3)}" for title, value in titled
    ]
    fields.insert(4 if view.cluster else 3, f"*Started*\n{slack_date(alert.starts_at)}")
    blocks.append({"type": "section", "fields": [mrkdwn(truncate(f, FIELD_MAX)) for f in fields]})
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
                mrkdwn(
                    f"{context} · alert type `{for_mrkdwn(view.alert_type, 200)}` · "
                    f"run `{for_mrkdwn(view.run_id, 100)}`"
                )
            ],
        }
    )
    buttons = []
    shown = []
    for label, raw, outside in (
        ("Runbook", alert.annotations.get("runbook_url", ""), True),
        ("Alert source", alert.generator_url, True),
        ("Run log", view.run_url, False),  # ours: the console's configured URL
    ):
        url, text = link_or_text(raw, view.link_hosts) if outside else (raw, "")
        if safe_url(url):
            buttons.append(
                {
                    "type": "button",
                    "text": plain(label),
                    "url": safe_url(url),
                    "action_id": f"link_{label.lower()[:6]}",
                }
            )
        elif text:  # not an allowed host: inert text, never a link
            shown.append(f"{label}: {for_mrkdwn(text, 400)}")
    if shown:
        blocks.append({"type": "context", "elements": [mrkdwn(" · ".join(shown))]})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def _stage_title(finding: Finding) -> str:
    return STAGE_TITLES.get(finding.stage) or for_mrkdwn(finding.stage, 60)


def finding_text(finding: Finding) -> str:
    head = f"{_stage_title(finding)}: {finding.status} — "
    return truncate(head + for_mrkdwn(finding.summary, SECTION_MAX - len(head)), SECTION_MAX)


# Changes remediation proposes in `approve` autonomy mode (shared.approval.CHANGE_ACTIONS):
# the same Approve/Reject buttons; an approval sends them back to the remediate stage.
PROPOSED_CHANGES = {
    "propose_restart": "Approve restart",
    "propose_scale_deployment": "Approve scale-up",
    "propose_raise_hpa_max": "Approve HPA max raise",
    "propose_raise_keda_max": "Approve KEDA max raise",
}


def render_finding(finding: Finding) -> list[dict[str, Any]]:
    mark = STATUS_MARK.get(finding.status, "")
    head = f"{mark} *{_stage_title(finding)}* — {finding.status} ({finding.duration_seconds:.1f} s)"
    # The summary quotes logs, events and object names: all of it is outside text.
    body = f"{head}\n{for_mrkdwn(finding.summary, SECTION_MAX - len(head) - 1)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(truncate(body, SECTION_MAX))}
    ]
    approval_id = finding.details.get("approval_id")
    proposed = finding.details.get("action")
    rollback = proposed in (None, "propose_rollback")
    change = PROPOSED_CHANGES.get(str(proposed), "")
    if isinstance(approval_id, str) and approval_id and (rollback or change):
        # A pending proposal: the buttons post to the approve function, which checks the
        # signature, the approver and the proposal (single use, expiring) before anything.
        label = "Approve rollback" if rollback else change
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{approval_id}"[:255],
                "elements": [
                    {
                        "type": "button",
                        "text": plain(label),
                        "style": "primary",
                        "action_id": "approve_rollback",
                        "value": approval_id,
                    },
                    {
                        "type": "button",
                        "text": plain("Reject"),
                        "action_id": "reject_rollback",
                        "value": approval_id,
                    },
                ],
            }
        )
    return blocks


def render_resolved(view: RunView) -> tuple[str, list[dict[str, Any]]]:
    took = f" after {duration(view.mttr_seconds)}" if view.mttr_seconds is not None else ""
    text = (
        f":large_green_circle: Resolved{took}. {for_mrkdwn(view.alert.name, 500)} stopped firing."
    )
    return text, [{"type": "section", "text": mrkdwn(text)}]


def render_reopened(view: RunView, previous_run: str = "") -> tuple[str, list[dict[str, Any]]]:
    """A new run of the incident (flapping, or another alert about the same workload)."""
    if view.flap_count:
        what = f"Firing again (flapping, {view.flap_count + 1} times in the hold-down window)"
    else:
        what = f"Another alert joined this incident: {for_mrkdwn(view.alert.name, 300)}"
    text = f":repeat: {what}. Run `{for_mrkdwn(view.run_id, 100)}` continues in this thread."
    if previous_run:
        text += f" (previous run `{for_mrkdwn(previous_run, 100)}`)"
    return text, [{"type": "section", "text": mrkdwn(text)}]


def render_digest(group: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One message for an alert storm: counts, not hundreds of parents."""
    total, firing, resolved = (
        _count(group.get("total")),
        _count(group.get("firing")),
        _count(group.get("resolved")),
    )
    state = "RESOLVED" if firing == 0 else "ALERT STORM"
    header = truncate(f"{state}: {total} alerts in one group ({firing} firing)", HEADER_MAX)
    names = _counted(group.get("by_name"))
    workloads = _counted(group.get("by_workload"))
    truncated = _count(group.get("truncated"))
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
        {"type": "header", "text": plain(header)},
        {"type": "section", "text": mrkdwn(truncate(body, SECTION_MAX))},
        {
            "type": "context",
            "elements": [mrkdwn(f"group `{for_mrkdwn(group.get('group_key', ''), 200)}`")],
        },
    ]
    return header, blocks


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _counted(items: Any, max_items: int = 20) -> str:
    """`name x3, other x1` from a {name: count} map of outside names, each rendered."""
    pairs = list((items or {}).items()) if isinstance(items, dict) else []
    shown = ", ".join(f"{for_mrkdwn(k, 100)} x{_count(v)}" for k, v in pairs[:max_items])
    return shown + (f", and {len(pairs) - max_items} more" if len(pairs) > max_items else "")


def render_incident_runs(views: list[RunView]) -> list[dict[str, Any]]:
    """The alerts of a multi-alert incident (flap chain, or alerts about one workload)."""
    lines = []
    for v in views[-15:]:
        mark = ":large_green_circle:" if v.state == "resolved" else ":red_circle:"
        lines.append(
            f"{mark} {for_mrkdwn(v.alert.name, 200)} — {for_mrkdwn(v.state, 40)} since "
            f"{slack_date(v.alert.starts_at)} · run `{v.run_id}`"
        )
    more = len(views) - 15
    head = f"*Alerts in this incident* ({len(views)})"
    if more > 0:
        head += f", the last 15 of {len(views)}"
    text = truncate(head + "\n" + "\n".join(lines), SECTION_MAX)
    return [{"type": "section", "text": mrkdwn(text)}]


def render_unresolved(view: RunView) -> tuple[str, list[dict[str, Any]]]:
    text = (
        ":red_circle: Firing again: Alertmanager reports "
        f"{for_mrkdwn(view.alert.name, 300)} active again with the same start time (it was "
        "resolved); the incident is open."
    )
    return text, [{"type": "section", "text": mrkdwn(text)}]


def render_notice(text: str) -> list[dict[str, Any]]:
    """A message of our own (its outside parts already rendered by the caller)."""
    return [{"type": "section", "text": mrkdwn(truncate(text, SECTION_MAX))}]


def render_rollup(counts: dict[str, int], shown: int) -> tuple[str, list[dict[str, Any]]]:
    """Past the storm's line limit: one message, updated, counting the rest."""
    total = sum(counts.values())
    parts = ", ".join(f"{for_mrkdwn(k, 100)} x{v}" for k, v in sorted(counts.items()))
    text = (
        f":heavy_plus_sign: {total} more action(s) and refusal(s) after the first {shown}: "
        f"{parts}. Every one is in the audit trail and on its run."
    )
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}
    ]


# Mentions shared.outcomes puts in a brake line itself (group ids from the permissions file).
_OUR_MENTION = re.compile(r"(<!subteam\^[A-Z0-9]+>|<!here>)")


def render_outcome_line(text: str) -> list[dict[str, Any]]:
    """An `Outcome:` (or brake) line of shared.outcomes: one section. Alert names are outside
    text: everything but our own mentions goes through the untrusted-text renderer."""
    parts = _OUR_MENTION.split(text) if text.startswith("Brake:") else [text]
    body = "".join(p if _OUR_MENTION.fullmatch(p) else for_mrkdwn(p, SECTION_MAX) for p in parts)
    return [{"type": "section", "text": mrkdwn(truncate(body, SECTION_MAX))}]

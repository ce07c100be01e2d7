"""Block Kit for the people side of an incident: its human state (acknowledged, silenced, taken
over, verdict) and the buttons on its Slack parent. Pure functions over the incident document.

Only our own prose is formatted. User ids come from Slack's signed payloads and are validated
before they become mentions; names and anything else that came from outside go through
shared.untrusted.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.interaction.actions import (
    ACKNOWLEDGE,
    RESUME,
    SILENCE_DURATIONS,
    SILENCE_PREFIX,
    SILENCE_WIDE_PREFIX,
    TAKE_OVER,
    UNSILENCE,
    VERDICT_PREFIX,
    VERDICT_TITLES,
)
from shared.slack.blocks import SECTION_MAX, duration, mrkdwn, plain, slack_date
from shared.untrusted import for_mrkdwn, limit

_USER = re.compile(r"^[UW][A-Z0-9]{1,31}$")


def who(record: dict[str, Any]) -> str:
    """A mention for a Slack user id; anything else rendered as outside text."""
    by = str(record.get("by") or "")
    if _USER.match(by):
        return f"<@{by}>"
    return for_mrkdwn(record.get("by_name") or by or "someone", 80)


def when(value: Any) -> str:
    """A Slack date for a ledger timestamp; `?` when there is none."""
    if not isinstance(value, datetime):
        return "?"
    return slack_date(value)


def active_silences(incident: dict[str, Any]) -> list[dict[str, Any]]:
    silences = incident.get("silences") or {}
    return [
        s
        for _, s in sorted(silences.items())
        if isinstance(s, dict) and s.get("status") == "active"
    ]


def latest_end(silences: list[dict[str, Any]]) -> datetime | None:
    ends = [s["ends_at"] for s in silences if isinstance(s.get("ends_at"), datetime)]
    return max(ends) if ends else None


def human_lines(incident: dict[str, Any]) -> list[str]:
    """One line per thing people did to the incident, in a fixed order (deterministic: the
    parent is only updated when this changes)."""
    lines = []
    ack = incident.get("acknowledged") or {}
    if ack:
        lines.append(f":bust_in_silhouette: Acknowledged by {who(ack)} at {when(ack.get('at'))}")
    silences = active_silences(incident)
    if silences:
        ours = [s for s in silences if s.get("source", "alertloop") == "alertloop"]
        theirs = [s for s in silences if s not in ours]
        if ours:
            until = latest_end(ours)
            lines.append(
                f":no_bell: Silenced in Alertmanager until {when(until)} by {who(ours[0])} "
                f"({len(ours)} silence(s), exact matchers on each alert's labels)"
            )
        for s in theirs:
            creator = for_mrkdwn(s.get("by_name") or s.get("by") or "?", 80)
            lines.append(
                f":no_bell: Silenced in Alertmanager until {when(s.get('ends_at'))} "
                f"(silence `{for_mrkdwn(s.get('id', '?'), 64)}` by {creator}, seen by the sweeper)"
            )
    pending = incident.get("silence_pending") or {}
    if pending and not silences and incident.get("status") != "resolved":
        shown = "; ".join(str(a) for a in pending.get("alerts") or [])
        lines.append(
            f":warning: A silence of this incident's alerts would also mute "
            f"{int(pending.get('count') or 0)} other alert(s): {for_mrkdwn(shown, 1200)}"
        )
    hands_off = incident.get("hands_off") or {}
    if hands_off:
        lines.append(
            f":raised_hand: Taken over by {who(hands_off)} at {when(hands_off.get('at'))}: "
            "automation makes no further changes to this workload"
            + (f" until {when(hands_off['expires_at'])}" if hands_off.get("expires_at") else "")
        )
    brake = incident.get("brake") or {}
    if brake.get("id"):
        lines.append(
            f":octagonal_sign: Brake: no automatic {for_mrkdwn(str(brake.get('action', '?')), 40)}"
            f" on this workload since {when(brake.get('at'))} (outcomes: it did not fix the "
            "alert) until a person resumes automation"
        )
    verdict = incident.get("verdict") or {}
    if verdict.get("value") in VERDICT_TITLES:
        lines.append(
            f":ballot_box_with_check: Verdict: *{VERDICT_TITLES[verdict['value']]}* — "
            f"{who(verdict)} at {when(verdict.get('at'))}"
        )
    return lines


def _button(text: str, action_id: str, value: str, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(text),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": plain(title),
        "text": mrkdwn(text),
        "confirm": plain(yes),
        "deny": plain("Cancel"),
    }


def render_controls(incident: dict[str, Any], console_url: str = "") -> list[dict[str, Any]]:
    """The human state and the buttons, appended to the incident's parent."""
    inc_id = str(incident.get("incident_id") or "")
    blocks: list[dict[str, Any]] = []
    lines = human_lines(incident)
    if lines:
        blocks.append({"type": "section", "text": mrkdwn(limit("\n".join(lines), SECTION_MAX))})
    if not inc_id:
        return blocks
    open_ = incident.get("status") != "resolved"
    lifecycle: list[dict[str, Any]] = []
    if open_ and not incident.get("acknowledged"):
        lifecycle.append(_button("Acknowledge", ACKNOWLEDGE, inc_id, "primary"))
    silences = active_silences(incident)
    if any(s.get("source", "alertloop") == "alertloop" for s in silences):
        lifecycle.append(_button("Unsilence", UNSILENCE, inc_id))
    elif open_ and not silences:  # a silence made in Alertmanager is lifted there
        pending = incident.get("silence_pending") or {}
        for label in SILENCE_DURATIONS:
            if pending.get("label") == label:  # the second, explicit click
                wide = _button(
                    f"Silence {label} anyway", f"{SILENCE_WIDE_PREFIX}{label}", inc_id, "danger"
                )
                wide["confirm"] = _confirm(
                    "Silence other alerts too?",
                    f"The silence would also mute {int(pending.get('count') or 0)} alert(s) "
                    "that are not part of this incident.",
                    "Silence them all",
                )
                lifecycle.append(wide)
            else:
                lifecycle.append(_button(f"Silence {label}", f"{SILENCE_PREFIX}{label}", inc_id))
    if incident.get("hands_off") or (incident.get("brake") or {}).get("id"):
        resume = _button("Resume automation", RESUME, inc_id)
        resume["confirm"] = _confirm(
            "Resume automation?",
            "alertloop may change the cluster again for this incident (within its guardrails).",
            "Resume",
        )
        lifecycle.append(resume)
    elif open_:
        take = _button("Take over", TAKE_OVER, inc_id, "danger")
        take["confirm"] = _confirm(
            "Take over this incident?",
            "alertloop stops every change to the cluster for this incident, including changes "
            "already queued. Investigation and notifications go on.",
            "Take over",
        )
        lifecycle.append(take)
    if lifecycle:
        blocks.append(
            {"type": "actions", "block_id": f"incident:{inc_id}"[:255], "elements": lifecycle}
        )
    chosen = (incident.get("verdict") or {}).get("value")
    verdicts = [
        _button(title, f"{VERDICT_PREFIX}{value}", inc_id, "primary" if value == chosen else "")
        for value, title in VERDICT_TITLES.items()
    ]
    if console_url:
        verdicts.append(
            {
                "type": "button",
                "text": plain("Console"),
                "url": console_url,
                "action_id": "link_console",
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [mrkdwn("Was this alert worth it? Your verdict feeds loop health.")],
        }
    )
    blocks.append({"type": "actions", "block_id": f"verdict:{inc_id}"[:255], "elements": verdicts})
    return blocks


def render_swept(alert_name: str, mttr_seconds: float | None) -> tuple[str, list[dict[str, Any]]]:
    """The thread reply for a run the sweeper resolved."""
    took = f" after {duration(mttr_seconds)}" if mttr_seconds is not None else ""
    text = (
        f":large_green_circle: Resolved{took} — seen by the sweeper; Alertmanager sent no "
        f"resolve. {for_mrkdwn(alert_name, 500)} is no longer in Alertmanager."
    )
    return text, [{"type": "section", "text": mrkdwn(text)}]


def render_decision(text: str) -> dict[str, Any]:
    """What replaces clicked buttons: the decision, who made it and when."""
    return {"type": "context", "elements": [mrkdwn(limit(text, SECTION_MAX))]}

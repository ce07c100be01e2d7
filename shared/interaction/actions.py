"""The Slack buttons alertloop understands, and the permission each one needs.

A button's `action_id` names what it does; its `value` names what it acts on: an incident id
for the incident buttons, an approval id for the rollback proposal buttons. Permissions are
per *kind* of action (approving a rollback is not silencing), see shared.interaction.permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Permission = Literal["approve", "silence", "take_over", "acknowledge", "verdict"]
PERMISSIONS: tuple[Permission, ...] = ("approve", "silence", "take_over", "acknowledge", "verdict")
Verdict = Literal["useful", "noise", "manual"]
VERDICT_TITLES: dict[str, str] = {
    "useful": "Useful",
    "noise": "Noise",
    "manual": "Needed manual work",
}

APPROVE_ROLLBACK = "approve_rollback"
REJECT_ROLLBACK = "reject_rollback"
ACKNOWLEDGE = "acknowledge"
SILENCE_PREFIX = "silence_"
# The second, explicit click for a silence that would mute more than the incident's alerts.
SILENCE_WIDE_PREFIX = "silence_wide_"
UNSILENCE = "unsilence"
TAKE_OVER = "take_over"
RESUME = "resume_automation"
VERDICT_PREFIX = "verdict_"

SILENCE_DURATIONS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "24h": timedelta(hours=24),
}

Target = Literal["incident", "approval"]


@dataclass(frozen=True)
class ActionSpec:
    action_id: str
    permission: Permission
    target: Target
    title: str  # what the person did, for replies and the audit trail


def _catalogue() -> dict[str, ActionSpec]:
    specs = [
        ActionSpec(APPROVE_ROLLBACK, "approve", "approval", "approve the rollback"),
        ActionSpec(REJECT_ROLLBACK, "approve", "approval", "reject the rollback"),
        ActionSpec(ACKNOWLEDGE, "acknowledge", "incident", "acknowledge"),
        ActionSpec(UNSILENCE, "silence", "incident", "unsilence"),
        ActionSpec(TAKE_OVER, "take_over", "incident", "take over"),
        ActionSpec(RESUME, "take_over", "incident", "resume automation"),
    ]
    for label in SILENCE_DURATIONS:
        specs.append(
            ActionSpec(f"{SILENCE_PREFIX}{label}", "silence", "incident", f"silence for {label}")
        )
        specs.append(
            ActionSpec(
                f"{SILENCE_WIDE_PREFIX}{label}",
                "silence",
                "incident",
                f"silence for {label}, although it mutes other alerts too",
            )
        )
    for value, title in VERDICT_TITLES.items():
        specs.append(
            ActionSpec(f"{VERDICT_PREFIX}{value}", "verdict", "incident", f"judge it {title}")
        )
    return {s.action_id: s for s in specs}


ACTIONS: dict[str, ActionSpec] = _catalogue()


def silence_duration(action_id: str) -> timedelta | None:
    return SILENCE_DURATIONS.get(
        action_id.removeprefix(SILENCE_WIDE_PREFIX).removeprefix(SILENCE_PREFIX)
    )


def verdict_of(action_id: str) -> str | None:
    value = action_id.removeprefix(VERDICT_PREFIX)
    return value if action_id.startswith(VERDICT_PREFIX) and value in VERDICT_TITLES else None

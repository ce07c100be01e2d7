"""Autonomy earned per action: the mode of one (alert type, action, workload) and how outcomes
move it. Pure (no Firestore, no clock): the ledger part (shared.ledger.autonomy) stores the
state and applies `step` inside a transaction; tests replay sequences of outcomes.

The policy sets, per alert type, action and workload class, one of (shared.policy.AutonomyMode):
  auto      act automatically (within every guardrail)
  approve   propose; a person approves or rejects
  off       neither act nor propose
  earned    start at approve; promoted to auto after `promote_after` approved actions in a row
            that verified fixed; demoted to approve by a not-fixed or relapsed outcome
An outcome "cleared anyway" (the alert resolves by itself about as often) proves nothing: it
breaks the streak without demoting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from shared.policy import AlertPolicy, AutonomyMode

Mode = Literal["auto", "approve", "off"]
OutcomeKind = Literal["fixed", "not_fixed", "relapsed", "cleared_anyway"]
OUTCOMES: tuple[OutcomeKind, ...] = ("fixed", "not_fixed", "relapsed", "cleared_anyway")
WORKLOAD_CLASSES = ("gitops", "keda", "helm", "plain")


@dataclass(frozen=True)
class AutonomyState:
    """What an earned action has shown so far (a record is kept for every mode)."""

    mode: Mode = "approve"
    streak: int = 0  # approved (or automatic) actions in a row that verified fixed
    fixed: int = 0
    not_fixed: int = 0
    relapsed: int = 0
    cleared_anyway: int = 0

    @property
    def outcomes(self) -> int:
        return self.fixed + self.not_fixed + self.relapsed + self.cleared_anyway

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> AutonomyState:
        raw = raw or {}
        mode = raw.get("mode")

        def count(key: str) -> int:
            value = raw.get(key)
            return value if isinstance(value, int) and value >= 0 else 0

        return cls(
            mode=mode if mode in ("auto", "approve", "off") else "approve",
            streak=count("streak"),
            fixed=count("fixed"),
            not_fixed=count("not_fixed"),
            relapsed=count("relapsed"),
            cleared_anyway=count("cleared_anyway"),
        )


@dataclass(frozen=True)
class ModeChange:
    before: Mode
    after: Mode
    reason: str


def step(
    state: AutonomyState, outcome: OutcomeKind, *, approved: bool, promote_after: int
) -> tuple[AutonomyState, ModeChange | None]:
    """The state after one outcome, and the change of mode it caused (if any).

    `approved`: a person approved the action (or it ran in auto mode, having earned it). An
    unapproved action's fixed outcome does not earn anything.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    counts = {outcome: getattr(state, outcome) + 1}
    if outcome == "fixed":
        streak = state.streak + 1 if approved else state.streak
        new = replace(state, streak=streak, **counts)
        if new.mode == "approve" and approved and streak >= promote_after:
            reason = (
                f"{streak} approved actions in a row verified fixed (promote_after {promote_after})"
            )
            return replace(new, mode="auto"), ModeChange("approve", "auto", reason)
        return new, None
    if outcome == "cleared_anyway":
        return replace(state, streak=0, **counts), None
    new = replace(state, streak=0, **counts)
    if state.mode == "auto":
        word = "not fixed" if outcome == "not_fixed" else "relapsed within 24 h"
        return replace(new, mode="approve"), ModeChange("auto", "approve", f"an action {word}")
    return new, None


def replay(
    outcomes: Iterable[tuple[OutcomeKind, bool]], *, promote_after: int
) -> tuple[AutonomyState, list[ModeChange]]:
    """Fold a sequence of (outcome, approved) from the start state."""
    state, changes = AutonomyState(), []
    for outcome, approved in outcomes:
        state, change = step(state, outcome, approved=approved, promote_after=promote_after)
        if change is not None:
            changes.append(change)
    return state, changes


def workload_key(cluster: str, kind: str, namespace: str, name: str) -> str:
    """The workload an autonomy record is about (cluster | kind:namespace:name)."""
    return f"{cluster or '-'}|{kind.lower()}:{namespace}:{name}"


def configured_mode(entry: AlertPolicy, action: str, workload_class: str) -> AutonomyMode:
    """What the policy says for this action on this class of workload."""
    by_class = entry.autonomy.get(action) or {}
    mode = by_class.get(workload_class) or by_class.get("default")
    if mode is not None:
        return mode
    return "approve" if entry.guardrails.approval_required else "auto"


def effective_mode(configured: AutonomyMode, state: AutonomyState | None) -> Mode:
    if configured != "earned":
        return configured
    return state.mode if state is not None else "approve"


def change_line(change: ModeChange, alert_type: str, action: str, target: str) -> str:
    """The thread line for a change of mode."""
    verb = "promoted to auto" if change.after == "auto" else "back to approve"
    return f"Autonomy: {action} on {target} for {alert_type} {verb} ({change.reason})."


def render_records(records: list[dict[str, Any]]) -> str:
    """`alertloop health`: each action's record (empty when none is kept yet)."""
    if not records:
        return ""
    lines = ["", "Autonomy per action (alert type, action, workload: mode and outcomes)"]
    for r in records:
        state = AutonomyState.from_dict(r.get("state"))
        lines.append(
            f"{str(r.get('alert_type', '?'))[:23]:<24}{str(r.get('action', '?'))[:17]:<18}"
            f"{str(r.get('workload', '?'))[:48]:<49}{record_line(state)}"
        )
    return "\n".join(lines)


def record_line(state: AutonomyState) -> str:
    return (
        f"{state.mode}, streak {state.streak}: {state.fixed} fixed, {state.not_fixed} not "
        f"fixed, {state.relapsed} relapsed, {state.cleared_anyway} cleared anyway"
    )

"""Autonomy earned per action (shared.autonomy): the mode from a sequence of outcomes, and
the policy's autonomy settings (no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.autonomy import (
    OUTCOMES,
    AutonomyState,
    configured_mode,
    effective_mode,
    replay,
    step,
)
from shared.policy import PolicyError, load_policy


def test_earned_starts_at_approve_and_is_promoted_after_k_approved_fixes() -> None:
    state, changes = replay([("fixed", True)] * 2, promote_after=3)
    assert (state.mode, state.streak, changes) == ("approve", 2, [])
    state, changes = replay([("fixed", True)] * 3, promote_after=3)
    assert state.mode == "auto"
    assert [(c.before, c.after) for c in changes] == [("approve", "auto")]
    assert "3 approved actions in a row" in changes[0].reason


@pytest.mark.parametrize("bad", ["not_fixed", "relapsed"])
def test_a_not_fixed_or_relapse_demotes(bad: str) -> None:
    state, changes = replay([("fixed", True)] * 3 + [(bad, True)], promote_after=3)  # type: ignore[list-item]
    assert (state.mode, state.streak) == ("approve", 0)
    assert [(c.before, c.after) for c in changes] == [("approve", "auto"), ("auto", "approve")]


def test_the_streak_must_be_consecutive() -> None:
    seq = [("fixed", True), ("fixed", True), ("not_fixed", True), ("fixed", True), ("fixed", True)]
    state, _ = replay(seq, promote_after=3)  # type: ignore[arg-type]
    assert (state.mode, state.streak, state.fixed, state.not_fixed) == ("approve", 2, 4, 1)


def test_cleared_anyway_breaks_the_streak_without_demoting() -> None:
    state, _ = replay([("fixed", True)] * 3 + [("cleared_anyway", True)], promote_after=3)
    assert (state.mode, state.streak, state.cleared_anyway) == ("auto", 0, 1)
    state, _ = replay(
        [("fixed", True), ("fixed", True), ("cleared_anyway", True), ("fixed", True)],
        promote_after=3,
    )
    assert state.mode == "approve"


def test_unapproved_fixes_earn_nothing() -> None:
    state, changes = replay([("fixed", False)] * 5, promote_after=3)
    assert (state.mode, state.streak, state.fixed, changes) == ("approve", 0, 5, [])


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        step(AutonomyState(), "maybe", approved=True, promote_after=3)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.sampled_from(OUTCOMES), st.booleans()), max_size=40))
def test_auto_only_after_k_approved_fixes_in_a_row(seq: list[tuple[str, bool]]) -> None:
    """Whatever the history: auto means the last K outcomes since the last demotion were
    approved fixes, and the counts add up."""
    state, _ = replay(seq, promote_after=3)  # type: ignore[arg-type]
    assert state.outcomes == len(seq)
    if state.mode == "auto":
        since = 0
        for outcome, approved in seq:
            if outcome in ("not_fixed", "relapsed"):
                since = 0
            elif outcome == "fixed" and approved:
                since += 1
        assert since >= 3
    last_bad = max(
        (i for i, (o, _) in enumerate(seq) if o in ("not_fixed", "relapsed")), default=-1
    )
    if last_bad == len(seq) - 1:
        assert state.mode == "approve"


def test_state_round_trips_and_tolerates_garbage() -> None:
    state, _ = replay([("fixed", True)] * 4, promote_after=3)
    assert AutonomyState.from_dict(state.as_dict()) == state
    odd = AutonomyState.from_dict({"mode": "god", "streak": -4, "fixed": "many"})
    assert odd == AutonomyState()


def _policy(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


def test_policy_sets_a_mode_per_action_and_workload_class(tmp_path: Path) -> None:
    path = _policy(
        tmp_path,
        """
alerts:
  HighCPUUsage:
    stages: [investigate, remediate]
    remediation: scale
    autonomy:
      scale_deployment: {gitops: off, plain: earned, default: approve}
    guardrails: {promote_after: 5}
""",
    )
    entry = load_policy(str(path)).alerts["HighCPUUsage"]
    assert configured_mode(entry, "scale_deployment", "gitops") == "off"
    assert configured_mode(entry, "scale_deployment", "plain") == "earned"
    assert configured_mode(entry, "scale_deployment", "keda") == "approve"
    assert configured_mode(entry, "raise_hpa_max", "plain") == "auto"  # not set: today's way
    assert entry.guardrails.promote_after == 5
    assert effective_mode("earned", None) == "approve"
    assert effective_mode("earned", AutonomyState(mode="auto")) == "auto"
    assert effective_mode("off", AutonomyState(mode="auto")) == "off"


def test_approval_required_defaults_to_approve() -> None:
    entry = load_policy().alerts["HighErrorRate"]
    assert configured_mode(entry, "restart", "plain") == "approve"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "alerts:\n  X:\n    stages: [investigate]\n    autonomy: {restart: {plain: yolo}}\n",
            "yolo",
        ),
        ("owners:\n  self_heal: {jenkins: true}\n", "unknown tool"),
        ("owners:\n  keda: maybe\n", "keda"),
    ],
)
def test_bad_autonomy_or_owner_settings_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(str(_policy(tmp_path, text)))


def test_owner_settings_from_a_file_merge_with_the_defaults(tmp_path: Path) -> None:
    path = _policy(tmp_path, "owners:\n  self_heal: {argocd: false}\n  keda: refuse\n")
    owners = load_policy(str(path)).owners
    assert owners.keda == "refuse"
    assert owners.self_heal["argocd"] is False
    assert owners.argocd_label_keys == ["argocd.argoproj.io/instance"]

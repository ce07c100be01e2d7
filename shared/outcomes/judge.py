"""The verdict on one action, from what answered (pure; no I/O).

The questions are asked in this order and the first that decides is recorded (`answered_by`):
1. is the alert still firing on the workload? (the ledger's runs, else Alertmanager API v2)
   -> not fixed
2. does the policy's PromQL success condition hold? no -> not fixed
3. are the workload's pods ready? no -> not fixed
4. it resolved: does this alert on this workload usually resolve within the window without
   any action (Prometheus `ALERTS` history)? -> cleared anyway; otherwise fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutcomeName = Literal["fixed", "not_fixed", "relapsed", "cleared_anyway"]

WORDS: dict[str, str] = {
    "fixed": "fixed",
    "not_fixed": "not fixed",
    "relapsed": "relapsed",
    "cleared_anyway": "cleared anyway",
}

ACTION_WORDS = {
    "restart": "the restart",
    "scale_deployment": "the scale-up",
    "raise_hpa_max": "the HPA maximum raise",
    "rollback": "the rollback",
}


@dataclass(frozen=True)
class Evidence:
    alert: str  # "firing" | "resolved"
    alert_source: str  # "ledger" | "alertmanager"
    success: bool | None = None  # None: no success condition (or Prometheus did not answer)
    success_note: str = ""
    pods_ready: bool | None = None  # None: not known
    pods_note: str = ""
    usually_clears: bool | None = None  # None: no baseline
    baseline_note: str = ""


@dataclass(frozen=True)
class Verdict:
    outcome: OutcomeName
    answered_by: str
    detail: str


def judge(ev: Evidence) -> Verdict:
    if ev.alert == "firing":
        return Verdict("not_fixed", ev.alert_source, "still firing")
    if ev.success is False:
        return Verdict(
            "not_fixed",
            "success_query",
            f"the success condition does not hold{_note(ev.success_note)}",
        )
    if ev.pods_ready is False:
        return Verdict("not_fixed", "pods", f"the pods are not ready{_note(ev.pods_note)}")
    if ev.usually_clears:
        return Verdict(
            "cleared_anyway",
            "baseline",
            f"resolved, but it usually resolves within the window without any action"
            f"{_note(ev.baseline_note)}",
        )
    by = "success_query" if ev.success else ev.alert_source
    return Verdict("fixed", by, "resolved")


def line(outcome: str, alert: str, action: str, minutes: float, detail: str) -> str:
    """The one thread line: `Outcome: <word> — <alert> <what> <n> min after the <action>`."""
    after = f"{_minutes(minutes)} after {ACTION_WORDS.get(action, 'the ' + action)}"
    word = WORDS.get(outcome, outcome)
    if outcome == "not_fixed" and detail == "still firing":
        return f"Outcome: {word} — {alert} still firing {after}"
    if outcome == "fixed":
        return f"Outcome: {word} — {alert} resolved {after}"
    if outcome == "relapsed":
        return f"Outcome: {word} — {alert} firing again {detail}"
    return f"Outcome: {word} — {alert}: {detail}, {after}"


def _minutes(minutes: float) -> str:
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    return f"{minutes:.0f} min"


def _note(note: str) -> str:
    return f" ({note})" if note else ""

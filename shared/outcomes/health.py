"""Loop health from verified outcomes (not from actions taken): docs/outcomes.md.

Over the outcome checks recorded in the window, overall and per alert type:
- verified-fix rate: outcomes `fixed` / all recorded outcomes;
- relapse rate: `relapsed` / (`fixed` + `relapsed`): fixed, then firing again within 24 h;
- cleared-anyway rate: `cleared_anyway` / all (the alert usually clears without any action);
- team action rate: outcomes after which a person had to act (`not_fixed`, `relapsed`) or that
  a person's approval made (an approved rollback) / all;
- MTTR (verified): mean seconds from the action to its check, for `fixed` outcomes only;
- brake trips: audited trips in the window (shared.ledger.outcomes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ALL = "all"
FAILED = ("not_fixed", "relapsed")


@dataclass
class OutcomeMeasures:
    outcomes: int = 0
    fixed: int = 0
    not_fixed: int = 0
    relapsed: int = 0
    cleared_anyway: int = 0
    team: int = 0
    fix_seconds: list[float] = field(default_factory=list)

    def add(self, o: dict[str, Any]) -> None:
        name = str(o.get("outcome") or "")
        self.outcomes += 1
        if name == "fixed":
            self.fixed += 1
        elif name == "not_fixed":
            self.not_fixed += 1
        elif name == "relapsed":
            self.relapsed += 1
        elif name == "cleared_anyway":
            self.cleared_anyway += 1
        if name in FAILED or not o.get("automatic", True):
            self.team += 1
        acted, checked = o.get("acted_at"), o.get("checked_at")
        if name == "fixed" and isinstance(acted, datetime) and isinstance(checked, datetime):
            self.fix_seconds.append(max(0.0, (checked - acted).total_seconds()))

    def summary(self) -> dict[str, Any]:
        return {
            "outcomes": self.outcomes,
            "fixed": self.fixed,
            "not_fixed": self.not_fixed,
            "relapsed": self.relapsed,
            "cleared_anyway": self.cleared_anyway,
            "verified_fix_rate": _ratio(self.fixed, self.outcomes),
            "relapse_rate": _ratio(self.relapsed, self.fixed + self.relapsed),
            "cleared_anyway_rate": _ratio(self.cleared_anyway, self.outcomes),
            "team_action_rate": _ratio(self.team, self.outcomes),
            "verified_mttr_s": statistics.fmean(self.fix_seconds) if self.fix_seconds else None,
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def outcome_health(
    outcomes: list[dict[str, Any]], brake_trips: int, now: datetime, days: float
) -> dict[str, Any]:
    since = now - timedelta(days=days)
    measures: dict[str, OutcomeMeasures] = defaultdict(OutcomeMeasures)
    measures[ALL] = OutcomeMeasures()
    for o in outcomes:
        checked = o.get("checked_at")
        if o.get("status") != "done" or not isinstance(checked, datetime) or checked < since:
            continue
        for name in (ALL, str(o.get("alert_type") or "?")):
            measures[name].add(o)
    return {
        "overall": measures[ALL].summary(),
        "by_alert_type": {k: v.summary() for k, v in sorted(measures.items()) if k != ALL},
        "brake_trips": brake_trips,
    }


def render(report: dict[str, Any]) -> str:
    def pct(v: Any) -> str:
        return "—" if v is None else f"{v:.0%}"

    lines = [
        "Outcomes (verified: did the action clear its alert?)",
        f"{'alert type':<24}{'checked':>8}{'fixed':>7}{'relapse':>9}{'cleared':>9}{'team':>7}"
        f"{'MTTR':>8}",
    ]
    rows = [(ALL, report["overall"]), *report["by_alert_type"].items()]
    for name, m in rows:
        mttr = m["verified_mttr_s"]
        lines.append(
            f"{name[:23]:<24}{m['outcomes']:>8}{pct(m['verified_fix_rate']):>7}"
            f"{pct(m['relapse_rate']):>9}{pct(m['cleared_anyway_rate']):>9}"
            f"{pct(m['team_action_rate']):>7}{'—' if mttr is None else f'{mttr:.0f}s':>8}"
        )
    lines.append(f"brake trips: {report['brake_trips']}")
    return "\n".join(lines)

"""Judge the current rule's incidents, score alternatives against them, pick one.

Each incident the current rule would have opened is judged once:
- by the people who handled it, when a ledger run matches it (same label set, started while it
  was active) and carries a verdict: "useful" or "manual" (a person had to act) make it useful,
  "noise" makes it noise;
- otherwise by the heuristic of `alertloop health`: it cleared within the noise window with no
  cluster change — noise; it lasted longer (or something was changed) — useful;
- still firing at the end of the range: ongoing, neither (its length is not known yet).

An alternative's incident takes the judgement of the current-rule incidents it overlaps (a
stricter rule fires inside the same excursions; the verdict is about the event, not about how
long a page stayed open); one that overlaps none — only a looser rule opens those — is judged
by the heuristic on its own duration. An alternative catches a useful incident when it fires
during it; its delay is how much later (negative: earlier) than the current rule it fires.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.health import changed_cluster
from shared.tune.backtest import Incident, LabelKey
from shared.tune.rules import AlertRule

Kind = Literal["useful", "noise", "ongoing"]
USEFUL_VERDICTS = ("useful", "manual")
VERDICTS = (*USEFUL_VERDICTS, "noise")


@dataclass(frozen=True)
class RunRecord:
    """What tune needs of a ledger run."""

    run_id: str
    labels: dict[str, str]
    starts_at: float
    resolved_at: float | None
    verdict: str | None
    acted: bool  # a cluster change was made for it


def _ts(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def runs_for_rule(docs: Iterable[Mapping[str, Any]], rule: AlertRule) -> list[RunRecord]:
    """The ledger runs of this alert rule (its name, and its fixed labels such as severity)."""
    out = []
    wanted = rule.static_labels
    for doc in docs:
        alert = doc.get("alert") or {}
        name = doc.get("alert_name") or alert.get("name")
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        if name != rule.alert or any(labels.get(k) != v for k, v in wanted.items()):
            continue
        starts = _ts(doc.get("starts_at")) or _ts(alert.get("starts_at"))
        if starts is None:
            continue
        verdict = (doc.get("verdict") or {}).get("value")
        out.append(
            RunRecord(
                run_id=str(doc.get("run_id", "")),
                labels=labels,
                starts_at=starts,
                resolved_at=_ts(doc.get("resolved_at")),
                verdict=verdict if verdict in VERDICTS else None,
                acted=changed_cluster(dict(doc)),
            )
        )
    return sorted(out, key=lambda r: r.starts_at)


@dataclass(frozen=True)
class Judged:
    incident: Incident
    kind: Kind
    by_verdict: bool
    runs: tuple[RunRecord, ...] = ()


def _belongs(run: RunRecord, key: LabelKey) -> bool:
    return all(run.labels.get(k) == v for k, v in key)


def judge(
    incidents: Sequence[Incident],
    runs: Sequence[RunRecord],
    noise_seconds: float,
    tolerance_seconds: float,
) -> tuple[list[Judged], list[RunRecord]]:
    """Judge the current rule's incidents; also returns the runs that matched none of them."""
    matched: dict[int, list[RunRecord]] = defaultdict(list)
    unmatched = []
    for run in runs:
        best: tuple[float, int] | None = None
        for i, inc in enumerate(incidents):
            end = math.inf if inc.resolved_at is None else inc.resolved_at
            near = inc.active_at - tolerance_seconds <= run.starts_at <= end + tolerance_seconds
            if near and _belongs(run, inc.key):
                gap = abs(run.starts_at - inc.fired_at)
                if best is None or gap < best[0]:
                    best = (gap, i)
        if best is None:
            unmatched.append(run)
        else:
            matched[best[1]].append(run)
    judged = []
    for i, inc in enumerate(incidents):
        mine = tuple(matched.get(i, ()))
        verdicts = {r.verdict for r in mine if r.verdict}
        kind: Kind
        if verdicts:
            kind = "useful" if verdicts & set(USEFUL_VERDICTS) else "noise"
        else:
            kind = _heuristic(inc, noise_seconds, acted=any(r.acted for r in mine))
        judged.append(Judged(inc, kind, bool(verdicts), mine))
    return judged, unmatched


def _heuristic(inc: Incident, noise_seconds: float, acted: bool = False) -> Kind:
    duration = inc.duration()
    if duration is None:
        return "ongoing"
    return "noise" if duration <= noise_seconds and not acted else "useful"


@dataclass(frozen=True)
class Candidate:
    threshold: float | None  # None: the rule has no threshold tune can move
    for_seconds: float


@dataclass
class Outcome:
    candidate: Candidate
    incidents: list[Incident]
    noise: int = 0
    ongoing: int = 0
    short: int = 0  # cleared within the noise window, whatever the judgement
    caught: int = 0
    missed: list[Incident] = field(default_factory=list)  # useful incidents it never fired for
    delays: list[float] = field(default_factory=list)  # seconds, per caught useful incident

    @property
    def max_delay(self) -> float:
        return max(self.delays, default=0.0)

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None


def _active_overlap(a: Incident, b: Incident) -> bool:
    a_end = math.inf if a.resolved_at is None else a.resolved_at
    b_end = math.inf if b.resolved_at is None else b.resolved_at
    return a.active_at < b_end and b.active_at < a_end


def score(
    candidate: Candidate,
    incidents: Sequence[Incident],
    baseline: Sequence[Judged],
    noise_seconds: float,
) -> Outcome:
    by_key: dict[LabelKey, list[Judged]] = defaultdict(list)
    for j in baseline:
        by_key[j.incident.key].append(j)
    out = Outcome(candidate, list(incidents))
    for inc in incidents:
        duration = inc.duration()
        out.short += duration is not None and duration <= noise_seconds
        over = [j for j in by_key[inc.key] if _active_overlap(inc, j.incident)]
        judged = [j for j in over if j.by_verdict] or over
        kinds = {j.kind for j in judged} if judged else {_heuristic(inc, noise_seconds)}
        if "useful" in kinds:
            continue
        if "ongoing" in kinds:
            out.ongoing += 1
        else:
            out.noise += 1
    mine: dict[LabelKey, list[Incident]] = defaultdict(list)
    for inc in incidents:
        mine[inc.key].append(inc)
    for j in baseline:
        b = j.incident
        if j.kind != "useful" or b.resolved_at is None:
            continue
        firing = [a for a in mine[b.key] if a.overlaps(b.active_at, b.resolved_at)]
        if firing:
            out.caught += 1
            out.delays.append(min(a.fired_at for a in firing) - b.fired_at)
        else:
            out.missed.append(b)
    return out


@dataclass(frozen=True)
class Recommendation:
    outcome: Outcome | None
    reason: str


RULE = (
    "the alternative with the fewest noise incidents among those that miss no useful incident "
    "and fire at most {max_delay} later on each; ties go to the smaller delay, then to the "
    "smaller change"
)


def recommend(
    outcomes: Sequence[Outcome], current: Candidate, max_delay_seconds: float
) -> Recommendation:
    now = next(o for o in outcomes if o.candidate == current)

    def distance(c: Candidate) -> tuple[int, float, float]:
        t, t0 = c.threshold, current.threshold
        dt = 0.0
        if t is not None and t0 is not None:
            dt = abs(t / t0 - 1) if t0 else abs(t - t0)
        changes = (dt > 1e-12) + (c.for_seconds != current.for_seconds)
        return changes, dt, abs(c.for_seconds - current.for_seconds)

    eligible = [o for o in outcomes if not o.missed and o.max_delay <= max_delay_seconds + 1e-9]
    if not now.incidents:
        return Recommendation(None, "the current rule opened no incident in this range")
    if not eligible:
        return Recommendation(None, "every alternative misses a useful incident or fires too late")
    best = min(
        eligible,
        key=lambda o: (
            o.noise,
            o.max_delay,
            statistics.fmean(o.delays) if o.delays else 0.0,
            distance(o.candidate),
        ),
    )
    if best.candidate == current or best.noise >= now.noise:
        if now.noise == 0:
            return Recommendation(None, "the current rule opened no noise incident")
        return Recommendation(
            None,
            f"no alternative opens fewer than the current {now.noise} noise incident(s) without "
            "missing a useful incident or firing too late on one",
        )
    return Recommendation(best, "")

"""`alertloop tune ALERT`: backtest an alerting rule against Prometheus history and propose a
threshold / `for:` change as a diff to the rules file.

It reads the rule from the rules file, evaluates its left side (the expression without its
threshold) once with query_range at the rule group's interval, replays Prometheus' pending →
firing → resolved state machine for the current rule and a grid of alternatives, judges the
incidents with the run ledger's verdicts (or, without one, "cleared within --noise-minutes with
no cluster change = noise"), and recommends the least noisy alternative that still catches
every useful incident in time.

Exit codes: 0 a change is recommended (or written with --write); 1 nothing to recommend, or no
such alert; 2 usage, an unreadable rules file, or Prometheus unreachable.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.prometheus import PrometheusClient, PrometheusError, PrometheusSettings
from shared.tune.analysis import Analysis, analyse, describe, for_grid
from shared.tune.backtest import Grid, SeriesPoints, on_grid
from shared.tune.edit import Change, EditError, apply_change, unified_diff
from shared.tune.promql import (
    PromqlError,
    Split,
    format_duration,
    format_number,
    inline_recording_rules,
    parse_duration,
    split_threshold,
)
from shared.tune.rules import (
    DEFAULT_INTERVAL_SECONDS,
    AlertRule,
    RulesError,
    RulesFile,
    load_rules,
)
from shared.tune.score import RULE

OK, NOTHING, USAGE = 0, 1, 2
STACK_FILE = Path(".stack/stack.json")  # written by `make run`
DEFAULT_RULES = "deploy/prometheus-rules.yml"
MAX_EVALUATIONS = 200_000  # per series; beyond it the step grows (with a note)


class TuneError(RuntimeError):
    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def add_tune_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "tune",
        help="backtest an alerting rule on Prometheus history; propose a threshold/for: change",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("alert", help="the alert name, e.g. HighErrorRate")
    p.add_argument(
        "--rules", default=DEFAULT_RULES, metavar="FILE", help=f"default {DEFAULT_RULES}"
    )
    p.add_argument("--days", type=float, default=30, help="history to replay (default 30)")
    p.add_argument(
        "--prometheus",
        default="",
        metavar="URL",
        help="Prometheus URL (default $PROMETHEUS_URL, else the `make run` stack's)",
    )
    p.add_argument(
        "--step",
        default="",
        metavar="DURATION",
        help="evaluation step (default: the rule group's interval, else 1m)",
    )
    p.add_argument(
        "--thresholds", default="", metavar="A,B,…", help="thresholds to try (default ±10/20/30%%)"
    )
    p.add_argument(
        "--for",
        dest="fors",
        default="",
        metavar="D1,D2,…",
        help="for: durations to try, e.g. 5m,10m (default: current, 2x, 3x)",
    )
    p.add_argument(
        "--noise-minutes",
        type=float,
        default=5,
        metavar="M",
        help="an incident that cleared this fast with no cluster change is noise (default 5)",
    )
    p.add_argument(
        "--max-delay",
        default="10m",
        metavar="DURATION",
        help="an alternative may fire at most this much later on a useful incident (default 10m)",
    )
    p.add_argument("--severity", default="", help="pick the rule entry with this severity")
    p.add_argument(
        "--entry", type=int, default=0, metavar="N", help="pick the Nth rule entry of that name"
    )
    p.add_argument("--no-ledger", action="store_true", help="do not read verdicts from the ledger")
    p.add_argument("--write", action="store_true", help="apply the recommended change to the file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tune)
    return p


def cmd_tune(args: argparse.Namespace, now: float | None = None) -> int:
    """The `tune` subcommand; `now` (unix seconds) replays up to another time than now."""
    try:
        return _tune(args, now)
    except TuneError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code


# ---- inputs ----------------------------------------------------------------------------------


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise TuneError(f"--{what} takes numbers separated by commas, got {text!r}") from exc


def _durations(text: str, what: str) -> list[float]:
    try:
        return [parse_duration(x.strip()) for x in text.split(",") if x.strip()]
    except PromqlError as exc:
        raise TuneError(f"--{what}: {exc}") from exc


def select_rule(rules: list[AlertRule], severity: str = "", entry: int = 0) -> AlertRule:
    """One entry of an alert that several rules define (e.g. per severity or burn rate)."""
    pool = [r for r in rules if not severity or r.labels.get("severity") == severity]
    if entry:
        if not 1 <= entry <= len(rules):
            raise TuneError(f"--entry {entry}: there are {len(rules)} entries")
        pool = [r for r in pool if r.position == entry]
    if len(pool) == 1:
        return pool[0]
    listing = "\n".join(f"  {r.describe()}\n    expr: {' '.join(r.expr.split())}" for r in rules)
    why = "none matches" if not pool else f"{len(pool)} match"
    raise TuneError(
        f"{rules[0].alert} has {len(rules)} rule entries and {why}; "
        f"pick one with --severity or --entry N:\n{listing}"
    )


def _stack_prometheus() -> str:
    try:
        url = json.loads(STACK_FILE.read_text()).get("prometheus_url", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return url if isinstance(url, str) else ""


def prometheus_client(url: str = "") -> PrometheusClient:
    """$PROMETHEUS_* settings; `url` (--prometheus) wins, the local stack's is the fallback."""
    try:
        settings = PrometheusSettings.from_env()
    except ValueError as exc:
        raise TuneError(str(exc)) from exc
    url = (url or settings.url or _stack_prometheus()).rstrip("/")
    if not url:
        raise TuneError(
            "no Prometheus: pass --prometheus URL, set PROMETHEUS_URL, or start `make run`"
        )
    return PrometheusClient(replace(settings, url=url))


def ledger_runs(since: float) -> tuple[list[dict[str, Any]], str]:
    """Every run since `since`, or [] and why not (tune works without the ledger)."""
    from datetime import UTC, datetime

    from google.auth.exceptions import GoogleAuthError

    from shared.ledger import Ledger, LedgerError
    from shared.replay import ReplayError, load_stack_env

    try:
        load_stack_env()  # the local stack's emulators, when `make run` is up
        return Ledger().runs_since(datetime.fromtimestamp(since, UTC)), ""
    except (ReplayError, LedgerError, GoogleAuthError) as exc:
        return [], f"the run ledger is unreachable ({exc})"


# ---- the command -------------------------------------------------------------------------------


def _tune(args: argparse.Namespace, now: float | None = None) -> int:
    thresholds = _floats(args.thresholds, "thresholds")
    fors = _durations(args.fors, "for")
    max_delay = _durations(args.max_delay, "max-delay")
    if args.days <= 0 or args.noise_minutes < 0 or len(max_delay) != 1:
        raise TuneError("--days must be > 0, --noise-minutes >= 0, --max-delay one duration")
    rules_file, rule = _find_rule(args)
    notes: list[str] = []
    split = _split(rule, notes)
    if thresholds and not split:
        notes.append("--thresholds ignored: the rule has no threshold tune can move")
    grid, window_start = _grid(args, rule, fors, now, notes)
    series, grid = _history(args, rules_file, rule, split, grid, window_start, notes)
    if args.no_ledger:
        docs: list[dict[str, Any]] = []
        ledger_note = "not read (--no-ledger)"
    else:
        docs, ledger_note = ledger_runs(grid.start)
    analysis = analyse(
        rule,
        split,
        series,
        grid,
        window_start,
        docs,
        thresholds=thresholds if split else (),
        fors=fors,
        noise_seconds=args.noise_minutes * 60,
        max_delay_seconds=max_delay[0],
    )
    analysis.notes = notes
    new_text = _proposal(rules_file, rule, split, analysis)
    diff = unified_diff(rules_file.text, new_text, args.rules) if new_text else ""
    if args.write and new_text:
        path = Path(args.rules)
        if path.read_text() != rules_file.text:
            raise TuneError(f"{path} changed while tune ran; nothing written, run it again")
        path.write_text(new_text)
    verdict_note = judgement_note(analysis, ledger_note)
    written = bool(args.write and new_text)
    if args.json:
        print(json.dumps(as_json(analysis, verdict_note, diff, written, args), indent=2))
    else:
        print(render(analysis, verdict_note, diff, written, args))
    return OK if analysis.recommendation.outcome is not None else NOTHING


def _find_rule(args: argparse.Namespace) -> tuple[RulesFile, AlertRule]:
    try:
        rules_file = load_rules(Path(args.rules))
    except RulesError as exc:
        raise TuneError(str(exc)) from exc
    named = rules_file.named(args.alert)
    if not named:
        names = sorted({a.alert for a in rules_file.alerts})
        close = difflib.get_close_matches(args.alert, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; it has: {', '.join(names)}"
        raise TuneError(f"no alerting rule named {args.alert!r} in {args.rules}{hint}", NOTHING)
    return rules_file, select_rule(named, args.severity, args.entry)


def _split(rule: AlertRule, notes: list[str]) -> Split | None:
    try:
        found = split_threshold(rule.expr)
    except PromqlError as exc:
        found = f"cannot read the expression: {exc}"
    if isinstance(found, Split):
        return found
    notes.append(f"no threshold found ({found}): only `for:` alternatives are backtested")
    return None


def _grid(
    args: argparse.Namespace,
    rule: AlertRule,
    fors: list[float],
    now: float | None,
    notes: list[str],
) -> tuple[Grid, float]:
    """The evaluations to replay (on multiples of the step, like a rule group's), and where
    the scored window starts: before it, enough history for the longest `for:` to build up."""
    step = _durations(args.step, "step")[0] if args.step else 0.0
    step = step or rule.interval_seconds or DEFAULT_INTERVAL_SECONDS
    span = args.days * 86400
    if span / step > MAX_EVALUATIONS:
        wider = math.ceil(span / MAX_EVALUATIONS / step) * step
        notes.append(
            f"evaluating every {format_duration(wider)} instead of {format_duration(step)} to "
            f"stay under {MAX_EVALUATIONS:,} evaluations per series (set --step to choose)"
        )
        step = wider
    end = math.floor((time.time() if now is None else now) / step) * step
    window_start = end - span
    longest = max(for_grid(rule.for_seconds, fors))
    warmup = math.ceil((longest + rule.keep_firing_for_seconds) / step + 1) * step
    count = round((end - window_start + warmup) / step) + 1
    return Grid(window_start - warmup, step, count), window_start


def _history(
    args: argparse.Namespace,
    rules_file: RulesFile,
    rule: AlertRule,
    split: Split | None,
    grid: Grid,
    window_start: float,
    notes: list[str],
) -> tuple[list[SeriesPoints], Grid]:
    client = prometheus_client(args.prometheus)
    query = split.query if split else rule.expr
    raw = _query(client, query, grid)
    if not raw:
        inlined = inline_recording_rules(query, rules_file.records)
        if inlined is not None:
            raw = _query(client, inlined, grid)
            if raw:
                notes.append(
                    "the recorded series it uses has no history here; evaluated the recording "
                    f"rules' expressions from {args.rules} instead"
                )
    series = on_grid(((s.labels, s.values) for s in raw), grid)
    if not series:
        notes.append("the query returned no data over this range")
    elif split is not None and not split.tail:
        # The left side alone has a sample at every evaluation while its metrics exist, so
        # its first and last samples are where the history starts and ends. Past the end there
        # is no history yet: stop the replay there (an alert firing then is ongoing, not
        # resolved by the data running out).
        oldest = min(s.points[0][0] for s in series if s.points)
        newest = max(s.points[-1][0] for s in series if s.points)
        if grid.at(oldest) > window_start + grid.step:
            days = (grid.at(grid.count - 1) - grid.at(oldest)) / 86400
            notes.append(
                f"the history starts at {_when(grid.at(oldest))} UTC: {days:.1f} of the "
                f"{args.days:g} days asked for"
            )
        if newest < grid.count - 2:
            grid = replace(grid, count=newest + 1)
            notes.append(f"the history ends at {_when(grid.at(newest))} UTC (no newer samples)")
    return series, grid


def _proposal(
    rules_file: RulesFile, rule: AlertRule, split: Split | None, analysis: Analysis
) -> str:
    """The rules file's text with the recommended change ("" when there is none)."""
    best = analysis.recommendation.outcome
    if best is None:
        return ""
    now = analysis.current
    change = Change(
        threshold=None if best.candidate.threshold == now.threshold else best.candidate.threshold,
        for_seconds=None
        if best.candidate.for_seconds == now.for_seconds
        else best.candidate.for_seconds,
    )
    try:
        return apply_change(rules_file.text, rule, split, change)
    except EditError as exc:
        analysis.notes.append(f"cannot write the change as a diff: {exc}")
        return ""


def _query(client: PrometheusClient, query: str, grid: Grid) -> list[Any]:
    try:
        return client.range_chunked(
            query, grid.start, grid.at(grid.count - 1), grid.step, max_points=10_000
        )
    except PrometheusError as exc:
        raise TuneError(f"Prometheus: {exc}") from exc


# ---- output ------------------------------------------------------------------------------------


def judgement_note(a: Analysis, ledger_note: str) -> str:
    total = len(a.baseline)
    heuristic = (
        f"cleared within {a.noise_seconds / 60:g} min with no cluster change = noise, "
        "longer = useful"
    )
    if ledger_note:
        return (
            f"run ledger {ledger_note}: all {total} incidents judged by the heuristic ({heuristic})"
        )
    judged = [r for r in a.runs if r.verdict]
    if not a.runs:
        return (
            f"no runs of {a.rule.alert} in the run ledger over this range: all {total} incidents "
            f"judged by the heuristic ({heuristic})"
        )
    if not judged:
        return (
            f"no verdicts in the run ledger ({len(a.runs)} runs of {a.rule.alert}, none judged): "
            f"all {total} incidents judged by the heuristic ({heuristic})"
        )
    useful = sum(1 for j in a.baseline if j.by_verdict and j.kind == "useful")
    text = (
        f"{a.by_verdict} of {total} incidents judged by people's verdicts ({useful} useful, "
        f"{a.by_verdict - useful} noise), {total - a.by_verdict} by the heuristic ({heuristic})"
    )
    lost = [r for r in a.unmatched if r.verdict]
    if lost:
        text += (
            f"; {len(lost)} judged run(s) match no incident of the backtest (other labels, or "
            "shorter than the evaluation step) and were left out"
        )
    return text


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m = seconds / 60
    if abs(m) < 1e-9:
        return "0m"
    return f"{m:+.0f}m" if abs(m - round(m)) < 1e-9 else f"{m:+.1f}m"


def _when(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def render(a: Analysis, verdict_note: str, diff: str, written: bool, args: Any) -> str:
    r = a.rule
    useful = sum(1 for j in a.baseline if j.kind == "useful" and j.incident.resolved_at)
    lines = [
        f"{r.alert} — {args.rules} line {r.line} (group {r.group})",
        f"  expr: {' '.join(r.expr.split())}",
        f"  for: {format_duration(r.for_seconds)}"
        + (
            f"   keep_firing_for: {format_duration(r.keep_firing_for_seconds)}"
            if r.keep_firing_for_seconds
            else ""
        ),
        f"  replayed {_when(a.window_start)} → {_when(a.window_end)} UTC, every "
        f"{format_duration(a.grid.step)}, {a.series} series",
        *(f"  note: {n}" for n in a.notes),
        f"  judgement: {verdict_note}",
        "",
    ]
    ongoing = sum(1 for j in a.baseline if j.kind == "ongoing")
    if ongoing:
        lines.insert(-1, f"  {ongoing} incident(s) still firing at the end: not judged")
    lines.append(
        f"{'threshold':<12}{'for':>6}{'incidents':>11}{'noise':>7}{'useful caught':>15}"
        f"{'missed':>8}{'later: median':>15}{'max':>6}"
    )
    best = a.recommendation.outcome
    for o in a.outcomes:
        c = o.candidate
        mark = " *" if c == a.current else (" ←" if best is o else "")
        level = (
            f"{a.split.op} {format_number(c.threshold)}"
            if a.split and c.threshold is not None
            else "-"
        )
        lines.append(
            f"{level:<12}{format_duration(c.for_seconds):>6}{len(o.incidents):>11}{o.noise:>7}"
            f"{f'{o.caught}/{useful}':>15}{len(o.missed):>8}{_minutes(o.median_delay):>15}"
            f"{_minutes(o.max_delay if o.delays else None):>6}{mark}"
        )
    lines.append("  * current rule   ← recommended")
    lines.append("")
    now = a.now
    if best is None:
        lines.append(f"nothing to recommend: {a.recommendation.reason}.")
    else:
        later = f"at most {_minutes(best.max_delay)} later" if best.delays else "none to catch"
        lines.append(
            f"recommended: {describe(best.candidate, a.split)} "
            f"(now {describe(a.current, a.split)}): "
            f"{len(now.incidents)} → {len(best.incidents)} incidents, noise {now.noise} → "
            f"{best.noise}; useful incidents caught {best.caught}/{useful} ({later})."
        )
    lines.append("how: " + RULE.format(max_delay=format_duration(a.max_delay_seconds)) + ".")
    if diff:
        lines += ["", diff.rstrip("\n")]
        if written:
            lines.append(f"\nwritten to {args.rules}")
    return "\n".join(lines)


def as_json(a: Analysis, verdict_note: str, diff: str, written: bool, args: Any) -> dict[str, Any]:
    def cand(c: Any) -> dict[str, Any]:
        return {"threshold": c.threshold, "for": format_duration(c.for_seconds)}

    best = a.recommendation.outcome
    return {
        "alert": a.rule.alert,
        "rules_file": args.rules,
        "line": a.rule.line,
        "expr": a.rule.expr,
        "split": None
        if a.split is None
        else {
            "left": a.split.left,
            "op": a.split.op,
            "threshold": a.split.threshold,
            "tail": a.split.tail,
        },
        "window": {"start": a.window_start, "end": a.window_end, "step_seconds": a.grid.step},
        "series": a.series,
        "notes": a.notes,
        "judgement": verdict_note,
        "incidents_by_verdict": a.by_verdict,
        "incidents_by_heuristic": len(a.baseline) - a.by_verdict,
        "current": cand(a.current),
        "alternatives": [
            {
                **cand(o.candidate),
                "incidents": len(o.incidents),
                "noise": o.noise,
                "ongoing": o.ongoing,
                "cleared_within_noise_minutes": o.short,
                "useful_caught": o.caught,
                "useful_missed": len(o.missed),
                "delay_seconds": o.delays,
            }
            for o in a.outcomes
        ],
        "recommendation": None if best is None else cand(best.candidate),
        "reason": a.recommendation.reason,
        "rule": RULE.format(max_delay=format_duration(a.max_delay_seconds)),
        "diff": diff,
        "written": written,
    }

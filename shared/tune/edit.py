"""Change one alerting rule's threshold and/or `for:` in the rules file's text, and show it as a
unified diff. Only those bytes change: comments, quoting, folding and order stay as written.
Every edit is checked by parsing the result: the rule must read back with exactly the new
values and every other rule must be unchanged."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import yaml

from shared.tune.promql import Split, format_duration, format_number, threshold_pattern
from shared.tune.rules import AlertRule, RulesError


class EditError(RulesError):
    """The change cannot be made safely by editing the text (the reason says why)."""


@dataclass(frozen=True)
class Change:
    threshold: float | None = None  # None: keep
    for_seconds: float | None = None  # None: keep


def _threshold_edit(text: str, rule: AlertRule, split: Split, new: str) -> tuple[int, int, str]:
    pattern = threshold_pattern(split)
    in_expr = list(pattern.finditer(rule.expr))
    end = split.threshold_start + len(split.threshold_text)
    ordinal = next((i for i, m in enumerate(in_expr) if m.end() == end), None)
    span = rule.expr_span
    start = span.start
    if span.style in ("|", ">"):  # skip the block indicator line ("|", ">-", …)
        start = text.index("\n", start) + 1
    in_text = list(pattern.finditer(text, start, span.end))
    if ordinal is None or len(in_text) != len(in_expr):
        raise EditError(f"cannot find `{split.op} {split.threshold_text}` in the rule's text")
    m = in_text[ordinal]
    return m.start("threshold"), m.end("threshold"), new


def _for_edit(text: str, rule: AlertRule, seconds: float) -> tuple[int, int, str]:
    value = format_duration(seconds)
    if rule.for_span is not None:
        span = rule.for_span
        if span.style in ("|", ">"):
            raise EditError("`for:` is a block scalar; edit it by hand")
        quote = span.style if span.style in ("'", '"') else ""
        return span.start, span.end, f"{quote}{value}{quote}"
    # No `for:` yet: add one on its own line, right after the expression.
    span = rule.expr_span
    at = span.end
    if span.style not in ("|", ">"):  # a block scalar ends at the start of the next line
        nl = text.find("\n", at)
        at = len(text) if nl < 0 else nl + 1
    line = f"{' ' * rule.indent}for: {value}\n"
    if at == len(text) and not text.endswith("\n"):
        line = "\n" + line
    return at, at, line


def apply_change(text: str, rule: AlertRule, split: Split | None, change: Change) -> str:
    """The rules file's text with `change` made to `rule` (verified by parsing it back)."""
    if rule.flow:
        raise EditError("the rule is written in flow style ({…}); edit it by hand")
    edits = []
    if change.threshold is not None:
        if split is None:
            raise EditError("the rule has no threshold to change")
        edits.append(_threshold_edit(text, rule, split, format_number(change.threshold)))
    if change.for_seconds is not None:
        edits.append(_for_edit(text, rule, change.for_seconds))
    new = text
    for start, end, replacement in sorted(edits, reverse=True):
        new = new[:start] + replacement + new[end:]
    _verify(text, new, rule, split, change)
    return new


def _verify(old: str, new: str, rule: AlertRule, split: Split | None, change: Change) -> None:
    try:
        expected, after = yaml.safe_load(old), yaml.safe_load(new)
    except yaml.YAMLError as exc:
        raise EditError(f"the edit would break the YAML: {exc}") from exc
    same = [
        r
        for group in expected["groups"]
        for r in group.get("rules") or []
        if isinstance(r, dict) and r.get("alert") == rule.alert
    ]
    target = same[rule.position - 1]
    if change.threshold is not None and split is not None:
        target["expr"] = split.rewrite(str(target["expr"]), format_number(change.threshold))
    if change.for_seconds is not None:
        target["for"] = format_duration(change.for_seconds)
    if after != expected:
        raise EditError("the edited file does not read back as intended; edit it by hand")


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )

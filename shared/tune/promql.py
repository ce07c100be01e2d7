"""Just enough PromQL lexing to split an alert expression into "left side, operator, threshold".

Precedence is what makes the split safe: arithmetic binds tighter than comparisons, which bind
tighter than `and`/`unless`, then `or`. So in ``A > 0.05 and B`` the alert's threshold is the
last top-level comparison before the first top-level `and`/`unless`, its left side is everything
before it, and ``(A) and B`` yields exactly the samples the threshold then filters (set
operators only match label sets). An `or` branch adds series the threshold never sees, so such
expressions are left whole (only `for:` can be backtested for them).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

COMPARISONS = (">", "<", ">=", "<=")
SET_OPERATORS = ("and", "unless", "or")
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("==", "!=", ">=", "<=", "=~", "!~", ">", "<", "=", "+", "-", "*", "/", "%", "^", ",")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


class PromqlError(ValueError):
    """Text that is not an expression (or a duration) this module understands."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident | number | string | op | open | close
    text: str
    start: int
    end: int
    depth: int  # nesting of (), [] and {} the token sits in (0 = top level)


def tokens(expr: str) -> Iterator[Token]:
    depth, i, n = 0, 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":  # a comment runs to the end of the line
            nl = expr.find("\n", i)
            i = n if nl < 0 else nl
        elif c in "\"'`":
            j = i + 1
            while j < n and expr[j] != c:
                j += 2 if (expr[j] == "\\" and c != "`") else 1
            if j >= n:
                raise PromqlError(f"unterminated string at offset {i}")
            yield Token("string", expr[i : j + 1], i, j + 1, depth)
            i = j + 1
        elif c in "([{":
            yield Token("open", c, i, i + 1, depth)
            depth += 1
            i += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                raise PromqlError(f"unbalanced {c!r} at offset {i}")
            yield Token("close", c, i, i + 1, depth)
            i += 1
        elif m := _NUMBER.match(expr, i):
            yield Token("number", m.group(), i, m.end(), depth)
            i = m.end()
        elif m := _IDENT.match(expr, i):
            yield Token("ident", m.group(), i, m.end(), depth)
            i = m.end()
        else:
            op = next((o for o in _OPERATORS if expr.startswith(o, i)), c)
            yield Token("op", op, i, i + len(op), depth)
            i += len(op)
    if depth:
        raise PromqlError("unbalanced brackets")


@dataclass(frozen=True)
class Split:
    """``left op threshold tail``: the alert expression with its threshold taken out."""

    left: str
    op: str
    threshold: float
    threshold_text: str  # as written, e.g. "0.05" or "(14.4 * 0.01)"
    tail: str  # "" or the `and …`/`unless …` part, kept verbatim
    threshold_start: int  # offset of threshold_text in the expression

    @property
    def query(self) -> str:
        """What to evaluate once: the left side, still filtered by the tail."""
        return f"{_parenthesised(self.left)} {self.tail}" if self.tail else self.left

    def holds(self, value: float, threshold: float | None = None) -> bool:
        t = self.threshold if threshold is None else threshold
        return compare(value, self.op, t)

    def rewrite(self, expr: str, threshold_text: str) -> str:
        """`expr` with the threshold replaced (the rest verbatim)."""
        end = self.threshold_start + len(self.threshold_text)
        return expr[: self.threshold_start] + threshold_text + expr[end:]


def _parenthesised(expr: str) -> str:
    # A trailing `# comment` would swallow the closing parenthesis.
    return f"({expr}\n)" if "#" in expr else f"({expr})"


def compare(value: float, op: str, threshold: float) -> bool:
    if math.isnan(value):
        return False
    if op == ">":
        return value > threshold
    if op == "<":
        return value < threshold
    if op == ">=":
        return value >= threshold
    if op == "<=":
        return value <= threshold
    raise PromqlError(f"not a comparison: {op!r}")


def split_threshold(expr: str) -> Split | str:
    """The threshold split of `expr`, or why there is none (a sentence for the user)."""
    toks = list(tokens(expr))
    top = [t for t in toks if t.depth == 0]
    set_ops = [t for t in top if t.kind == "ident" and t.text in SET_OPERATORS]
    if any(t.text == "or" for t in set_ops):
        return "the expression has an `or` branch, which the threshold does not filter"
    cut = set_ops[0].start if set_ops else len(expr)
    cmps = [
        t for t in top if t.kind == "op" and t.end <= cut and t.text in (*COMPARISONS, "==", "!=")
    ]
    if not cmps:
        return "no top-level comparison (`> N`, `< N`, …) before any `and`/`unless`"
    op = cmps[-1]
    if op.text not in COMPARISONS:
        return f"`{op.text}` compares with an exact value; there is no threshold to move"
    right = [t for t in toks if op.end <= t.start and t.end <= cut]
    if right and right[0].kind == "ident" and right[0].text == "bool":
        return "`bool` comparisons return 0/1 instead of filtering; no threshold to move"
    if not right:
        return "nothing after the comparison"
    text = expr[right[0].start : right[-1].end]
    value = constant(text)
    if value is None:
        return f"`{text}` is not a constant number"
    left = expr[: op.start].strip()
    if not left:
        return "nothing before the comparison"
    tail = expr[cut:].strip()
    return Split(left, op.text, value, text, tail, right[0].start)


def constant(text: str) -> float | None:
    """The value of a constant arithmetic expression ("0.05", "(14.4 * 0.01)"), else None."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            if isinstance(node.value, bool):
                raise ValueError("not a number")
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.Div
        ):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b
        raise ValueError("not constant")

    try:
        value = ev(tree.body)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def threshold_pattern(split: Split) -> re.Pattern[str]:
    """Finds "op threshold" in YAML source, where line folding may have changed whitespace."""
    parts = [re.escape(p) for p in split.threshold_text.split()]
    number = r"\s+".join(parts)
    return re.compile(re.escape(split.op) + r"\s*(?P<threshold>" + number + r")(?![\w.])")


def inline_recording_rules(expr: str, records: Mapping[str, str]) -> str | None:
    """`expr` with each bare use of a recorded series replaced by its rule's expression (for
    history older than the recording rule), or None when nothing could be (safely) inlined."""
    changed = False
    for _ in range(5):  # recording rules built on recording rules
        out, last, hit = [], 0, False
        toks = list(tokens(expr))
        label_lists: list[int] = []  # depths of open by(...)/on(...) label lists
        for i, t in enumerate(toks):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if t.kind == "open" and i and toks[i - 1].text in LABEL_LIST_KEYWORDS:
                label_lists.append(t.depth)
            elif t.kind == "close" and label_lists and label_lists[-1] == t.depth:
                label_lists.pop()
            if t.kind != "ident" or t.text not in records or label_lists:
                continue
            if nxt is not None and nxt.kind == "open":
                if nxt.text in "{[":  # matchers or a range: cannot inline textually
                    return None
                continue  # a function call of the same name
            if nxt is not None and nxt.text in ("offset", "@"):  # selector-only modifiers
                return None
            out += [expr[last : t.start], _parenthesised(records[t.text].strip())]
            last, hit = t.end, True
        if not hit:
            break
        expr, changed = "".join([*out, expr[last:]]), True
    return expr if changed else None


def parse_duration(text: str | int | float | None) -> float:
    """Seconds in a Prometheus duration ("1h30m", "5m", "0s"); None/"" is 0."""
    if text is None or text == "":
        return 0.0
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip()
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise PromqlError(f"not a Prometheus duration: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The Prometheus spelling of a duration: 600 -> "10m", 5400 -> "1h30m", 0 -> "0s"."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    out = []
    for unit in ("y", "w", "d", "h", "m", "s", "ms"):
        size = round(_DURATION_UNITS[unit] * 1000)
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def format_number(x: float) -> str:
    """A threshold as it should be written: 0.055, 0.1584, 1e-05, 5."""
    return f"{x:.6g}"

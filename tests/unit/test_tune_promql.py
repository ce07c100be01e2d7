"""Splitting alert expressions into left side / comparison / threshold, durations, inlining."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.tune.promql import (
    PromqlError,
    Split,
    constant,
    format_duration,
    format_number,
    inline_recording_rules,
    parse_duration,
    split_threshold,
    tokens,
)
from shared.tune.rules import load_rules

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-rules.yml"


def split(expr: str) -> Split:
    got = split_threshold(expr)
    assert isinstance(got, Split), got
    return got


@pytest.mark.parametrize(
    ("expr", "left", "op", "threshold", "tail"),
    [
        (
            "workload:http_errors:ratio_rate5m > 0.05",
            "workload:http_errors:ratio_rate5m",
            ">",
            0.05,
            "",
        ),
        ("x < 3", "x", "<", 3.0, ""),
        ("x >= 1e-3", "x", ">=", 0.001, ""),
        ("x <= -2", "x", "<=", -2.0, ""),
        ("a + b > 0.5", "a + b", ">", 0.5, ""),
        (
            'rate(x{code=~"5..", path=">1"}[5m]) > 2',
            'rate(x{code=~"5..", path=">1"}[5m])',
            ">",
            2.0,
            "",
        ),
        (
            "max without (job) (demo_http_error_ratio) > 0.05",
            "max without (job) (demo_http_error_ratio)",
            ">",
            0.05,
            "",
        ),
        ("a > (14.4 * 0.01)", "a", ">", 0.144, ""),
        # `and`/`unless` tails are kept verbatim; the first comparison is the one tuned.
        ("a > 0.1 and b > 0.2", "a", ">", 0.1, "and b > 0.2"),
        ("a > 0.1 unless on(x) b", "a", ">", 0.1, "unless on(x) b"),
        ("a > 1 > 2", "a > 1", ">", 2.0, ""),
        ("sum(x) # comment > 9\n  > 4", "sum(x) # comment > 9", ">", 4.0, ""),
    ],
)
def test_split(expr: str, left: str, op: str, threshold: float, tail: str) -> None:
    got = split(expr)
    assert (got.left, got.op, got.tail) == (left, op, tail)
    assert got.threshold == pytest.approx(threshold)
    assert expr[got.threshold_start :].startswith(got.threshold_text)


def test_split_of_the_repos_rules() -> None:
    rules = load_rules(RULES)
    burn = split(rules.named("ErrorBudgetExhausted")[0].expr)
    assert burn.left == "workload:http_errors:ratio_rate1h"
    assert burn.threshold_text == "(14.4 * 0.01)"
    assert burn.tail == "and workload:http_errors:ratio_rate5m > (14.4 * 0.01)"
    assert burn.query == (
        "(workload:http_errors:ratio_rate1h) and workload:http_errors:ratio_rate5m > (14.4 * 0.01)"
    )
    cpu = split(rules.named("HighCPUUsage")[0].expr)
    assert cpu.left.startswith("label_replace(") and cpu.left.endswith(")")
    assert (cpu.op, cpu.threshold) == (">", 0.8)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("max by (job) (up) == 0", "exact value"),
        ("x != 1", "exact value"),
        ("a > 1 or b > 2", "`or`"),
        ("x > bool 1", "bool"),
        ("a and b > 1", "no top-level comparison"),
        ("rate(x[5m])", "no top-level comparison"),
        ("x > y", "not a constant"),
        ("x > scalar(y)", "not a constant"),
    ],
)
def test_no_threshold(expr: str, why: str) -> None:
    got = split_threshold(expr)
    assert isinstance(got, str)
    assert why in got


def test_a_comment_in_the_left_side_does_not_swallow_the_tail() -> None:
    s = split("sum(x) # errors\n  > 4 and y")
    assert s.query == "(sum(x) # errors\n) and y"
    assert [t.text for t in tokens(s.query)] == ["(", "sum", "(", "x", ")", ")", "and", "y"]


def test_holds_and_rewrite() -> None:
    s = split("a > (14.4 * 0.01) and b > (14.4 * 0.01)")
    assert s.holds(0.2) and not s.holds(0.1) and s.holds(0.1, 0.05)
    assert s.rewrite("a > (14.4 * 0.01) and b > (14.4 * 0.01)", "0.16") == (
        "a > 0.16 and b > (14.4 * 0.01)"
    )
    assert split("x <= 2").holds(2) and not split("x < 2").holds(2)


def test_tokens_reject_broken_text() -> None:
    with pytest.raises(PromqlError):
        list(tokens('x{a="b}'))
    with pytest.raises(PromqlError):
        list(tokens("sum(x"))
    with pytest.raises(PromqlError):
        list(tokens("x)"))


def test_constant() -> None:
    assert constant("(14.4 * 0.01)") == pytest.approx(0.144)
    assert constant("-(2 + 1) / 3") == -1
    assert constant("0x10") == 16
    assert constant("1 / 0") is None
    assert constant("True") is None
    assert constant("x") is None
    assert constant("2 ** 3") is None  # PromQL's ^, not Python's **: not supported, not guessed


def test_durations() -> None:
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1d") == 86400
    assert parse_duration("250ms") == 0.25
    assert parse_duration("0") == 0
    assert parse_duration(None) == 0
    for bad in ("5", "m", "5x", "1m 2s", "-1m"):
        with pytest.raises(PromqlError):
            parse_duration(bad)
    assert format_duration(0) == "0s"
    assert format_duration(600) == "10m"
    assert format_duration(5400) == "1h30m"
    assert format_duration(90061) == "1d1h1m1s"
    assert format_duration(0.5) == "500ms"
    assert format_number(0.05 * 1.1) == "0.055"
    assert format_number(14.4 * 0.01 * 1.1) == "0.1584"
    assert format_number(5.0) == "5"


def test_inline_recording_rules() -> None:
    records = {"job:err:ratio": "sum by (job) (rate(e[5m])) / sum by (job) (rate(t[5m]))"}
    assert inline_recording_rules("job:err:ratio", records) == (
        "(sum by (job) (rate(e[5m])) / sum by (job) (rate(t[5m])))"
    )
    assert inline_recording_rules("(job:err:ratio) and on(job) x", records) == (
        "((sum by (job) (rate(e[5m])) / sum by (job) (rate(t[5m])))) and on(job) x"
    )
    # Nested recording rules are expanded too.
    nested = {"a:b": "c:d * 2", "c:d": "rate(x[1m])"}
    assert inline_recording_rules("a:b", nested) == "((rate(x[1m])) * 2)"
    # Not inlinable textually: matchers, ranges, offset; nothing to inline: None.
    assert inline_recording_rules('job:err:ratio{job="a"}', records) is None
    assert inline_recording_rules("job:err:ratio[5m]", records) is None
    assert inline_recording_rules("job:err:ratio offset 1h", records) is None
    assert inline_recording_rules("other", records) is None
    # A label list that happens to share the name is left alone.
    assert inline_recording_rules("sum by (up) (up)", {"up": "x"}) == "sum by (up) ((x))"

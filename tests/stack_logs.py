"""Positive signals from a running stack: a function's own log line, counted ("dispatch handled
it as a duplicate, ten times"), where a fixed sleep would pass whether or not anything happened.

Every function logs to its own file (sandbox.stack, PYTHONUNBUFFERED), one event per line with
its fields as key=value (ALERTLOOP_LOG_FORMAT=text)."""

from __future__ import annotations

from sandbox.stack import Stack, wait_for


def log_count(stack: Stack, function: str, *needles: str) -> int:
    """Lines of `function`'s log that contain every needle."""
    text = stack.functions[function].log_path.read_text(errors="replace")
    return sum(1 for line in text.splitlines() if all(n in line for n in needles))


def wait_for_log(
    stack: Stack, function: str, *needles: str, count: int, timeout: float = 60
) -> None:
    """Until `function` has logged at least `count` lines with every needle."""
    wait_for(
        lambda: log_count(stack, function, *needles) >= count,
        timeout,
        f"{count} line(s) with {needles} in {function}'s log",
    )

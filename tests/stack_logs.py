"""Positive signals from a running stack: a function's own log line, counted ("dispatch handled
it as a duplicate, ten times"), where a fixed sleep would pass whether or not anything happened.

Every function logs to its own file (sandbox.stack, PYTHONUNBUFFERED), one event per line with
its fields as key=value (ALERTLOOP_LOG_FORMAT=text)."""

from __future__ import annotations

from sandbox.stack import PROJECT, TOPIC_PREFIX, Stack, wait_for


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


def notify_caught_up(stack: Stack, ordering_key: str) -> None:
    """Until notify has handled every message published so far on an ordering key (an incident's
    or a storm group's, NotifyMessage.ordering_key): a sentinel on that key, published now, which
    notify can only drop, and logs so. The notify subscription delivers a key in order, one
    message after the one before it was acknowledged (retries included)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    dropped = log_count(stack, "notify", "dropped a malformed notify message")
    publisher = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    topic = publisher.topic_path(PROJECT, f"{TOPIC_PREFIX}notify")
    publisher.publish(topic, b"sentinel", ordering_key=ordering_key).result(timeout=30)
    wait_for_log(stack, "notify", "dropped a malformed notify message", count=dropped + 1)

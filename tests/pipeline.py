"""Driving the real functions' code by hand in integration tests: messages pulled from the
emulator's topics are delivered the way a push subscription delivers them."""

from __future__ import annotations

import base64
from typing import Any

from shared.dispatch import dispatch_message
from shared.messages import parse_intake, parse_notify, parse_stage


def cloud_event(received: Any) -> dict[str, Any]:
    """A pulled message in the shape functions-framework gives a push-triggered function."""
    msg = received.message
    return {
        "message": {
            "data": base64.b64encode(bytes(msg.data)).decode(),
            "attributes": dict(msg.attributes),
            "messageId": msg.message_id,
        },
        "subscription": "test",
    }


def dispatch_all(topics: Any, ledger: Any = None, bus: Any = None) -> int:
    """Deliver everything on `intake` to dispatch; returns how many messages."""
    messages = topics.pull("intake", max_messages=1000)
    for m in messages:
        dispatch_message(cloud_event(m), ledger=ledger, bus=bus)
    return len(messages)


def intake_messages(topics: Any) -> list[Any]:
    return [parse_intake(bytes(m.message.data)) for m in topics.pull("intake", max_messages=1000)]


def stage_messages(topics: Any, stage: str, timeout: float = 3.0) -> list[Any]:
    return [parse_stage(bytes(m.message.data)) for m in topics.pull(stage, timeout=timeout)]


def notify_messages(topics: Any, timeout: float = 3.0) -> list[Any]:
    return [parse_notify(bytes(m.message.data)) for m in topics.pull("notify", timeout=timeout)]


def notify_all(topics: Any, notifier: Any = None) -> int:
    from shared.notifier import Notifier

    notifier = notifier or Notifier()
    messages = notify_messages(topics)
    for msg in messages:
        notifier(msg)
    return len(messages)

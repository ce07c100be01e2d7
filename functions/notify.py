"""notify (Pub/Sub CloudEvent): project an incident (or a storm's digest) onto Slack."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.log import event, get_logger
from shared.messages import BadMessage, message_data, parse_notify
from shared.notifier import Notifier

log = get_logger("alertloop.notify")
_notifier = Notifier()


@functions_framework.cloud_event
def notify(cloud_event: Any) -> None:
    try:
        raw, _, _ = message_data(cloud_event)
        msg = parse_notify(raw)
    except BadMessage as exc:
        # Nothing to notify about; retrying cannot fix it.
        event(log, "dropped a malformed notify message", 40, error=str(exc))
        return
    _notifier(msg)

"""notify (Pub/Sub CloudEvent): upsert the run's Slack parent message and thread replies."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.log import event, get_logger
from shared.notifier import Notifier
from shared.stage import PoisonMessage, decode

log = get_logger("alertloop.notify")
_notifier = Notifier()


@functions_framework.cloud_event
def notify(cloud_event: Any) -> None:
    try:
        env = decode(cloud_event)
    except PoisonMessage as exc:
        # Nothing to notify about; retrying cannot fix it.
        event(log, "dropped a malformed notify message", 40, error=str(exc))
        return
    _notifier(env)

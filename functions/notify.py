"""notify (Pub/Sub CloudEvent): project an incident (or a storm's digest) onto Slack."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.notifier import NotifyConsumer

_consumer = NotifyConsumer()


@functions_framework.cloud_event
def notify(cloud_event: Any) -> None:
    _consumer(cloud_event)

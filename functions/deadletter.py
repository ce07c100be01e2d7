"""deadletter (Pub/Sub CloudEvent): record a failed stage on its run, tell Slack how to replay."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.dead_lettering import DeadLetterConsumer

_consumer = DeadLetterConsumer()


@functions_framework.cloud_event
def deadletter(cloud_event: Any) -> None:
    _consumer(cloud_event)

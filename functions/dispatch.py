"""dispatch (Pub/Sub CloudEvent, topic `intake`): dedupe, resolve, reopen, plan, publish."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.dispatch import dispatch_message
from shared.log import get_logger

log = get_logger("alertloop.dispatch")


@functions_framework.cloud_event
def dispatch(cloud_event: Any) -> None:
    # Raises to retry (Firestore or Pub/Sub unavailable): the alert waits in `intake`.
    dispatch_message(cloud_event)

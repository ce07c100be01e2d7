"""sweeper (Pub/Sub CloudEvent, topic `sweep`, fed by Cloud Scheduler): ask Alertmanager about
open incidents whose resolve never came (shared.sweeper)."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.sweeper import Sweeper

_sweeper = Sweeper()


@functions_framework.cloud_event
def sweeper(cloud_event: Any) -> None:
    _sweeper(cloud_event)

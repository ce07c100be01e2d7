"""act (Pub/Sub CloudEvent, topic `interactions`): do what a Slack button said.

Approve or reject a rollback proposal, acknowledge, silence / unsilence in Alertmanager, take
over / resume automation, give a verdict — once per click, audited, answered through
response_url, and shown on the incident's parent (shared.interaction.worker).
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.interaction.worker import Worker

_worker = Worker()


@functions_framework.cloud_event
def act(cloud_event: Any) -> None:
    # Raises to retry (Firestore or Pub/Sub unavailable): the click waits in `interactions`.
    _worker(cloud_event)

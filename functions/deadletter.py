"""deadletter (Pub/Sub CloudEvent): record a failed stage on its run, tell Slack how to replay."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.deadletters import handle_dead_letter, parse_dead_letter
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.messages import BadMessage, message_data
from shared.notifier import Notifier

log = get_logger("alertloop.deadletter")
_ledger = Ledger()
_notifier = Notifier(ledger=_ledger)


@functions_framework.cloud_event
def deadletter(cloud_event: Any) -> None:
    try:
        raw, attributes, message_id = message_data(cloud_event)
    except BadMessage as exc:
        event(log, "dead-letter message unreadable; dropped", 50, error=str(exc))
        return
    handle_dead_letter(parse_dead_letter(raw, attributes), message_id, _ledger, _notifier)

"""deadletter (Pub/Sub CloudEvent): record a failed stage on its run, tell Slack how to replay."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared.deadletters import handle_dead_letter, parse_dead_letter
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.notifier import Notifier
from shared.stage import PoisonMessage, message_data

log = get_logger("alertloop.deadletter")
_ledger = Ledger()
_notifier = Notifier(ledger=_ledger)


@functions_framework.cloud_event
def deadletter(cloud_event: Any) -> None:
    try:
        raw, attributes = message_data(cloud_event)
    except PoisonMessage as exc:
        event(log, "dead-letter message unreadable; dropped", 50, error=str(exc))
        return
    message_id = str((cloud_event.data.get("message") or {}).get("messageId", ""))
    handle_dead_letter(parse_dead_letter(raw, attributes), message_id, _ledger, _notifier)

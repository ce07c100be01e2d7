"""Dead letters: messages no function could process, and what the deadletter function does.

Three shapes arrive on the dead-letter topic:
  our record of a stage that gave up   {"stage", "error", "attempts", "message": StageMessage}
  our record of a poison message       {"stage", "error", "attempts": 1, "raw", "attributes"}
  Pub/Sub's native dead-lettering      the original message (a stage pointer or an intake
                                       alert), when a function kept failing before it could
                                       count attempts (e.g. dispatch while Firestore was down)
All are recorded and told to Slack with the exact command that replays them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.bus import Bus, Outgoing
from shared.consumer import DROP, Consumer, Delivery
from shared.lazy import lazy
from shared.log import event, get_logger
from shared.messages import (
    BadMessage,
    StageMessage,
    as_json,
    message_data,
    parse_intake,
    parse_stage,
)
from shared.model import Finding, Stage, utcnow
from shared.untrusted import for_mrkdwn

if TYPE_CHECKING:
    from shared.ledger import Ledger
    from shared.notifier import Notifier

log = get_logger(__name__)


def replay_command(run_id: str, stage: str) -> str:
    if stage == "rollback":
        # An approval is single use: a new rollback needs a new proposal and a new approval.
        return f"alertloop replay {run_id} --from remediate --force (then approve the new proposal)"
    return f"alertloop replay {run_id} --from {stage}"


def dead_letter(bus: Bus, stage: str, msg: StageMessage, error: str, attempts: int) -> None:
    """A stage gave up on a run after its attempts: park the pointer for replay."""
    data = json.dumps(
        {
            "stage": stage,
            "error": error[:2000],
            "attempts": attempts,
            "message": json.loads(msg.model_dump_json()),
        }
    ).encode()
    bus.publish(
        Outgoing(Stage.DEADLETTER, data, {"run_id": msg.run_id, "stage": stage, "reason": "failed"})
    )


def set_aside(bus: Bus, stage: str, cloud_event: Any, error: str) -> None:
    """A message that can never be processed: dead-letter it at once (no retry loop)."""
    try:
        raw, attrs, _ = message_data(cloud_event)
    except BadMessage:
        raw, attrs = json.dumps(getattr(cloud_event, "data", None), default=str).encode(), {}
    event(log, "poison message set aside", 50, stage=stage, error=error[:300])
    data = json.dumps(
        {
            "stage": stage,
            "error": error[:2000],
            "attempts": 1,
            "raw": raw.decode("utf-8", "replace")[:100_000],
            "attributes": attrs,
        }
    ).encode()
    bus.publish(
        Outgoing(
            Stage.DEADLETTER,
            data,
            {"stage": stage, "reason": "poison", "run_id": attrs.get("run_id", "")},
        )
    )


@dataclass
class DeadLetter:
    stage: str
    error: str
    attempts: int
    reason: str  # failed | poison | native
    raw: str = ""
    message: StageMessage | None = None  # a stage pointer to replay
    intake: bytes = b""  # an intake message to replay to `intake`

    @property
    def run_id(self) -> str:
        return self.message.run_id if self.message else ""

    def replay(self) -> Outgoing | None:
        """What publishing this dead letter again means (None: poison, nothing to replay)."""
        if self.message is not None:
            return Outgoing.stage(self.message.model_copy(update={"force": False}))
        if self.intake:
            return Outgoing(Stage.INTAKE, self.intake, {"replayed": "dead-letter"})
        return None


def parse_dead_letter(raw: bytes, attributes: dict[str, str]) -> DeadLetter:
    data = as_json(raw)
    if isinstance(data, dict) and "stage" in data and ("message" in data or "raw" in data):
        msg = None
        if isinstance(data.get("message"), dict):
            try:
                msg = StageMessage.model_validate(data["message"])
            except ValueError:
                msg = None
        return DeadLetter(
            stage=str(data["stage"]),
            error=str(data.get("error", "")),
            attempts=int(data.get("attempts", 0) or 0),
            reason=attributes.get("reason", "failed" if msg else "poison"),
            raw=str(data.get("raw", "")),
            message=msg,
        )
    attempts = int(attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", 0) or 0)
    native = "Pub/Sub gave up delivering this message (native dead-letter policy)"
    try:
        pointer = parse_stage(raw)
    except BadMessage:
        pointer = None
    if pointer is not None:
        return DeadLetter(pointer.stage, native, attempts, "native", message=pointer)
    try:
        parse_intake(raw)
    except BadMessage:
        return DeadLetter(
            attributes.get("stage", "unknown"),
            native,
            attempts,
            "poison",
            raw=raw.decode("utf-8", "replace")[:10_000],
        )
    return DeadLetter("intake", native, attempts, "native", intake=raw)


def handle_dead_letter(
    letter: DeadLetter, message_id: str, ledger: Ledger, notifier: Notifier
) -> None:
    now = utcnow()
    run = ledger.get_run(letter.run_id) if letter.run_id else None
    if run is None:
        # Poison, an intake alert dispatch gave up on, or a pointer to an unknown run: keep it
        # and say so in a message of its own.
        ledger.store_poison(
            message_id,
            {
                "stage": letter.stage,
                "error": letter.error,
                "raw": letter.raw or letter.intake.decode("utf-8", "replace")[:100_000],
                "reason": letter.reason,
            },
        )
        what = "an alert dispatch could not record" if letter.intake else "a malformed message"
        text = (
            f":rotating_light: The *{for_mrkdwn(letter.stage, 50)}* stage set aside {what}: "
            f"{for_mrkdwn(letter.error, 500)}\nStored as dead letter "
            f"`{for_mrkdwn(message_id, 100)}`; inspect it with `alertloop replay "
            "--list-dead-letters`, put it back with `alertloop replay --dead-letters`."
        )
        notifier.post_notice(text)
        event(log, "dead letter recorded", 40, stage=letter.stage, message_id=message_id)
        return
    stage = letter.stage
    cmd = replay_command(letter.run_id, stage)
    finding = Finding(
        stage="deadletter",
        status="error",
        summary=(
            f"The {stage} stage failed {letter.attempts} time(s) and was set aside: "
            f"{letter.error[:800]}\nFix the cause, then replay it: {cmd}"
        ),
        details={
            "failed_stage": stage,
            "attempts": letter.attempts,
            "error": letter.error[:2000],
            "replay": cmd,
        },
        started=now,
        finished=now,
    )
    ledger.record_failure(letter.run_id, stage, finding, letter.attempts, cmd)
    event(log, "stage dead-lettered", 40, run_id=letter.run_id, stage=stage)
    notifier.project_run(letter.run_id)


def _notifier(consumer: DeadLetterConsumer) -> Notifier:
    from shared.notifier import Notifier

    return Notifier(consumer._cfg, consumer.ledger)


class DeadLetterConsumer(Consumer[tuple[DeadLetter, str]]):
    """The deadletter function. A dead letter it cannot even decode is dropped, loudly: the
    dead-letter topic is the end of the line."""

    name = "deadletter"
    on_bad_message = DROP
    logger = get_logger("alertloop.deadletter")
    dropped = "dead-letter message unreadable; dropped"
    drop_level = 50
    notifier = lazy(_notifier)

    def parse(self, delivery: Delivery) -> tuple[DeadLetter, str]:
        return parse_dead_letter(delivery.raw, delivery.attributes), delivery.message_id

    def handle(self, msg: tuple[DeadLetter, str]) -> None:
        letter, message_id = msg
        handle_dead_letter(letter, message_id, self.ledger, self.notifier)

"""`alertloop replay --dead-letters` / `--list-dead-letters`.

Drains the dead-letter topic through an extra pull subscription (`<prefix>deadletter-replay`, so
the deadletter function's push subscription loses nothing) back to where each message came from:
a stage pointer to its stage, an intake alert dispatch gave up on to `intake`. Poison is stored
in the ledger and listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from shared.bus import Bus, PublishError
from shared.config import Settings
from shared.dead_lettering import parse_dead_letter
from shared.ledger import Ledger
from shared.model import Stage
from shared.replay.errors import NOTHING, OK
from shared.replay.runs import REPLAYABLE, mark_replayed
from shared.replay.seek import subscription_path

DEAD_LETTER_SUBSCRIPTION = "deadletter-replay"  # after the topic prefix
PULL_BATCH = 100
PULL_TIMEOUT_SECONDS = 5.0


def subscriber_client() -> Any:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    return pubsub_v1.SubscriberClient()


def ensure_dead_letter_subscription(cfg: Settings, subscriber: Any) -> tuple[str, bool]:
    """(path, created): the extra pull subscription on the dead-letter topic."""
    from google.api_core import exceptions as gexc

    path = subscription_path(cfg, f"{cfg.topic_prefix}{DEAD_LETTER_SUBSCRIPTION}")
    try:
        subscriber.create_subscription(
            request={
                "name": path,
                "topic": cfg.topic_path(Stage.DEADLETTER),
                "ack_deadline_seconds": 60,
                "message_retention_duration": {"seconds": 7 * 24 * 3600},
            }
        )
    except gexc.AlreadyExists:
        return path, False
    return path, True


@dataclass
class DrainReport:
    replayed: list[str] = field(default_factory=list)
    poison_stored: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.replayed) + len(self.poison_stored) + len(self.left)


def drain_dead_letters(
    cfg: Settings,
    ledger: Ledger,
    bus: Bus,
    out: TextIO,
    limit: int,
    dry_run: bool,
    subscriber: Any = None,
) -> DrainReport:
    sub = subscriber or subscriber_client()
    path, created = ensure_dead_letter_subscription(cfg, sub)
    if created:
        print(
            f"created pull subscription {path}; it holds dead letters published from now on "
            "(create it with the deployment to keep every one)",
            file=out,
        )
    report = DrainReport()
    while report.seen < limit:
        resp = sub.pull(
            request={"subscription": path, "max_messages": min(PULL_BATCH, limit - report.seen)},
            timeout=PULL_TIMEOUT_SECONDS,
        )
        if not resp.received_messages:
            break
        ack: list[str] = []
        nack: list[str] = []
        for received in resp.received_messages:
            msg = received.message
            letter = parse_dead_letter(bytes(msg.data), dict(msg.attributes))
            label = f"message {msg.message_id}: stage {letter.stage}"
            replay = letter.replay()
            what = f"run {letter.run_id}" if letter.run_id else "an intake alert"
            replayable = letter.stage in (*REPLAYABLE, Stage.INTAKE.value)
            if replay is not None and replayable:
                if dry_run:
                    print(f"would replay {what} to {letter.stage} ({label})", file=out)
                    report.left.append(msg.message_id)
                    nack.append(received.ack_id)
                    continue
                try:
                    bus.publish(replay)
                except PublishError as exc:
                    print(f"could not replay {what} to {letter.stage}: {exc}", file=out)
                    report.left.append(msg.message_id)
                    nack.append(received.ack_id)
                    continue
                if letter.run_id:
                    run = ledger.load_run(letter.run_id)
                    if run is not None:
                        how = {"force": False, "source": "dead-letters"}
                        mark_replayed(ledger, run, letter.stage, how)
                print(f"replayed {what} to {cfg.topic_path(replay.topic)} ({label})", file=out)
                report.replayed.append(msg.message_id)
                ack.append(received.ack_id)
                continue
            # Poison (or a stage we cannot replay into, e.g. rollback): list it, keep it. A
            # stage's record carries no raw bytes: keep its pointer (run, approval) instead.
            kept = letter.raw or (letter.message.model_dump_json() if letter.message else "")
            raw = kept[:200].replace("\n", " ")
            print(f"poison {label}: {letter.error[:300]}; raw: {raw!r}", file=out)
            if dry_run:
                report.left.append(msg.message_id)
                nack.append(received.ack_id)
                continue
            try:
                ledger.store_poison(
                    msg.message_id,
                    {
                        "stage": letter.stage,
                        "error": letter.error,
                        "raw": kept,
                        "reason": letter.reason,
                    },
                )
            except Exception as exc:  # any store failure: leave the message on the subscription
                print(f"  could not store it ({exc}); left on {path}", file=out)
                report.left.append(msg.message_id)
                nack.append(received.ack_id)
                continue
            print(
                f"  stored as dead letter {msg.message_id} "
                "(see `alertloop replay --list-dead-letters`)",
                file=out,
            )
            report.poison_stored.append(msg.message_id)
            ack.append(received.ack_id)
        if ack:
            sub.acknowledge(request={"subscription": path, "ack_ids": ack})
        if nack:
            sub.modify_ack_deadline(
                request={"subscription": path, "ack_ids": nack, "ack_deadline_seconds": 0}
            )
        if dry_run:
            break  # nacked messages come straight back: one pass is the whole listing
    return report


def list_dead_letters(ledger: Ledger, out: TextIO, limit: int) -> int:
    docs = ledger.poison_messages(limit)
    if not docs:
        print("no poison messages stored", file=out)
        return NOTHING
    for doc_id, d in docs:
        at = d.get("at")
        when = at.isoformat() if isinstance(at, datetime) else str(at or "")
        raw = str(d.get("raw", ""))[:200].replace("\n", " ")
        print(
            f"{doc_id}  {when}  stage={d.get('stage', '?')}  reason={d.get('reason', '?')}\n"
            f"  error: {str(d.get('error', ''))[:300]}\n  raw: {raw!r}",
            file=out,
        )
    return OK

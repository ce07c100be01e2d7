"""Publishing envelopes to stage topics (Pub/Sub; the emulator when PUBSUB_EMULATOR_HOST is set)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.config import Settings, settings
from shared.envelope import Envelope, Stage
from shared.log import event, get_logger

log = get_logger(__name__)

PUBLISH_TIMEOUT_SECONDS = 30.0


class PublishError(RuntimeError):
    """A message could not be published; the caller must not acknowledge its input."""


@dataclass(frozen=True)
class Outgoing:
    stage: str
    envelope: Envelope


class Bus:
    """Publishes envelopes; the Pub/Sub client is created lazily, once per process."""

    def __init__(self, cfg: Settings | None = None, publisher: Any = None) -> None:
        self._cfg = cfg
        self._publisher = publisher

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    @property
    def publisher(self) -> Any:
        if self._publisher is None:
            from google.cloud import pubsub_v1  # type: ignore[attr-defined]

            self._publisher = pubsub_v1.PublisherClient(
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
            )
        return self._publisher

    def publish_many(self, messages: Iterable[Outgoing]) -> list[str]:
        """Publish all, then wait for all: one slow round trip, not one per message."""
        pending = []
        for msg in messages:
            topic = self.cfg.topic_path(msg.stage)
            # Notify messages for one run must arrive in order (firing before resolved).
            key = msg.envelope.run_id if msg.stage == Stage.NOTIFY else ""
            future = self.publisher.publish(
                topic,
                msg.envelope.to_bytes(),
                ordering_key=key,
                **msg.envelope.attributes(msg.stage),
            )
            pending.append((msg, topic, key, future))
        ids = []
        failures = []
        for msg, topic, key, future in pending:
            try:
                ids.append(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
            except Exception as exc:  # any client error means "not published"
                failures.append(f"{topic}: {exc}")
                if key:
                    # An ordering key pauses after a failure until resumed.
                    self.publisher.resume_publish(topic, key)
                event(log, "publish failed", 40, run_id=msg.envelope.run_id, topic=topic)
        if failures:
            raise PublishError("; ".join(failures))
        return ids

    def publish(self, stage: str, envelope: Envelope) -> str:
        return self.publish_many([Outgoing(stage, envelope)])[0]

    def publish_raw(self, topic_stage: str, data: bytes, **attributes: str) -> str:
        """For messages that are not envelopes (dead-letter records)."""
        future = self.publisher.publish(self.cfg.topic_path(topic_stage), data, **attributes)
        try:
            return str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
        except Exception as exc:
            raise PublishError(f"{topic_stage}: {exc}") from exc

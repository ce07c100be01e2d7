"""Publishing to the topics (Pub/Sub; the emulator when PUBSUB_EMULATOR_HOST is set)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.config import Settings, settings
from shared.envelope import Stage
from shared.log import event, get_logger
from shared.messages import IntakeAlert, IntakeGroup, NotifyMessage, StageMessage

log = get_logger(__name__)

PUBLISH_TIMEOUT_SECONDS = 30.0
BATCH_LATENCY_SECONDS = 0.002


class PublishError(RuntimeError):
    """A message could not be published; the caller must not acknowledge its input."""


@dataclass(frozen=True)
class Outgoing:
    topic: str  # a topic name from the registry (a stage, intake, notify, deadletter)
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    ordering_key: str = ""

    @classmethod
    def stage(cls, msg: StageMessage, **attributes: str) -> Outgoing:
        attrs = {"run_id": msg.run_id, "stage": msg.stage, **attributes}
        return cls(msg.stage, msg.to_bytes(), attrs)

    @classmethod
    def notify(cls, msg: NotifyMessage) -> Outgoing:
        # One incident's projections arrive in order (firing before resolved).
        attrs = {"kind": msg.kind, "id": msg.id, "run_id": msg.run_id}
        return cls(Stage.NOTIFY, msg.to_bytes(), attrs, msg.ordering_key)

    @classmethod
    def intake(cls, msg: IntakeAlert | IntakeGroup) -> Outgoing:
        # No ordering key: a run's firing and resolve come in different webhooks, often to
        # different ingest instances, which keys cannot order; dispatch orders by received_at.
        if isinstance(msg, IntakeAlert):
            attrs = {
                "run_id": msg.run_id,
                "alert": msg.alert.name[:200],
                "status": msg.alert.status,
            }
        else:
            attrs = {"group_id": msg.group_id}
        return cls(Stage.INTAKE, msg.to_bytes(), attrs)


class Bus:
    """Publishes messages; the Pub/Sub client is created lazily, once per process."""

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
                # The client waits up to 10 ms by default for a batch to fill; every hop of an
                # alert pays it. A storm still batches: its messages arrive microseconds apart.
                batch_settings=pubsub_v1.types.BatchSettings(max_latency=BATCH_LATENCY_SECONDS),
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
            )
        return self._publisher

    def publish_many(self, messages: Iterable[Outgoing]) -> list[str]:
        """Publish all, then wait for all: one slow round trip, not one per message."""
        pending = []
        for msg in messages:
            topic = self.cfg.topic_path(msg.topic)
            future = self.publisher.publish(
                topic, msg.data, ordering_key=msg.ordering_key, **msg.attributes
            )
            pending.append((msg, topic, future))
        ids = []
        failures = []
        for msg, topic, future in pending:
            try:
                ids.append(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
            except Exception as exc:  # any client error means "not published"
                failures.append(f"{topic}: {exc}")
                if msg.ordering_key:
                    # An ordering key pauses after a failure until resumed.
                    self.publisher.resume_publish(topic, msg.ordering_key)
        if failures:
            event(log, "publish failed", 40, failures=len(failures), first=failures[0])
            raise PublishError(f"{len(failures)} message(s) not published; " + failures[0])
        return ids

    def publish(self, message: Outgoing) -> str:
        return self.publish_many([message])[0]

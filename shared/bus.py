"""Publishing to the topics (Pub/Sub; the emulator when PUBSUB_EMULATOR_HOST is set)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared import limits
from shared.config import Settings, settings
from shared.log import event, get_logger
from shared.messages import IntakeAlert, IntakeGroup, NotifyMessage, StageMessage
from shared.model import Stage

log = get_logger(__name__)

PUBLISH_TIMEOUT_SECONDS = 30.0
BATCH_LATENCY_SECONDS = 0.002
# Pub/Sub's limits per Publish request (1,000 messages, 10 MB), with room for the envelope.
REQUEST_MAX_MESSAGES = limits.PUBSUB_PUBLISH_REQUEST_MESSAGES
REQUEST_MAX_BYTES = limits.PUBSUB_PUBLISH_REQUEST_BYTES - 1_000_000
PARALLEL_REQUESTS = 8


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
                # Only ordered messages (notify) use the batcher. It waits up to 10 ms by
                # default for a batch to fill, and every incident update would pay it.
                batch_settings=pubsub_v1.types.BatchSettings(max_latency=BATCH_LATENCY_SECONDS),
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
            )
        return self._publisher

    def publish_many(self, messages: Iterable[Outgoing]) -> list[str]:
        """Publish all, then wait for all: one slow round trip, not one per message.

        Messages without an ordering key go out as direct Publish requests (one per topic and
        request-sized chunk, chunks in parallel): the caller waits for all of them anyway, so the
        batcher's timer would only add latency. Ordered messages go through the batching client,
        which alone keeps a key's order across calls. Returns message ids in the given order."""
        msgs = list(messages)
        ids: list[str] = [""] * len(msgs)
        failures: list[str] = []
        pending = []
        for i, msg in enumerate(msgs):
            if msg.ordering_key:
                topic = self.cfg.topic_path(msg.topic)
                future = self.publisher.publish(
                    topic, msg.data, ordering_key=msg.ordering_key, **msg.attributes
                )
                pending.append((i, topic, future))
        failures += self._publish_direct(
            [(i, m) for i, m in enumerate(msgs) if not m.ordering_key], ids
        )
        for i, topic, future in pending:
            try:
                ids[i] = future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
            except Exception as exc:  # any client error means "not published"
                failures.append(f"{topic}: {exc}")
                # An ordering key pauses after a failure until resumed.
                self.publisher.resume_publish(topic, msgs[i].ordering_key)
        if failures:
            event(log, "publish failed", 40, failures=len(failures), first=failures[0])
            raise PublishError(f"{len(failures)} request(s) not published; " + failures[0])
        return ids

    def _publish_direct(self, indexed: list[tuple[int, Outgoing]], ids: list[str]) -> list[str]:
        """Publish requests straight to the API; fills `ids`, returns the failures."""
        chunks = list(_requests(indexed))
        if not chunks:
            return []

        def send(chunk: tuple[str, list[tuple[int, Outgoing]]]) -> str:
            topic, items = chunk
            path = self.cfg.topic_path(topic)
            try:
                response = _gapic_publish(self.publisher, path, [m for _, m in items])
            except Exception as exc:  # any client error means "not published"
                return f"{path}: {exc}"
            for (i, _), message_id in zip(items, response.message_ids, strict=True):
                ids[i] = message_id
            return ""

        if len(chunks) == 1:
            results = [send(chunks[0])]
        else:
            with ThreadPoolExecutor(min(PARALLEL_REQUESTS, len(chunks))) as pool:
                results = list(pool.map(send, chunks))
        return [r for r in results if r]

    def publish(self, message: Outgoing) -> str:
        return self.publish_many([message])[0]


def _requests(
    indexed: list[tuple[int, Outgoing]],
) -> Iterator[tuple[str, list[tuple[int, Outgoing]]]]:
    """(topic, messages) chunks within one Publish request's limits."""
    by_topic: dict[str, list[tuple[int, Outgoing]]] = {}
    for item in indexed:
        by_topic.setdefault(item[1].topic, []).append(item)
    for topic, items in by_topic.items():
        chunk: list[tuple[int, Outgoing]] = []
        size = 0
        for item in items:
            msg_size = len(item[1].data) + sum(
                len(k) + len(v) for k, v in item[1].attributes.items()
            )
            if chunk and (
                len(chunk) >= REQUEST_MAX_MESSAGES or size + msg_size > REQUEST_MAX_BYTES
            ):
                yield topic, chunk
                chunk, size = [], 0
            chunk.append(item)
            size += msg_size
        if chunk:
            yield topic, chunk


def _gapic_publish(publisher: Any, topic: str, messages: list[Outgoing]) -> Any:
    """One Publish RPC, through the generated client the batching client extends (its own
    `publish` is the batcher), retried on transient errors for at most the publish timeout."""
    from google.api_core import exceptions, retry
    from google.pubsub_v1 import PubsubMessage
    from google.pubsub_v1.services.publisher import PublisherClient as GapicPublisher

    transient = retry.if_exception_type(
        exceptions.Aborted,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
        exceptions.ResourceExhausted,
        exceptions.ServiceUnavailable,
        exceptions.Unknown,
    )
    return GapicPublisher.publish(
        publisher,
        topic=topic,
        messages=[PubsubMessage(data=m.data, attributes=m.attributes) for m in messages],
        retry=retry.Retry(predicate=transient, initial=0.1, timeout=PUBLISH_TIMEOUT_SECONDS),
        timeout=PUBLISH_TIMEOUT_SECONDS,
    )

"""The consumer base: what every Pub/Sub-triggered function does before its own work.

decode the CloudEvent (push-converted or Eventarc) -> parse our message -> handle it.

The bad-message policy is one of two, named by each consumer:
  SET_ASIDE  a message that can never be processed goes to the dead-letter topic at once, with
             its raw bytes, so it can be inspected and replayed (stages, dispatch);
  DROP       it is logged and acknowledged: nothing can act on it and nothing replays it
             (notify, act, deadletter itself, whose only inputs are our own messages).
Anything else a handler raises makes Pub/Sub redeliver (raise to retry, return to acknowledge:
python-docs-samples functions/v2). Clients are `lazy` (shared.lazy), built on first use.

`on_cluster` is the route-or-refuse prologue of every stage that works on a cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from shared.deps import Deps
from shared.log import event, get_logger
from shared.messages import BadMessage, message_data

if TYPE_CHECKING:
    from shared.clusters.routing import RoutingProblem
    from shared.clusters.table import ClusterEntry
    from shared.model import Finding
    from shared.run import Run

log = get_logger(__name__)

M = TypeVar("M")

SET_ASIDE: Literal["set_aside"] = "set_aside"
DROP: Literal["drop"] = "drop"


@dataclass(frozen=True)
class Delivery:
    """One Pub/Sub delivery, decoded: the payload, its attributes and the message id."""

    raw: bytes
    attributes: dict[str, str]
    message_id: str


class Consumer(Deps, Generic[M]):
    """Subclasses name themselves, choose a bad-message policy, and write parse and handle."""

    name: str  # the stage (or topic) named in logs and in a set-aside message
    on_bad_message: ClassVar[Literal["set_aside", "drop"]] = SET_ASIDE
    # DROP: what the consumer's own log says, how loudly.
    logger: ClassVar[logging.Logger] = log
    dropped: ClassVar[str] = "dropped a malformed message"
    drop_level: ClassVar[int] = 40

    def __call__(self, cloud_event: Any) -> None:
        try:
            msg = self.parse(Delivery(*message_data(cloud_event)))
        except BadMessage as exc:
            self.bad_message(cloud_event, exc)
            return
        self.handle(msg)

    def parse(self, delivery: Delivery) -> M:
        """Our message from the delivery; BadMessage when it can never be processed."""
        raise NotImplementedError

    def handle(self, msg: M) -> object:
        """Return to acknowledge, raise to retry (what it returns is for its callers)."""
        raise NotImplementedError

    def bad_message(self, cloud_event: Any, exc: BadMessage) -> None:
        if self.on_bad_message == SET_ASIDE:
            from shared.dead_lettering import set_aside

            set_aside(self.bus, self.name, cloud_event, str(exc))
        else:
            event(self.logger, self.dropped, self.drop_level, error=str(exc))


Work = Callable[["Run", "ClusterEntry"], "Finding"]
Refuse = Callable[["Run", "RoutingProblem"], "Finding"]


def on_cluster(stage: str, work: Work, refuse: Refuse | None = None) -> Callable[[Run], Finding]:
    """A stage handler that works on the run's cluster, or refuses without touching any: by
    default with the `unrouted` finding, or with `refuse` (a stage that must record its own
    refusal, e.g. remediate's audit). Routing is imported on first use: the kubernetes client
    is heavy and cold start stays cheap."""

    def handle(run: Run) -> Finding:
        from shared.clusters.routing import RoutingProblem, cluster_for, unrouted

        cluster = cluster_for(run)
        if isinstance(cluster, RoutingProblem):
            return refuse(run, cluster) if refuse else unrouted(stage, cluster)
        return work(run, cluster)

    return handle

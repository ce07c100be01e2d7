"""The consumer base (shared.consumer) and the one way clients are built (shared.lazy).

The set-aside policy publishes to the dead-letter topic and is exercised against the Pub/Sub
emulator (tests/integration/test_replay.py, test_ingest_pipeline.py); here: decoding, the drop
policy, the route-or-refuse prologue and `lazy`, none of which needs a server."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clusters.routing import RoutingProblem
from shared.clusters.table import ClusterEntry
from shared.consumer import DROP, Consumer, Delivery, on_cluster
from shared.lazy import lazy
from shared.messages import StageMessage, parse_stage
from shared.model import Alert, Finding
from shared.run import Run
from tests.conftest import reset_settings


def push(data: bytes, **attributes: str) -> dict[str, Any]:
    """A Pub/Sub push body as functions-framework hands it to a CloudEvent function."""
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": "m-1",
        },
        "subscription": "test",
    }


class Recording(Consumer[StageMessage]):
    name = "recording"
    on_bad_message = DROP
    logger = logging.getLogger("alertloop.test-consumer")
    dropped = "dropped a malformed test message"

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[StageMessage] = []
        self.deliveries: list[Delivery] = []

    def parse(self, delivery: Delivery) -> StageMessage:
        self.deliveries.append(delivery)
        return parse_stage(delivery.raw)

    def handle(self, msg: StageMessage) -> None:
        self.handled.append(msg)


def test_a_message_is_decoded_parsed_and_handled() -> None:
    consumer = Recording()
    consumer(push(StageMessage(run_id="r-1", stage="investigate").to_bytes(), run_id="r-1"))
    assert [m.run_id for m in consumer.handled] == ["r-1"]
    (delivery,) = consumer.deliveries
    assert delivery.attributes == {"run_id": "r-1"} and delivery.message_id == "m-1"


@pytest.mark.parametrize(
    "cloud_event",
    [
        push(b"\xff not json"),  # our message cannot be parsed
        {"message": {"data": "%%% not base64"}},  # the payload cannot be decoded
        {"no": "message"},  # not a Pub/Sub delivery at all
    ],
)
def test_the_drop_policy_logs_and_acknowledges_without_handling(
    cloud_event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    consumer = Recording()
    with caplog.at_level(logging.ERROR, logger="alertloop.test-consumer"):
        consumer(cloud_event)  # returns: Pub/Sub is told the message is done
    assert consumer.handled == []
    assert [r.getMessage() for r in caplog.records] == ["dropped a malformed test message"]
    # Dropping builds no client: nothing is published or stored.
    assert not any(key.startswith("_lazy_") and value for key, value in vars(consumer).items())


def test_notify_act_and_deadletter_drop_what_they_cannot_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shared.dead_lettering import DeadLetterConsumer
    from shared.interaction.worker import Worker
    from shared.notifier import NotifyConsumer

    with caplog.at_level(logging.ERROR):
        NotifyConsumer()({"no": "message"})
        Worker()(push(b'{"action_id": "no-such-action"}'))
        DeadLetterConsumer()({"message": {"data": "%%%"}})
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("alertloop.notify", logging.ERROR, "dropped a malformed notify message"),
        ("shared.interaction.worker", logging.ERROR, "dropped a malformed interaction"),
        ("alertloop.deadletter", logging.CRITICAL, "dead-letter message unreadable; dropped"),
    ]


# ---------------------------------------------------------------- route or refuse


def run_on(cluster: str) -> Run:
    alert = Alert(
        name="ApplicationDown",
        labels={"namespace": "shop", "deployment": "api"},
        starts_at=datetime(2026, 12, 7, tzinfo=UTC),
        fingerprint="fp",
    )
    return Run(
        run_id="r", source="dispatch", alert=alert, alert_type=alert.name, plan=[], cluster=cluster
    )


def worked(run: Run, cluster: ClusterEntry) -> Finding:
    return Finding(stage="investigate", status="ok", summary=f"worked on {cluster.name}")


def test_a_routed_run_is_worked_on_its_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTLOOP_CLUSTERS", raising=False)
    monkeypatch.delenv("ALERTLOOP_CLUSTERS_FILE", raising=False)
    reset_settings()
    assert on_cluster("investigate", worked)(run_on("")).summary == "worked on default"


def test_a_run_whose_cluster_is_gone_is_refused_without_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALERTLOOP_CLUSTERS", raising=False)
    monkeypatch.delenv("ALERTLOOP_CLUSTERS_FILE", raising=False)
    reset_settings()

    def must_not_work(run: Run, cluster: ClusterEntry) -> Finding:
        raise AssertionError("a refused run reached its work")

    finding = on_cluster("budget", must_not_work)(run_on("prod-gone"))
    assert finding.stage == "budget" and finding.status == "skipped"
    assert "'prod-gone', which is no longer configured" in finding.summary
    assert finding.details["routing"]["reason"] == "unknown"
    assert finding.details["action"] == "none"

    seen: list[RoutingProblem] = []

    def refuse(run: Run, problem: RoutingProblem) -> Finding:
        seen.append(problem)
        return Finding(stage="remediate", status="skipped", summary="refused on my own terms")

    got = on_cluster("remediate", must_not_work, refuse)(run_on("prod-gone"))
    assert got.summary == "refused on my own terms"
    assert [p.reason for p in seen] == ["unknown"]


def test_a_broken_cluster_table_refuses_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLOOP_CLUSTERS", "{not json")
    reset_settings()
    finding = on_cluster("investigate", worked)(run_on(""))
    assert finding.status == "skipped" and finding.details["routing"]["reason"] == "config"


# ---------------------------------------------------------------- lazy clients


class Client:
    built = 0

    def __init__(self) -> None:
        Client.built += 1


class Holder:
    client = lazy(lambda _: Client())


def test_a_lazy_client_is_built_once_per_instance_on_first_use() -> None:
    Client.built = 0
    one, two = Holder(), Holder()
    assert Client.built == 0  # nothing at construction: cold start stays cheap
    assert one.client is one.client and Client.built == 1
    assert two.client is not one.client and Client.built == 2


def test_a_lazy_client_can_be_injected_and_dropped() -> None:
    holder = Holder()
    mine = Client()
    holder.client = mine
    assert holder.client is mine
    holder.client = None  # dropped: the next use builds a fresh one
    assert holder.client is not mine and isinstance(holder.client, Client)
    assert isinstance(Holder.client, lazy)  # the class keeps the descriptor

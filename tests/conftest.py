"""Shared fixtures: the real emulators, a per-test topic namespace, the local Slack API."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from sandbox.emulators import Emulators
from sandbox.kube_api import KubeApiServer
from sandbox.kube_remediation_scenarios import remediation
from sandbox.slack_api import SlackApiServer
from shared import config as config_mod
from shared import policy as policy_mod
from shared.console import settings as console_settings_mod
from shared.ledger import Ledger
from shared.registry import STAGE_TOPICS

PROJECT = "alertloop-test"

# Properties are judged by their assertions, never by how long an example takes: on a 2-core
# machine shared by parallel test files a 200 ms per-example deadline fails at random.
hypothesis_settings.register_profile("alertloop", deadline=None)
hypothesis_settings.load_profile("alertloop")


def reset_settings() -> None:
    config_mod.settings.cache_clear()
    policy_mod.cached_policy.cache_clear()
    console_settings_mod.console_settings.cache_clear()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees settings built from its own environment."""
    monkeypatch.setenv("ALERTLOOP_LOG_FORMAT", "text")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    emu = Emulators(PROJECT, tmp_path_factory.mktemp("emulators")).start()
    saved = {k: os.environ.get(k) for k in emu.env()}
    os.environ.update(emu.env())
    try:
        yield emu
    finally:
        emu.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Topics:
    """A fresh topic prefix and Firestore collection prefix per test, with pull watchers."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.publisher, self.subscriber = _pubsub_clients(os.environ["PUBSUB_EMULATOR_HOST"])
        self.subs: dict[str, str] = {}
        # One topic and its watch subscription per stage, the stages side by side: a test pays
        # one round trip pair, not nine in a row.
        with ThreadPoolExecutor(len(STAGE_TOPICS)) as pool:
            subs = pool.map(self._create, STAGE_TOPICS)
        self.subs = dict(zip(STAGE_TOPICS, subs, strict=True))

    def _create(self, stage: str, watch: str = "watch") -> str:
        topic = f"projects/{PROJECT}/topics/{self.prefix}{stage}"
        self.publisher.create_topic(name=topic)
        sub = f"projects/{PROJECT}/subscriptions/{self.prefix}{stage}-{watch}"
        self.subscriber.create_subscription(name=sub, topic=topic)
        return sub

    def pull(self, stage: str, max_messages: int = 100, timeout: float = 3.0) -> list[Any]:
        """Everything on a stage topic now (acknowledged so the next pull is fresh).

        Ends at the first empty pull, a positive signal, not a wait: our code waits for every
        publish it makes (shared/bus.py), and the emulator stores a message before it answers
        the publish, so once the code under test returned, what it published is pullable.
        `timeout` only bounds a topic that never drains (it used to be a fixed wait)."""
        out: list[Any] = []
        deadline = time.monotonic() + max(timeout, 30.0)
        while time.monotonic() < deadline:
            # Non-blocking: an empty pull on the emulator otherwise blocks for seconds.
            resp = self.subscriber.pull(
                request={
                    "subscription": self.subs[stage],
                    "max_messages": max_messages,
                    "return_immediately": True,
                }
            )
            if not resp.received_messages:
                break
            out.extend(resp.received_messages)
            self.subscriber.acknowledge(
                subscription=self.subs[stage],
                ack_ids=[m.ack_id for m in resp.received_messages],
            )
        return out

    def delete_topic(self, stage: str) -> None:
        self.publisher.delete_topic(topic=f"projects/{PROJECT}/topics/{self.prefix}{stage}")

    def recreate_topic(self, stage: str) -> None:
        self.subs[stage] = self._create(stage, "watch2")


@functools.cache
def _pubsub_clients(emulator_host: str) -> tuple[Any, Any]:
    """One publisher and one subscriber per emulator (each new client opens a channel); the
    clients read PUBSUB_EMULATOR_HOST when built, which is `emulator_host` here."""
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()


@pytest.fixture
def topics(emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> Topics:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    # Always point at the live emulators: another module may have redirected the environment.
    for key, value in emulators.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("ALERTLOOP_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("ALERTLOOP_COLLECTION_PREFIX", prefix)
    monkeypatch.setenv("ALERTLOOP_WEBHOOK_TOKEN", "test-token")
    reset_settings()
    return Topics(prefix)


@pytest.fixture
def slack_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiServer]:
    with SlackApiServer(token="xoxb-test") as server:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", server.url)
        monkeypatch.setenv("SLACK_CHANNEL", "#alerts-test")
        reset_settings()
        yield server


@pytest.fixture
def tmp_workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def store(emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger on the live emulators, with Firestore collections of its own."""
    for key, value in emulators.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("ALERTLOOP_COLLECTION_PREFIX", f"s{uuid.uuid4().hex[:8]}-")
    reset_settings()
    return Ledger()


@pytest.fixture
def remediation_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeApiServer]:
    """The sandbox API server with the remediation scenario, and no other cluster settings."""
    for name in (
        "KUBE_CONFIG_DATA",
        "KUBERNETES_SERVICE_HOST",
        "ALERTLOOP_DRY_RUN",
        "ALERTLOOP_POLICY_FILE",
        "K_SERVICE",
        "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR",
        "PROMETHEUS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with KubeApiServer(remediation()) as srv:
        monkeypatch.setenv("KUBECONFIG", srv.kubeconfig_path)
        reset_settings()
        yield srv

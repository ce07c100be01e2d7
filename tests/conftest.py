"""Shared fixtures: the real emulators, a per-test topic namespace, the local Slack API."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
        from google.cloud import pubsub_v1

        self.prefix = prefix
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.subs: dict[str, str] = {}
        for stage in STAGE_TOPICS:
            topic = f"projects/{PROJECT}/topics/{prefix}{stage}"
            self.publisher.create_topic(name=topic)
            sub = f"projects/{PROJECT}/subscriptions/{prefix}{stage}-watch"
            self.subscriber.create_subscription(name=sub, topic=topic)
            self.subs[stage] = sub

    def pull(self, stage: str, max_messages: int = 100, timeout: float = 3.0) -> list[Any]:
        """Everything currently on a stage topic (acknowledged so the next pull is fresh)."""
        import time

        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Non-blocking: an empty pull on the emulator otherwise blocks for seconds.
            resp = self.subscriber.pull(
                request={
                    "subscription": self.subs[stage],
                    "max_messages": max_messages,
                    "return_immediately": True,
                }
            )
            if resp.received_messages:
                out.extend(resp.received_messages)
                self.subscriber.acknowledge(
                    subscription=self.subs[stage],
                    ack_ids=[m.ack_id for m in resp.received_messages],
                )
                deadline = time.monotonic() + 0.5  # drain what is still arriving
            else:
                time.sleep(0.1)
        return out

    def delete_topic(self, stage: str) -> None:
        self.publisher.delete_topic(topic=f"projects/{PROJECT}/topics/{self.prefix}{stage}")

    def recreate_topic(self, stage: str) -> None:
        topic = f"projects/{PROJECT}/topics/{self.prefix}{stage}"
        self.publisher.create_topic(name=topic)
        sub = f"projects/{PROJECT}/subscriptions/{self.prefix}{stage}-watch2"
        self.subscriber.create_subscription(name=sub, topic=topic)
        self.subs[stage] = sub


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

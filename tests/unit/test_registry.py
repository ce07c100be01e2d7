"""The registry is coherent with itself and (when present) with main.py. Its env vars come from
shared/envvars.py, whose own coherence (and the code's reads) tests/unit/test_envvars.py checks."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from shared import registry
from shared.model import Stage

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_unique_and_by_name_is_complete() -> None:
    names = [f.name for f in registry.FUNCTIONS]
    assert len(names) == len(set(names))
    assert set(registry.BY_NAME) == set(names)
    for f in registry.FUNCTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9]*", f.name), f.name


def test_stage_topics_match_the_envelope_stages() -> None:
    assert set(registry.STAGE_TOPICS) == {s.value for s in Stage} | set(registry.CONTROL_TOPICS)
    assert not set(registry.CONTROL_TOPICS) & {s.value for s in Stage}
    assert registry.DEAD_LETTER_TOPIC in registry.STAGE_TOPICS
    assert registry.ROLLBACK_TOPIC in registry.STAGE_TOPICS
    assert registry.PARKED_TOPIC not in registry.STAGE_TOPICS
    assert set(registry.ORDERED_TOPICS) <= set(registry.STAGE_TOPICS)


def test_kinds_topics_and_publishing() -> None:
    consumed = [f.topic for f in registry.FUNCTIONS if f.topic]
    assert len(consumed) == len(set(consumed)), "one subscriber function per topic"
    assert registry.subscribed_topics() == {f.topic: f.name for f in registry.FUNCTIONS if f.topic}
    for f in registry.FUNCTIONS:
        assert (f.kind == "http") == (f.topic is None), f.name
        assert f.topic is None or f.topic in registry.STAGE_TOPICS, f.name
        assert set(f.publishes) <= set(registry.STAGE_TOPICS), f.name
        assert f.topic not in f.publishes, f"{f.name} would feed itself"
        if registry.ROLLBACK_TOPIC in f.publishes:
            assert f.name in registry.ROLLBACK_PUBLISHERS, f.name
        if f.exposure == "public":
            assert f.kind == "http", f.name
    assert registry.BY_NAME["notify"].ordered
    assert not registry.BY_NAME["investigate"].ordered


def test_every_published_topic_has_a_consumer_or_is_reserved() -> None:
    consumed = set(registry.subscribed_topics())
    for f in registry.FUNCTIONS:
        for t in f.publishes:
            assert t in consumed, f"{f.name} publishes to {t}, which nobody consumes"


def test_deployment_settings_fit_the_platform() -> None:
    for f in registry.FUNCTIONS:
        assert re.fullmatch(r"\d+(Mi|Gi)", f.memory), f.name
        # Push subscriptions allow at most a 600 s ack deadline.
        assert 1 <= f.timeout_seconds <= 540, f.name
        assert 1 <= f.max_instances <= 100, f.name


def test_env_and_secrets_are_known_and_disjoint() -> None:
    for f in registry.FUNCTIONS:
        assert set(f.secrets) <= set(registry.SECRETS), f.name
        assert set(f.env) <= registry.KNOWN_ENV, f.name
        assert not set(f.env) & set(registry.SECRETS), f.name
        assert not set(f.all_env) & set(registry.SECRETS), f.name
        assert not set(f.all_env) & set(registry.LOCAL_ONLY_ENV), f.name
        if f.uses_kubernetes:
            assert "KUBE_CONFIG_DATA" in f.secrets, f.name
        if f.uses_prometheus:
            assert set(registry.PROMETHEUS_ENV) <= set(f.env), f.name
    assert not set(registry.CORE_ENV) & set(registry.SECRETS)
    for secret_id in registry.SECRETS.values():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", secret_id), secret_id


def test_ttl_and_index_tables() -> None:
    assert registry.TTL_FIELD == "expires_at"
    assert "idempotency" in registry.TTL_COLLECTIONS
    assert "approvals" not in registry.TTL_COLLECTIONS  # the console's timeline keeps them
    for collection, fields in registry.FIRESTORE_INDEXES:
        assert collection in ("runs", "audit", "incidents"), collection
        assert len(fields) >= 2
        for _field, order in fields:
            assert order in ("ASCENDING", "DESCENDING")


def test_cloudevent_entry_points_declare_their_signature() -> None:
    """Workers are deployed as plain HTTP services fed by push subscriptions, so the signature
    must come from the code (@functions_framework.cloud_event) or the build env; check the code."""
    if not (ROOT / "main.py").exists():
        pytest.skip("main.py not written yet")
    ff_registry = pytest.importorskip("functions_framework._function_registry")
    sys.path.insert(0, str(ROOT))
    try:
        main = importlib.import_module("main")
    finally:
        sys.path.remove(str(ROOT))
    for f in registry.FUNCTIONS:
        assert callable(getattr(main, f.name, None)), f"main.py does not export {f.name}"
        if f.kind == "cloudevent":
            assert ff_registry.REGISTRY_MAP.get(f.name) == "cloudevent", (
                f"{f.name} is not decorated with @functions_framework.cloud_event"
            )

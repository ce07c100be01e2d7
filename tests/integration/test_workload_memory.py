"""A workload's earlier incidents, read from the ledger on the Firestore emulator (what
investigate named, what remediate did, the verdict people gave) and told in the reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.bus import Bus
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.investigation.core import memory
from shared.ledger import Ledger
from shared.ledger.correlation import correlation_key
from shared.model import Finding, utcnow
from shared.policy import cached_policy
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration


def test_earlier_incident_with_its_cause_action_and_verdict(topics: Any, store: Ledger) -> None:
    alert = make_alert(
        "KubePodCrashLooping",
        labels={"namespace": "shop", "deployment": "cart"},
        starts_at=utcnow() - timedelta(days=3),
    )
    cfg = settings()
    d = dispatch_alert(intake(alert), cached_policy(cfg.policy_file), cfg, store, Bus())
    store.record_finding(
        d.run_id,
        Finding(
            stage="investigate",
            status="ok",
            summary="…",
            details={"likely_cause": ["container cart is OOMKilled: it reaches its memory limit"]},
        ),
    )
    store.record_finding(
        d.run_id,
        Finding(stage="remediate", status="ok", summary="Raised the memory limit to 1Gi\nmore"),
    )
    store.judge_incident(d.incident_id, {"value": "useful", "by": "U1", "at": utcnow()})
    inc = store.get_incident(d.incident_id) or {}
    key = correlation_key(inc.get("cluster", ""), "shop", "cart")
    assert inc["workload_key"] == key

    found = store.workload_incidents(key)
    assert len(found) == 1
    past = found[0]
    assert past["incident_id"] == d.incident_id
    assert past["cause"].startswith("container cart is OOMKilled")
    assert past["action"] == "Raised the memory limit to 1Gi"
    assert past["verdict"] == "useful"
    # the current incident is not its own memory; another workload has none
    assert store.workload_incidents(key, exclude=d.incident_id) == []
    assert store.workload_incidents(correlation_key("", "shop", "other")) == []
    assert store.workload_incidents("") == []

    lines = memory(found, datetime.now(UTC) + timedelta(days=3))
    assert lines[0].startswith("Before: 3 days ago: KubePodCrashLooping: container cart is")
    assert "done: Raised the memory limit to 1Gi; verdict useful" in lines[0]


def test_memory_lines_without_verdict_or_times() -> None:
    now = datetime(2026, 6, 12, 10, tzinfo=UTC)
    history: list[dict[str, Any]] = [
        {"opened_at": "2026-06-12T09:20:00Z", "title": "HighErrorRate", "cause": "", "verdict": ""},
        {"opened_at": None, "title": "", "cause": "x", "action": "", "verdict": "not useful"},
        {"opened_at": now, "title": "third is never shown"},
    ]
    lines = memory(history, now)
    assert lines == [
        "Before: 40 min ago: HighErrorRate; no verdict given",
        "Before: earlier: an incident: x; verdict not useful",
    ]

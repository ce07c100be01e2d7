"""One incident per workload, through dispatch on the emulators and notify to the local Slack
server: alerts about the same (cluster, namespace, workload) share one incident and one thread,
each resolves on its own, the incident when all have; switchable globally and per alert type."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.bus import Bus
from shared.config import settings
from shared.dispatch import dispatch_alert
from shared.ledger import Dispatch, Ledger
from shared.model import Alert, utcnow
from shared.policy import cached_policy
from tests.conftest import reset_settings
from tests.pipeline import notify_all
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration


def fire(name: str, deployment: str = "checkout", **labels: str) -> tuple[Alert, Dispatch]:
    alert = make_alert(
        name,
        labels={"namespace": "shop", "deployment": deployment, **labels},
        starts_at=utcnow() - timedelta(minutes=2),
    )
    cfg = settings()
    return alert, dispatch_alert(
        intake(alert), cached_policy(cfg.policy_file), cfg, Ledger(), Bus()
    )


def resolve(alert: Alert) -> Dispatch:
    gone = alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    cfg = settings()
    return dispatch_alert(intake(gone), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())


def test_three_alerts_on_one_deployment_share_one_thread_and_resolve_separately(
    topics: Any, slack_api: Any
) -> None:
    first, a = fire("HighErrorRate")
    second, b = fire("ApplicationDown")
    third, c = fire("KubePodCrashLooping")  # an alias of ApplicationDown: its own alert
    assert a.incident_id == b.incident_id == c.incident_id
    assert "joined the incident of its workload" in b.notes
    elsewhere = fire("ApplicationDown", deployment="cart")[1]
    assert elsewhere.incident_id != a.incident_id  # another workload, another incident
    notify_all(topics)
    parents = [p for p in slack_api.parents() if "checkout" in json.dumps(p.blocks)]
    assert len(parents) == 1
    parent = parents[0]
    listing = json.dumps(parent.blocks)
    assert "Alerts in this incident* (3)" in listing
    for name in ("HighErrorRate", "ApplicationDown", "KubePodCrashLooping"):
        assert name in listing
    joined = [r.text for r in slack_api.replies(parent.ts) if "joined this incident" in r.text]
    assert len(joined) == 2

    resolve(first)
    notify_all(topics)
    inc = Ledger().get_incident(a.incident_id) or {}
    assert inc["status"] == "open"
    assert not parent.blocks[0]["text"]["text"].startswith("RESOLVED")
    resolved = [r for r in slack_api.replies(parent.ts) if "Resolved" in r.text]
    assert len(resolved) == 1 and "HighErrorRate" in resolved[0].text
    resolve(second)
    resolve(third)
    notify_all(topics)
    inc = Ledger().get_incident(a.incident_id) or {}
    assert inc["status"] == "resolved"
    assert parent.blocks[0]["text"]["text"].startswith("RESOLVED")
    assert len([r for r in slack_api.replies(parent.ts) if "Resolved" in r.text]) == 3
    assert len([p for p in slack_api.parents() if "checkout" in json.dumps(p.blocks)]) == 1


def test_an_alert_soon_after_the_incident_resolved_reopens_it_later_ones_do_not(
    topics: Any,
) -> None:
    first, a = fire("HighErrorRate")
    resolve(first)
    again = fire("ApplicationDown")[1]
    assert again.incident_id == a.incident_id  # within the window: the same incident again
    assert (Ledger().get_incident(a.incident_id) or {})["status"] == "open"
    resolve(Alert.model_validate((Ledger().get_run(again.run_id) or {})["alert"]))
    # Past the window, the workload's next alert opens a new incident.
    past = utcnow() - timedelta(minutes=settings().incident_window_minutes + 1)
    Ledger().update_incident(a.incident_id, {"resolved_at": past})
    assert fire("ApplicationDown")[1].incident_id != a.incident_id


def test_correlation_is_switched_off_globally_or_per_alert_type(
    topics: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_INCIDENT_WINDOW_MINUTES", "0")
    reset_settings()
    assert fire("HighErrorRate")[1].incident_id != fire("ApplicationDown")[1].incident_id
    monkeypatch.setenv("ALERTLOOP_INCIDENT_WINDOW_MINUTES", "30")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "alerts": {
                    "HighMemoryUsage": {
                        "stages": ["investigate"],
                        "correlate": False,
                    }
                }
            }
        )
    )
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(policy))
    reset_settings()
    base = fire("HighErrorRate", deployment="search")[1]
    assert fire("ApplicationDown", deployment="search")[1].incident_id == base.incident_id
    assert fire("HighMemoryUsage", deployment="search")[1].incident_id != base.incident_id


def test_a_flapping_alert_still_continues_its_own_chain(topics: Any) -> None:
    alert, a = fire("ApplicationDown", deployment="cart")
    resolve(alert)
    flap = alert.model_copy(update={"starts_at": utcnow()})
    cfg = settings()
    b = dispatch_alert(intake(flap), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())
    assert b.incident_id == a.incident_id and "flapping: continues its incident" in b.notes

"""`alertloop health` reading the real ledger on the Firestore emulator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.cli import main
from shared.ledger import Ledger
from shared.model import Finding, utcnow
from shared.run import Run
from tests.seed import make_alert, resolve_run, seed_run

pytestmark = pytest.mark.integration


def investigated(ledger: Ledger, name: str, minutes_ago: float) -> Run:
    """A run dispatched `minutes_ago` whose one-stage plan ran."""
    start = utcnow() - timedelta(minutes=minutes_ago)
    alert = make_alert(name, starts_at=start, labels={"namespace": "shop"})
    run = seed_run(ledger, alert, plan=["investigate"])
    ledger.record_finding(run.run_id, Finding(stage="investigate", status="ok", summary="x"))
    return run


def test_health_reports_from_the_ledger(store: Ledger, capsys) -> None:
    quick = investigated(store, "HighCPUUsage", minutes_ago=10)
    resolved = resolve_run(store, quick, ends_at=quick.alert.starts_at + timedelta(minutes=2))
    assert resolved.resolved and resolved.mttr_seconds == 120.0
    investigated(store, "HighCPUUsage", minutes_ago=5)
    investigated(store, "DatabaseDown", minutes_ago=1)

    assert main(["health", "--json", "--days", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    overall = report["overall"]
    assert overall["runs"] == 3
    assert overall["execution_rate"] == 1.0
    assert overall["false_positive_rate"] == 1.0  # the one resolved run cleared in 2 min
    assert overall["team_action_rate"] == round(1 / 3, 4)  # the database alert
    assert overall["mttr_p50_s"] == 120.0
    assert any("HighCPUUsage" in w and "false positives" in w for w in report["warnings"])

    assert main(["health"]) == 0
    assert "Loop health over the last 30 days" in capsys.readouterr().out


def test_health_says_when_the_ledger_is_unreachable(monkeypatch, capsys) -> None:
    from shared.config import settings

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "alertloop-test")
    settings.cache_clear()
    assert main(["health", "--days", "1"]) == 2
    assert "cannot read the run ledger" in capsys.readouterr().err

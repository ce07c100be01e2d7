"""The investigation's own settings are refused like every other setting: a malformed
ALERTLOOP_ERROR_RATIO_THRESHOLD (or look-back window) is a clear error in the finding, never a
silent fallback to the default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.investigation.analysis import analyse
from shared.k8s.workload import WorkloadRef

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHECKOUT = WorkloadRef("Deployment", "checkout", "shop")


class NeverAsked:
    """A configured Prometheus client that no query may reach: the setting is checked first."""

    configured = True

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Prometheus was queried ({name}) despite a bad setting")


@pytest.mark.parametrize(
    ("name", "raw", "alert", "message"),
    [
        ("ALERTLOOP_ERROR_RATIO_THRESHOLD", "5%", "HighErrorRate", "must be a number, got '5%'"),
        ("ALERTLOOP_ERROR_RATIO_THRESHOLD", "-0.1", "HighErrorRate", "must be >= 0"),
        ("ALERTLOOP_MEMORY_TREND_HOURS", "0", "HighMemoryUsage", "must be positive"),
    ],
)
def test_a_malformed_analysis_setting_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, alert: str, message: str
) -> None:
    monkeypatch.setenv(name, raw)
    part = analyse(alert, {"namespace": "shop"}, CHECKOUT, {}, NeverAsked(), NOW)
    assert part.status == "error"
    assert name in part.details["error"] and message in part.details["error"]
    assert any("bad setting" in line and name in line for line in part.lines)

"""The investigation's own settings are refused like every other setting: a malformed
ALERTLOOP_ERROR_RATIO_THRESHOLD (or look-back window) is a clear error in the finding, never a
silent fallback to the default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.investigation import investigate
from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sNotConfigured
from shared.model import Alert
from shared.run import Run

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class NeverAsked:
    """A configured Prometheus client that no query may reach: the setting is checked first."""

    configured = True

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Prometheus was queried ({name}) despite a bad setting")


def no_kubernetes() -> KubeClients:
    raise K8sNotConfigured("Kubernetes access is not configured", fix="(not in this test)")


@pytest.mark.parametrize(
    ("name", "raw", "alert", "message"),
    [
        ("ALERTLOOP_ERROR_RATIO_THRESHOLD", "5%", "HighErrorRate", "must be a number, got '5%'"),
        ("ALERTLOOP_ERROR_RATIO_THRESHOLD", "-0.1", "HighErrorRate", "must be >= 0"),
        ("ALERTLOOP_ERROR_LOOKBACK_HOURS", "six", "HighErrorRate", "must be a number"),
        ("ALERTLOOP_MEMORY_TREND_HOURS", "0", "HighMemoryUsage", "must be positive"),
    ],
)
def test_a_malformed_analysis_setting_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, alert: str, message: str
) -> None:
    monkeypatch.setenv(name, raw)
    if name == "ALERTLOOP_ERROR_LOOKBACK_HOURS":  # read after the first query: answer that one
        monkeypatch.setattr(NeverAsked, "scalar", lambda *a, **kw: 0.2, raising=False)
        monkeypatch.setattr(NeverAsked, "instant", lambda *a, **kw: [], raising=False)
    labels = {"namespace": "shop", "deployment": "checkout", "service": "checkout"}
    run = Run(
        run_id="r",
        alert=Alert(name=alert, labels=labels, starts_at=NOW, fingerprint="f"),
        alert_type=alert,
        plan=["investigate"],
    )
    finding = investigate(run, k8s_factory=no_kubernetes, prometheus=NeverAsked(), now=NOW)
    prom = finding.details["prometheus"]
    assert prom["status"] == "error"
    assert name in prom["error"] and message in prom["error"]
    assert f"bad setting: {name}" in finding.summary

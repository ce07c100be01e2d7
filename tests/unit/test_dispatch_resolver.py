"""Dispatch's pod -> workload resolution settings and memory (shared.workload.incident): a bad
cap is a fallback the run states, never a failed dispatch; the per-process cache is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.workload import incident as iw
from shared.workload.resolve import WorkloadRef
from tests.conftest import reset_settings


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTERS_FILE", "KUBE_CONFIG_DATA"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    iw.clear_pod_cache()
    yield
    iw.clear_pod_cache()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_dispatch_timeout_falls_back_and_says_why(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS", value)
    resolve = iw.cluster_resolver("default")  # the implicit cluster
    assert resolve is not None
    wl = iw.incident_workload({"namespace": "shop", "pod": "web-6d4cf56db6-x7k2p"}, resolve)
    assert (wl.kind, wl.name, wl.source) == ("Pod", "web-6d4cf56db6-x7k2p", "labels (fallback)")
    assert "ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS" in wl.note


def test_an_unknown_cluster_is_not_asked() -> None:
    assert iw.cluster_resolver("nowhere") is None
    wl = iw.incident_workload({"namespace": "shop", "pod": "web-1"}, iw.cluster_resolver("x"))
    assert wl.source == "labels (fallback)" and "no cluster to ask" in wl.note


def test_the_pod_cache_forgets_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iw, "POD_CACHE_SIZE", 3)
    web = WorkloadRef("Deployment", "web", "shop")
    for pod in ("web-0", "web-1", "web-2"):
        iw._remember_owner(("c", "shop", pod), web)
    assert iw._cached_owner(("c", "shop", "web-0")) == web  # used: now the newest
    iw._remember_owner(("c", "shop", "web-3"), web)
    iw._remember_owner(("c", "shop", "web-4"), web)
    kept = [p for p in ("web-0", "web-1", "web-2", "web-3", "web-4")
            if iw._cached_owner(("c", "shop", p))]  # fmt: skip
    assert kept == ["web-0", "web-3", "web-4"]
    assert iw._cached_owner(("other", "shop", "web-4")) is None  # per cluster

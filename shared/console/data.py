"""One read of the ledger shared by the health page and /metrics, reused for a short while.

A scrape every 15-30 s and people refreshing the health page must not each read a month of runs:
the snapshot (runs of the health window, projected to the fields the measures read; audit
records and poison messages of the metrics window) is taken at most once per
ALERTLOOP_CONSOLE_CACHE_SECONDS per instance. Every query is bounded (shared.ledger.queries).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.console.settings import ConsoleSettings
from shared.envelope import utcnow
from shared.health import HEALTH_FIELDS
from shared.ledger import Ledger

RUN_FIELDS: tuple[str, ...] = (*HEALTH_FIELDS, "failures")
AUDIT_FIELDS: tuple[str, ...] = ("at", "action", "outcome", "guard", "dry_run", "alert_type")
# Bounds: beyond these the numbers are marked partial rather than the read growing unbounded.
MAX_RUNS = 200_000
MAX_AUDIT = 100_000


@dataclass
class Snapshot:
    taken_at: datetime
    runs: list[dict[str, Any]]  # received within the health window (covers the metrics window)
    audit: list[dict[str, Any]]  # made within the metrics window
    poison: list[dict[str, Any]]  # set aside within the metrics window
    read_seconds: float = 0.0
    partial: list[str] = field(default_factory=list)  # what hit its bound


def take_snapshot(ledger: Ledger, cfg: ConsoleSettings, now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    t0 = time.monotonic()
    metrics_since = now - timedelta(hours=cfg.metrics_window_hours)
    runs_since = min(now - timedelta(days=cfg.health_days), metrics_since)
    runs = ledger.runs_window(runs_since, RUN_FIELDS, MAX_RUNS)
    audit = ledger.audit_window(metrics_since, AUDIT_FIELDS, MAX_AUDIT)
    poison = ledger.poison_since(metrics_since)
    partial = [
        name for name, got, cap in (("runs", runs, MAX_RUNS), ("audit", audit, MAX_AUDIT))
        if len(got) >= cap
    ]  # fmt: skip
    return Snapshot(now, runs, audit, poison, time.monotonic() - t0, partial)


class SnapshotCache:
    """The latest snapshot, refreshed when older than the TTL (one reader at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = 0.0

    def get(self, ledger: Ledger, cfg: ConsoleSettings) -> Snapshot:
        with self._lock:
            fresh = time.monotonic() - self._taken < cfg.cache_seconds
            if self._snapshot is None or not fresh:
                self._snapshot = take_snapshot(ledger, cfg)
                self._taken = time.monotonic()
            return self._snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None

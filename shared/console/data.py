"""One read of the ledger shared by the health page and /metrics, reused for a short while.

A scrape every 15-30 s and people refreshing the health page must not each read a month of runs:
the snapshot (runs of the health window, projected to the fields the measures read; audit
records and poison messages of the metrics window) is refreshed at most once per
ALERTLOOP_CONSOLE_CACHE_SECONDS per instance, and a refresh reads only the runs whose
`updated_at` is later than the previous read's start, less an overlap for writers' clock skew
and commit delay. Every FULL_RELOAD_SECONDS it reads the whole window again, so a write that
did not bump `updated_at` is picked up too. Every query is bounded (shared.ledger.queries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.console.settings import ConsoleSettings
from shared.health import HEALTH_FIELDS, as_time
from shared.ledger import Ledger
from shared.model import utcnow

RUN_FIELDS: tuple[str, ...] = (*HEALTH_FIELDS, "failures", "updated_at")
FULL_RELOAD_SECONDS = 300.0
# Writers stamp updated_at with their own clock before their transaction commits.
UPDATE_OVERLAP = timedelta(minutes=2)
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
    # Each action's earned-autonomy record (shared.ledger.autonomy), newest first.
    autonomy: list[dict[str, Any]] = field(default_factory=list)
    # What pages computed from this snapshot (it does not change until the next refresh).
    memo: dict[str, Any] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # checked in the metrics window

    def computed(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()  # a race computes it twice, harmlessly
        return self.memo[key]


def _windows(cfg: ConsoleSettings, now: datetime) -> tuple[datetime, datetime]:
    metrics_since = now - timedelta(hours=cfg.metrics_window_hours)
    return min(now - timedelta(days=cfg.health_days), metrics_since), metrics_since


def take_snapshot(ledger: Ledger, cfg: ConsoleSettings, now: datetime | None = None) -> Snapshot:
    """A full read of both windows."""
    now = now or utcnow()
    t0 = time.monotonic()
    runs_since, _ = _windows(cfg, now)
    runs = ledger.runs_window(runs_since, RUN_FIELDS, MAX_RUNS)
    return _finish(ledger, cfg, now, runs, t0)


def _finish(
    ledger: Ledger, cfg: ConsoleSettings, now: datetime, runs: list[dict[str, Any]], t0: float
) -> Snapshot:
    _, metrics_since = _windows(cfg, now)
    audit = ledger.audit_window(metrics_since, AUDIT_FIELDS, MAX_AUDIT)
    poison = ledger.poison_since(metrics_since)
    partial = [
        name for name, got, cap in (("runs", runs, MAX_RUNS), ("audit", audit, MAX_AUDIT))
        if len(got) >= cap
    ]  # fmt: skip
    autonomy = ledger.autonomy_records()
    snap = Snapshot(now, runs, audit, poison, time.monotonic() - t0, partial, autonomy=autonomy)
    snap.outcomes = ledger.outcomes_since(metrics_since)  # verified outcomes (shared.outcomes)
    return snap


class SnapshotCache:
    """The latest snapshot, refreshed when older than the TTL (one reader at a time):
    incrementally from `updated_at`, and fully every FULL_RELOAD_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = 0.0
        self._full_at = 0.0
        self._runs: dict[str, dict[str, Any]] = {}
        self._read_at: datetime | None = None  # when the previous read started

    def get(self, ledger: Ledger, cfg: ConsoleSettings) -> Snapshot:
        with self._lock:
            clock = time.monotonic()
            if self._snapshot is not None and clock - self._taken < cfg.cache_seconds:
                return self._snapshot
            now = utcnow()
            t0 = time.monotonic()
            runs_since, _ = _windows(cfg, now)
            if (
                self._snapshot is None
                or self._read_at is None
                or (clock - self._full_at >= FULL_RELOAD_SECONDS)
            ):
                fresh = ledger.runs_window(runs_since, RUN_FIELDS, MAX_RUNS)
                self._runs = {str(r["id"]): r for r in fresh}
                self._full_at = clock
            else:
                changed = ledger.runs_updated_since(
                    self._read_at - UPDATE_OVERLAP, RUN_FIELDS, MAX_RUNS
                )
                self._runs.update((str(r["id"]), r) for r in changed)
            self._runs = {
                k: r
                for k, r in self._runs.items()
                if (as_time(r.get("received_at")) or runs_since) >= runs_since
            }
            runs = list(self._runs.values())
            self._read_at = now
            self._snapshot = _finish(ledger, cfg, now, runs, t0)
            self._taken = clock
            return self._snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None
            self._runs = {}
            self._read_at = None

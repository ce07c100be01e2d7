"""One incident per workload: alerts about the same (cluster, namespace, workload) share one.

workloads/{id}   the workload's latest incident: incident_id, key, updated_at

Dispatch reads this document inside the transaction that creates a new run
(shared.ledger.runs `_new_run`): a new alert joins the workload's incident while that incident is
open, or within the window after it resolved (ALERTLOOP_INCIDENT_WINDOW_MINUTES), and otherwise
opens a new one. Storm digests and alert types with `correlate: false` never join, and the same
alert firing again after its flap hold-down (ALERTLOOP_FLAP_HOLDDOWN_MINUTES) does not rejoin
its own old incident through correlation: the hold-down decides that.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.ledger.base import as_dt


def correlation_key(cluster: str, namespace: str, workload: str) -> str:
    """ "" when the alert names no workload: such alerts are never correlated."""
    if not workload:
        return ""
    return f"{cluster}|{namespace}|{workload}"


def workload_doc_id(key: str) -> str:
    return "w" + hashlib.sha256(key.encode()).hexdigest()[:23]


def joinable(incident: dict[str, Any], now: datetime, window: timedelta) -> bool:
    """May a new alert about the same workload join this incident?"""
    if not incident or incident.get("digest_group"):
        return False
    if incident.get("status") == "open":
        return True
    resolved = as_dt(incident.get("resolved_at"))
    return resolved is not None and now - resolved <= window

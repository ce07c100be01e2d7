"""Where a person can read an incident: its console page (ALERTLOOP_CONSOLE_URL), else the run log
link of its newest run."""

from __future__ import annotations

from shared.config import Settings


def console_url(cfg: Settings, incident_id: str) -> str:
    return cfg.incident_url(incident_id)


def incident_link(cfg: Settings, incident_id: str, run_id: str = "") -> str:
    return cfg.run_url(run_id, incident_id)

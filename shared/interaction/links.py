"""Where a person can read an incident: the console (ALERTLOOP_CONSOLE_URL_TEMPLATE, with
`{incident_id}` and optionally `{project}`), else the run log link of its newest run."""

from __future__ import annotations

from shared.config import Settings


def console_url(cfg: Settings, incident_id: str) -> str:
    if not cfg.console_url_template or not incident_id:
        return ""
    try:
        return cfg.console_url_template.format(incident_id=incident_id, project=cfg.project)
    except (KeyError, IndexError, ValueError):
        return ""


def incident_link(cfg: Settings, incident_id: str, run_id: str = "") -> str:
    return console_url(cfg, incident_id) or (cfg.run_url(run_id) if run_id else "")

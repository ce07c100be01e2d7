"""Core settings, read from the environment once per process (through shared/envvars.py, which
holds every variable's default and meaning).

Domain modules (kubernetes access, Prometheus, remediation guardrails, budgets) read their own
settings next to the code that uses them; this module holds what every function shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from shared import envvars


@dataclass(frozen=True)
class Settings:
    project: str
    topic_prefix: str
    webhook_token: str
    allow_unauthenticated: bool
    max_body_bytes: int
    policy_file: str
    dry_run: bool
    max_event_age_seconds: int
    stage_timeout_seconds: int
    max_stage_attempts: int
    slack_token: str
    slack_channel: str
    slack_api_url: str
    run_url_template: str
    console_url: str
    collection_prefix: str
    firestore_database: str
    flap_holddown_minutes: int
    storm_threshold: int
    incident_window_minutes: int

    def topic(self, stage: str) -> str:
        """Topic id for a stage (topics are named after the stage they feed)."""
        return f"{self.topic_prefix}{stage}"

    def topic_path(self, stage: str) -> str:
        return f"projects/{self.project}/topics/{self.topic(stage)}"

    def incident_url(self, incident_id: str) -> str:
        """The incident's console page ("" without ALERTLOOP_CONSOLE_URL)."""
        if not self.console_url or not incident_id:
            return ""
        return f"{self.console_url}/incidents/{incident_id}"

    def run_url(self, run_id: str, incident_id: str = "") -> str:
        """Slack's "Run log" link: the incident's console page when ALERTLOOP_CONSOLE_URL is
        set, else ALERTLOOP_RUN_URL_TEMPLATE (empty hides the button)."""
        if self.incident_url(incident_id):
            return self.incident_url(incident_id)
        if not self.run_url_template or not run_id:
            return ""
        return self.run_url_template.format(run_id=run_id, project=self.project)


def actor(default: str) -> str:
    """The function's identity for the audit trail: K_SERVICE (Cloud Run sets it), else
    `default` (alertloop-<function>)."""
    return envvars.read("K_SERVICE") or default


def _project() -> str:
    return envvars.read("GOOGLE_CLOUD_PROJECT") or envvars.read("GCP_PROJECT") or "alertloop-local"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Process-wide settings; tests that change the environment call `settings.cache_clear()`."""
    return Settings(
        project=_project(),
        topic_prefix=envvars.read("ALERTLOOP_TOPIC_PREFIX"),
        webhook_token=envvars.read("ALERTLOOP_WEBHOOK_TOKEN"),
        allow_unauthenticated=envvars.flag("ALERTLOOP_ALLOW_UNAUTHENTICATED"),
        max_body_bytes=envvars.integer("ALERTLOOP_MAX_BODY_BYTES", minimum=1),
        policy_file=envvars.read("ALERTLOOP_POLICY_FILE"),
        dry_run=envvars.flag("ALERTLOOP_DRY_RUN"),
        max_event_age_seconds=envvars.integer("ALERTLOOP_MAX_EVENT_AGE_SECONDS", minimum=1),
        stage_timeout_seconds=envvars.integer("ALERTLOOP_STAGE_TIMEOUT_SECONDS", minimum=1),
        max_stage_attempts=envvars.integer("ALERTLOOP_MAX_STAGE_ATTEMPTS", minimum=1),
        slack_token=envvars.read("SLACK_BOT_TOKEN"),
        slack_channel=envvars.read("SLACK_CHANNEL"),
        slack_api_url=envvars.read("SLACK_API_URL"),
        run_url_template=envvars.read("ALERTLOOP_RUN_URL_TEMPLATE"),
        collection_prefix=envvars.read("ALERTLOOP_COLLECTION_PREFIX"),
        firestore_database=envvars.read("ALERTLOOP_FIRESTORE_DATABASE"),
        flap_holddown_minutes=envvars.integer("ALERTLOOP_FLAP_HOLDDOWN_MINUTES", minimum=0),
        storm_threshold=envvars.integer("ALERTLOOP_STORM_THRESHOLD", minimum=0),
        incident_window_minutes=envvars.integer("ALERTLOOP_INCIDENT_WINDOW_MINUTES", minimum=0),
        console_url=envvars.read("ALERTLOOP_CONSOLE_URL").rstrip("/"),
    )

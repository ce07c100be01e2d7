"""Core settings, read from the environment once per process.

Domain modules (kubernetes access, Prometheus, remediation guardrails, budgets) read their own
settings next to the code that uses them; this module holds what every function shares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

TRUE_WORDS = {"1", "true", "yes", "on"}

# Cloud Run functions accept requests up to 32 MiB; anything Alertmanager can send that fits
# must be taken (it never retries a 4xx, so a refused storm would be lost).
MAX_BODY_DEFAULT = 32 * 1024 * 1024


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(
    name: str, default: float, *, minimum: float | None = None, positive: bool = False
) -> float:
    """A number from the environment, refused with a message naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {raw!r}")
    return value


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


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

    def topic(self, stage: str) -> str:
        """Topic id for a stage (topics are named after the stage they feed)."""
        return f"{self.topic_prefix}{stage}"

    def topic_path(self, stage: str) -> str:
        return f"projects/{self.project}/topics/{self.topic(stage)}"

    def run_url(self, run_id: str, incident_id: str = "") -> str:
        """Slack's "Run log" link: the incident's console page when ALERTLOOP_CONSOLE_URL is
        set, else ALERTLOOP_RUN_URL_TEMPLATE (empty hides the button)."""
        if self.console_url and incident_id:
            return f"{self.console_url}/incidents/{incident_id}"
        if not self.run_url_template:
            return ""
        return self.run_url_template.format(run_id=run_id, project=self.project)


DEFAULT_RUN_URL = (
    "https://console.cloud.google.com/logs/query;query=jsonPayload.run_id%3D%22{run_id}%22"
    "?project={project}"
)


def _project() -> str:
    return env_str("GOOGLE_CLOUD_PROJECT") or env_str("GCP_PROJECT") or "alertloop-local"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Process-wide settings; tests that change the environment call `settings.cache_clear()`."""
    return Settings(
        project=_project(),
        topic_prefix=env_str("ALERTLOOP_TOPIC_PREFIX", "alertloop-"),
        webhook_token=env_str("ALERTLOOP_WEBHOOK_TOKEN"),
        allow_unauthenticated=env_bool("ALERTLOOP_ALLOW_UNAUTHENTICATED"),
        max_body_bytes=env_int("ALERTLOOP_MAX_BODY_BYTES", MAX_BODY_DEFAULT),
        policy_file=env_str("ALERTLOOP_POLICY_FILE"),
        dry_run=env_bool("ALERTLOOP_DRY_RUN"),
        max_event_age_seconds=env_int("ALERTLOOP_MAX_EVENT_AGE_SECONDS", 6 * 3600),
        stage_timeout_seconds=env_int("ALERTLOOP_STAGE_TIMEOUT_SECONDS", 300),
        max_stage_attempts=env_int("ALERTLOOP_MAX_STAGE_ATTEMPTS", 5),
        slack_token=env_str("SLACK_BOT_TOKEN"),
        slack_channel=env_str("SLACK_CHANNEL", "#alerts"),
        slack_api_url=env_str("SLACK_API_URL", "https://slack.com/api/"),
        run_url_template=env_str("ALERTLOOP_RUN_URL_TEMPLATE", DEFAULT_RUN_URL),
        console_url=env_str("ALERTLOOP_CONSOLE_URL").rstrip("/"),
        collection_prefix=env_str("ALERTLOOP_COLLECTION_PREFIX"),
        firestore_database=env_str("ALERTLOOP_FIRESTORE_DATABASE", "(default)"),
        flap_holddown_minutes=env_int("ALERTLOOP_FLAP_HOLDDOWN_MINUTES", 30),
        storm_threshold=env_int("ALERTLOOP_STORM_THRESHOLD", 20),
    )

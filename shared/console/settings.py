"""The console's settings (environment variables, read once per process)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from shared.config import env_float, env_str

AuthMode = Literal["token", "iam"]


@dataclass(frozen=True)
class ConsoleSettings:
    # token: every request carries ALERTLOOP_CONSOLE_TOKEN (bearer header, or the cookie the
    #        ?token= login link sets) — the local stack, or behind a proxy of your own.
    # iam:   Cloud Run's IAM admitted the caller before the request got here (Terraform grants
    #        roles/run.invoker to the console's viewers only; never allUsers).
    auth: AuthMode
    token: str
    cache_seconds: float  # how long /metrics and the health page reuse one read of the ledger
    metrics_window_hours: float  # the window /metrics' gauges cover
    health_days: int  # the health page's window
    slack_workspace_url: str  # thread links: <this>/archives/<channel>/p<ts>
    page_size: int


@lru_cache(maxsize=1)
def console_settings() -> ConsoleSettings:
    auth = env_str("ALERTLOOP_CONSOLE_AUTH", "token").lower()
    if auth not in ("token", "iam"):
        raise ValueError(f"ALERTLOOP_CONSOLE_AUTH must be token or iam, got {auth!r}")
    return ConsoleSettings(
        auth="iam" if auth == "iam" else "token",
        token=env_str("ALERTLOOP_CONSOLE_TOKEN"),
        cache_seconds=env_float("ALERTLOOP_CONSOLE_CACHE_SECONDS", 20.0, minimum=0),
        metrics_window_hours=env_float("ALERTLOOP_METRICS_WINDOW_HOURS", 24.0, positive=True),
        health_days=int(env_float("ALERTLOOP_CONSOLE_HEALTH_DAYS", 30, minimum=1)),
        slack_workspace_url=env_str("ALERTLOOP_SLACK_WORKSPACE_URL", "https://slack.com").rstrip(
            "/"
        ),
        page_size=int(env_float("ALERTLOOP_CONSOLE_PAGE_SIZE", 50, minimum=1)),
    )

"""The console's settings (environment variables, read once per process)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from shared import envvars

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
    auth = envvars.read("ALERTLOOP_CONSOLE_AUTH").lower()
    if auth not in ("token", "iam"):
        raise envvars.EnvError(f"ALERTLOOP_CONSOLE_AUTH must be token or iam, got {auth!r}")
    return ConsoleSettings(
        auth="iam" if auth == "iam" else "token",
        token=envvars.read("ALERTLOOP_CONSOLE_TOKEN"),
        cache_seconds=envvars.number("ALERTLOOP_CONSOLE_CACHE_SECONDS", minimum=0),
        metrics_window_hours=envvars.number("ALERTLOOP_METRICS_WINDOW_HOURS", positive=True),
        health_days=envvars.integer("ALERTLOOP_CONSOLE_HEALTH_DAYS", minimum=1),
        slack_workspace_url=envvars.read("ALERTLOOP_SLACK_WORKSPACE_URL").rstrip("/"),
        page_size=envvars.integer("ALERTLOOP_CONSOLE_PAGE_SIZE", minimum=1),
    )

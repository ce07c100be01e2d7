"""Rollback settings, read from the environment on each call (cheap; tests change env).
Names, defaults and meanings: shared/envvars.py.

- ALERTLOOP_ROLLBACK_VERIFY_SECONDS: the canary check's bounded wait after the rollback: the
  rollout must become available and (with Prometheus) the error ratio must fall below the
  threshold within it. 0 = do not wait (reported as "not verified").
- ALERTLOOP_ROLLBACK_GRACE_MINUTES: an approved proposal is executed only until this long after
  the proposal's `expires_at` (a rollback message delayed longer is refused).
- ALERTLOOP_ERROR_RATIO_THRESHOLD: the alert threshold the canary compares against (shared with
  the investigation).

The namespace allowlist, opt-out annotation, cooldown, attempts, rate limit and dry-run are the
remediation guardrails (shared.remediation.settings / change_gate), applied again here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import actor
from shared.remediation.settings import _number

DEFAULT_ACTOR = "alertloop-rollback"


@dataclass(frozen=True)
class RollbackSettings:
    verify_seconds: float = 300.0
    verify_interval_seconds: float = 5.0
    grace_minutes: float = 10.0
    error_ratio_threshold: float = 0.05
    actor: str = DEFAULT_ACTOR


def rollback_settings() -> RollbackSettings:
    return RollbackSettings(
        verify_seconds=_number("ALERTLOOP_ROLLBACK_VERIFY_SECONDS"),
        verify_interval_seconds=_number("ALERTLOOP_ROLLBACK_VERIFY_INTERVAL_SECONDS", minimum=0.05),
        grace_minutes=_number("ALERTLOOP_ROLLBACK_GRACE_MINUTES"),
        error_ratio_threshold=_number("ALERTLOOP_ERROR_RATIO_THRESHOLD"),
        actor=actor(DEFAULT_ACTOR),
    )

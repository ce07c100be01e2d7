"""Remediation settings, read from the environment on each call (cheap; tests change env).
Names, defaults and meanings: the "remediation" section of shared/envvars.py.

- ALERTLOOP_REMEDIATE_NAMESPACES: the allow-list. Empty = nothing is changed anywhere.
  `kube-system` is never changed, even if listed.
- ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR: fleet-wide cap on cluster changes in any sliding
  hour (all instances, counted in Firestore). 0 = no changes at all.
- ALERTLOOP_REMEDIATE_VERIFY_SECONDS: 0 = do not wait (verification reports "not verified").
- K_SERVICE (Cloud Run sets it): the function identity written to the audit trail.

The dry-run switches are ALERTLOOP_DRY_RUN (shared.config), the policy's guardrails.dry_run
and the envelope's dry_run flag: any one of them makes remediation report without changing.
Per-alert limits (cooldown, attempts, replica ceiling, scale step, approval) come from the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import envvars
from shared.config import actor

# Workloads (and HPAs) annotated with this key set to "false" are never changed (the old
# opt-out; still honoured).
OPT_OUT_ANNOTATION = "alertloop.io/remediate"
OPT_OUT_VALUES = frozenset({"false", "no", "off", "0", "disabled"})
# "disabled" opts a workload out, "enabled" opts it in where the default refuses (scaling a
# Deployment without an HPA); never for database-class workloads (remediation.workload_safety).
REMEDIATION_ANNOTATION = "alertloop.io/remediation"
# Never changed, even if listed in the allowlist.
PROTECTED_NAMESPACES = frozenset({"kube-system"})
DEFAULT_ACTOR = "alertloop-remediate"


def _number(name: str, *, minimum: float = 0.0) -> float:
    return envvars.number(name, minimum=minimum)


def parse_namespaces(raw: str) -> tuple[str, ...]:
    """The allowlist: comma/space separated, deduplicated, order kept."""
    out: list[str] = []
    for part in raw.replace(" ", ",").split(","):
        ns = part.strip()
        if ns and ns not in out:
            out.append(ns)
    return tuple(out)


@dataclass(frozen=True)
class RemediationSettings:
    namespaces: tuple[str, ...] = ()
    max_changes_per_hour: int = 10
    verify_seconds: float = 60.0
    verify_interval_seconds: float = 2.0
    approval_ttl_minutes: float = 60.0
    actor: str = DEFAULT_ACTOR
    protected_namespaces: frozenset[str] = field(default=PROTECTED_NAMESPACES)


def remediation_settings() -> RemediationSettings:
    return RemediationSettings(
        namespaces=parse_namespaces(envvars.read("ALERTLOOP_REMEDIATE_NAMESPACES")),
        max_changes_per_hour=int(_number("ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR")),
        verify_seconds=_number("ALERTLOOP_REMEDIATE_VERIFY_SECONDS"),
        verify_interval_seconds=_number(
            "ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", minimum=0.05
        ),
        approval_ttl_minutes=_number("ALERTLOOP_APPROVAL_TTL_MINUTES", minimum=1.0),
        actor=actor(DEFAULT_ACTOR),
    )

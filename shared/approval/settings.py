"""Approval settings, read from the environment on each call (cheap; tests change env).
Names, defaults and meanings: shared/envvars.py.

- ALERTLOOP_APPROVERS: comma-separated Slack user ids (U…/W…) allowed to approve or reject a
  rollback proposal. Empty = nobody may: every click is refused (and audited).
- SLACK_SIGNING_SECRET ★: the Slack app's signing secret. Unset = every request is refused.
- K_SERVICE ("alertloop-act"): the identity written to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import envvars
from shared.config import actor

DEFAULT_ACTOR = "alertloop-act"


def parse_approvers(raw: str) -> frozenset[str]:
    return frozenset(p.strip() for p in raw.replace(" ", ",").split(",") if p.strip())


@dataclass(frozen=True)
class ApprovalSettings:
    approvers: frozenset[str] = frozenset()
    signing_secret: str = ""
    actor: str = DEFAULT_ACTOR

    def __repr__(self) -> str:  # never show the secret
        return (
            f"ApprovalSettings(approvers={sorted(self.approvers)!r}, "
            f"signing_secret={'***' if self.signing_secret else ''!r}, actor={self.actor!r})"
        )


def approval_settings() -> ApprovalSettings:
    return ApprovalSettings(
        approvers=parse_approvers(envvars.read("ALERTLOOP_APPROVERS")),
        signing_secret=envvars.read("SLACK_SIGNING_SECRET"),
        actor=actor(DEFAULT_ACTOR),
    )

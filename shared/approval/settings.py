"""Approval settings, read from the environment on each call (cheap; tests change env).

- ALERTLOOP_APPROVERS (""): comma-separated Slack user ids (U…/W…) allowed to approve or reject
  a rollback proposal. Empty = nobody may: every click is refused (and audited).
- SLACK_SIGNING_SECRET ★ (""): the Slack app's signing secret. Unset = every request is refused.
- K_SERVICE ("alertloop-act"): the identity written to the audit trail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
        approvers=parse_approvers(os.environ.get("ALERTLOOP_APPROVERS", "")),
        signing_secret=os.environ.get("SLACK_SIGNING_SECRET", "").strip(),
        actor=os.environ.get("K_SERVICE", "").strip() or DEFAULT_ACTOR,
    )

"""Human approval of proposals: rollbacks and, in `approve` autonomy mode, restarts and
scale changes (decided by the interactions worker, `act`)."""

from shared.approval.core import (
    CHANGE_ACTIONS,
    ROLLBACK_ACTIONS,
    Action,
    Decision,
    decide,
    publish_decision,
    refuse_decision,
)
from shared.approval.settings import ApprovalSettings, approval_settings
from shared.slack.signing import SignatureError, verify_signature

__all__ = [
    "CHANGE_ACTIONS",
    "ROLLBACK_ACTIONS",
    "Action",
    "ApprovalSettings",
    "Decision",
    "SignatureError",
    "approval_settings",
    "decide",
    "publish_decision",
    "refuse_decision",
    "verify_signature",
]

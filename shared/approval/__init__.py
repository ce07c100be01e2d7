"""Human approval of rollback proposals (decided by the interactions worker, `act`)."""

from shared.approval.core import Decision, decide, publish_decision, refuse_decision
from shared.approval.settings import ApprovalSettings, approval_settings
from shared.approval.slack_request import Action, SignatureError, verify_signature

__all__ = [
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

"""Human approval of rollback proposals through Slack buttons (the approve function)."""

from shared.approval.core import Decision, decide, publish_decision
from shared.approval.settings import ApprovalSettings, approval_settings
from shared.approval.slack_request import (
    Action,
    PayloadError,
    SignatureError,
    parse_action,
    verify_signature,
)

__all__ = [
    "Action",
    "ApprovalSettings",
    "Decision",
    "PayloadError",
    "SignatureError",
    "approval_settings",
    "decide",
    "parse_action",
    "publish_decision",
    "verify_signature",
]

"""Decide on a rollback proposal from a Slack click, in one Firestore transaction.

approvals/{id} moves   proposed --approve--> approved   (approved_by, approved_at, approved_via)
                       proposed --reject---> rejected   (rejected_by, rejected_at)
and nothing else: a second click, a replayed request or a click after `expires_at` finds the
record no longer "proposed" (or expired) and is refused. Every decision and every refusal is
written to `audit` (shared.audit.Recorder). Nothing here touches the cluster: an
approval only publishes a pointer to the run (with `approval_id`) to the `rollback` topic; the
rollback function re-checks everything before it acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.approval.settings import ApprovalSettings
from shared.audit import Recorder
from shared.bus import Bus, Outgoing, PublishError
from shared.interaction.actions import APPROVE_ROLLBACK
from shared.ledger import Ledger, LedgerError
from shared.ledger.approvals import PROPOSED
from shared.log import event, get_logger
from shared.messages import StageMessage
from shared.model import Stage, utcnow
from shared.untrusted import for_mrkdwn

log = get_logger(__name__)

Outcome = Literal["approved", "rejected", "refused"]
# Remediation records rollback proposals with action "rollback" (older records: "propose_rollback").
ROLLBACK_ACTIONS = ("rollback", "propose_rollback")
# Changes remediation proposes in `approve` autonomy mode; an approval sends them back to the
# remediate stage, which re-runs every guardrail and writes only the approved change.
CHANGE_ACTIONS = ("restart", "scale_deployment", "raise_hpa_max", "raise_keda_max")


@dataclass(frozen=True)
class Action:
    """A person's approve or reject click on a proposal, as the decision needs it."""

    action_id: str  # approve_rollback | reject_rollback
    approval_id: str
    user_id: str
    user_name: str = ""
    channel: str = ""
    message_ts: str = ""
    response_url: str = ""

    @property
    def approve(self) -> bool:
        return self.action_id == APPROVE_ROLLBACK


@dataclass
class Decision:
    outcome: Outcome
    message: str  # what the clicking user reads (ephemeral)
    reason: str = ""  # refusal reason code: unknown|not_approver|no_approvers|status|expired|...
    approval: dict[str, Any] = field(default_factory=dict)
    audit_id: str | None = None
    published: bool = False


def _audit(
    ledger: Ledger,
    cfg: ApprovalSettings,
    action: Action,
    approval: dict[str, Any],
    outcome: str,
    reason: str,
    guard: str = "",
) -> str | None:
    recorder = Recorder(
        ledger,
        cfg.actor,
        str(approval.get("run_id", "")),
        str(approval.get("alert_type", "")),
        str(approval.get("incident_id", "")),
    )
    try:
        return recorder.audit(
            action=action.action_id,
            target=str(approval.get("target", "")),
            outcome=outcome,
            reason=reason,
            before={"status": approval.get("status")} if approval else None,
            guard=guard,
            extra={
                "approval_id": action.approval_id,
                "slack_user": action.user_id,
                "slack_user_name": action.user_name,
                "slack_channel": action.channel,
            },
        )
    except LedgerError as exc:
        event(log, "approval decision not audited", 40, error=str(exc))
        return None


def _describe(approval: dict[str, Any]) -> str:
    # Shown in Slack: the target names come from the cluster, so render them as outside text.
    if approval.get("action") in CHANGE_ACTIONS:
        raw = approval.get("to")
        to: dict[str, Any] = raw if isinstance(raw, dict) else {}
        counts = ", ".join(f"{k} {v}" for k, v in sorted(to.items()) if isinstance(v, int))
        return (
            f"{for_mrkdwn(approval.get('action'), 40)} of "
            f"{for_mrkdwn(approval.get('target', '?'), 300)}"
            + (f" to {for_mrkdwn(counts, 100)}" if counts else "")
        )
    return (
        f"rollback of {for_mrkdwn(approval.get('target', '?'), 300)} from revision "
        f"{for_mrkdwn(approval.get('from_revision', '?'), 40)} to "
        f"{for_mrkdwn(approval.get('to_revision', '?'), 40)}"
    )


def _expired(approval: dict[str, Any], now: datetime) -> bool:
    expires = approval.get("expires_at")
    return not isinstance(expires, datetime) or expires <= now


def refuse_decision(
    action: Action,
    ledger: Ledger,
    cfg: ApprovalSettings,
    reason: str,
    message: str,
    approval: dict[str, Any] | None = None,
) -> Decision:
    """A refused click on a proposal: nothing decided, audited with the reason."""
    if approval is None:
        approval = ledger.get_approval(action.approval_id) or {}
    audit_id = _audit(ledger, cfg, action, approval, "refused", message, guard=reason)
    event(
        log,
        "approval refused",
        30,
        approval_id=action.approval_id,
        user=action.user_id,
        reason=reason,
        run_id=approval.get("run_id", ""),
    )
    return Decision("refused", message, reason, approval, audit_id)


def decide(
    action: Action,
    ledger: Ledger,
    cfg: ApprovalSettings,
    now: datetime | None = None,
    *,
    permission_checked: bool = False,
) -> Decision:
    """Approve or reject, single use; or refuse with a reason. Always audited.

    `permission_checked`: the caller already decided the user may approve (the interactions
    worker, from ALERTLOOP_SLACK_PERMISSIONS and its user groups); otherwise the user must be
    in ALERTLOOP_APPROVERS."""
    approval: dict[str, Any] = ledger.get_approval(action.approval_id) or {}

    def refuse(reason: str, message: str) -> Decision:
        return refuse_decision(action, ledger, cfg, reason, message, approval)

    if not approval:
        return refuse(
            "unknown", f"No rollback proposal {for_mrkdwn(action.approval_id, 80)} exists."
        )
    if approval.get("action") not in (*ROLLBACK_ACTIONS, *CHANGE_ACTIONS):
        return refuse(
            "action",
            f"Proposal {for_mrkdwn(action.approval_id, 80)} is not a proposal alertloop can "
            "execute.",
        )
    if not permission_checked and not cfg.approvers:
        return refuse(
            "no_approvers",
            "Nobody may approve rollbacks: ALERTLOOP_APPROVERS is empty. Ask an operator to "
            "list the Slack user ids allowed to decide.",
        )
    if not permission_checked and action.user_id not in cfg.approvers:
        return refuse(
            "not_approver",
            f"<@{action.user_id}> is not an allowed approver (ALERTLOOP_APPROVERS); "
            f"nothing was decided on the {_describe(approval)}.",
        )

    new_status: Outcome = "approved" if action.approve else "rejected"
    verb = "approved" if action.approve else "rejected"
    fields = {
        f"{verb}_by": action.user_id,
        f"{verb}_by_name": action.user_name,
        f"{verb}_at": now or utcnow(),
        "decided_via": "slack",
        "slack_channel": action.channel,
        "slack_message_ts": action.message_ts,
    }
    result, current = ledger.decide_approval(action.approval_id, new_status, fields, now)
    approval = current or approval
    if result == "status":
        who = approval.get("approved_by") or approval.get("rejected_by")
        by = f" by <@{who}>" if who else ""
        return refuse(
            "status",
            f"This proposal is already {approval.get('status', 'gone')}{by}: approvals are "
            "single use.",
        )
    if result == "expired":
        approval["status"] = "expired"
        return refuse(
            "expired",
            f"This proposal expired at {approval.get('expires_at')}: nothing was done. "
            "A new incident will propose again.",
        )
    message = (
        f"<@{action.user_id}> approved the {_describe(approval)}: alertloop re-checks the "
        "workload and its guardrails, then makes exactly this change and reports in the thread."
        if action.approve
        else f"<@{action.user_id}> rejected the {_describe(approval)}: nothing will change."
    )
    audit_id = _audit(ledger, cfg, action, {**approval, "status": PROPOSED}, new_status, message)
    if audit_id:
        try:
            ledger.set_approval(action.approval_id, {f"{verb}_audit_id": audit_id})
        except LedgerError as exc:  # the decision stands; the audit record names it
            event(log, "cannot link the decision's audit record", 40, error=str(exc))
    event(
        log,
        f"proposal {verb}",
        approval_id=action.approval_id,
        user=action.user_id,
        run_id=approval.get("run_id", ""),
    )
    return Decision(new_status, message, "", approval, audit_id)


def publish_decision(decision: Decision, action: Action, ledger: Ledger, bus: Bus) -> Decision:
    """Send an approved (or rejected) proposal to the stage that executes it, which reports
    to Slack: rollbacks to `rollback`, the other changes back to `remediate` (its guardrails,
    its Kubernetes identity).

    When an approval cannot be published it is put back to "proposed" (so the button works
    again) and the click is answered with the failure; a rejection stands either way.
    """
    if decision.outcome == "refused":
        return decision
    run_id = str(decision.approval.get("run_id", ""))
    run = ledger.get_run(run_id) if run_id else None
    try:
        if run is None:
            raise PublishError(f"run {run_id or '?'} is not in the ledger")
        stage = (
            Stage.REMEDIATE if decision.approval.get("action") in CHANGE_ACTIONS else Stage.ROLLBACK
        )
        bus.publish(
            Outgoing.stage(StageMessage(run_id=run_id, stage=stage, approval_id=action.approval_id))
        )
    except PublishError as exc:
        event(log, "cannot publish the decision", 40, run_id=run_id, error=str(exc))
        if decision.outcome == "approved":
            _revert(ledger, action.approval_id)
            decision.message = (
                f"Could not queue the approved change ({exc}); the approval was withdrawn — "
                "click Approve again in a moment."
            )
            decision.outcome = "refused"
            decision.reason = "publish_failed"
        else:
            decision.message += " (The thread could not be updated.)"
        return decision
    decision.published = True
    return decision


def _revert(ledger: Ledger, approval_id: str) -> None:
    try:
        ledger.revert_approval(approval_id)
    except LedgerError as exc:
        event(log, "cannot withdraw an unpublished approval", 50, error=str(exc))

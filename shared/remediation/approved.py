"""An approved proposal of a change (restart, scale_deployment, raise_hpa_max, raise_keda_max),
executed by the remediate stage: the act worker decided the click (single use, expiring, an
allowed approver, audited) and sent the run back here with the approval's id.

The rules are the rollback's (shared.rollback.core): the approval must be `approved`, for this
run, not long past its expiry, and is claimed once (approved -> executing). Then remediation runs
again as a whole on the workload as it is now (database class, owners, namespace allow-list,
take-over, caps, ceiling, dry-run) and writes only when its fresh plan is exactly the approved
one: same action, same target, same new count. Anything else is refused and audited. The write
is reserved with the approval (automatic=False), so the brake and the outcome check know a
person decided it.

approvals/{id}.status ends as executed | refused | dry_run | failed | unknown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.approval.core import CHANGE_ACTIONS
from shared.audit import Recorder
from shared.ledger import Ledger, LedgerError
from shared.model import utcnow
from shared.remediation.core import Outcome
from shared.remediation.decide import Plan
from shared.rollback.settings import rollback_settings
from shared.run import Run

SUMMARY_KEYS = ("id", "action", "status", "target", "from", "to", "approved_by")


def summary(approval: dict[str, Any]) -> dict[str, Any]:
    """What the finding says about the approval (never `approval_id`: that key marks a
    proposal with buttons)."""
    return {k: approval.get(k) for k in SUMMARY_KEYS if k in approval}


def admit(run: Run, ledger: Ledger, recorder: Recorder) -> dict[str, Any] | Outcome:
    """The approval, claimed for this execution; or why nothing is done (audited)."""
    approval_id = run.approval_id
    approval = ledger.get_approval(approval_id) or {}
    action = str(approval.get("action") or "approved_change")
    target = str(approval.get("target") or "?")

    def refuse(guard: str, reason: str) -> Outcome:
        return _unbound(recorder, {**approval, "id": approval_id}, action, target, guard, reason)

    if not approval:
        return refuse("approval", f"approval {approval_id} does not exist")
    if approval.get("action") not in CHANGE_ACTIONS:
        return refuse(
            "approval",
            f"approval {approval_id} is a {action} proposal: the remediate stage executes "
            f"only {', '.join(CHANGE_ACTIONS)}",
        )
    if approval.get("run_id") != run.run_id:
        return refuse(
            "approval",
            f"approval {approval_id} belongs to run {approval.get('run_id')}, not {run.run_id}",
        )
    status = approval.get("status")
    if status == "rejected":
        who = approval.get("rejected_by", "?")
        return Outcome(
            "skipped",
            [f"{action} of {target} rejected by <@{who}>: nothing was changed."],
            {"action": "none", "approval": summary(approval), "rejected_by": who},
        )
    if status != "approved":
        return refuse(
            "single_use",
            f"approval {approval_id} is {status}, not approved: approvals are single use",
        )
    expires = approval.get("expires_at")
    grace = timedelta(minutes=rollback_settings().grace_minutes)
    if not isinstance(expires, datetime) or utcnow() > expires + grace:
        return refuse(
            "expired",
            f"approval {approval_id} expired at {expires}; this message came too late to act on",
        )
    if not ledger.claim_approval(approval_id, recorder.identity):
        return refuse("single_use", f"approval {approval_id} is being (or was) executed elsewhere")
    approval["status"] = "executing"
    return approval


def mismatch(approval: dict[str, Any], plan: Plan) -> str | None:
    """Why the fresh plan is not the approved change (None: it is exactly that)."""
    action, target = approval.get("action"), approval.get("target")
    if plan.mode != "change":
        return f"the workload as it is now calls for no {action}: {plan.reason}"
    if plan.action != action or str(plan.target) != target:
        return (
            f"remediation now plans {plan.action} of {plan.target}, not the approved {action} "
            f"of {target}"
        )
    approved_to = approval.get("to") if isinstance(approval.get("to"), dict) else {}
    if plan.count_field and plan.after != approved_to:
        return (
            f"the workload changed since the proposal: the change now would set {plan.after}, "
            f"the approval was for {approved_to}"
        )
    return None


def settle(ledger: Ledger, recorder: Recorder, approval: dict[str, Any], out: Outcome) -> None:
    """Record how the approved change ended on the approval (and audit a refusal that the
    flow did not already audit, e.g. the alert resolved meanwhile)."""
    d = out.details
    refused = d.get("refused") or {}
    outcome = d.get("outcome")
    fields: dict[str, Any] = {}
    if refused:
        status = "dry_run" if refused.get("guard") == "dry_run" else "refused"
        fields = {"refused_guard": refused.get("guard"), "refused_reason": refused.get("reason")}
    elif outcome == "applied":
        status = "executed"
    elif outcome == "unknown":
        status = "unknown"
    elif outcome in ("not_applied", "conflict") or out.status == "error":
        status = "failed"
        fields = {"failed_reason": str(d.get("error") or (out.lines or [""])[0])}
    else:
        status = "refused"
        reason = (out.lines or ["nothing to do"])[0]
        fields = {"refused_guard": "approval_stale", "refused_reason": reason}
        d["audit_id"] = _audit_refusal(
            recorder, approval, "approval_stale", f"not executed: {reason}"
        )
        d["refused"] = {"guard": "approval_stale", "reason": reason}
    if d.get("audit_id"):
        fields["audit_id"] = d["audit_id"]
    approval["status"] = status
    ledger.set_approval(
        str(approval.get("id")), {"status": status, f"{status}_at": utcnow(), **fields}
    )
    d["approval"] = summary(approval)


def _audit_refusal(
    recorder: Recorder, approval: dict[str, Any], guard: str, reason: str
) -> str | None:
    try:
        return recorder.audit(
            action=str(approval.get("action") or "approved_change"),
            target=str(approval.get("target") or "?"),
            outcome="refused",
            reason=reason,
            guard=guard,
            extra={"approval_id": approval.get("id"), "approved_by": approval.get("approved_by")},
        )
    except LedgerError:
        return None


def _unbound(
    recorder: Recorder,
    approval: dict[str, Any],
    action: str,
    target: str,
    guard: str,
    reason: str,
) -> Outcome:
    """A refusal before the guardrails run (no approval, used, expired): audited too."""
    audit_id = _audit_refusal(
        recorder, {**approval, "action": action, "target": target}, guard, reason
    )
    lines = [f"Not executed ({guard}): {reason}."]
    if audit_id is None:
        lines.append("Warning: the refusal could not be audited.")
    return Outcome(
        "skipped",
        lines,
        {
            "action": "none",
            "approval": summary(approval),
            "refused": {"guard": guard, "reason": reason},
            "audit_id": audit_id,
        },
    )

"""The `act` worker: does what a Slack button says, after `interact` answered Slack.

For each interaction (a pointer-sized message on the `interactions` topic):
  claim it once (a redelivery is acknowledged, not acted on again) -> check the permission
  again, authoritatively (user groups resolved with usergroups.users.list) -> act: approve or
  reject a rollback proposal, acknowledge, silence / unsilence in Alertmanager, take over /
  resume automation, give a verdict -> audit it (refusals too) -> reply to the person through
  `response_url` -> update Slack: the incident's parent is re-projected from the ledger (its
  buttons follow the new state), a decided proposal's buttons are replaced by the decision.

Raise to retry (Firestore or Pub/Sub unavailable); after ALERTLOOP_MAX_STAGE_ATTEMPTS the
person is told it failed and the interaction is closed (a click is not worth a dead letter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.alertmanager import (
    Alertmanager,
    AlertmanagerError,
    AlertmanagerNotConfigured,
    exact_matchers,
)
from shared.approval import (
    ROLLBACK_ACTIONS,
    Action,
    approval_settings,
    decide,
    publish_decision,
    refuse_decision,
)
from shared.audit import Recorder
from shared.bus import Bus, Outgoing, PublishError
from shared.config import Settings
from shared.consumer import DROP, Consumer, Delivery
from shared.interaction.actions import (
    ACKNOWLEDGE,
    RESUME,
    SILENCE_WIDE_PREFIX,
    TAKE_OVER,
    UNSILENCE,
    VERDICT_TITLES,
    silence_duration,
    verdict_of,
)
from shared.interaction.links import incident_link
from shared.interaction.permissions import Check, SlackGroups, permissions
from shared.interaction.request import Interaction, parse_message
from shared.interaction.teams import expected_teams, team_problem
from shared.lazy import lazy
from shared.ledger import HumanChange, Ledger, LedgerError
from shared.log import event, get_logger
from shared.messages import NotifyMessage
from shared.model import utcnow
from shared.run import Run
from shared.slack.client import Poster, make_poster, web_client
from shared.slack.controls import active_silences, latest_end, render_decision, when
from shared.slack.response_url import respond
from shared.untrusted import for_mrkdwn

log = get_logger(__name__)

Result = Literal["done", "unchanged", "refused", "failed"]
LEASE_SECONDS = 60
MAX_WIDER_SHOWN = 10  # other alerts a silence would mute, listed on the confirmation
CREATED_BY = "alertloop"
# A click that waited longer than this (the worker was down) is not acted on: the person has
# moved on, and Slack's response_url for it has expired (30 minutes) anyway.
MAX_CLICK_AGE = timedelta(minutes=30)


@dataclass
class Outcome:
    result: Result
    message: str  # what the person reads (ephemeral)
    incident_id: str = ""  # re-project this incident's parent
    audit_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Worker(Consumer[Interaction]):
    """The act function. Only interact publishes to `interactions`: a message it cannot read
    can never be acted on, and is dropped."""

    name = "act"
    on_bad_message = DROP
    logger = log
    dropped = "dropped a malformed interaction"
    poster = lazy(lambda self: make_poster(self.cfg))
    alertmanager = lazy(lambda self: Alertmanager())
    groups = lazy(lambda self: SlackGroups(lambda timeout: web_client(self.cfg, timeout)))

    def __init__(
        self,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        bus: Bus | None = None,
        poster: Poster | None = None,
        alertmanager: Alertmanager | None = None,
        groups: SlackGroups | None = None,
    ) -> None:
        super().__init__(cfg, ledger, bus)
        self.poster = poster
        self.alertmanager = alertmanager
        self.groups = groups

    # ---- entry points ---------------------------------------------------------------------------

    def parse(self, delivery: Delivery) -> Interaction:
        return parse_message(delivery.raw)

    def handle(self, it: Interaction) -> Outcome | None:
        """Act once on an interaction; None when it was already handled (a redelivery)."""
        from shared.stage import RetryLater

        claim = self.ledger.claim_interaction(
            it.id,
            {
                "action_id": it.action_id,
                "value": it.value,
                "user_id": it.user_id,
                "received_at": it.received_at,
            },
            LEASE_SECONDS,
        )
        if claim.outcome == "completed":
            event(log, "interaction already handled", interaction=it.id, action=it.action_id)
            return None
        if claim.outcome == "in_progress":
            raise RetryLater(f"interaction {it.id} is being handled elsewhere")
        try:
            outcome = self._act(it)
        except (LedgerError, PublishError) as exc:
            self.ledger.release_interaction(it.id, repr(exc))
            if claim.attempts < self.cfg.max_stage_attempts:
                event(log, "interaction failed; will retry", 40, interaction=it.id, error=str(exc))
                raise
            outcome = Outcome(
                "failed",
                f"alertloop could not {it.spec.title} ({exc}); nothing more will be tried — "
                "click again in a moment.",
            )
        self.ledger.finish_interaction(
            it.id,
            {"result": outcome.result, "message": outcome.message, "audit_id": outcome.audit_id},
        )
        event(
            log,
            f"interaction {outcome.result}",
            interaction=it.id,
            action=it.action_id,
            user=it.user_id,
            target=it.value,
        )
        respond(self.cfg, it.response_url, outcome.message)
        if outcome.incident_id and outcome.result == "done":
            self._reproject(outcome.incident_id)
        return outcome

    # ---- dispatching on the button ------------------------------------------------------------

    def _act(self, it: Interaction) -> Outcome:
        spec = it.spec
        age = utcnow() - it.received_at
        if age > MAX_CLICK_AGE:
            incident = self.ledger.get_incident(it.value) if spec.target == "incident" else None
            return self._refuse(
                it,
                incident or {},
                "stale",
                f"This click waited {int(age.total_seconds() // 60)} min to be handled (limit "
                f"{int(MAX_CLICK_AGE.total_seconds() // 60)} min): nothing was done — click "
                "again if it still matters.",
            )
        foreign = team_problem(it.team_id, it.enterprise_id, expected_teams())
        if foreign is not None:  # interact refuses these; checked again here (defence in depth)
            return self._refuse(it, {}, "workspace", f"{foreign}. Nothing was done.")
        if it.permission == "not_permitted":
            # interact refused it (and said so): final, only audited here.
            check = Check("denied", it.permission_reason or "not permitted")
        else:
            # Checked again with the same configuration and user groups resolved without
            # interact's tight time budget: a click interact let through may still be refused.
            check = permissions().check(spec.permission, it.user_id, self.groups.members)
        if spec.target == "approval":
            return self._approval(it, check)
        incident = self.ledger.get_incident(it.value)
        if not check.allowed:
            reason = check.reason
            if check.outcome == "unknown":
                reason = f"alertloop could not verify your permission ({check.reason})"
            return self._refuse(it, incident or {}, "not_permitted", f"{reason}. Nothing was done.")
        if incident is None:
            return self._refuse(it, {}, "unknown", f"No incident {for_mrkdwn(it.value, 80)}.")
        if it.action_id == ACKNOWLEDGE:
            return self._acknowledge(it, incident)
        if it.action_id == TAKE_OVER:
            return self._take_over(it, incident)
        if it.action_id == RESUME:
            return self._resume(it, incident)
        if it.action_id == UNSILENCE:
            return self._unsilence(it, incident)
        duration = silence_duration(it.action_id)
        if duration is not None:
            return self._silence(it, incident, duration)
        verdict = verdict_of(it.action_id)
        if verdict is not None:
            return self._judge(it, incident, verdict)
        return self._refuse(it, incident, "unknown_action", "alertloop does not know that button.")

    # ---- audit ----------------------------------------------------------------------------------

    def _who(self, it: Interaction) -> dict[str, Any]:
        return {"by": it.user_id, "by_name": it.user_name, "at": utcnow(), "via": "slack"}

    def _audit(
        self,
        it: Interaction,
        incident: dict[str, Any],
        outcome: str,
        reason: str,
        *,
        guard: str = "",
        before: Any = None,
        after: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        order = [str(r) for r in incident.get("run_order") or []]
        recorder = Recorder(
            self.ledger,
            self.actor,
            order[-1] if order else "",
            str(incident.get("alert_type", "")),
            str(incident.get("incident_id") or it.value),
        )
        try:
            return recorder.audit(
                action=it.action_id,
                target=f"incident/{incident.get('incident_id') or it.value}",
                outcome=outcome,
                reason=reason,
                before={"value": before} if before is not None else None,
                after={"value": after} if after is not None else None,
                guard=guard,
                extra={
                    "interaction_id": it.id,
                    "slack_user": it.user_id,
                    "slack_user_name": it.user_name,
                    "slack_channel": it.channel,
                    **(extra or {}),
                },
            )
        except LedgerError as exc:
            event(log, "interaction not audited", 40, interaction=it.id, error=str(exc))
            raise

    @property
    def actor(self) -> str:
        return approval_settings().actor

    def _refuse(
        self, it: Interaction, incident: dict[str, Any], guard: str, message: str
    ) -> Outcome:
        audit_id = self._audit(it, incident, "refused", message, guard=guard)
        event(log, "interaction refused", 30, interaction=it.id, user=it.user_id, guard=guard)
        return Outcome("refused", message, audit_id=audit_id)

    def _changed(
        self,
        it: Interaction,
        change: HumanChange,
        done: str,
        unchanged: str,
        *,
        after: Any = None,
    ) -> Outcome:
        if change.outcome == "unknown":
            return self._refuse(it, {}, "unknown", f"No incident {for_mrkdwn(it.value, 80)}.")
        inc_id = str(change.incident.get("incident_id") or it.value)
        if change.outcome == "unchanged":
            audit_id = self._audit(
                it, change.incident, "unchanged", unchanged, before=change.previous
            )
            return Outcome("unchanged", unchanged, audit_id=audit_id)
        audit_id = self._audit(
            it, change.incident, "done", done, before=change.previous, after=after
        )
        return Outcome("done", done, incident_id=inc_id, audit_id=audit_id)

    # ---- the incident buttons -------------------------------------------------------------------

    def _acknowledge(self, it: Interaction, incident: dict[str, Any]) -> Outcome:
        who = self._who(it)
        change = self.ledger.acknowledge_incident(it.value, who)
        owner = change.previous or {}
        return self._changed(
            it,
            change,
            f"Acknowledged: <@{it.user_id}> owns this incident.",
            f"Already acknowledged by <@{owner.get('by', '?')}> at {when(owner.get('at'))}.",
            after=who,
        )

    def _take_over(self, it: Interaction, incident: dict[str, Any]) -> Outcome:
        from shared.outcomes.brake import TAKE_OVER_HOURS

        who = {**self._who(it), "expires_at": utcnow() + timedelta(hours=TAKE_OVER_HOURS)}
        change = self.ledger.take_over_incident(it.value, who)
        holder = change.previous or {}
        return self._changed(
            it,
            change,
            f"<@{it.user_id}> took the incident over: alertloop makes no further change to the "
            "cluster for it — queued ones included. *Resume automation* gives it back.",
            f"Already taken over by <@{holder.get('by', '?')}> at {when(holder.get('at'))}.",
            after=who,
        )

    def _resume(self, it: Interaction, incident: dict[str, Any]) -> Outcome:
        from shared.outcomes.brake import resume_incident_brake

        released = resume_incident_brake(self.ledger, incident, self._who(it))
        change = self.ledger.resume_incident(it.value, self._who(it))
        if released and change.outcome == "unchanged":
            audit_id = self._audit(it, incident, "done", released)
            return Outcome(
                "done", released, incident_id=str(incident.get("incident_id")), audit_id=audit_id
            )
        return self._changed(
            it,
            change,
            f"<@{it.user_id}> resumed automation: alertloop may act on this incident again, "
            "within its guardrails.",
            "Automation was not stopped for this incident: nothing to resume.",
        )

    def _judge(self, it: Interaction, incident: dict[str, Any], value: str) -> Outcome:
        verdict = {**self._who(it), "value": value}
        change = self.ledger.judge_incident(it.value, verdict)
        title = VERDICT_TITLES[value]
        return self._changed(
            it,
            change,
            f"Verdict recorded: *{title}* (by <@{it.user_id}>). Loop health counts it.",
            f"The verdict is already *{title}*.",
            after=verdict,
        )

    def _silence(self, it: Interaction, incident: dict[str, Any], duration: timedelta) -> Outcome:
        confirmed = it.action_id.startswith(SILENCE_WIDE_PREFIX)
        label = it.action_id.removeprefix(SILENCE_WIDE_PREFIX).removeprefix("silence_")
        ours = [s for s in active_silences(incident) if s.get("source") == "alertloop"]
        if ours:
            until = latest_end(ours)
            message = f"Already silenced until {when(until)} by <@{ours[0].get('by', '?')}>."
            audit_id = self._audit(it, incident, "unchanged", message)
            return Outcome("unchanged", message, audit_id=audit_id)
        runs = self._firing_runs(incident)
        if not runs:
            return self._refuse(
                it,
                incident,
                "nothing_firing",
                "No alert of this incident came from Alertmanager and is still firing: there "
                "is nothing to silence.",
            )
        now = utcnow()
        ends = now + duration
        inc_id = str(incident.get("incident_id") or it.value)
        if not confirmed:
            wider = self._wider_than_incident(it, incident, runs, label)
            if wider is not None:
                return wider
        link = incident_link(self.cfg, inc_id, runs[-1].run_id)
        comment = (
            f"Silenced from Slack by {it.user_name or it.user_id} ({it.user_id}) for {label}: "
            f"alertloop incident {inc_id}" + (f" {link}" if link else "")
        )
        created: dict[str, dict[str, Any]] = {}
        error = ""
        for run in runs:
            matchers = exact_matchers(run.alert.labels)
            try:
                sid = self.alertmanager.create_silence(matchers, now, ends, CREATED_BY, comment)
            except AlertmanagerNotConfigured as exc:
                return self._refuse(it, incident, "not_configured", f"{exc}. Nothing was done.")
            except AlertmanagerError as exc:
                error = str(exc)
                break
            created[sid] = {
                "id": sid,
                "matchers": [{"name": m.name, "value": m.value} for m in matchers],
                "by": it.user_id,
                "by_name": it.user_name,
                "at": now,
                "ends_at": ends,
                "status": "active",
                "source": "alertloop",
                "run_id": run.run_id,
                "alert_name": run.alert.name,
            }
        self.ledger.add_silences(inc_id, created)
        if incident.get("silence_pending"):
            self.ledger.update_incident(inc_id, {"silence_pending": None})
        if error and not created:
            audit_id = self._audit(it, incident, "failed", error, guard="alertmanager")
            return Outcome(
                "failed", f"Could not silence: {for_mrkdwn(error, 500)}", audit_id=audit_id
            )
        message = (
            f"Silenced {len(created)} alert(s) in Alertmanager until {when(ends)} "
            f"(createdBy {CREATED_BY}, exact matchers on each alert's labels)."
        )
        if error:
            message += (
                f" {len(runs) - len(created)} could not be silenced: {for_mrkdwn(error, 300)}"
            )
        audit_id = self._audit(
            it,
            incident,
            "done",
            message,
            after={"silences": sorted(created), "ends_at": ends},
            extra={"silence_ids": sorted(created)},
        )
        return Outcome("done", message, incident_id=inc_id, audit_id=audit_id)

    def _wider_than_incident(
        self, it: Interaction, incident: dict[str, Any], runs: list[Run], label: str
    ) -> Outcome | None:
        """Alertmanager mutes every alert whose labels INCLUDE a silence's matchers: ask it
        (GET /api/v2/alerts?filter=...) which alerts these silences would mute. More than the
        incident's: nothing is created; the parent shows them and a second, explicit button."""
        ours = {r.alert.fingerprint for r in runs}
        others: dict[str, dict[str, str]] = {}
        try:
            for run in runs:
                for held in self.alertmanager.alerts(exact_matchers(run.alert.labels)):
                    if held.fingerprint not in ours:
                        others[held.fingerprint] = held.labels
        except AlertmanagerNotConfigured as exc:
            return self._refuse(it, incident, "not_configured", f"{exc}. Nothing was done.")
        except AlertmanagerError as exc:
            return self._refuse(
                it,
                incident,
                "alertmanager",
                f"Could not ask Alertmanager which alerts the silence would mute ({exc}): "
                "nothing was silenced.",
            )
        if not others:
            return None
        inc_id = str(incident.get("incident_id") or it.value)
        shown = [
            ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            for _, labels in sorted(others.items())
        ][:MAX_WIDER_SHOWN]
        self.ledger.update_incident(
            inc_id,
            {
                "silence_pending": {
                    "label": label,
                    "count": len(others),
                    "alerts": shown,
                    "by": it.user_id,
                    "at": utcnow(),
                }
            },
        )
        message = (
            f"Not silenced yet: the silence would also mute {len(others)} alert(s) that are not "
            f"part of this incident ({for_mrkdwn('; '.join(shown), 1500)}). Alertmanager mutes "
            "every alert whose labels include the matchers. To silence them too, click "
            f"*Silence {label} anyway* on the incident."
        )
        audit_id = self._audit(it, incident, "unchanged", message, guard="silence_wider")
        self._reproject(inc_id)
        return Outcome("unchanged", message, incident_id=inc_id, audit_id=audit_id)

    def _unsilence(self, it: Interaction, incident: dict[str, Any]) -> Outcome:
        ours = [s for s in active_silences(incident) if s.get("source") == "alertloop"]
        if not ours:
            message = "alertloop holds no active silence for this incident."
            audit_id = self._audit(it, incident, "unchanged", message)
            return Outcome("unchanged", message, audit_id=audit_id)
        expired: list[str] = []
        error = ""
        for s in ours:
            try:
                self.alertmanager.expire_silence(str(s["id"]))
            except AlertmanagerNotConfigured as exc:
                return self._refuse(it, incident, "not_configured", f"{exc}. Nothing was done.")
            except AlertmanagerError as exc:
                error = str(exc)
                continue
            expired.append(str(s["id"]))
        inc_id = str(incident.get("incident_id") or it.value)
        self.ledger.set_silence_status(
            inc_id, expired, "expired", {"expired_by": it.user_id, "expired_at": utcnow()}
        )
        if not expired:
            audit_id = self._audit(it, incident, "failed", error, guard="alertmanager")
            return Outcome(
                "failed", f"Could not unsilence: {for_mrkdwn(error, 500)}", audit_id=audit_id
            )
        message = f"Unsilenced: {len(expired)} silence(s) expired in Alertmanager."
        if error:
            message += f" Some could not be expired: {for_mrkdwn(error, 300)}"
        audit_id = self._audit(
            it, incident, "done", message, before={"silences": expired}, after={"silences": []}
        )
        return Outcome("done", message, incident_id=inc_id, audit_id=audit_id)

    def _firing_runs(self, incident: dict[str, Any]) -> list[Run]:
        """Runs that came from Alertmanager and still fire (a manual `alertloop fire` has no
        Alertmanager alert: a silence on its labels could only hit other alerts)."""
        runs = incident.get("runs") or {}
        ids = [
            str(r)
            for r in incident.get("run_order") or list(runs)
            if (runs.get(r) or {}).get("status") == "firing"
        ]
        docs = self.ledger.get_runs(ids)
        out = []
        for run_id in ids:
            doc = docs.get(run_id)
            if doc and doc.get("status") == "firing" and doc.get("source") == "alertmanager":
                out.append(Run.from_doc(doc))
        return out

    # ---- rollback proposals ---------------------------------------------------------------------

    def _approval(self, it: Interaction, check: Check) -> Outcome:
        acfg = approval_settings()
        action = Action(
            action_id=it.action_id,
            approval_id=it.value,
            user_id=it.user_id,
            user_name=it.user_name,
            channel=it.channel,
            message_ts=it.message_ts,
            response_url=it.response_url,
        )
        if not check.allowed:
            reason = check.reason
            if check.outcome == "unknown":
                reason = f"alertloop could not verify your permission ({check.reason})"
            decision = refuse_decision(
                action, self.ledger, acfg, "not_approver", f"{reason}. Nothing was decided."
            )
        else:
            decision = decide(action, self.ledger, acfg, permission_checked=True)
            decision = publish_decision(decision, action, self.ledger, self.bus)
        if decision.outcome == "refused":
            return Outcome("refused", decision.message, audit_id=decision.audit_id or "")
        approval = decision.approval
        at = approval.get(f"{decision.outcome}_at")
        record = {
            "id": it.value,
            "outcome": decision.outcome,
            "by": it.user_id,
            "by_name": it.user_name,
            "at": at if isinstance(at, datetime) else utcnow(),
        }
        run_id = str(approval.get("run_id", ""))
        if run_id:
            # Loop health counts a decided proposal as the team acting (a fact, not a guess).
            self.ledger.update_run(run_id, {"approval_decision": record})
        self._replace_proposal_buttons(it, approval, record)
        return Outcome(
            "done", decision.message, audit_id=decision.audit_id or "", details={"record": record}
        )

    def _replace_proposal_buttons(
        self, it: Interaction, approval: dict[str, Any], record: dict[str, Any]
    ) -> None:
        """chat.update the proposal: its Approve/Reject buttons become the decision."""
        from shared.slack.incident import finding_text, render_finding

        run = self.ledger.load_run(str(approval.get("run_id", "")))
        finding = None
        if run is not None:
            finding = next(
                (f for f in reversed(run.findings) if f.details.get("approval_id") == it.value),
                None,
            )
        if run is None or finding is None:
            return
        channel, ts = it.channel, it.message_ts
        slack = (self.ledger.get_incident(run.incident_id) or {}).get("slack") or {}
        posted = (slack.get("replies") or {}).get(f"{run.run_id}:{finding.key}")
        if posted:
            channel, ts = str(slack.get("channel") or channel), str(posted)
        if not channel or not ts:
            return
        blocks = [
            b
            for b in render_finding(finding)
            if not str(b.get("block_id", "")).startswith("approval:")
        ]
        verb = "Approved" if record["outcome"] == "approved" else "Rejected"
        follow = (
            (
                "alertloop re-checks the deployment and its guardrails, then rolls back; the "
                "result follows in this thread."
                if approval.get("action") in ROLLBACK_ACTIONS
                else "alertloop re-checks the workload and its guardrails, then makes exactly "
                "the approved change; the result follows in this thread."
            )
            if record["outcome"] == "approved"
            else "Nothing will change."
        )
        blocks.append(
            render_decision(f":lock: {verb} by <@{it.user_id}> at {when(record['at'])}. {follow}")
        )
        try:
            self.poster.update(channel, ts, finding_text(finding), blocks)
        except Exception as exc:  # the decision stands; the thread reply says so too
            event(log, "cannot update the proposal message", 40, error=str(exc))

    # ---- Slack ----------------------------------------------------------------------------------

    def _reproject(self, incident_id: str) -> None:
        """Update the parent now; if that cannot happen here, notify does it."""
        from shared.notifier import Notifier

        try:
            Notifier(self.cfg, self.ledger, self.poster).project_incident(incident_id)
        except Exception as exc:
            event(log, "parent not updated here; handing it to notify", 30, error=str(exc))
            try:
                self.bus.publish(Outgoing.notify(NotifyMessage(id=incident_id)))
            except PublishError as lost:  # the click is done; the next notify shows it
                event(log, "parent update not queued either", 40, error=str(lost))

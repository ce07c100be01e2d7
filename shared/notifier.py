"""notify's work: project an incident as the ledger has it onto one Slack parent and its thread.

Idempotent by construction: the incident records which parent and which replies exist (replies
keyed by run and finding), and a per-incident lease keeps two deliveries from posting the same
thing at once. A storm's runs report through their group's digest instead: the digest message,
plus one line per action, refusal or proposal in its thread (rolled up past a limit; rollback
proposals and their Approve buttons are always posted).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from shared.config import Settings
from shared.consumer import DROP, Consumer, Delivery
from shared.deps import Deps
from shared.interaction.links import console_url
from shared.lazy import lazy
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.messages import NotifyMessage, parse_notify
from shared.model import Finding
from shared.policy import cached_policy
from shared.run import Run
from shared.slack.client import Poster, SlackPermanentError, make_poster
from shared.slack.controls import render_controls, render_swept
from shared.slack.incident import (
    RunView,
    finding_text,
    parent_text,
    render_digest,
    render_finding,
    render_incident_runs,
    render_notice,
    render_outcome_line,
    render_parent,
    render_reopened,
    render_resolved,
    render_rollup,
    render_unresolved,
)

log = get_logger(__name__)
LEASE_SECONDS = 60
# Lines a storm's digest thread gets before the rest are rolled up into one counted message.
STORM_LINE_LIMIT = 20


def _hash(blocks: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]


def storm_worthy(finding: Finding) -> bool:
    """Findings a storm must still show: every action, refusal, proposal and failure."""
    if finding.stage == "deadletter":
        return True
    if finding.stage not in ("remediate", "rollback"):
        return False
    d = finding.details
    return (
        d.get("action") not in (None, "none")
        or bool(d.get("refused"))
        or finding.status == "error"
        or bool(d.get("approval_id"))
    )


class Notifier(Deps):
    poster = lazy(lambda self: make_poster(self.cfg))

    def __init__(
        self,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        poster: Poster | None = None,
    ) -> None:
        super().__init__(cfg, ledger)
        self.poster = poster

    def view(self, run: Run) -> RunView:
        policy = cached_policy(self.cfg.policy_file)
        _, entry = policy.resolve(run.alert.name)
        alert = run.alert
        if run.resolved and alert.status != "resolved":
            alert = alert.model_copy(update={"status": "resolved"})
        return RunView(
            run_id=run.run_id,
            alert=alert,
            alert_type=run.alert_type,
            state="resolved" if run.resolved else run.state,
            plan=run.plan,
            findings=list(run.findings),
            dry_run=run.dry_run,
            mttr_seconds=run.mttr_seconds,
            run_url=self.cfg.run_url(run.run_id, run.incident_id),
            automatic_action="none (database)" if entry.database else entry.automatic_action,
            follow_up=entry.follow_up,
            flap_count=run.flap_count,
            cluster=run.cluster,
            link_hosts=tuple(policy.link_hosts),
        )

    # ---- entry points ---------------------------------------------------------------------------

    def __call__(self, msg: NotifyMessage) -> None:
        if msg.kind == "group":
            self.project_group(msg.id, msg.run_id)
        else:
            self.project_incident(msg.id)

    def project_run(self, run_id: str) -> None:
        run = self.ledger.load_run(run_id)
        if run is None:
            return
        if run.digest_group:
            self.project_group(run.digest_group, run_id)
        else:
            self.project_incident(run.incident_id or run_id)

    def post_notice(self, text: str) -> None:
        """A message of its own (e.g. a poison message set aside): no run to attach it to."""
        self.poster.post(text, render_notice(text))

    # ---- incidents ------------------------------------------------------------------------------

    def project_incident(self, incident_id: str) -> None:
        from shared.stage import RetryLater

        holder = uuid.uuid4().hex
        lease = f"slack-{incident_id}"
        if not self.ledger.acquire_lease(lease, holder, LEASE_SECONDS):
            raise RetryLater(f"notify for incident {incident_id} is in progress elsewhere")
        try:
            self._project(incident_id)
        except SlackPermanentError as exc:
            # Retrying cannot help (bad token, unknown channel): record it and acknowledge.
            event(log, "slack refused; not retrying", 50, incident=incident_id, error=str(exc))
            self.ledger.update_incident(incident_id, {"slack.error": str(exc)})
        finally:
            self.ledger.release_lease(lease, holder)

    def _project(self, incident_id: str) -> None:
        inc = self.ledger.get_incident(incident_id)
        if inc is None:
            event(log, "no such incident; nothing to notify", 30, incident=incident_id)
            return
        order = [str(r) for r in inc.get("run_order") or []]
        docs = self.ledger.get_runs(order)
        runs = [Run.from_doc(docs[r]) for r in order if r in docs]
        if not runs:
            return
        slack: dict[str, Any] = dict(inc.get("slack") or {})
        # The parent shows the newest alert still firing (the newest one once all resolved),
        # lists the incident's alerts with their states, then what people did and the buttons.
        firing = [r for r in runs if not r.resolved]
        view = self.view(firing[-1] if firing else runs[-1])
        view.flap_count = max(view.flap_count, int(inc.get("flaps") or 0))
        blocks = render_parent(view)
        if len(runs) > 1:
            blocks.extend(render_incident_runs([self.view(r) for r in runs]))
        blocks.extend(render_controls(inc, console_url(self.cfg, incident_id)))
        digest = _hash(blocks)
        text = parent_text(view)
        if not slack.get("ts"):
            channel, ts = self.poster.post(text, blocks)
            slack.update(channel=channel, ts=ts, digest=digest)
            self.ledger.update_incident(
                incident_id, {"slack.channel": channel, "slack.ts": ts, "slack.digest": digest}
            )
            event(log, "slack parent posted", incident=incident_id, ts=ts)
        elif slack.get("digest") != digest:
            self.poster.update(slack["channel"], slack["ts"], text, blocks)
            self.ledger.update_incident(incident_id, {"slack.digest": digest})
            event(log, "slack parent updated", incident=incident_id, state=view.state)
        posted = dict(slack.get("replies") or {})
        for i, run in enumerate(runs):
            for key, reply_text, reply_blocks in self._thread_items(run, first=i == 0):
                full = f"{run.run_id}:{key}"
                if full in posted:
                    continue
                _, ts = self.poster.post(reply_text, reply_blocks, thread_ts=slack["ts"])
                posted[full] = ts
                self.ledger.update_incident(incident_id, {f"slack.replies.{full}": ts})

    def _thread_items(self, run: Run, first: bool) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(key, text, blocks) of every thread reply a run is owed, in the order they happen."""
        view = self.view(run)
        items: list[tuple[str, str, list[dict[str, Any]]]] = []
        if not first:
            text, blocks = render_reopened(view, "")
            items.append(("joined", text, blocks))
        for finding in run.findings:
            items.append((finding.key, finding_text(finding), render_finding(finding)))
        for key, text in sorted(run.outcome_lines.items()):
            items.append((key, text, render_outcome_line(text)))
        for n in range(run.reopened + 1):
            if n > 0:
                text, blocks = render_unresolved(view)
                items.append((f"unresolved:{n}", text, blocks))
            if n < run.reopened or run.resolved:
                if n == run.reopened and run.resolved_by == "sweeper":
                    text, blocks = render_swept(run.alert.name, run.mttr_seconds)
                else:
                    text, blocks = render_resolved(view)
                items.append((f"resolved:{n}", text, blocks))
        return items

    # ---- storms ---------------------------------------------------------------------------------

    def project_group(self, group_id: str, run_id: str = "") -> None:
        """The digest of a storm, and the storm-worthy findings of `run_id` in its thread."""
        from shared.stage import RetryLater

        run = self.ledger.load_run(run_id) if run_id else None
        worthy = [f for f in run.findings if storm_worthy(f)] if run else []
        if run_id and not worthy:
            return  # recorded in the ledger; the digest covers it
        holder = uuid.uuid4().hex
        lease = f"slack-group-{group_id}"
        if not self.ledger.acquire_lease(lease, holder, LEASE_SECONDS):
            raise RetryLater(f"digest for group {group_id} is being rendered elsewhere")
        try:
            self._project_group(group_id, run, worthy)
        except SlackPermanentError as exc:
            event(log, "slack refused; not retrying", 50, group=group_id, error=str(exc))
        finally:
            self.ledger.release_lease(lease, holder)

    def _project_group(self, group_id: str, run: Run | None, worthy: list[Finding]) -> None:
        group = self.ledger.get_group(group_id) or {"group_key": group_id}
        slack = dict(group.get("slack") or {})
        text, blocks = render_digest(group)
        digest = _hash(blocks)
        if not slack.get("ts"):
            channel, ts = self.poster.post(text, blocks)
            slack.update(channel=channel, ts=ts, digest=digest)
            self.ledger.update_group(
                group_id, {"slack.channel": channel, "slack.ts": ts, "slack.digest": digest}
            )
        elif slack.get("digest") != digest:
            self.poster.update(slack["channel"], slack["ts"], text, blocks)
            self.ledger.update_group(group_id, {"slack.digest": digest})
        if run is None:
            return
        posted = dict(slack.get("replies") or {})
        rollup: dict[str, Any] = dict(slack.get("rollup") or {})
        counts: dict[str, int] = dict(rollup.get("counts") or {})
        for finding in worthy:
            key = f"{run.run_id}:{finding.key}"
            if key in posted or key in (rollup.get("keys") or {}):
                continue
            proposal = bool(finding.details.get("approval_id"))
            if len(posted) < STORM_LINE_LIMIT or proposal:
                _, ts = self.poster.post(
                    finding_text(finding), render_finding(finding), thread_ts=slack["ts"]
                )
                posted[key] = ts
                self.ledger.update_group(group_id, {f"slack.replies.{key}": ts})
                continue
            what = str(finding.details.get("action") or finding.stage)
            if finding.details.get("refused"):
                what = f"refused ({(finding.details['refused'] or {}).get('guard', '?')})"
            counts[what] = counts.get(what, 0) + 1
            r_text, r_blocks = render_rollup(counts, STORM_LINE_LIMIT)
            if rollup.get("ts"):
                self.poster.update(slack["channel"], rollup["ts"], r_text, r_blocks)
            else:
                _, rollup["ts"] = self.poster.post(r_text, r_blocks, thread_ts=slack["ts"])
            self.ledger.update_group(
                group_id,
                {
                    "slack.rollup.ts": rollup["ts"],
                    "slack.rollup.counts": counts,
                    f"slack.rollup.keys.{key}": True,
                },
            )


class NotifyConsumer(Consumer[NotifyMessage]):
    """The notify function: a message it cannot read is dropped (nothing to notify about;
    retrying cannot fix it)."""

    name = "notify"
    on_bad_message = DROP
    logger = get_logger("alertloop.notify")
    dropped = "dropped a malformed notify message"
    notifier = lazy(lambda self: Notifier(self._cfg, self.ledger))

    def parse(self, delivery: Delivery) -> NotifyMessage:
        return parse_notify(delivery.raw)

    def handle(self, msg: NotifyMessage) -> None:
        self.notifier(msg)

"""notify's work: project the run's ledger state onto one Slack parent message and its thread.

Idempotent by construction: the ledger records which parent and which replies exist, and a
per-run lease keeps two deliveries from posting the same thing at once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from shared.config import Settings
from shared.deps import Deps
from shared.envelope import Envelope
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.policy import cached_policy
from shared.slack import Poster, SlackPermanentError, make_poster
from shared.slack_render import (
    RunView,
    finding_text,
    parent_text,
    render_digest,
    render_finding,
    render_parent,
    render_reopened,
    render_resolved,
)
from shared.stage import RetryLater

log = get_logger(__name__)
LEASE_SECONDS = 60


class Notifier(Deps):
    def __init__(
        self,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        poster: Poster | None = None,
    ) -> None:
        super().__init__(cfg, ledger)
        self._poster = poster

    @property
    def poster(self) -> Poster:
        if self._poster is None:
            self._poster = make_poster(self.cfg)
        return self._poster

    def view(self, env: Envelope, run: dict[str, Any] | None) -> RunView:
        view = RunView.from_envelope(env, run)
        _, entry = cached_policy(self.cfg.policy_file).resolve(env.alert.name)
        view.automatic_action = "none (database)" if entry.database else entry.automatic_action
        view.follow_up = entry.follow_up
        view.run_url = self.cfg.run_url(env.run_id)
        return view

    def __call__(self, env: Envelope) -> None:
        if env.digest_group:
            self._storm(env)
            return
        holder = uuid.uuid4().hex
        lease = f"slack-{env.run_id}"
        if not self.ledger.acquire_lease(lease, holder, LEASE_SECONDS):
            raise RetryLater(f"notify for run {env.run_id} is in progress elsewhere")
        try:
            self._project(env)
        except SlackPermanentError as exc:
            # Retrying cannot help (bad token, unknown channel): record it and acknowledge.
            event(log, "slack refused; not retrying", 50, run_id=env.run_id, error=str(exc))
            self.ledger.update_run(env.run_id, {"slack.error": str(exc)})
        finally:
            self.ledger.release_lease(lease, holder)

    def _project(self, env: Envelope) -> None:
        run = self.ledger.get_run(env.run_id)
        slack: dict[str, Any] = dict((run or {}).get("slack") or {})
        view = self.view(env, run)
        blocks = render_parent(view)
        digest = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]
        text = parent_text(view)
        if not slack.get("ts") and run and run.get("reopens"):
            slack = self._reopen(env, view, str(run["reopens"]))
        if not slack.get("ts"):
            channel, ts = self.poster.post(text, blocks)
            slack.update(channel=channel, ts=ts, digest=digest)
            self.ledger.update_run(
                env.run_id, {"slack.channel": channel, "slack.ts": ts, "slack.digest": digest}
            )
            event(log, "slack parent posted", run_id=env.run_id, ts=ts)
        elif slack.get("digest") != digest:
            self.poster.update(slack["channel"], slack["ts"], text, blocks)
            self.ledger.update_run(env.run_id, {"slack.digest": digest})
            event(log, "slack parent updated", run_id=env.run_id, state=view.state)
        replies = dict(slack.get("replies") or {})
        for finding in view.findings:
            if finding.stage in replies:
                continue
            _, ts = self.poster.post(
                finding_text(finding), render_finding(finding), thread_ts=slack["ts"]
            )
            replies[finding.stage] = ts
            self.ledger.update_run(env.run_id, {f"slack.replies.{finding.stage}": ts})
        if view.state == "resolved" and "resolved" not in replies:
            text, rblocks = render_resolved(view)
            _, ts = self.poster.post(text, rblocks, thread_ts=slack["ts"])
            self.ledger.update_run(env.run_id, {"slack.replies.resolved": ts})

    def _reopen(self, env: Envelope, view: RunView, previous: str) -> dict[str, Any]:
        """Flapping: continue in the previous run's thread instead of opening a new one."""
        prev_slack = ((self.ledger.get_run(previous) or {}).get("slack")) or {}
        if not prev_slack.get("ts"):
            return {}
        text, blocks = render_reopened(view, previous)
        self.poster.post(text, blocks, thread_ts=prev_slack["ts"])
        slack = {"channel": prev_slack["channel"], "ts": prev_slack["ts"], "reopened": previous}
        self.ledger.update_run(env.run_id, {f"slack.{k}": v for k, v in slack.items()})
        event(log, "flapping alert reopened its thread", run_id=env.run_id, previous=previous)
        return slack

    def _storm(self, env: Envelope) -> None:
        """Runs of a storm share the group's digest. Only the digest message renders it; a
        dead-lettered stage of one of its runs is still told, in the digest's thread."""
        group_id = env.digest_group
        failure = env.finding("deadletter")
        if not env.digest and failure is None:
            return  # recorded in the ledger; the digest covers it
        holder = uuid.uuid4().hex
        lease = f"slack-group-{group_id}"
        if not self.ledger.acquire_lease(lease, holder, LEASE_SECONDS):
            raise RetryLater(f"digest for group {group_id} is being rendered elsewhere")
        try:
            group = self.ledger.get_group(group_id) or {}
            slack = dict(group.get("slack") or {})
            text, blocks = render_digest(group)
            digest = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]
            if not slack.get("ts"):
                channel, ts = self.poster.post(text, blocks)
                slack = {"channel": channel, "ts": ts, "digest": digest}
                self.ledger.update_group(group_id, {"slack": slack})
            elif env.digest and slack.get("digest") != digest:
                self.poster.update(slack["channel"], slack["ts"], text, blocks)
                self.ledger.update_group(group_id, {"slack.digest": digest})
            if failure is not None:
                self.poster.post(
                    finding_text(failure), render_finding(failure), thread_ts=slack["ts"]
                )
        except SlackPermanentError as exc:
            event(log, "slack refused; not retrying", 50, group=group_id, error=str(exc))
        finally:
            self.ledger.release_lease(lease, holder)

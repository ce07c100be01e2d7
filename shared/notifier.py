"""notify's work: project the run's ledger state onto one Slack parent message and its thread.

Idempotent by construction: the ledger records which parent and which replies exist, and a
per-run lease keeps two deliveries from posting the same thing at once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from shared.config import Settings, settings
from shared.envelope import Envelope
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.policy import cached_policy
from shared.slack import Poster, SlackPermanentError, make_poster
from shared.slack_render import (
    RunView,
    finding_text,
    parent_text,
    render_finding,
    render_parent,
    render_resolved,
)
from shared.stage import RetryLater

log = get_logger(__name__)
LEASE_SECONDS = 60


class Notifier:
    def __init__(
        self,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        poster: Poster | None = None,
    ) -> None:
        self._cfg = cfg
        self._ledger = ledger
        self._poster = poster

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger()
        return self._ledger

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

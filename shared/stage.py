"""The stage runner: what every Pub/Sub-triggered stage does around its own work.

decode the pointer (shared.consumer: a bad one is set aside) -> load the run from the ledger ->
guard against stale runs -> claim (run, stage) -> handler(run) -> record the finding in the
ledger -> publish to notify and to the next stage of the plan -> mark forwarded.

Raise to retry, return to acknowledge (python-docs-samples functions/v2). A stage that crashes is
retried by Pub/Sub; after ALERTLOOP_MAX_STAGE_ATTEMPTS its pointer goes to the dead-letter topic.
A handler that fails its own work returns an `error` finding and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.bus import Bus, Outgoing, PublishError
from shared.config import Settings
from shared.consumer import Consumer, Delivery
from shared.dead_lettering import dead_letter
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.messages import NotifyMessage, StageMessage, parse_stage
from shared.model import Finding, utcnow
from shared.run import Run

log = get_logger(__name__)

Handler = Callable[[Run], Finding]


class RetryLater(RuntimeError):
    """Another instance holds this (run, stage); raising makes Pub/Sub redeliver later."""


class StageRunner(Consumer[StageMessage]):
    def __init__(
        self,
        stage: str,
        handler: Handler,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        bus: Bus | None = None,
    ) -> None:
        super().__init__(cfg, ledger, bus)
        self.name = self.stage = stage
        self.handler = handler

    def parse(self, delivery: Delivery) -> StageMessage:
        return parse_stage(delivery.raw)

    def handle(self, msg: StageMessage) -> None:
        self.run(msg)

    def run(self, msg: StageMessage) -> None:
        run = self.ledger.load_run(msg.run_id)
        if run is None:
            # A pointer to nothing (a deleted or foreign run): retrying cannot help.
            event(log, "unknown run; dead-lettering", 40, run_id=msg.run_id, stage=self.stage)
            dead_letter(self.bus, self.stage, msg, f"run {msg.run_id} is not in the ledger", 1)
            return
        run = run.model_copy(update={"force": msg.force, "approval_id": msg.approval_id})
        age = (utcnow() - run.received_at).total_seconds()
        if age > self.cfg.max_event_age_seconds and not msg.force:
            # Acting on a day-old alert is worse than not acting: report only.
            self._report_stale(run, age)
            return
        key = self.claim_key(msg)
        claim = self.ledger.begin(run.run_id, key, self.cfg.stage_timeout_seconds, force=msg.force)
        if claim.outcome == "in_progress":
            raise RetryLater(f"{self.stage} for run {run.run_id} is in progress elsewhere")
        if claim.outcome == "completed":
            if not claim.record.get("forwarded"):
                self._forward_or_give_up(run, msg, claim.record)
                return
            event(log, "duplicate delivery acknowledged", run_id=run.run_id, stage=self.stage)
            return
        event(log, "stage started", run_id=run.run_id, stage=self.stage, attempt=claim.attempts)
        try:
            finding = self.handler(run)
        except Exception as exc:
            self.ledger.fail(run.run_id, key, repr(exc))
            if claim.attempts >= self.cfg.max_stage_attempts:
                event(
                    log,
                    "stage failed; dead-lettering",
                    50,
                    run_id=run.run_id,
                    stage=self.stage,
                    attempts=claim.attempts,
                    error=repr(exc),
                )
                dead_letter(
                    self.bus, self.stage, msg, f"{type(exc).__name__}: {exc}", claim.attempts
                )
                return
            event(
                log,
                "stage failed; will retry",
                40,
                run_id=run.run_id,
                stage=self.stage,
                attempt=claim.attempts,
                error=repr(exc),
            )
            raise
        finding.stage = self.stage
        self.ledger.record_finding(run.run_id, finding, complete=True, claim_key=key)
        self._forward_or_give_up(run, msg, {})
        event(
            log,
            "stage finished",
            run_id=run.run_id,
            stage=self.stage,
            status=finding.status,
            seconds=round(finding.duration_seconds, 3),
        )

    def claim_key(self, msg: StageMessage) -> str:
        """One execution per (run, stage) — per approval for the rollback stage: a second
        proposal of the same run, approved later, is a different rollback."""
        return f"{self.stage}:{msg.approval_id}" if msg.approval_id else self.stage

    def _forward_or_give_up(self, run: Run, msg: StageMessage, record: dict[str, Any]) -> None:
        """Publishing onward can fail for reasons of its own (a missing topic, a revoked
        permission). Those failures count as attempts too, so they end in the dead-letter
        topic instead of being retried forever."""
        try:
            self._forward(run, self.claim_key(msg))
        except PublishError as exc:
            failures = int(record.get("forward_failures", 0)) + 1
            self.ledger.mark(run.run_id, self.claim_key(msg), {"forward_failures": failures})
            if failures >= self.cfg.max_stage_attempts:
                event(
                    log,
                    "cannot publish onward; dead-lettering",
                    50,
                    run_id=run.run_id,
                    stage=self.stage,
                    failures=failures,
                    error=str(exc),
                )
                dead_letter(self.bus, self.stage, msg, f"could not publish onward: {exc}", failures)
                return
            event(
                log,
                "publishing onward failed; will retry",
                40,
                run_id=run.run_id,
                stage=self.stage,
                failures=failures,
                error=str(exc),
            )
            raise

    def _forward(self, run: Run, key: str) -> None:
        out = [Outgoing.notify(notify_for(run))]
        # An approved proposal executed by its stage is a side trip: the plan went on already.
        nxt = None if run.approval_id else run.next_stage(self.stage)
        if nxt:
            out.append(Outgoing.stage(StageMessage(run_id=run.run_id, stage=nxt)))
        self.bus.publish_many(out)
        self.ledger.mark(run.run_id, key, {"forwarded": True})

    def _report_stale(self, run: Run, age: float) -> None:
        finding = Finding(
            stage=self.stage,
            status="skipped",
            summary=(
                f"Not acted on: this run is {age / 3600:.1f} h old (limit "
                f"{self.cfg.max_event_age_seconds / 3600:.1f} h). Replay it with --force "
                "if it still matters."
            ),
            details={"stale": True, "age_seconds": age},
        )
        self.ledger.record_finding(run.run_id, finding)
        self.bus.publish(Outgoing.notify(notify_for(run)))


def notify_for(run: Run) -> NotifyMessage:
    """A storm's runs report through their group's digest; every other run, its incident."""
    if run.digest_group:
        return NotifyMessage(kind="group", id=run.digest_group, run_id=run.run_id)
    return NotifyMessage(id=run.incident_id or run.run_id, run_id=run.run_id)

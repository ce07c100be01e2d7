"""The stage runner: what every Pub/Sub-triggered stage does around its own analysis.

decode -> guard against stale events -> claim (run, stage) -> handler -> record the finding
-> publish to notify and to the next stage of the plan -> mark forwarded.

Raise to retry, return to acknowledge (python-docs-samples functions/v2). A stage that crashes is
retried by Pub/Sub; after ALERTLOOP_MAX_STAGE_ATTEMPTS the envelope goes to the dead-letter topic.
A handler that fails its own work returns an `error` finding and the run goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from shared.bus import Bus, Outgoing, PublishError
from shared.config import Settings
from shared.deps import Deps
from shared.envelope import Envelope, Finding, Stage, utcnow
from shared.ledger import Ledger
from shared.log import event, get_logger

log = get_logger(__name__)

Handler = Callable[[Envelope], Finding]


class RetryLater(RuntimeError):
    """Another instance holds this (run, stage); raising makes Pub/Sub redeliver later."""


class PoisonMessage(ValueError):
    """The message can never be processed (not an envelope); it is dead-lettered at once."""


def message_data(cloud_event: Any) -> tuple[bytes, dict[str, str]]:
    """(payload bytes, attributes) from a Pub/Sub CloudEvent (push-converted or Eventarc)."""
    data = cloud_event.data if hasattr(cloud_event, "data") else cloud_event
    try:
        message = data["message"]
        raw = base64.b64decode(message.get("data") or "", validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise PoisonMessage(f"not a Pub/Sub message: {exc}") from exc
    return raw, dict(message.get("attributes") or {})


def decode(cloud_event: Any) -> Envelope:
    raw, _ = message_data(cloud_event)
    try:
        return Envelope.from_bytes(raw)
    except (ValidationError, ValueError) as exc:
        raise PoisonMessage(f"not an alertloop envelope: {str(exc)[:500]}") from exc


class StageRunner(Deps):
    def __init__(
        self,
        stage: str,
        handler: Handler,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        bus: Bus | None = None,
    ) -> None:
        super().__init__(cfg, ledger, bus)
        self.stage = stage
        self.handler = handler

    def __call__(self, cloud_event: Any) -> None:
        try:
            env = decode(cloud_event)
        except PoisonMessage as exc:
            self._dead_letter_poison(cloud_event, str(exc))
            return
        self.run(env)

    def run(self, env: Envelope) -> None:
        age = (utcnow() - env.received_at).total_seconds()
        if age > self.cfg.max_event_age_seconds and not env.force:
            # Acting on a day-old alert is worse than not acting: report only.
            self._report_stale(env, age)
            return
        claim = self.ledger.begin(
            env.run_id, self.stage, self.cfg.stage_timeout_seconds, force=env.force
        )
        if claim.outcome == "in_progress":
            raise RetryLater(f"{self.stage} for run {env.run_id} is in progress elsewhere")
        if claim.outcome == "completed":
            if not claim.record.get("forwarded"):
                finding = Finding.model_validate(claim.record.get("result") or {})
                self._forward_or_give_up(env, finding, claim.record)
                return
            event(log, "duplicate delivery acknowledged", run_id=env.run_id, stage=self.stage)
            return
        event(log, "stage started", run_id=env.run_id, stage=self.stage, attempt=claim.attempts)
        try:
            finding = self.handler(env)
        except Exception as exc:
            self.ledger.fail(env.run_id, self.stage, repr(exc))
            if claim.attempts >= self.cfg.max_stage_attempts:
                event(
                    log,
                    "stage failed; dead-lettering",
                    50,
                    run_id=env.run_id,
                    stage=self.stage,
                    attempts=claim.attempts,
                    error=repr(exc),
                )
                self._dead_letter(env, f"{type(exc).__name__}: {exc}", claim.attempts)
                return
            event(
                log,
                "stage failed; will retry",
                40,
                run_id=env.run_id,
                stage=self.stage,
                attempt=claim.attempts,
                error=repr(exc),
            )
            raise
        finding.stage = self.stage
        self.ledger.record_finding(env.run_id, finding, complete=True)
        self._forward_or_give_up(env, finding, {})
        event(
            log,
            "stage finished",
            run_id=env.run_id,
            stage=self.stage,
            status=finding.status,
            seconds=round(finding.duration_seconds, 3),
        )

    def _forward_or_give_up(self, env: Envelope, finding: Finding, record: dict[str, Any]) -> None:
        """Publishing onward can fail for reasons of its own (a missing topic, a revoked
        permission). Those failures count as attempts too, so they end in the dead-letter
        topic instead of being retried forever."""
        try:
            self._forward(env, finding)
        except PublishError as exc:
            failures = int(record.get("forward_failures", 0)) + 1
            self.ledger.mark(env.run_id, self.stage, {"forward_failures": failures})
            if failures >= self.cfg.max_stage_attempts:
                event(
                    log,
                    "cannot publish onward; dead-lettering",
                    50,
                    run_id=env.run_id,
                    stage=self.stage,
                    failures=failures,
                    error=str(exc),
                )
                self._dead_letter(env, f"could not publish onward: {exc}", failures)
                return
            event(
                log,
                "publishing onward failed; will retry",
                40,
                run_id=env.run_id,
                stage=self.stage,
                failures=failures,
                error=str(exc),
            )
            raise

    def _forward(self, env: Envelope, finding: Finding) -> None:
        updated = env.model_copy(update={"findings": [*env.findings, finding], "force": False})
        out = [Outgoing(Stage.NOTIFY, updated)]
        nxt = env.next_stage(self.stage)
        if nxt:
            out.append(Outgoing(nxt, updated))
        self.bus.publish_many(out)
        self.ledger.mark(env.run_id, self.stage, {"forwarded": True})

    def _report_stale(self, env: Envelope, age: float) -> None:
        finding = Finding(
            stage=self.stage,
            status="skipped",
            summary=(
                f"Not acted on: this message is {age / 3600:.1f} h old (limit "
                f"{self.cfg.max_event_age_seconds / 3600:.1f} h). Replay it with --force "
                "if it still matters."
            ),
            details={"stale": True, "age_seconds": age},
        )
        updated = env.model_copy(update={"findings": [*env.findings, finding]})
        self.bus.publish(Stage.NOTIFY, updated)

    def _dead_letter(self, env: Envelope, error: str, attempts: int) -> None:
        data = json.dumps(
            {
                "stage": self.stage,
                "error": error[:2000],
                "attempts": attempts,
                "envelope": json.loads(env.model_dump_json()),
            }
        ).encode()
        self.bus.publish_raw(
            Stage.DEADLETTER, data, run_id=env.run_id, stage=self.stage, reason="failed"
        )

    def _dead_letter_poison(self, cloud_event: Any, error: str) -> None:
        try:
            raw, attrs = message_data(cloud_event)
        except PoisonMessage:
            raw, attrs = json.dumps(getattr(cloud_event, "data", None), default=str).encode(), {}
        event(log, "poison message dead-lettered", 50, stage=self.stage, error=error)
        data = json.dumps(
            {
                "stage": self.stage,
                "error": error,
                "attempts": 1,
                "raw": raw.decode("utf-8", "replace")[:100_000],
                "attributes": attrs,
            }
        ).encode()
        self.bus.publish_raw(
            Stage.DEADLETTER,
            data,
            stage=self.stage,
            reason="poison",
            run_id=attrs.get("run_id", ""),
        )

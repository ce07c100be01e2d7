"""`alertloop replay RUN_ID [--from STAGE] [--force]`: put a run back in flight.

A replay publishes a pointer to the run (the ledger holds everything else) to STAGE's topic
(default: the plan's first stage; `--from notify` re-projects the run's incident onto Slack).
Without --force the per-(run, stage) idempotency records make this safe: completed stages
acknowledge and forward without re-running. --force re-runs completed stages; guardrails still
apply (and re-check the run: a resolved or taken-over run is refused, audited).
"""

from __future__ import annotations

from typing import Any, TextIO

from shared.bus import Bus, Outgoing
from shared.config import Settings
from shared.ledger import Ledger
from shared.messages import StageMessage
from shared.model import PLAN_STAGES, Stage, utcnow
from shared.replay.errors import OK, USAGE, ReplayError
from shared.run import Run
from shared.stage import notify_for

# Stages a run can be replayed into: the plan stages, and notify (re-project onto Slack).
REPLAYABLE = (*(s.value for s in PLAN_STAGES), Stage.NOTIFY.value)


def choose_stage(run: Run, requested: str | None) -> str:
    if requested is None:
        return run.plan[0] if run.plan else Stage.NOTIFY.value
    if requested == Stage.NOTIFY or requested in run.plan:
        return requested
    choices = ", ".join([*run.plan, "notify"])
    raise ReplayError(
        f"stage {requested!r} is not in run {run.run_id}'s plan; choose one of: {choices}", USAGE
    )


def mark_replayed(ledger: Ledger, run: Run, stage: str, how: dict[str, Any]) -> None:
    """Record the replay on the run (and on its failure record, if that stage had failed)."""
    doc = ledger.get_run(run.run_id) or {}
    now = utcnow()
    fields: dict[str, Any] = {"last_replay": {**how, "stage": stage, "at": now}}
    if how.get("force"):
        # A forced replay may write again (guardrails permitting): a fresh write identity.
        fields["force_count"] = int(doc.get("force_count") or 0) + 1
    if stage in (doc.get("failures") or {}):
        fields[f"failures.{stage}.replayed_at"] = now
        fields[f"failures.{stage}.replayed"] = True
    ledger.update_run(run.run_id, fields)
    if stage != Stage.NOTIFY:
        rec = ledger.idempotency_record(run.run_id, stage) or {}
        if rec.get("state") == "failed":
            # The operator fixed the cause: the replayed stage gets a fresh retry budget instead
            # of dead-lettering again on its first failure.
            ledger.mark(run.run_id, stage, {"attempts": 0})


def replay_run(
    run_id: str,
    from_stage: str | None,
    force: bool,
    ledger: Ledger,
    bus: Bus,
    out: TextIO,
    cfg: Settings,
) -> int:
    run = ledger.load_run(run_id)
    if run is None:
        raise ReplayError(
            f"no run {run_id!r} in the ledger (collection {cfg.collection_prefix}runs, "
            f"project {cfg.project})"
        )
    stage = choose_stage(run, from_stage)
    # Recorded first: a forced stage reads its fresh write identity (force_count) from the run.
    mark_replayed(ledger, run, stage, {"force": force, "source": "cli"})
    if stage == Stage.NOTIFY:
        msg_id = bus.publish(Outgoing.notify(notify_for(run)))
    else:
        msg_id = bus.publish(Outgoing.stage(StageMessage(run_id=run_id, stage=stage, force=force)))
    done = [f.stage for f in run.findings]
    print(
        f"published run {run_id} to {cfg.topic_path(stage)} (message {msg_id}): "
        f"plan {' -> '.join([*run.plan, 'notify'])}, recorded findings {done or 'none'}, "
        f"force={str(force).lower()}",
        file=out,
    )
    if not force and stage != Stage.NOTIFY:
        print(
            "without --force, stages that already completed acknowledge and forward "
            "without re-running",
            file=out,
        )
    age = (utcnow() - run.received_at).total_seconds()
    if age > cfg.max_event_age_seconds and not force and stage != Stage.NOTIFY:
        print(
            f"note: the run is {age / 3600:.1f} h old (limit "
            f"{cfg.max_event_age_seconds / 3600:.1f} h): stages will report it as stale "
            "unless you replay with --force",
            file=out,
        )
    return OK

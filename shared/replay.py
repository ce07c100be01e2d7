"""`alertloop replay`: put a run, the dead letters, or a subscription's backlog back in flight.

Three modes, one subcommand:

  alertloop replay RUN_ID [--from STAGE] [--force]
      Rebuild the run's envelope from the ledger and publish it to STAGE's topic (default: the
      plan's first stage; `--from notify` re-projects the run onto Slack). Without --force the
      per-(run, stage) idempotency records make this safe: completed stages acknowledge and
      forward without re-running. --force re-runs completed stages; guardrails still apply.
  alertloop replay --dead-letters [--limit N] [--dry-run]   |   --list-dead-letters
      Drain the dead-letter topic through an extra pull subscription (`<prefix>deadletter-replay`,
      so the deadletter function's push subscription loses nothing) back to the stage topics.
  alertloop replay --seek SUB (--to-time ISO8601 | --to-snapshot NAME)
  alertloop replay --create-snapshot NAME --subscription SUB
      Pub/Sub seek and snapshots.

Exit codes: 0 done, 1 nothing to do / not found, 2 usage or configuration error (including an
unreachable Pub/Sub or Firestore).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from shared.bus import Bus, PublishError
from shared.config import Settings, settings
from shared.deadletters import parse_dead_letter
from shared.envelope import PLAN_STAGES, Alert, Envelope, Finding, Stage, utcnow
from shared.ledger import Ledger, LedgerError

STACK_FILE = Path(".stack/stack.json")  # written by `make run`
# stack.json key -> environment variable it fills when the environment leaves it unset.
STACK_ENV_KEYS = {
    "pubsub_host": "PUBSUB_EMULATOR_HOST",
    "firestore_host": "FIRESTORE_EMULATOR_HOST",
    "project": "GOOGLE_CLOUD_PROJECT",
}
DEAD_LETTER_SUBSCRIPTION = "deadletter-replay"  # after the topic prefix
PULL_BATCH = 100
PULL_TIMEOUT_SECONDS = 5.0

OK, NOTHING, USAGE = 0, 1, 2

# Stages a run can be replayed into: the plan stages, and notify (re-project onto Slack).
REPLAYABLE = (*(s.value for s in PLAN_STAGES), Stage.NOTIFY.value)


class ReplayError(RuntimeError):
    """Replay cannot proceed; `code` is the exit code to return."""

    def __init__(self, message: str, code: int = NOTHING) -> None:
        super().__init__(message)
        self.code = code


# ---- configuration ------------------------------------------------------------------------------


def load_stack_env(path: Path = STACK_FILE, environ: Any = None) -> list[str]:
    """Fill unset emulator/project variables from the local stack file; returns what was set."""
    env = os.environ if environ is None else environ
    if not path.exists():
        return []
    try:
        local = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReplayError(f"cannot read {path}: {exc}", USAGE) from exc
    if not isinstance(local, dict):
        raise ReplayError(f"{path} is not a JSON object", USAGE)
    filled = []
    for key, var in STACK_ENV_KEYS.items():
        value = local.get(key)
        if isinstance(value, str) and value and not env.get(var):
            env[var] = value
            filled.append(var)
    if filled:
        settings.cache_clear()
    return filled


# ---- replaying one run ----------------------------------------------------------------------


def envelope_from_run(run: dict[str, Any], from_stage: str, force: bool) -> Envelope:
    """The envelope a run had when it reached `from_stage`: findings of the stages before it."""
    plan = [str(s) for s in run.get("plan") or []]
    recorded: dict[str, Any] = dict(run.get("findings") or {})
    # notify renders everything the run has; a stage sees what the stages before it found.
    before = plan if from_stage == Stage.NOTIFY else plan[: plan.index(from_stage)]
    findings = [Finding.model_validate(recorded[s]) for s in before if recorded.get(s)]
    received = run.get("received_at")
    return Envelope(
        run_id=str(run["run_id"]),
        source="replay",
        received_at=received if isinstance(received, datetime) else utcnow(),
        alert=Alert.model_validate(run["alert"]),
        alert_type=str(run.get("alert_type") or run["alert"]["name"]),
        plan=plan,
        action=str(run.get("action") or "auto"),
        dry_run=bool(run.get("dry_run")),
        findings=findings,
        force=force,
    )


def choose_stage(run: dict[str, Any], requested: str | None) -> str:
    plan = [str(s) for s in run.get("plan") or []]
    if requested is None:
        return plan[0] if plan else Stage.NOTIFY.value
    if requested == Stage.NOTIFY or requested in plan:
        return requested
    choices = ", ".join([*plan, "notify"])
    raise ReplayError(
        f"stage {requested!r} is not in run {run.get('run_id')}'s plan; choose one of: {choices}",
        USAGE,
    )


def _mark_replayed(ledger: Ledger, run: dict[str, Any], stage: str, how: dict[str, Any]) -> None:
    """Record the replay on the run (and on its failure record, if that stage had failed)."""
    run_id = str(run["run_id"])
    now = utcnow()
    fields: dict[str, Any] = {"last_replay": {**how, "stage": stage, "at": now}}
    failures = run.get("failures") or {}
    if stage in failures:
        fields[f"failures.{stage}.replayed_at"] = now
        fields[f"failures.{stage}.replayed"] = True
    ledger.update_run(run_id, fields)
    if stage != Stage.NOTIFY:
        rec = ledger.idempotency_record(run_id, stage) or {}
        if rec.get("state") == "failed":
            # The operator fixed the cause: the replayed stage gets a fresh retry budget instead
            # of dead-lettering again on its first failure.
            ledger.mark(run_id, stage, {"attempts": 0})


def replay_run(
    run_id: str,
    from_stage: str | None,
    force: bool,
    ledger: Ledger,
    bus: Bus,
    out: TextIO,
    cfg: Settings,
) -> int:
    run = ledger.get_run(run_id)
    if run is None:
        raise ReplayError(
            f"no run {run_id!r} in the ledger (collection {cfg.collection_prefix}runs, "
            f"project {cfg.project})"
        )
    stage = choose_stage(run, from_stage)
    env = envelope_from_run(run, stage, force)
    age = (utcnow() - env.received_at).total_seconds()
    msg_id = bus.publish(stage, env)
    _mark_replayed(ledger, run, stage, {"force": force, "source": "cli"})
    done = [f.stage for f in env.findings]
    print(
        f"published run {run_id} to {cfg.topic_path(stage)} (message {msg_id}): "
        f"plan {' -> '.join([*env.plan, 'notify'])}, carried findings {done or 'none'}, "
        f"force={str(force).lower()}",
        file=out,
    )
    if not force and stage != Stage.NOTIFY:
        print(
            "without --force, stages that already completed acknowledge and forward "
            "without re-running",
            file=out,
        )
    if age > cfg.max_event_age_seconds and not force and stage != Stage.NOTIFY:
        print(
            f"note: the run is {age / 3600:.1f} h old (limit "
            f"{cfg.max_event_age_seconds / 3600:.1f} h): stages will report it as stale "
            "unless you replay with --force",
            file=out,
        )
    return OK


# ---- dead letters -------------------------------------------------------------------------------


def _subscriber() -> Any:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    return pubsub_v1.SubscriberClient()


def subscription_path(cfg: Settings, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{cfg.project}/subscriptions/{name}"


def snapshot_path(cfg: Settings, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{cfg.project}/snapshots/{name}"


def ensure_dead_letter_subscription(cfg: Settings, subscriber: Any) -> tuple[str, bool]:
    """(path, created): the extra pull subscription on the dead-letter topic."""
    from google.api_core import exceptions as gexc

    path = subscription_path(cfg, f"{cfg.topic_prefix}{DEAD_LETTER_SUBSCRIPTION}")
    try:
        subscriber.create_subscription(
            request={
                "name": path,
                "topic": cfg.topic_path(Stage.DEADLETTER),
                "ack_deadline_seconds": 60,
                "message_retention_duration": {"seconds": 7 * 24 * 3600},
            }
        )
    except gexc.AlreadyExists:
        return path, False
    return path, True


@dataclass
class DrainReport:
    replayed: list[str] = field(default_factory=list)
    poison_stored: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.replayed) + len(self.poison_stored) + len(self.left)


def _store_poison(ledger: Ledger, message_id: str, record: dict[str, Any]) -> None:
    # Same document id as the deadletter function uses (the message id): storing twice is a no-op.
    ledger.client.collection(f"{ledger.cfg.collection_prefix}deadletters").document(message_id).set(
        {
            "stage": record["stage"],
            "error": record["error"],
            "raw": record["raw"],
            "at": utcnow(),
            "reason": record["reason"],
        }
    )


def drain_dead_letters(
    cfg: Settings,
    ledger: Ledger,
    bus: Bus,
    out: TextIO,
    limit: int,
    dry_run: bool,
    subscriber: Any = None,
) -> DrainReport:
    sub = subscriber or _subscriber()
    path, created = ensure_dead_letter_subscription(cfg, sub)
    if created:
        print(
            f"created pull subscription {path}; it holds dead letters published from now on "
            "(create it with the deployment to keep every one)",
            file=out,
        )
    report = DrainReport()
    runs: dict[str, dict[str, Any] | None] = {}
    while report.seen < limit:
        resp = sub.pull(
            request={"subscription": path, "max_messages": min(PULL_BATCH, limit - report.seen)},
            timeout=PULL_TIMEOUT_SECONDS,
        )
        if not resp.received_messages:
            break
        ack: list[str] = []
        nack: list[str] = []
        for received in resp.received_messages:
            msg = received.message
            attrs = dict(msg.attributes)
            record = parse_dead_letter(bytes(msg.data), attrs)
            env: Envelope | None = record["envelope"]
            stage = record["stage"]
            label = f"message {msg.message_id}: stage {stage}"
            if env is not None and stage in REPLAYABLE:
                replay = env.model_copy(update={"force": False})
                if dry_run:
                    print(f"would replay run {env.run_id} to {stage} ({label})", file=out)
                    report.left.append(msg.message_id)
                    nack.append(received.ack_id)
                    continue
                try:
                    bus.publish(stage, replay)
                except PublishError as exc:
                    print(f"could not replay run {env.run_id} to {stage}: {exc}", file=out)
                    report.left.append(msg.message_id)
                    nack.append(received.ack_id)
                    continue
                if env.run_id not in runs:
                    runs[env.run_id] = ledger.get_run(env.run_id)
                run = runs[env.run_id]
                if run is not None:
                    _mark_replayed(ledger, run, stage, {"force": False, "source": "dead-letters"})
                print(f"replayed run {env.run_id} to {cfg.topic_path(stage)} ({label})", file=out)
                report.replayed.append(msg.message_id)
                ack.append(received.ack_id)
                continue
            # Poison (or a stage we cannot replay into): list it, keep it.
            raw = record["raw"][:200].replace("\n", " ")
            print(f"poison {label}: {record['error'][:300]}; raw: {raw!r}", file=out)
            if dry_run:
                report.left.append(msg.message_id)
                nack.append(received.ack_id)
                continue
            try:
                _store_poison(ledger, msg.message_id, record)
            except Exception as exc:  # any store failure: leave the message on the subscription
                print(f"  could not store it ({exc}); left on {path}", file=out)
                report.left.append(msg.message_id)
                nack.append(received.ack_id)
                continue
            print(
                f"  stored as dead letter {msg.message_id} "
                "(see `alertloop replay --list-dead-letters`)",
                file=out,
            )
            report.poison_stored.append(msg.message_id)
            ack.append(received.ack_id)
        if ack:
            sub.acknowledge(request={"subscription": path, "ack_ids": ack})
        if nack:
            sub.modify_ack_deadline(
                request={"subscription": path, "ack_ids": nack, "ack_deadline_seconds": 0}
            )
        if dry_run:
            break  # nacked messages come straight back: one pass is the whole listing
    return report


def list_dead_letters(ledger: Ledger, out: TextIO, limit: int) -> int:
    col = ledger.client.collection(f"{ledger.cfg.collection_prefix}deadletters")
    docs = list(col.limit(limit).stream())
    if not docs:
        print("no poison messages stored", file=out)
        return NOTHING
    for doc in docs:
        d = doc.to_dict() or {}
        at = d.get("at")
        when = at.isoformat() if isinstance(at, datetime) else str(at or "")
        raw = str(d.get("raw", ""))[:200].replace("\n", " ")
        print(
            f"{doc.id}  {when}  stage={d.get('stage', '?')}  reason={d.get('reason', '?')}\n"
            f"  error: {str(d.get('error', ''))[:300]}\n  raw: {raw!r}",
            file=out,
        )
    return OK


# ---- seek and snapshots -------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"--to-time needs an ISO 8601 time, got {text!r}", USAGE) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def seek(
    cfg: Settings, out: TextIO, sub_name: str, when: str, snapshot: str, subscriber: Any
) -> int:
    from google.protobuf import timestamp_pb2

    path = subscription_path(cfg, sub_name)
    request: dict[str, Any] = {"subscription": path}
    if when:
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(parse_time(when).astimezone(UTC).replace(tzinfo=None))
        request["time"] = ts
        target = f"time {parse_time(when).isoformat()}"
    else:
        request["snapshot"] = snapshot_path(cfg, snapshot)
        target = f"snapshot {request['snapshot']}"
    subscriber.seek(request=request)
    print(f"seeked {path} to {target}", file=out)
    return OK


def create_snapshot(cfg: Settings, out: TextIO, name: str, sub_name: str, subscriber: Any) -> int:
    snap = subscriber.create_snapshot(
        request={"name": snapshot_path(cfg, name), "subscription": subscription_path(cfg, sub_name)}
    )
    print(f"created snapshot {snap.name} of {subscription_path(cfg, sub_name)}", file=out)
    return OK


# ---- the command --------------------------------------------------------------------------------


def add_replay_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help="re-publish a run, drain dead letters, or seek a subscription",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_id", nargs="?", help="the run to replay (from the Slack notice)")
    p.add_argument(
        "--from",
        dest="from_stage",
        choices=REPLAYABLE,
        help="stage to replay from (default: the plan's first stage; notify re-projects Slack)",
    )
    p.add_argument(
        "--force", action="store_true", help="re-run stages that already completed (guarded)"
    )
    p.add_argument(
        "--dead-letters",
        action="store_true",
        help="drain the dead-letter subscription back to the stage topics",
    )
    p.add_argument("--limit", type=int, default=100, help="at most N dead letters (default 100)")
    p.add_argument(
        "--dry-run", action="store_true", help="with --dead-letters: list, publish nothing"
    )
    p.add_argument(
        "--list-dead-letters",
        action="store_true",
        help="list stored poison messages (the deadletters collection)",
    )
    p.add_argument("--seek", metavar="SUBSCRIPTION", help="seek a subscription")
    p.add_argument("--to-time", metavar="ISO8601", default="", help="with --seek")
    p.add_argument("--to-snapshot", metavar="NAME", default="", help="with --seek")
    p.add_argument("--create-snapshot", metavar="NAME", help="snapshot a subscription")
    p.add_argument("--subscription", metavar="SUB", default="", help="with --create-snapshot")
    p.set_defaults(func=cmd_replay)
    return p


def _mode(args: argparse.Namespace) -> str:
    modes = [
        name
        for name, on in (
            ("run", bool(args.run_id)),
            ("dead-letters", args.dead_letters),
            ("list", args.list_dead_letters),
            ("seek", bool(args.seek)),
            ("snapshot", bool(args.create_snapshot)),
        )
        if on
    ]
    if len(modes) != 1:
        raise ReplayError(
            "give exactly one of: RUN_ID, --dead-letters, --list-dead-letters, --seek, "
            "--create-snapshot",
            USAGE,
        )
    mode = modes[0]
    if (args.from_stage or args.force) and mode != "run":
        raise ReplayError("--from and --force apply to RUN_ID only", USAGE)
    if args.dry_run and mode != "dead-letters":
        raise ReplayError("--dry-run applies to --dead-letters only", USAGE)
    if args.limit < 1:
        raise ReplayError("--limit must be at least 1", USAGE)
    if mode == "seek" and bool(args.to_time) == bool(args.to_snapshot):
        raise ReplayError("--seek needs exactly one of --to-time or --to-snapshot", USAGE)
    if mode != "seek" and (args.to_time or args.to_snapshot):
        raise ReplayError("--to-time/--to-snapshot apply to --seek only", USAGE)
    if mode == "snapshot" and not args.subscription:
        raise ReplayError("--create-snapshot needs --subscription SUB", USAGE)
    if mode != "snapshot" and args.subscription:
        raise ReplayError("--subscription applies to --create-snapshot only", USAGE)
    return mode


def run_replay(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ledger: Ledger | None = None,
    bus: Bus | None = None,
    subscriber_factory: Callable[[], Any] = _subscriber,
) -> int:
    """The command's body, with injectable clients and streams (tests call this)."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    from google.api_core import exceptions as gexc

    try:
        mode = _mode(args)
        load_stack_env()
        try:
            cfg = settings()
        except ValueError as exc:
            raise ReplayError(f"configuration: {exc}", USAGE) from exc
        led = ledger or Ledger(cfg)
        if mode == "run":
            return replay_run(
                args.run_id, args.from_stage, args.force, led, bus or Bus(cfg), stdout, cfg
            )
        if mode == "list":
            return list_dead_letters(led, stdout, args.limit)
        subscriber = subscriber_factory()
        if mode == "dead-letters":
            report = drain_dead_letters(
                cfg, led, bus or Bus(cfg), stdout, args.limit, args.dry_run, subscriber
            )
            print(
                f"{len(report.replayed)} replayed, {len(report.poison_stored)} poison stored, "
                f"{len(report.left)} left on the subscription",
                file=stdout,
            )
            return OK if report.seen else NOTHING
        if mode == "seek":
            return seek(cfg, stdout, args.seek, args.to_time, args.to_snapshot, subscriber)
        return create_snapshot(cfg, stdout, args.create_snapshot, args.subscription, subscriber)
    except ReplayError as exc:
        print(f"alertloop replay: {exc}", file=stderr)
        return exc.code
    except gexc.NotFound as exc:
        print(f"alertloop replay: not found: {exc.message}", file=stderr)
        return NOTHING
    except (gexc.GoogleAPIError, LedgerError, PublishError) as exc:
        print(f"alertloop replay: Pub/Sub or Firestore refused: {exc}", file=stderr)
        return USAGE


def cmd_replay(args: argparse.Namespace) -> int:
    return run_replay(args)

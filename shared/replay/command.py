"""`alertloop replay`: put a run, the dead letters, or a subscription's backlog back in flight.

  alertloop replay RUN_ID [--from STAGE] [--force]          (shared.replay.runs)
  alertloop replay --dead-letters [--limit N] [--dry-run]   (shared.replay.dead_letter_replay)
  alertloop replay --list-dead-letters
  alertloop replay --seek SUB (--to-time ISO8601 | --to-snapshot NAME)   (shared.replay.seek)
  alertloop replay --create-snapshot NAME --subscription SUB

Exit codes: 0 done, 1 nothing to do / not found, 2 usage or configuration error (including an
unreachable Pub/Sub or Firestore).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from shared.bus import Bus, PublishError
from shared.config import settings
from shared.ledger import Ledger, LedgerError
from shared.replay.dead_letter_replay import (
    drain_dead_letters,
    list_dead_letters,
    subscriber_client,
)
from shared.replay.errors import NOTHING, OK, USAGE, ReplayError
from shared.replay.runs import REPLAYABLE, replay_run
from shared.replay.seek import create_snapshot, seek
from shared.replay.stack import load_stack_env


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
    subscriber_factory: Callable[[], Any] = subscriber_client,
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

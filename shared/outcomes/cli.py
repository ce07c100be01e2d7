"""`alertloop brakes`: the brakes that hold now, and `--resume ID --by NAME` (audited).

The fleet brake (id `fleet`) has no incident thread of its own, so it is resumed here; a
workload brake is resumed from its incident's *Resume automation* button (or here).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_brakes(args: argparse.Namespace) -> int:
    from shared.ledger import Ledger, LedgerError
    from shared.replay import ReplayError, load_stack_env

    try:
        load_stack_env()  # the local stack's emulators, when `make run` is up
    except ReplayError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    ledger = Ledger()
    try:
        if args.resume:
            if not args.by:
                print("--resume needs --by NAME (who resumes it: audited)", file=sys.stderr)
                return 2
            done = ledger.resume_brake(
                args.resume,
                {"by": args.by, "by_name": args.by, "via": "cli"},
                {"action": "resume_brake", "target": args.resume},
            )
            print(f"brake {args.resume} resumed" if done else f"brake {args.resume} is not tripped")
            return 0 if done else 1
        brakes = ledger.tripped_brakes()
    except LedgerError as exc:
        print(f"cannot read the brakes: {exc}", file=sys.stderr)
        return 2
    if not brakes:
        print("no brake holds: automatic actions are allowed (within their guardrails)")
    for b in brakes:
        print(_line(b))
    return 0


def _line(b: dict[str, Any]) -> str:
    what = (
        "every automatic write"
        if b.get("scope") == "fleet"
        else (f"automatic {b.get('action', '?')} on {b.get('workload', '?')}")
    )
    return f"{b['id']}  since {b.get('tripped_at')}: {what} — {b.get('reason', '')}"


def add_brakes_parser(sub: Any) -> None:
    p = sub.add_parser("brakes", help="the outcome brakes that hold now; resume one")
    p.add_argument("--resume", default="", metavar="ID", help="resume this brake (fleet: fleet)")
    p.add_argument("--by", default="", help="who resumes it (recorded in the audit trail)")
    p.set_defaults(func=cmd_brakes)

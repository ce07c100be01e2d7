"""The alertloop command line: `alertloop fire` sends a manual alert to a running ingest;
`health`, `replay`, `tune`, `doctor` (clusters and RBAC) and `click` (press a Slack button in the
local stack) are the other commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared import envvars
from shared.doctor import add_doctor_parser
from shared.interaction.click import add_click_parser
from shared.replay import add_replay_parser
from shared.tune.command import add_tune_parser

STACK_FILE = Path(".stack/stack.json")  # written by `make run` so fire finds the local stack


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--{what} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _target(args: argparse.Namespace) -> tuple[str, str]:
    url = args.url or envvars.read("ALERTLOOP_INGEST_URL")
    token = args.token or envvars.read("ALERTLOOP_WEBHOOK_TOKEN")
    if (not url or not token) and STACK_FILE.exists():
        local = json.loads(STACK_FILE.read_text())
        url = url or local["ingest_url"]
        token = token or local["token"]
    if not url:
        raise SystemExit("no ingest URL: pass --url, set ALERTLOOP_INGEST_URL, or start `make run`")
    return url, token


def dispatch_body(args: argparse.Namespace) -> dict[str, Any]:
    labels = _pairs(args.label, "label")
    if args.namespace:
        labels["namespace"] = args.namespace
    if args.deployment:
        labels["deployment"] = args.deployment
    return {
        "event_type": "alert-fired",
        "client_payload": {
            "alert_type": args.alert_type,
            "severity": args.severity,
            "action": args.action,
            "labels": labels,
            "annotations": _pairs(args.annotation, "annotation"),
            "dry_run": args.dry_run,
        },
    }


def cmd_fire(args: argparse.Namespace) -> int:
    import requests

    url, token = _target(args)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = requests.post(url, json=dispatch_body(args), headers=headers, timeout=30)
    except requests.RequestException as exc:
        print(f"cannot reach ingest at {url}: {exc}", file=sys.stderr)
        return 2
    try:
        body = resp.json()
    except ValueError:
        body = {"error": resp.text[:500]}
    if resp.status_code != 200:
        print(f"ingest answered {resp.status_code}: {body.get('error', body)}", file=sys.stderr)
        return 1
    from shared.policy import PolicyError, load_policy

    try:
        policy = load_policy(envvars.read("ALERTLOOP_POLICY_FILE"))
    except PolicyError:
        policy = load_policy()
    for r in body.get("results", []):
        alert_type, _ = policy.resolve(r["alert"])
        plan = " -> ".join([*policy.plan_for(r["alert"], args.action), "notify"])
        print(
            f"accepted: {r['alert']} (policy {alert_type}) run {r['run_id']}: {plan} "
            "(dispatched from the intake topic)"
        )
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from shared.health import loop_health, render
    from shared.ledger import Ledger, LedgerError
    from shared.model import utcnow
    from shared.replay import ReplayError, load_stack_env

    try:
        load_stack_env()  # the local stack's emulators, when `make run` is up
    except ReplayError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    now = utcnow()
    try:
        runs = Ledger().runs_since(now - timedelta(days=args.days))
    except LedgerError as exc:
        print(f"cannot read the run ledger: {exc}", file=sys.stderr)
        return 2
    report = loop_health(runs, now, days=args.days, quick_minutes=args.quick_minutes)
    from shared.autonomy import render_records
    from shared.outcomes import health as outcomes_health

    try:
        ledger = Ledger()
        since = now - timedelta(days=args.days)
        report["outcomes"] = outcomes_health.outcome_health(
            ledger.outcomes_since(since), ledger.brake_trips(since), now, args.days
        )
    except LedgerError as exc:
        print(f"cannot read the outcomes: {exc}", file=sys.stderr)
        return 2
    try:
        report["autonomy"] = ledger.autonomy_records()
    except LedgerError as exc:
        print(f"cannot read the autonomy records: {exc}", file=sys.stderr)
        report["autonomy"] = []
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(
            render(report)
            + render_records(report["autonomy"])
            + "\n\n"
            + outcomes_health.render(report["outcomes"])
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alertloop", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    fire = sub.add_parser("fire", help="send a manual alert (what 'Run workflow' was)")
    fire.add_argument("alert_type", help="an alert type of the policy table, or any other name")
    fire.add_argument("--severity", default="warning", choices=["info", "warning", "critical"])
    fire.add_argument(
        "--action",
        default="auto",
        choices=["auto", "investigate", "remediate", "notify"],
        help="auto/remediate: the policy's plan; investigate: investigate only; "
        "notify: only tell Slack",
    )
    fire.add_argument("--namespace", default="")
    fire.add_argument("--deployment", default="")
    fire.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    fire.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE")
    fire.add_argument("--dry-run", action="store_true", help="compute actions, change nothing")
    fire.add_argument("--url", default="", help="ingest URL (default $ALERTLOOP_INGEST_URL)")
    fire.add_argument("--token", default="", help="bearer token (default $ALERTLOOP_WEBHOOK_TOKEN)")
    fire.set_defaults(func=cmd_fire)
    health = sub.add_parser("health", help="loop-health measures from the run ledger")
    health.add_argument("--days", type=float, default=30, help="window (default 30 days)")
    health.add_argument(
        "--quick-minutes",
        type=float,
        default=5,
        help="resolving this fast with no cluster change counts as a false positive (default 5)",
    )
    health.add_argument("--json", action="store_true")
    health.set_defaults(func=cmd_health)
    add_replay_parser(sub)
    add_tune_parser(sub)
    add_doctor_parser(sub)
    add_click_parser(sub)
    from shared.outcomes.cli import add_brakes_parser

    add_brakes_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`alertloop click`: press a button in the local stack, as a person would in Slack.

There is no Slack UI locally, so this plays Slack's part: it finds the button on a message the
local Slack server holds (the newest one showing it, or the one named), asks that server for a
response_url, builds the block_actions payload, signs it with the app's signing secret (v0
HMAC, exactly as Slack does) and POSTs it to interact. A button that is not on any message (any
more) cannot be clicked — as in Slack.

    alertloop click acknowledge [--incident ID] [--user U123]
    alertloop click approve_rollback [--approval ID]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

STACK_FILE = Path(".stack/stack.json")


def _local() -> dict[str, Any]:
    if not STACK_FILE.exists():
        return {}
    try:
        data = json.loads(STACK_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cmd_click(args: argparse.Namespace) -> int:
    import requests

    from shared.interaction.actions import ACTIONS
    from shared.slack.simulated_clicks import block_actions_payload, signed_request

    local = _local()
    interact_url = args.url or local.get("interact_url", "")
    slack_url = args.slack_url or local.get("slack_url", "")
    secret = args.secret or local.get("signing_secret", "")
    user = args.user or local.get("slack_user", "") or "ULOCALDEV"
    if not interact_url or not slack_url or not secret:
        print(
            "no local stack: start `make run` (or pass --url, --slack-url and --secret)",
            file=sys.stderr,
        )
        return 2
    if args.action not in ACTIONS:
        print(f"unknown button {args.action!r}; one of: {', '.join(ACTIONS)}", file=sys.stderr)
        return 2
    base = slack_url.rstrip("/").removesuffix("/api")
    params = {"action_id": args.action}
    if args.value:
        params["value"] = args.value
    if args.ts:
        params["ts"] = args.ts
    try:
        found = requests.get(f"{base}/_local/button", params=params, timeout=10)
        if found.status_code == 404:
            what = f" for {args.value}" if args.value else ""
            print(
                f"no Slack message shows a {args.action} button{what} (already clicked, or the "
                "incident does not offer it now)",
                file=sys.stderr,
            )
            return 1
        found.raise_for_status()
        button = found.json()
        minted = requests.post(
            f"{base}/_local/response_url",
            json={"channel": button["channel"], "ts": button["message"]["ts"], "user": user},
            timeout=10,
        )
        minted.raise_for_status()
    except requests.RequestException as exc:
        print(f"cannot reach the local Slack server at {base}: {exc}", file=sys.stderr)
        return 2
    payload = block_actions_payload(
        user_id=user,
        user_name=args.user_name or user.lower(),
        channel=button["channel"],
        message=button["message"],
        block_id=button["block_id"],
        button=button["button"],
        response_url=minted.json()["url"],
    )
    body, headers = signed_request(payload, secret)
    started = time.monotonic()
    try:
        resp = requests.post(interact_url, data=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        print(f"cannot reach interact at {interact_url}: {exc}", file=sys.stderr)
        return 2
    took = (time.monotonic() - started) * 1000
    label = (button["button"].get("text") or {}).get("text", args.action)
    print(
        f"clicked [{label}] (value {button['button'].get('value')}) on message "
        f"{button['message']['ts']} as {user}: interact answered {resp.status_code} in "
        f"{took:.0f} ms"
    )
    try:
        answer = resp.json()
    except ValueError:
        answer = {"text": resp.text[:300]}
    if answer.get("text") or answer.get("error"):
        print(f"  {answer.get('text') or answer.get('error')}")
    print("  the worker replies to you through response_url and updates the message (see make run)")
    return 0 if resp.status_code == 200 and answer.get("outcome") != "refused" else 1


def add_click_parser(sub: Any) -> None:
    click = sub.add_parser(
        "click",
        help="press a Slack button in the local stack (signed exactly as Slack signs it)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    click.add_argument(
        "action",
        help="acknowledge, silence_1h|silence_4h|silence_24h, unsilence, take_over, "
        "resume_automation, verdict_useful|verdict_noise|verdict_manual, approve_rollback, "
        "reject_rollback",
    )
    click.add_argument(
        "--incident",
        "--approval",
        "--value",
        dest="value",
        default="",
        help="the incident (or approval) id the button carries; default: the newest message "
        "showing the button",
    )
    click.add_argument("--ts", default="", help="the Slack message ts holding the button")
    click.add_argument("--user", default="", help="Slack user id who clicks (default ULOCALDEV)")
    click.add_argument("--user-name", default="", help="their username")
    click.add_argument("--url", default="", help="interact URL (default: the local stack's)")
    click.add_argument("--slack-url", default="", help="local Slack API URL")
    click.add_argument("--secret", default="", help="Slack signing secret")
    click.set_defaults(func=cmd_click)

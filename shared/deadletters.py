"""What the deadletter function does with a message no stage could process.

Two shapes arrive on the dead-letter topic: our own record (a stage gave up after its attempts,
or found a poison message), and Pub/Sub's native dead-lettering (the original message, when a
function kept failing before it could count attempts). Both are recorded and told to Slack with
the exact command that replays them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.envelope import Envelope, Finding, utcnow
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.notifier import Notifier
from shared.untrusted import for_mrkdwn

log = get_logger(__name__)


def replay_command(run_id: str, stage: str) -> str:
    return f"alertloop replay {run_id} --from {stage}"


def parse_dead_letter(raw: bytes, attributes: dict[str, str]) -> dict[str, Any]:
    """Normalise both shapes to {stage, error, attempts, envelope | None, raw}."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and "stage" in data and ("envelope" in data or "raw" in data):
        env = None
        if data.get("envelope"):
            try:
                env = Envelope.model_validate(data["envelope"])
            except ValidationError:
                env = None
        return {
            "stage": str(data["stage"]),
            "error": str(data.get("error", "")),
            "attempts": int(data.get("attempts", 0)),
            "envelope": env,
            "raw": str(data.get("raw", "")),
            "reason": attributes.get("reason", "failed"),
        }
    try:
        env = Envelope.from_bytes(raw)
    except (ValidationError, ValueError):
        env = None
    return {
        "stage": attributes.get("stage", "unknown"),
        "error": "Pub/Sub gave up delivering this message (native dead-letter policy)",
        "attempts": int(attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", 0) or 0),
        "envelope": env,
        "raw": raw.decode("utf-8", "replace")[:10_000],
        "reason": "native" if env else "poison",
    }


def handle_dead_letter(
    record: dict[str, Any], message_id: str, ledger: Ledger, notifier: Notifier
) -> None:
    env: Envelope | None = record["envelope"]
    stage = record["stage"]
    now: datetime = utcnow()
    if env is None:
        # A poison message: no run to attach it to. Keep it, and say so in a new message.
        ledger.client.collection(f"{ledger.cfg.collection_prefix}deadletters").document(
            message_id or now.strftime("%Y%m%dT%H%M%S%f")
        ).set(
            {
                "stage": stage,
                "error": record["error"],
                "raw": record["raw"],
                "at": now,
                "reason": record["reason"],
            }
        )
        text = (
            f":rotating_light: A malformed message reached the *{for_mrkdwn(stage, 100)}* stage "
            f"and was set aside: {for_mrkdwn(record['error'], 500)}\n"
            f"Stored as dead letter `{for_mrkdwn(message_id, 200)}`; inspect it with "
            f"`alertloop replay --list-dead-letters`."
        )
        block = {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
        notifier.poster.post(text, [block])
        event(log, "poison message recorded", 40, stage=stage, message_id=message_id)
        return
    cmd = replay_command(env.run_id, stage)
    finding = Finding(
        stage="deadletter",
        status="error",
        summary=(
            f"The {stage} stage failed {record['attempts']} time(s) and was set aside: "
            f"{record['error'][:800]}\nFix the cause, then replay it: {cmd}"
        ),
        details={
            "failed_stage": stage,
            "attempts": record["attempts"],
            "error": record["error"][:2000],
            "replay": cmd,
        },
        started=now,
        finished=now,
    )
    ledger.update_run(
        env.run_id,
        {
            "state": "failed",
            f"failures.{stage}": {
                "error": record["error"][:2000],
                "attempts": record["attempts"],
                "at": now,
                "replay": cmd,
            },
            "findings.deadletter": finding.model_dump(mode="json"),
        },
    )
    event(log, "stage dead-lettered", 40, run_id=env.run_id, stage=stage)
    notifier(env.model_copy(update={"findings": [*env.findings, finding]}))

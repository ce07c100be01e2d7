"""Ingest's work after authentication: parse, split, publish to `intake`. No Firestore here.

Durable first: nothing slow or fallible sits between Alertmanager and the publish. Once Pub/Sub
acknowledged every message of a webhook, the alerts cannot be lost; dispatch (a retried,
idempotent Pub/Sub function) does the ledger work. If any publish fails the webhook is answered
5xx and Alertmanager resends the whole group; dispatch dedupes what did get through.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.bus import Bus, Outgoing
from shared.config import Settings
from shared.log import event, get_logger
from shared.messages import GroupSnapshot, IntakeAlert, IntakeGroup
from shared.model import Alert, run_id_for, utcnow
from shared.webhook import Parsed, parse_body
from shared.webhook_tokens import webhook_tokens
from shared.workload.labels import workload_from_labels

log = get_logger(__name__)


class Unauthorized(PermissionError):
    pass


def check_bearer(header: str | None, cfg: Settings) -> None:
    """Constant-time check of `Authorization: Bearer <token>` against every accepted token
    (two during a rotation: shared/webhook_tokens.py); opting out must be explicit."""
    accepted = webhook_tokens(cfg.webhook_token)
    if cfg.allow_unauthenticated and not accepted.configured:
        return
    if not accepted.configured:
        raise Unauthorized("ingest has no ALERTLOOP_WEBHOOK_TOKEN set; refusing all requests")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    if not accepted.accepts(token.strip()):
        raise Unauthorized("invalid bearer token")


@dataclass
class IntakeResult:
    source: str
    run_ids: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    group_id: str = ""
    truncated: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "received": len(self.run_ids),
            "status": "accepted",
            "storm_group": self.group_id or None,
            "truncated_alerts": self.truncated,
            "results": [
                {"run_id": r, "alert": a.name, "status": a.status}
                for r, a in zip(self.run_ids, self.alerts, strict=True)
            ],
        }


def group_id_for(alerts: list[Alert]) -> str:
    key = alerts[0].group_key or json.dumps(sorted(alerts[0].labels.items()))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _severity_rank(severity: str) -> int:
    return {"critical": 3, "warning": 2, "info": 1}.get(severity, 0)


# by_name / by_workload keys become map keys of the group's document: Firestore refuses names
# over 1,500 bytes, and a label value (an alert name, a namespace) may be 4,096 characters.
DIGEST_KEY_CHARS = 200


def _digest_key(text: str) -> str:
    return text if len(text) <= DIGEST_KEY_CHARS else text[: DIGEST_KEY_CHARS - 1] + "…"


def group_snapshot(alerts: list[Alert], run_ids: list[str], truncated: int) -> GroupSnapshot:
    """What a storm's digest shows: Alertmanager's own current view of the whole group."""
    by_name = Counter(_digest_key(a.name) for a in alerts)
    by_workload = Counter(
        _digest_key(
            f"{a.labels.get('namespace', '?')}/{workload_from_labels(a.labels).name or '?'}"
        )
        for a in alerts
    )
    firing = sum(1 for a in alerts if a.status == "firing")
    return GroupSnapshot(
        group_key=alerts[0].group_key,
        total=len(alerts),
        firing=firing,
        resolved=len(alerts) - firing,
        truncated=truncated,
        by_name=dict(by_name.most_common(10)),
        by_workload=dict(by_workload.most_common(10)),
        severity=max((a.severity for a in alerts), key=_severity_rank),
        run_ids_sample=run_ids[:20],
    )


def intake_messages(
    parsed: Parsed, cfg: Settings, received_at: datetime | None = None
) -> tuple[IntakeResult, list[IntakeAlert | IntakeGroup]]:
    source, alerts, options = parsed
    now = received_at or utcnow()
    truncated = int(options.get("truncated", 0))
    storm = len(alerts) + truncated >= cfg.storm_threshold > 0
    group_id = group_id_for(alerts) if storm else ""
    result = IntakeResult(source, group_id=group_id, truncated=truncated)
    messages: list[IntakeAlert | IntakeGroup] = []
    for alert in alerts:
        run_id = run_id_for(alert.fingerprint, alert.starts_at)
        result.run_ids.append(run_id)
        result.alerts.append(alert)
        messages.append(
            IntakeAlert(
                run_id=run_id,
                source=source,
                received_at=now,
                alert=alert,
                action=str(options.get("action", "auto")),
                dry_run=bool(options.get("dry_run")),
                group_id=group_id,
            )
        )
    if storm:
        snapshot = group_snapshot(alerts, result.run_ids, truncated)
        messages.append(IntakeGroup(group_id=group_id, received_at=now, snapshot=snapshot))
    return result, messages


def accept(body: Any, cfg: Settings, bus: Bus) -> IntakeResult:
    """Everything after auth. Raises BadRequest (nothing published) or PublishError (the
    caller answers 5xx; the sender's retry is deduplicated by dispatch)."""
    result, messages = intake_messages(parse_body(body), cfg)
    bus.publish_many(Outgoing.intake(m) for m in messages)
    event(
        log,
        "alerts accepted",
        source=result.source,
        alerts=len(result.run_ids),
        storm_group=result.group_id or None,
        truncated=result.truncated or None,
    )
    return result

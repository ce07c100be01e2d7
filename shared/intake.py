"""Ingest's work after authentication: parse, dedupe in the ledger, plan, publish."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from shared.bus import Bus, Outgoing
from shared.config import Settings
from shared.envelope import Alert, Envelope, Stage, run_id_for
from shared.ledger import Ledger
from shared.log import event, get_logger
from shared.policy import Policy
from shared.webhook import parse_body

log = get_logger(__name__)


class Unauthorized(PermissionError):
    pass


def check_bearer(header: str | None, cfg: Settings) -> None:
    """Constant-time check of `Authorization: Bearer <token>`; opting out must be explicit."""
    if cfg.allow_unauthenticated and not cfg.webhook_token:
        return
    if not cfg.webhook_token:
        raise Unauthorized("ingest has no ALERTLOOP_WEBHOOK_TOKEN set; refusing all requests")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    if not hmac.compare_digest(token.strip().encode(), cfg.webhook_token.encode()):
        raise Unauthorized("invalid bearer token")


@dataclass
class IntakeResult:
    source: str
    results: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return {
            "source": self.source,
            "received": len(self.results),
            "counts": counts,
            "results": self.results,
        }


def build_envelope(
    alert: Alert, source: str, policy: Policy, options: dict[str, Any], cfg: Settings
) -> Envelope:
    alert_type, entry = policy.resolve(alert.name)
    action = str(options.get("action", "auto"))
    return Envelope(
        run_id=run_id_for(alert.fingerprint, alert.starts_at),
        source=source,
        alert=alert,
        alert_type=alert_type,
        plan=policy.plan_for(alert.name, action),
        action=action,
        dry_run=bool(options.get("dry_run")) or cfg.dry_run or entry.guardrails.dry_run,
    )


def accept(body: Any, cfg: Settings, policy: Policy, ledger: Ledger, bus: Bus) -> IntakeResult:
    """Everything after auth. Raises BadRequest (nothing published), LedgerError/PublishError
    (caller answers 5xx so the sender retries; the ledger lets the retry finish the job)."""
    source, alerts, options = parse_body(body)
    out = IntakeResult(source)
    outgoing: list[Outgoing] = []
    to_mark: list[tuple[str, bool]] = []
    for alert in alerts:
        env = build_envelope(alert, source, policy, options, cfg)
        outcome = ledger.register_alert(env)
        status = {"redispatch": "accepted"}.get(outcome, outcome)
        out.results.append(
            {
                "run_id": env.run_id,
                "alert": alert.name,
                "alert_type": env.alert_type,
                "status": status,
                "plan": env.plan,
            }
        )
        event(log, f"alert {status}", run_id=env.run_id, alert=alert.name, source=source)
        if outcome in ("accepted", "redispatch"):
            outgoing.append(Outgoing(Stage.NOTIFY, env))
            if env.plan:
                outgoing.append(Outgoing(env.plan[0], env))
            to_mark.append((env.run_id, False))
        elif outcome == "resolved":
            outgoing.append(Outgoing(Stage.NOTIFY, env))
            to_mark.append((env.run_id, True))
    if outgoing:
        bus.publish_many(outgoing)
    for run_id, resolved in to_mark:
        ledger.mark_dispatched(run_id, resolved=resolved)
    return out

"""Ingest's work after authentication: parse, dedupe in the ledger, plan, publish."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.bus import Bus, Outgoing, PublishError
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


def group_id_for(alerts: list[Alert]) -> str:
    key = alerts[0].group_key or json.dumps(sorted(alerts[0].labels.items()))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def group_snapshot(alerts: list[Alert], envs: list[Envelope]) -> dict[str, Any]:
    """What a storm's digest shows: Alertmanager's own current view of the whole group."""
    by_name = Counter(a.name for a in alerts)
    by_workload = Counter(
        f"{a.labels.get('namespace', '?')}/{workload_of(a.labels)}" for a in alerts
    )
    firing = sum(1 for a in alerts if a.status == "firing")
    return {
        "group_key": alerts[0].group_key,
        "total": len(alerts),
        "firing": firing,
        "resolved": len(alerts) - firing,
        "by_name": dict(by_name.most_common(10)),
        "by_workload": dict(by_workload.most_common(10)),
        "severity": max((a.severity for a in alerts), key=_severity_rank),
        "run_ids_sample": [e.run_id for e in envs[:20]],
    }


def workload_of(labels: dict[str, str]) -> str:
    for key in ("deployment", "statefulset", "daemonset", "service", "pod", "job", "app"):
        if labels.get(key):
            return labels[key]
    return "?"


def _severity_rank(severity: str) -> int:
    return {"critical": 3, "warning": 2, "info": 1}.get(severity, 0)


def accept(body: Any, cfg: Settings, policy: Policy, ledger: Ledger, bus: Bus) -> IntakeResult:
    """Everything after auth. Raises BadRequest (nothing published), LedgerError/PublishError
    (caller answers 5xx so the sender retries; the ledger lets the retry finish the job)."""
    source, alerts, options = parse_body(body)
    storm = len(alerts) >= cfg.storm_threshold > 0
    group_id = group_id_for(alerts) if storm else ""
    envs = [
        build_envelope(a, source, policy, options, cfg).model_copy(
            update={"digest_group": group_id}
        )
        for a in alerts
    ]
    if len(envs) > 1:
        # Each registration is a transaction round trip; a storm's run them side by side.
        with ThreadPoolExecutor(max_workers=min(16, len(envs))) as pool:
            outcomes = list(pool.map(ledger.register_alert, envs))
    else:
        outcomes = [ledger.register_alert(e) for e in envs]
    out = IntakeResult(source)
    outgoing: list[Outgoing] = []
    to_mark: list[tuple[str, bool]] = []
    changed = False
    for env, outcome in zip(envs, outcomes, strict=True):
        status = {"redispatch": "accepted"}.get(outcome, outcome)
        out.results.append(
            {
                "run_id": env.run_id,
                "alert": env.alert.name,
                "alert_type": env.alert_type,
                "status": status,
                "plan": env.plan,
            }
        )
        if outcome in ("accepted", "redispatch"):
            changed = True
            if not storm:
                outgoing.append(Outgoing(Stage.NOTIFY, env))
            if env.plan:
                outgoing.append(Outgoing(env.plan[0], env))
            to_mark.append((env.run_id, False))
        elif outcome == "resolved":
            changed = True
            if not storm:
                outgoing.append(Outgoing(Stage.NOTIFY, env))
            to_mark.append((env.run_id, True))
    if storm:
        event(
            log,
            "alert storm: one digest for the group",
            group=group_id,
            alerts=len(alerts),
            source=source,
        )
        if changed:
            ledger.record_group(group_id, group_snapshot(alerts, envs))
            digest = envs[0].model_copy(update={"digest": True, "run_id": f"group-{group_id}"})
            outgoing.append(Outgoing(Stage.NOTIFY, digest))
    else:
        for r in out.results:
            event(log, f"alert {r['status']}", run_id=r["run_id"], alert=r["alert"], source=source)
    if outgoing:
        try:
            bus.publish_many(outgoing)
        except PublishError:
            ledger.release_dispatch(to_mark)
            raise
    if to_mark:
        ledger.mark_many_dispatched(to_mark)
    return out

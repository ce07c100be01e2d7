"""dispatch's work: the ledger side of intake, one alert (or storm snapshot) at a time.

dedupe (HA twins, Alertmanager's retries and repeats, Pub/Sub redeliveries), resolve, reopen on
un-resolve, flap chains into incidents, storms into digests — then the plan from the policy, and
the publishes: notify (the incident's Slack thread) and the plan's first stage. Idempotent by run
id; a failure raises so Pub/Sub redelivers, and what was recorded but not yet published is
published by the redelivery (`pending` on the run).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.bus import Bus, Outgoing
from shared.config import Settings
from shared.consumer import Consumer, Delivery
from shared.ledger import Dispatch, Ledger, NewRun
from shared.log import event, get_logger
from shared.messages import IntakeAlert, IntakeGroup, NotifyMessage, StageMessage
from shared.policy import Policy

if TYPE_CHECKING:
    from shared.workload.incident import Resolver

log = get_logger(__name__)


def new_run_for(
    msg: IntakeAlert, policy: Policy, cfg: Settings, resolver: Resolver | None = None
) -> NewRun:
    """`resolver`: how a pod/service/app label is resolved to its owning workload (default:
    the routed cluster's API; shared.workload.incident)."""
    from shared.clusters.routing import dispatch_route
    from shared.ledger.correlation import correlation_key
    from shared.workload.incident import cluster_resolver, incident_workload

    alert_type, entry = policy.resolve(msg.alert.name)
    cluster, problem = dispatch_route(msg.alert.labels)
    key = ""
    identity: dict[str, str] = {}
    if msg.alert.status == "firing":
        # The workload before the incident: a pod name must never choose the incident.
        workload = incident_workload(
            msg.alert.labels, resolver or (cluster_resolver(cluster) if cluster else None)
        )
        identity = workload.as_dict()
        if entry.correlate and cfg.incident_window_minutes > 0:
            key = correlation_key(cluster, workload.namespace, workload.name)
    return NewRun(
        alert_type=alert_type,
        plan=policy.plan_for(msg.alert.name, msg.action),
        dry_run=msg.dry_run or cfg.dry_run or entry.guardrails.dry_run,
        cluster=cluster,
        routing_problem=problem,
        correlation_key=key,
        correlation_window=timedelta(minutes=cfg.incident_window_minutes),
        workload=identity,
    )


def dispatch_alert(
    msg: IntakeAlert,
    policy: Policy,
    cfg: Settings,
    ledger: Ledger,
    bus: Bus,
    new: NewRun | None = None,
) -> Dispatch:
    """`new`: what a new run would be (the sweeper's inferred resolves pass the run's own, so
    nothing is routed again); by default decided from the policy and the cluster table."""
    holddown = timedelta(minutes=cfg.flap_holddown_minutes)
    result = ledger.dispatch_alert(msg, new or new_run_for(msg, policy, cfg), holddown)
    out: list[Outgoing] = []
    if result.notify:
        out.append(Outgoing.notify(NotifyMessage(id=result.incident_id, run_id=result.run_id)))
    if result.first_stage:
        out.append(Outgoing.stage(StageMessage(run_id=result.run_id, stage=result.first_stage)))
    if out:
        bus.publish_many(out)
        ledger.dispatched(result.run_id)
    event(
        log,
        f"alert {result.outcome}",
        run_id=result.run_id,
        incident=result.incident_id,
        alert=msg.alert.name,
        status=msg.alert.status,
        storm_group=msg.group_id or None,
        notes="; ".join(result.notes) or None,
    )
    return result


def dispatch_group(msg: IntakeGroup, ledger: Ledger, bus: Bus) -> None:
    """A storm's snapshot: keep the newest, and re-render its digest (notify dedupes)."""
    ledger.record_group(msg.group_id, msg.snapshot, msg.received_at)
    bus.publish(Outgoing.notify(NotifyMessage(kind="group", id=msg.group_id)))
    event(
        log,
        "alert storm: digest refreshed",
        group=msg.group_id,
        total=msg.snapshot.total,
        firing=msg.snapshot.firing,
        truncated=msg.snapshot.truncated,
    )


class Dispatcher(Consumer[IntakeAlert | IntakeGroup]):
    """The dispatch function: an intake message it cannot read is set aside at once."""

    name = "intake"

    def parse(self, delivery: Delivery) -> IntakeAlert | IntakeGroup:
        from shared.messages import parse_intake

        return parse_intake(delivery.raw)

    def handle(self, msg: IntakeAlert | IntakeGroup) -> None:
        from shared.config import settings
        from shared.policy import cached_policy

        if isinstance(msg, IntakeGroup):
            dispatch_group(msg, self.ledger, self.bus)
            return
        cfg = settings()
        # An invalid policy file raises PolicyError: the alert waits in `intake` until it is fixed.
        dispatch_alert(msg, cached_policy(cfg.policy_file), cfg, self.ledger, self.bus)


_dispatcher = Dispatcher()


def dispatch_message(
    cloud_event: Any, ledger: Ledger | None = None, bus: Bus | None = None
) -> None:
    """Dispatch one delivery with this instance's clients; given ones replace them."""
    if ledger is not None:
        _dispatcher.ledger = ledger
    if bus is not None:
        _dispatcher.bus = bus
    _dispatcher(cloud_event)

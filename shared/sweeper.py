"""The sweeper: asks Alertmanager about open incidents whose resolve may never come.

Alertmanager does not send a resolve for a silenced alert, for one whose route was dropped, or
after it restarted without its data; without a resolve the thread would say "firing" forever.
On a schedule (Cloud Scheduler -> topic `sweep`; a timer in the local stack), for every run that
is still firing in an incident open longer than ALERTLOOP_SWEEP_MIN_AGE_MINUTES (5), it looks
the alert up in Alertmanager (GET /api/v2/alerts):

- gone (or only a newer instance of it is there) -> resolved through dispatch's own resolve path,
  `resolved_by: sweeper`, and the thread says "resolved — seen by the sweeper";
- silenced -> the silence is recorded on the incident and the run (shown on the parent);
- still active -> left alone.

Alertmanager unreachable -> a log line and a retry (in the sweep, then at the next schedule):
never a resolve inferred from an answer that did not come. An Alertmanager that started less
than the minimum age ago may not have been re-sent every alert yet: it is not swept either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared import envvars
from shared.alertmanager import (
    Alertmanager,
    AlertmanagerError,
    AlertmanagerNotConfigured,
    HeldAlert,
)
from shared.bus import Bus, Outgoing
from shared.config import Settings
from shared.deps import Deps
from shared.lazy import lazy
from shared.ledger import Ledger, NewRun
from shared.ledger.base import as_dt
from shared.log import event, get_logger
from shared.messages import IntakeAlert, NotifyMessage
from shared.model import Alert, utcnow

log = get_logger(__name__)

LEASE = "sweeper"
LEASE_SECONDS = 300
# A sweep message older than this is skipped: after an outage one sweep is as good as many.
MAX_MESSAGE_AGE = timedelta(minutes=15)
# Alertmanager's startsAt for the same alert instance matches the webhook's; a later one is a
# new instance (the run's own ended without a resolve reaching alertloop).
START_TOLERANCE = timedelta(seconds=1)


def min_age() -> timedelta:
    return timedelta(minutes=envvars.number("ALERTLOOP_SWEEP_MIN_AGE_MINUTES", minimum=0))


@dataclass
class SweepReport:
    incidents: int = 0  # open incidents old enough to be checked
    checked: int = 0  # firing runs looked up in Alertmanager
    resolved: list[str] = field(default_factory=list)  # run ids
    silenced: list[str] = field(default_factory=list)  # run ids newly seen silenced
    expired: list[str] = field(default_factory=list)  # silence ids past their end
    skipped: str = ""  # why nothing was checked (not configured, unreachable, restarted…)
    outcomes: list[str] = field(default_factory=list)  # audit ids whose outcome was recorded
    brakes: list[str] = field(default_factory=list)  # brakes tripped


class Sweeper(Deps):
    alertmanager = lazy(lambda self: Alertmanager())

    def __init__(
        self,
        cfg: Settings | None = None,
        ledger: Ledger | None = None,
        bus: Bus | None = None,
        alertmanager: Alertmanager | None = None,
        retry_delays: tuple[float, ...] = (1.0, 3.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(cfg, ledger, bus)
        self.alertmanager = alertmanager
        self.retry_delays = retry_delays
        self.sleep = sleep
        self.outcome_probes: Any = None  # shared.outcomes.sweep.Probes; None: the defaults

    def __call__(self, cloud_event: Any) -> None:
        # A scheduler tick, not a message: only its publish time is read (shared.consumer's
        # decoding and bad-message policy do not apply).
        published = _publish_time(cloud_event)
        if published is not None and utcnow() - published > MAX_MESSAGE_AGE:
            event(log, "old sweep request skipped", published=published.isoformat())
            return
        self.sweep()

    # ---- the sweep ----------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepReport:
        holder = uuid.uuid4().hex
        if not self.ledger.acquire_lease(LEASE, holder, LEASE_SECONDS):
            event(log, "another sweep is running")
            return SweepReport(skipped="another sweep is running")
        try:
            return self._sweep(now or utcnow())
        finally:
            self.ledger.release_lease(LEASE, holder)

    def _sweep(self, now: datetime) -> SweepReport:
        report = SweepReport()
        self._outcomes(now, report)
        if not self.alertmanager.cfg.configured:
            report.skipped = "ALERTMANAGER_URL is not set: the sweeper has no Alertmanager to ask"
            event(log, "sweeper: nothing to do", 30, reason=report.skipped)
            return report
        age = min_age()
        incidents = [
            inc
            for inc in self.ledger.open_incidents()
            if (as_dt(inc.get("opened_at")) or now) <= now - age
        ]
        report.incidents = len(incidents)
        if not incidents:
            return report
        held = self._held_alerts(now, age, report)
        if held is None:
            return report
        for inc in incidents:
            self._sweep_incident(inc, held, now, age, report)
        event(
            log,
            "sweep done",
            incidents=report.incidents,
            checked=report.checked,
            resolved=len(report.resolved),
            silenced=len(report.silenced),
            expired=len(report.expired),
        )
        return report

    def _outcomes(self, now: datetime, report: SweepReport) -> None:
        """Due outcome checks (shared.outcomes): evaluated here, on the schedule, never slept on."""
        from shared.outcomes.probes import default_probes
        from shared.outcomes.sweep import sweep_outcomes
        from shared.policy import cached_policy

        probes = self.outcome_probes or default_probes(self.alertmanager)
        done = sweep_outcomes(
            self.ledger, self.bus, cached_policy(self.cfg.policy_file), probes, now
        )
        report.outcomes, report.brakes = done.checked + done.relapsed, done.brakes

    def _held_alerts(
        self, now: datetime, age: timedelta, report: SweepReport
    ) -> dict[str, HeldAlert] | None:
        """Alertmanager's alerts by fingerprint, or None (and a reason) when it cannot be
        trusted to know them all right now."""
        error = ""
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                started = self.alertmanager.started_at()
                alerts = self.alertmanager.alerts()
            except AlertmanagerNotConfigured as exc:
                report.skipped = str(exc)
                event(log, "sweeper: nothing to do", 30, reason=str(exc))
                return None
            except AlertmanagerError as exc:
                error = str(exc)
                event(
                    log, "sweeper: Alertmanager unreachable", 40, attempt=attempt + 1, error=error
                )
                if delay is not None:
                    self.sleep(delay)
                continue
            if started is not None and now - started < age:
                report.skipped = (
                    f"Alertmanager started {int((now - started).total_seconds())} s ago: it may "
                    "not have been re-sent every alert yet"
                )
                event(log, "sweeper: Alertmanager restarted recently; not sweeping", 30)
                return None
            return {a.fingerprint: a for a in alerts if a.fingerprint}
        report.skipped = f"Alertmanager unreachable: {error}"
        event(
            log,
            "sweeper: Alertmanager unreachable; nothing resolved, the next sweep retries",
            40,
            error=error,
        )
        return None

    def _sweep_incident(
        self,
        inc: dict[str, Any],
        held: dict[str, HeldAlert],
        now: datetime,
        age: timedelta,
        report: SweepReport,
    ) -> None:
        inc_id = str(inc.get("incident_id", ""))
        entries = inc.get("runs") or {}
        firing = [r for r, e in entries.items() if (e or {}).get("status") == "firing"]
        docs = self.ledger.get_runs(firing)
        known = dict(inc.get("silences") or {})
        new_silences: dict[str, dict[str, Any]] = {}
        changed = False
        for run_id in firing:
            doc = docs.get(run_id) or {}
            received = as_dt(doc.get("received_at"))
            if (
                doc.get("status") != "firing"
                or doc.get("source") != "alertmanager"  # `alertloop fire`: not Alertmanager's
                or received is None
                or received > now - age
            ):
                continue
            report.checked += 1
            alert = held.get(str(doc.get("fingerprint", "")))
            starts = as_dt(doc.get("starts_at"))
            newer = (
                alert is not None
                and alert.starts_at is not None
                and starts is not None
                and alert.starts_at > starts + START_TOLERANCE
            )
            if alert is None or newer:
                self._resolve(doc, now)
                report.resolved.append(run_id)
                continue
            if alert.silenced_by:
                fresh = [s for s in alert.silenced_by if s not in known and s not in new_silences]
                for sid in fresh:
                    new_silences[sid] = self._silence_record(sid, run_id, now)
                if sorted(alert.silenced_by) != sorted(doc.get("silenced_by") or []):
                    self.ledger.mark_run_silenced(run_id, sorted(alert.silenced_by), now)
                    report.silenced.append(run_id)
                    changed = True
        if new_silences:
            self.ledger.add_silences(inc_id, new_silences)
            changed = True
        ended = [
            sid
            for sid, s in known.items()
            if isinstance(s, dict)
            and s.get("status") == "active"
            and (as_dt(s.get("ends_at")) or now) < now
        ]
        if ended:
            self.ledger.set_silence_status(inc_id, ended, "expired", {"expired_at": now})
            report.expired.extend(ended)
            changed = True
        if changed and not inc.get("digest_group"):
            self.bus.publish(Outgoing.notify(NotifyMessage(id=inc_id)))

    def _silence_record(self, silence_id: str, run_id: str, now: datetime) -> dict[str, Any]:
        """A silence made in Alertmanager (not from Slack), as the parent shows it."""
        record: dict[str, Any] = {
            "id": silence_id,
            "status": "active",
            "source": "alertmanager",
            "run_id": run_id,
            "at": now,
        }
        try:
            silence = self.alertmanager.get_silence(silence_id)
        except AlertmanagerError as exc:
            event(log, "sweeper: cannot read a silence", 30, silence=silence_id, error=str(exc))
            return record
        record.update(
            matchers=[
                {"name": str(m.get("name", "")), "value": str(m.get("value", ""))}
                for m in silence.matchers
            ],
            by_name=silence.created_by,
            comment=silence.comment[:500],
            ends_at=silence.ends_at,
            at=silence.starts_at or now,
        )
        return record

    def _resolve(self, doc: dict[str, Any], now: datetime) -> None:
        """Dispatch's resolve path, as if Alertmanager had sent the resolve now."""
        from shared.dispatch import dispatch_alert
        from shared.policy import cached_policy

        alert = Alert.model_validate(doc["alert"]).model_copy(
            update={"status": "resolved", "ends_at": now}
        )
        msg = IntakeAlert(
            run_id=str(doc["run_id"]),
            source="alertmanager",
            received_at=now,
            alert=alert,
            group_id=str(doc.get("digest_group") or ""),
            resolved_by="sweeper",
        )
        new = NewRun(
            alert_type=str(doc.get("alert_type", alert.name)),
            plan=[],
            dry_run=bool(doc.get("dry_run")),
            cluster=str(doc.get("cluster", "")),
        )
        result = dispatch_alert(
            msg, cached_policy(self.cfg.policy_file), self.cfg, self.ledger, self.bus, new
        )
        event(
            log,
            "resolved by the sweeper: Alertmanager no longer holds the alert",
            run_id=result.run_id,
            incident=result.incident_id,
            outcome=result.outcome,
        )


def _publish_time(cloud_event: Any) -> datetime | None:
    data = cloud_event.data if hasattr(cloud_event, "data") else cloud_event
    try:
        raw = data["message"].get("publishTime") or data["message"].get("publish_time")
    except (KeyError, TypeError, AttributeError):
        return None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None

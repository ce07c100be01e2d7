"""A known set of runs for the console's tests (and its bench), put in the ledger through the
same ledger code the pipeline uses: dispatch, findings, guarded writes, audit, proposals,
failures, resolves. The expected numbers below follow from it by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.audit import Recorder
from shared.ledger import Ledger, Reserved, WriteRequest
from shared.model import Finding, utcnow
from shared.run import Run
from tests.seed import make_alert, resolve_run, seed_run

HOSTILE = '<script>alert(1)</script><img src="http://198.51.100.7/x.png"> password=hunter2'


@dataclass
class Known:
    now: datetime
    restart: Run  # ApplicationDown: investigated, restarted (audited before/after), resolved
    quick: Run  # HighCPUUsage: investigated, cleared in 2 min with no change (false positive)
    proposal: Run  # HighErrorRate: rollback proposed (needs the team), firing
    waiting: Run  # HighMemoryUsage: received 20 min ago, never executed
    database: Run  # DatabaseDown: investigated (needs the team), firing
    dead: Run  # ErrorBudgetExhausted: budget stage dead-lettered
    audit_ids: dict[str, str] = field(default_factory=dict)

    @property
    def runs(self) -> list[Run]:
        return [self.restart, self.quick, self.proposal, self.waiting, self.database, self.dead]


def _finding(
    stage: str, start: datetime, seconds: float, summary: str, **details: object
) -> Finding:
    return Finding(
        stage=stage,
        status="ok",
        summary=summary,
        details=dict(details),
        started=start,
        finished=start + timedelta(seconds=seconds),
    )


def seed_known(ledger: Ledger, now: datetime | None = None) -> Known:
    now = now or utcnow()
    t = now - timedelta(minutes=30)

    # 1. ApplicationDown → investigate (2.5 s) → remediate: restart, applied → resolved (4 min).
    alert = make_alert(
        "ApplicationDown",
        starts_at=t,
        labels={"namespace": "shop", "deployment": "checkout"},
        annotations={
            "summary": f"checkout is down {HOSTILE}",
            "runbook_url": "https://runbooks.example.com/ApplicationDown",
        },
    )
    restart = seed_run(ledger, alert, received_at=t + timedelta(seconds=5))
    inv_start = t + timedelta(seconds=6)
    ledger.record_finding(
        restart.run_id,
        _finding("investigate", inv_start, 2.5, f"2 pods crash-looping; last log: {HOSTILE}"),
    )
    req = WriteRequest(
        run_id=restart.run_id,
        incident_id=restart.incident_id,
        cluster="",
        target_key="shop/deployment/checkout",
        target="deployment/checkout in shop",
        action="restart",
        actor="alertloop-remediate",
        alert_type="ApplicationDown",
        max_attempts=3,
        attempt_window=timedelta(hours=6),
        cooldown=timedelta(minutes=15),
        max_changes_per_hour=10,
        max_age=None,
        record={
            "before": {"restartedAt": None, "generation": 7},
            "after": {"restartedAt": "2026-11-27T12:00:09Z", "generation": 8},
            "reason": "pods crash-looping: a rollout restart replaces them",
        },
    )
    reserved = ledger.reserve_write(req)
    assert isinstance(reserved, Reserved), reserved
    ledger.settle_write(req, reserved.token, "applied", {"verification": {"ok": True}})
    rem_start = inv_start + timedelta(seconds=3)
    ledger.record_finding(
        restart.run_id,
        _finding("remediate", rem_start, 7.0, "Restarted deployment/checkout", action="restart"),
    )
    recorder = Recorder(
        ledger, "alertloop-remediate", restart.run_id, "ApplicationDown", restart.incident_id
    )
    refused_id = recorder.audit(
        action="restart",
        target="deployment/checkout in shop",
        outcome="refused",
        reason="target is cooling down after a change by this run",
        guard="cooldown",
    )
    restart = resolve_run(ledger, restart, ends_at=t + timedelta(minutes=4))
    ledger.update_incident(
        restart.incident_id,
        {
            "acknowledged": {"by": "U1", "by_name": "ana", "at": t + timedelta(minutes=1)},
            "verdict": {"value": "useful", "by": "U1", "by_name": "ana", "at": now},
        },
    )

    # 2. HighCPUUsage → investigate (10 s) → resolved after 2 min, nothing changed.
    quick = seed_run(
        ledger,
        make_alert("HighCPUUsage", severity="warning", starts_at=t, labels={"namespace": "shop"}),
        plan=["investigate"],
        received_at=t + timedelta(seconds=2),
    )
    ledger.record_finding(
        quick.run_id, _finding("investigate", t + timedelta(seconds=3), 10.0, "HPA is scaling")
    )
    quick = resolve_run(ledger, quick, ends_at=t + timedelta(minutes=2))

    # 3. HighErrorRate → investigate (40 s) → remediate: rollback proposed (approval needed).
    proposal = seed_run(
        ledger,
        make_alert(
            "HighErrorRate", starts_at=t, labels={"namespace": "shop", "deployment": "cart"}
        ),
        received_at=t + timedelta(seconds=1),
    )
    ledger.record_finding(
        proposal.run_id,
        _finding("investigate", t + timedelta(seconds=2), 40.0, "revision 3 is the likely cause"),
    )
    prec = Recorder(
        ledger, "alertloop-remediate", proposal.run_id, "HighErrorRate", proposal.incident_id
    )
    prec.propose(
        action="rollback",
        target={"namespace": "shop", "deployment": "cart"},
        target_str="deployment/cart in shop",
        details={"from_revision": 3, "to_revision": 2},
        ttl=timedelta(hours=1),
        now=t + timedelta(seconds=45),
    )
    proposed_id = prec.audit(
        action="propose_rollback",
        target="deployment/cart in shop",
        outcome="proposed",
        reason="revision 3 rolled out 4 min before the errors",
    )
    ledger.record_finding(
        proposal.run_id,
        _finding(
            "remediate",
            t + timedelta(seconds=43),
            1.0,
            "Rollback proposed",
            action="propose_rollback",
        ),
    )

    # 4. HighMemoryUsage received 20 min ago: its investigate never ran.
    waiting = seed_run(
        ledger,
        make_alert("HighMemoryUsage", severity="warning", starts_at=now - timedelta(minutes=21)),
        received_at=now - timedelta(minutes=20),
    )

    # 5. DatabaseDown → investigate (3 s): facts only, the team acts.
    database = seed_run(
        ledger, make_alert("DatabaseDown", starts_at=t), received_at=t + timedelta(seconds=1)
    )
    ledger.record_finding(
        database.run_id,
        _finding("investigate", t + timedelta(seconds=2), 3.0, "postgres unreachable"),
    )

    # 6. ErrorBudgetExhausted → investigate (1 s) → budget kept crashing: dead-lettered.
    dead = seed_run(
        ledger,
        make_alert("ErrorBudgetExhausted", severity="warning", starts_at=t),
        received_at=t + timedelta(seconds=1),
    )
    ledger.record_finding(
        dead.run_id, _finding("investigate", t + timedelta(seconds=2), 1.0, "burning fast")
    )
    crash = Finding(
        stage="budget", status="error", summary="budget crashed", details={"error": "boom"}
    )
    ledger.record_failure(
        dead.run_id, "budget", crash, 5, f"alertloop replay {dead.run_id} --from budget"
    )

    known = Known(now, restart, quick, proposal, waiting, database, dead)
    known.audit_ids = {"write": req.audit_id, "refused": refused_id, "proposed": proposed_id}
    return known


# What /metrics must say about `seed_known` (the window covers all of it).
EXPECTED_RUNS_BY_STATE = {
    ("ApplicationDown", "resolved"): 1,
    ("HighCPUUsage", "resolved"): 1,
    ("HighErrorRate", "remediated"): 1,
    ("HighMemoryUsage", "firing"): 1,
    ("DatabaseDown", "investigated"): 1,
    ("ErrorBudgetExhausted", "failed"): 1,
}
EXPECTED_FALSE_POSITIVE_RATIO = 0.5  # 1 of the 2 resolved runs (the quick CPU one)
EXPECTED_TEAM_ACTION_RATIO = 0.5  # proposal, database, dead letter: 3 of 6
EXPECTED_EXECUTION_RATIO = round(4 / 6, 4)  # all but the waiting and the dead-lettered run

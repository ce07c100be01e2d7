"""Issue 20 on the emulators and the sandbox Kubernetes API: incidents belong to the workload
(pod names change after every restart), every automatic action gets one outcome, judged by the
alert it was meant to clear, and the brake trips on outcomes until a person resumes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_api import Fault, KubeApiServer
from shared.bus import Bus
from shared.clusters.clients import clear_caches
from shared.config import settings
from shared.console.timeline import build as build_timeline
from shared.dispatch import dispatch_alert
from shared.ledger import Dispatch, Ledger
from shared.ledger.outcomes import brake_id
from shared.model import Alert, utcnow
from shared.outcomes.sweep import Probes, sweep_outcomes
from shared.policy import cached_policy
from shared.remediation import remediate
from tests import clicks
from tests.clicks import INTRUDER, ONCALL, buttons, click
from tests.conftest import reset_settings
from tests.pipeline import notify_all
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration

slack = clicks.slack
client = clicks.client

POD_A = "web-2827thlns2-dx8tv"
POD_B = "web-2827thlns2-rp7jp"
POD_C = "web-2827thlns2-2rk4j"
NO_PROBES = Probes()  # the ledger answers; nothing else is asked


@pytest.fixture
def world(
    remediation_cluster: KubeApiServer,
    topics: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[KubeApiServer]:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "0")
    monkeypatch.setenv("ALERTLOOP_VERIFY_AFTER_SECONDS", "0")
    reset_settings()
    clear_caches()  # dispatch's cluster clients are cached per cluster: this test's server
    yield remediation_cluster
    clear_caches()


def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict[str, Any]) -> None:
    base = {
        "stages": ["investigate", "remediate"],
        "remediation": "restart",
        "aliases": ["KubePodCrashLooping"],
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"alerts": {"ApplicationDown": {**base, **entry}}}))
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset_settings()


def crashloop(pod: str) -> tuple[Alert, Dispatch]:
    """kube-prometheus' KubePodCrashLooping: `pod=` only, no deployment label."""
    alert = make_alert(
        "KubePodCrashLooping",
        labels={"namespace": "shop", "pod": pod, "container": "web"},
        starts_at=utcnow(),  # each pod's alert begins after the previous restart
    )
    cfg = settings()
    return alert, dispatch_alert(
        intake(alert), cached_policy(cfg.policy_file), cfg, Ledger(), Bus()
    )


def act(d: Dispatch) -> dict[str, Any]:
    run = Ledger().load_run(d.run_id)
    assert run is not None
    return remediate(run).details


def resolve(alert: Alert) -> None:
    cfg = settings()
    gone = alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
    dispatch_alert(intake(gone), cached_policy(cfg.policy_file), cfg, Ledger(), Bus())


def sweep() -> list[str]:
    cfg = settings()
    return sweep_outcomes(
        Ledger(), Bus(), cached_policy(cfg.policy_file), NO_PROBES, utcnow()
    ).checked


def test_pods_of_one_deployment_share_one_incident_and_one_cap(
    world: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails on the code before issue 20: pod B opened a new incident with a fresh cap."""
    policy(tmp_path, monkeypatch, {"guardrails": {"cooldown_minutes": 0, "max_attempts": 1}})
    _, a = crashloop(POD_A)
    first = act(a)
    assert first["action"] == "restart" and first["refused"] is None, first
    assert first["workload"]["name"] == "web"
    _, b = crashloop(POD_B)  # after the restart: the next pod's alert
    assert b.incident_id == a.incident_id, "alerts on pods of one Deployment share one incident"
    run_b = Ledger().get_run(b.run_id) or {}
    assert run_b["workload"] == {
        "namespace": "shop",
        "kind": "Deployment",
        "name": "web",
        "source": "cluster",
    }
    second = act(b)
    assert (second["refused"] or {}).get("guard") == "attempts", second  # the cap was not reset
    restarts = [r for r in world.requests_matching("PATCH") if "/deployments/web" in r.path]
    assert len(restarts) == 1


def test_cluster_unreadable_falls_back_to_the_label_and_says_so(world: KubeApiServer) -> None:
    world.add_fault(Fault("forbidden", resource="pods", verb="get"))
    _, d = crashloop(POD_A)
    wl = (Ledger().get_run(d.run_id) or {})["workload"]
    assert wl["name"] == POD_A and wl["source"] == "labels (fallback)"
    assert "label-derived name" in wl["note"] and "could not be read" in wl["note"]


def test_not_fixed_outcome_trips_the_brake_until_resumed(
    world: KubeApiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    topics: Any,
    slack: Any,
    client: Any,
) -> None:
    policy(
        tmp_path,
        monkeypatch,
        {
            "guardrails": {"cooldown_minutes": 0, "max_attempts": 5},
            "verification": {"brake_after": 1},
        },
    )
    _, a = crashloop(POD_A)
    done = act(a)
    assert done["refused"] is None and done["outcome_due_at"]
    checked = sweep()
    assert checked == [done["audit_id"]]
    assert sweep() == []  # exactly one outcome per action
    ledger = Ledger()
    outcome = ledger.get_outcome(done["audit_id"]) or {}
    assert outcome["outcome"] == "not_fixed"
    assert outcome["line"].startswith("Outcome: not fixed — KubePodCrashLooping still firing")
    lines = (ledger.get_run(a.run_id) or {})["outcome_lines"]
    assert any(t.startswith("Brake:") for t in lines.values()), lines
    bid = brake_id("", "deployment:shop:web", "restart")
    brake = ledger.get_brake(bid) or {}
    assert brake.get("tripped"), brake
    # A new pod's alert: no automatic write while the brake holds.
    _, b = crashloop(POD_B)
    held = act(b)
    assert held["refused"]["guard"] == "brake", held
    # The thread says so, the parent offers Resume automation; a person in the on-call group
    # clicks it (interact -> the act worker, take_over permission).
    notify_all(topics)
    parent = slack.find_parent("KubePodCrashLooping")
    assert parent is not None and "resume_automation" in buttons(parent.blocks)
    texts = [r.text for r in slack.replies(parent.ts)]
    assert any(t.startswith("Outcome: not fixed") for t in texts), texts
    assert any(t.startswith("Brake:") and "<!subteam^S0ONCALL>" in t for t in texts), texts
    assert click(client, slack, "resume_automation", INTRUDER).get_json()["outcome"] != "queued"
    click(client, slack, "resume_automation", ONCALL)
    (resumed,) = [o for o in clicks.act(topics) if o is not None and o.result == "done"]
    assert "brake" in resumed.message and not (ledger.get_brake(bid) or {}).get("tripped")
    _, c = crashloop(POD_C)
    again = act(c)
    assert again["refused"] is None, again
    # The console's timeline shows the same lines.
    timeline = build_timeline(ledger.incident_record(a.incident_id))
    shown = [e for e in timeline.events if e.kind == "outcome"]
    assert [e.status for e in shown] == ["not fixed", "brake"], shown
    assert all(e.at is not None for e in shown)
    audits = [d.to_dict() for d in ledger._col("audit").stream()]
    assert {"brake_tripped", "brake_resumed"} <= {d.get("outcome") for d in audits}


def test_an_alert_that_resolves_is_fixed(
    world: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(tmp_path, monkeypatch, {"guardrails": {"cooldown_minutes": 0, "max_attempts": 1}})
    alert, a = crashloop(POD_A)
    done = act(a)
    resolve(alert)
    assert sweep() == [done["audit_id"]]
    outcome = Ledger().get_outcome(done["audit_id"]) or {}
    assert outcome["outcome"] == "fixed", outcome
    assert outcome["line"].startswith("Outcome: fixed — KubePodCrashLooping resolved")
    # The next pod crash-loops within 24 h: the fix relapsed (once).
    _, b = crashloop(POD_B)
    assert b.incident_id == a.incident_id
    sweep()
    sweep()
    outcome = Ledger().get_outcome(done["audit_id"]) or {}
    assert outcome["outcome"] == "relapsed", outcome
    lines = (Ledger().get_run(a.run_id) or {})["outcome_lines"]
    relapses = [t for t in lines.values() if t.startswith("Outcome: relapsed")]
    assert len(relapses) == 1, lines


def test_a_take_over_holds_for_the_workload_until_resumed_or_expired(
    world: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(tmp_path, monkeypatch, {"guardrails": {"cooldown_minutes": 0, "max_attempts": 5}})
    ledger = Ledger()
    alert, a = crashloop(POD_A)
    expires = utcnow() + timedelta(hours=24)
    assert (
        ledger.take_over_incident(
            a.incident_id, {"by": "U1", "at": utcnow(), "expires_at": expires}
        ).outcome
        == "changed"
    )
    # The incident ends, and long after its window the workload's next alert opens a new one.
    resolve(alert)
    ledger.update_incident(a.incident_id, {"resolved_at": utcnow() - timedelta(days=2)})
    _, b = crashloop(POD_B)
    assert b.incident_id != a.incident_id
    held = act(b)
    assert (held["refused"] or {}).get("guard") == "taken_over", held
    assert "until " + expires.isoformat()[:16] in held["refused"]["reason"]
    # Resumed from the new incident: the workload is given back.
    assert ledger.resume_incident(b.incident_id, {"by": "U1"}).outcome == "changed"
    _, c = crashloop(POD_C)
    assert act(c)["refused"] is None


def test_an_expired_take_over_no_longer_holds(
    world: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(tmp_path, monkeypatch, {"guardrails": {"cooldown_minutes": 0, "max_attempts": 5}})
    ledger = Ledger()
    _, a = crashloop(POD_A)
    past = utcnow() - timedelta(minutes=1)
    ledger.take_over_incident(a.incident_id, {"by": "U1", "at": past, "expires_at": past})
    assert act(a)["refused"] is None


def test_the_fleet_brake_stops_every_automatic_write_until_resumed(
    world: KubeApiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shared.cli import main

    path = tmp_path / "policy.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "alerts": {
                    "ApplicationDown": {
                        "stages": ["investigate", "remediate"],
                        "remediation": "restart",
                        "aliases": ["KubePodCrashLooping"],
                        "guardrails": {"cooldown_minutes": 0, "max_attempts": 5},
                        "verification": {"brake_after": 5},
                    }
                },
                "outcomes": {"fleet_brake": {"not_fixed_share": 0.5, "min_outcomes": 1}},
            }
        )
    )
    monkeypatch.setenv("ALERTLOOP_POLICY_FILE", str(path))
    reset_settings()
    _, a = crashloop(POD_A)
    assert act(a)["refused"] is None
    assert sweep()  # not fixed: 1 of 1 automatic outcomes
    ledger = Ledger()
    assert (ledger.get_brake("fleet") or {}).get("tripped")
    # Another workload: the fleet brake refuses it in the reservation transaction.
    other = make_alert(
        "KubePodCrashLooping",
        labels={"namespace": "shop", "deployment": "checkout"},
        starts_at=utcnow(),
    )
    cfg = settings()
    d = dispatch_alert(intake(other), cached_policy(cfg.policy_file), cfg, ledger, Bus())
    held = act(d)
    assert (held["refused"] or {}).get("guard") == "fleet_brake", held
    assert main(["brakes"]) == 0
    assert "every automatic write" in capsys.readouterr().out
    assert main(["brakes", "--resume", "fleet"]) == 2  # who resumes it is audited
    assert main(["brakes", "--resume", "fleet", "--by", "oncall"]) == 0
    after = act(d)
    assert after["refused"] is None, after
    audits = [x.to_dict() for x in ledger._col("audit").stream()]
    resumed = [x for x in audits if x.get("outcome") == "brake_resumed"]
    assert resumed and resumed[0]["actor"] == "oncall"

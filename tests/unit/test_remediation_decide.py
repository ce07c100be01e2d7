"""Remediation's pure decision logic, guard checks, verification states and settings
(no servers)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube_scenarios import deployment, hpa
from shared import config as config_mod
from shared import policy as policy_mod
from shared.k8s.writes import RESTARTED_AT_ANNOTATION, hpa_max_patch, restart_patch, scale_patch
from shared.model import Alert
from shared.policy import AlertPolicy, load_policy
from shared.remediation import decide, remediate, verify
from shared.remediation.change_gate import (
    ceiling_problem,
    database_alert_names,
    dry_run_sources,
    is_database_alert,
    namespace_problem,
)
from shared.remediation.settings import RemediationSettings, parse_namespaces, remediation_settings
from shared.run import Run

NOW = datetime(2024, 6, 12, 10, 0, tzinfo=UTC)


def dep(name: str = "api", replicas: int = 2, **kw: Any) -> dict[str, Any]:
    d = deployment(
        "shop", name, f"img/{name}:1", created="2024-06-01T00:00:00Z", replicas=replicas, **kw
    )
    d["metadata"]["resourceVersion"] = "1042"
    return d


def an_hpa(current: int, max_r: int, at_max: bool = False) -> dict[str, Any]:
    h = hpa(
        "shop",
        "api",
        created="2024-06-01T00:00:00Z",
        current=current,
        desired=current,
        max_replicas=max_r,
    )
    h["metadata"]["resourceVersion"] = "77"
    if at_max:
        for c in h["status"]["conditions"]:
            if c["type"] == "ScalingLimited":
                c.update(status="True", reason="TooManyReplicas")
    return h


# --------------------------------------------------------------------------- patches


def test_patch_bodies_carry_the_resource_version() -> None:
    assert restart_patch("5", "2024-06-12T10:00:00Z") == {
        "metadata": {"resourceVersion": "5"},
        "spec": {
            "template": {
                "metadata": {"annotations": {RESTARTED_AT_ANNOTATION: "2024-06-12T10:00:00Z"}}
            }
        },
    }
    assert scale_patch("6", 4) == {"metadata": {"resourceVersion": "6"}, "spec": {"replicas": 4}}
    assert hpa_max_patch("7", 9) == {
        "metadata": {"resourceVersion": "7"},
        "spec": {"maxReplicas": 9},
    }


# --------------------------------------------------------------------------- restart


def test_plan_restart() -> None:
    p = decide.plan_restart(dep(), "2024-06-12T10:00:00Z", NOW - timedelta(minutes=5))
    assert p.action == "restart" and p.mode == "change"
    assert str(p.target) == "deployment/shop/api"
    assert p.patch == restart_patch("1042", "2024-06-12T10:00:00Z")


def test_plan_restart_skips_when_already_restarted_since_the_alert() -> None:
    d = dep()
    d["spec"]["template"]["metadata"]["annotations"] = {
        RESTARTED_AT_ANNOTATION: "2024-06-12T09:58:00Z"
    }
    p = decide.plan_restart(d, "2024-06-12T10:00:00Z", NOW - timedelta(minutes=5))
    assert p.mode == "none" and "already restarted" in p.reason
    # restarted before the alert began: restart again
    p2 = decide.plan_restart(d, "2024-06-12T10:00:00Z", NOW - timedelta(minutes=1))
    assert p2.action == "restart"


# --------------------------------------------------------------------------- scale


def test_plan_scale_hpa_below_max_is_no_action() -> None:
    p = decide.plan_scale(dep(), an_hpa(3, 10), None, 2)
    assert p.mode == "none" and "is scaling" in p.reason and p.patch is None


def test_plan_scale_hpa_at_max_raises_max() -> None:
    p = decide.plan_scale(dep(), an_hpa(5, 5, at_max=True), None, 2)
    assert p.action == "raise_hpa_max" and str(p.target) == "horizontalpodautoscaler/shop/api"
    assert p.patch == hpa_max_patch("77", 7)
    assert (p.current, p.desired) == (5, 7)


def test_plan_scale_without_hpa_uses_the_scale_subresource() -> None:
    scale = {"metadata": {"resourceVersion": "1042"}, "spec": {"replicas": 2}}
    p = decide.plan_scale(dep(), None, scale, 3, "leak suspected")
    assert p.action == "scale_deployment" and p.patch == scale_patch("1042", 5)
    assert any("scaling only buys time" in n for n in p.notes)
    assert not decide.plan_scale(dep(), None, scale, 3, "steady").notes


def test_ceiling_clamps_and_refuses() -> None:
    scale = {"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 4}}
    p = decide.plan_scale(dep(), None, scale, 4)
    assert ceiling_problem(p, 6) is None
    # the precondition is the classified deployment's version, not the later scale read's
    deploy_rv = dep()["metadata"]["resourceVersion"]
    assert p.after == {"replicas": 6} and p.patch == scale_patch(deploy_rv, 6)
    assert any("capped at the replica ceiling 6" in n for n in p.notes)
    p2 = decide.plan_scale(dep(), None, scale, 2)
    assert "already at or above the replica ceiling 4" in (ceiling_problem(p2, 4) or "")
    h = decide.plan_scale(dep(), an_hpa(20, 20, at_max=True), None, 2)
    assert ceiling_problem(h, 20) is not None


# --------------------------------------------------------------------------- rollback


RECENT = {
    "recent": True,
    "revision": 4,
    "previous_revision": 3,
    "images": ["img/api:1.5.0"],
    "previous_images": ["img/api:1.4.2"],
    "age_minutes": 8.0,
    "replicaset": "api-4",
    "previous_replicaset": "api-3",
    "created": "2024-06-12T09:52:00Z",
}


def test_plan_rollback_names_the_exact_revision() -> None:
    d = dep(revision=4)
    p = decide.plan_rollback(d, RECENT, {3: ["img/api:1.4.2"], 4: ["img/api:1.5.0"]})
    assert p.mode == "proposal" and p.action == "propose_rollback"
    assert p.proposal is not None
    assert (p.proposal["from_revision"], p.proposal["to_revision"]) == (4, 3)
    assert p.proposal["to_images"] == ["img/api:1.4.2"]
    assert p.patch is None


@pytest.mark.parametrize(
    ("recent", "revisions", "live", "words"),
    [
        (None, None, 4, "no rollback is indicated"),
        ({**RECENT, "recent": False}, None, 4, "no rollback is indicated"),
        ({**RECENT, "previous_revision": None}, None, 4, "no earlier revision"),
        (RECENT, {4: []}, 4, "no longer in its rollout history"),
        (RECENT, {3: [], 4: [], 5: []}, 5, "moved on"),
    ],
)
def test_plan_rollback_when_not_indicated(
    recent: dict[str, Any] | None, revisions: dict[int, list[str]] | None, live: int, words: str
) -> None:
    p = decide.plan_rollback(dep(revision=live), recent, revisions)
    assert p.mode == "none" and words in p.reason


# --------------------------------------------------------------------------- guards


def test_namespace_allowlist() -> None:
    cfg = RemediationSettings(namespaces=("shop", "kube-system"))
    assert namespace_problem("shop", cfg) is None
    assert namespace_problem("kube-system", cfg) == (
        "protected_namespace",
        'namespace "kube-system" is never changed by alertloop',
    )
    assert namespace_problem("prod", cfg) is not None
    empty = namespace_problem("shop", RemediationSettings())
    assert empty is not None and "is empty" in empty[1]


def test_database_alerts_whatever_the_policy_file_says(tmp_path: Path) -> None:
    assert {"DatabaseDown", "PostgresqlDown", "RedisDown"} <= database_alert_names()
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "alerts": {
                    "DatabaseDown": {
                        "stages": ["remediate"],
                        "remediation": "restart",
                        "database": False,
                    }
                }
            }
        )
    )
    _, entry = load_policy(str(path)).resolve("DatabaseDown")
    assert entry.database is False and entry.remediation == "restart"  # the file tried...
    assert is_database_alert("DatabaseDown", "DatabaseDown", entry)  # ...the guard holds
    assert is_database_alert("Unknown", "MySQLDown", entry)
    custom = AlertPolicy(stages=["remediate"], remediation="restart", database=True)
    assert is_database_alert("RedisLatency", "RedisLatency", custom)
    plain = AlertPolicy(stages=["remediate"], remediation="restart")
    assert not is_database_alert("ApplicationDown", "ApplicationDown", plain)


def _env(**kw: Any) -> Run:
    alert = Alert(
        name=kw.pop("alert", "ApplicationDown"),
        labels=kw.pop("labels", {}),
        starts_at=NOW,
        fingerprint="fp",
    )
    return Run(
        run_id="r", source="dispatch", alert=alert, alert_type=alert.name, plan=["remediate"], **kw
    )


def test_dry_run_sources() -> None:
    entry = AlertPolicy(stages=["remediate"], remediation="restart")
    assert dry_run_sources(_env(), entry, False) == []
    assert dry_run_sources(_env(dry_run=True), entry, True) == [
        "ALERTLOOP_DRY_RUN",
        "the run's dry_run flag",
    ]
    entry.guardrails.dry_run = True
    assert len(dry_run_sources(_env(), entry, False)) == 1


# --------------------------------------------------------------------------- verification


def _status(d: dict[str, Any], **status: Any) -> dict[str, Any]:
    out = copy.deepcopy(d)
    out["status"].update(status)
    return out


def test_rollout_state() -> None:
    d = dep(replicas=3)
    assert verify.rollout_state(d)[0] == verify.SUCCEEDED
    d["metadata"]["generation"] = 5
    assert "not observed generation 5" in verify.rollout_state(d)[1]
    d["status"]["observedGeneration"] = 5
    assert verify.rollout_state(_status(d, updatedReplicas=1))[1] == "1 of 3 replicas updated"
    assert "pending termination" in verify.rollout_state(_status(d, replicas=4))[1]
    assert verify.rollout_state(_status(d, availableReplicas=2))[0] == verify.PROGRESSING
    failed = _status(
        d,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "x",
            }
        ],
    )
    assert verify.rollout_state(failed)[0] == verify.FAILED


def test_hpa_state() -> None:
    assert verify.hpa_state(an_hpa(5, 7), 5, 7)[0] == verify.PROGRESSING
    assert verify.hpa_state(an_hpa(6, 7), 5, 7)[0] == verify.SUCCEEDED
    assert verify.hpa_state(an_hpa(5, 5), 5, 7)[0] == verify.FAILED


class FakeClients:
    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states
        self.timeout = 1.0

    def call(self, verb: str, resource: str, ns: str | None, fn: Any, **kw: Any) -> Any:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_verify_is_bounded() -> None:
    t = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        t[0] += s

    progressing = _status(dep(replicas=3), updatedReplicas=1)
    res = verify.verify(
        FakeClients([progressing]),
        "shop",
        "api",
        timeout=5,
        interval=2,  # type: ignore[arg-type]
        sleep=sleep,
        clock=lambda: t[0],
    )
    assert res["result"] == verify.PROGRESSING and sum(sleeps) == pytest.approx(5)
    ok = verify.verify(
        FakeClients([progressing, dep(replicas=3)]),
        "shop",
        "api",  # type: ignore[arg-type]
        timeout=5,
        interval=1,
        sleep=sleep,
        clock=lambda: t[0],
    )
    assert ok["result"] == verify.SUCCEEDED and ok["polls"] == 2
    assert (
        verify.verify(
            FakeClients([progressing]),
            "shop",
            "api",
            timeout=0,  # type: ignore[arg-type]
            interval=1,
        )["result"]
        == verify.NOT_VERIFIED
    )


# --------------------------------------------------------------------------- settings, entry


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_namespaces("shop, web ,,shop") == ("shop", "web")
    for name in (
        "ALERTLOOP_REMEDIATE_NAMESPACES",
        "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR",
        "ALERTLOOP_REMEDIATE_VERIFY_SECONDS",
        "K_SERVICE",
    ):
        monkeypatch.delenv(name, raising=False)
    s = remediation_settings()
    assert (s.namespaces, s.max_changes_per_hour, s.verify_seconds, s.actor) == (
        (),
        10,
        60.0,
        "alertloop-remediate",
    )
    monkeypatch.setenv("K_SERVICE", "remediate-fn")
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR", "3")
    assert remediation_settings().actor == "remediate-fn"
    assert remediation_settings().max_changes_per_hour == 3
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "soon")
    with pytest.raises(ValueError, match="ALERTLOOP_REMEDIATE_VERIFY_SECONDS"):
        remediation_settings()


def test_entry_point_without_cluster_or_firestore(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KUBECONFIG",
        "KUBE_CONFIG_DATA",
        "KUBERNETES_SERVICE_HOST",
        "ALERTLOOP_DRY_RUN",
        "ALERTLOOP_POLICY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    config_mod.settings.cache_clear()
    policy_mod.cached_policy.cache_clear()
    budget = remediate(_env(alert="ErrorBudgetExhausted"))
    assert budget.status == "skipped" and budget.details["action"] == "none"
    assert "Scale capacity or fix the root cause" in budget.summary
    down = remediate(_env(labels={"namespace": "shop", "deployment": "api"}))
    assert down.status == "skipped" and "KUBE_CONFIG_DATA" in down.summary
    assert down.stage == "remediate"


def test_function_handler_calls_remediation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTLOOP_POLICY_FILE", raising=False)
    policy_mod.cached_policy.cache_clear()
    from functions import remediate as fn

    f = fn._handle(_env(alert="ErrorBudgetExhausted"))
    assert f.stage == "remediate" and f.details["action"] == "none"

"""The loop's own monitoring in deploy/: alerting rules (promtool) and the Grafana dashboard,
checked against the metric names the console really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from shared.console.data import Snapshot
from shared.console.metrics import exposition

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "alertloop-loop-rules.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def _promtool() -> str:
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(path).exists():
        pytest.fail("promtool not found: install the Debian package prometheus (make does)")
    return path


def _snapshot() -> Snapshot:
    """One of every kind of record, so every family has samples."""
    t = NOW - timedelta(hours=1)
    runs: list[dict[str, Any]] = [
        {
            "id": "r1",
            "run_id": "r1",
            "incident_id": "i1",
            "received_at": t,
            "alert_type": "HighCPUUsage",
            "plan": ["investigate", "remediate"],
            "state": "resolved",
            "status": "resolved",
            "mttr_seconds": 100.0,
            "timings": {"investigate_seconds": 3.0, "remediate_seconds": 9.0},
            "findings": {"investigate": {"status": "ok"}, "remediate": {"status": "ok"}},
        },
        {
            "id": "r2",
            "run_id": "r2",
            "incident_id": "i2",
            "received_at": t,
            "alert_type": "HighErrorRate",
            "plan": ["investigate", "budget"],
            "state": "failed",
            "status": "firing",
            "timings": {},
            "findings": {"deadletter": {"status": "error"}},
            "failures": {"investigate": {"attempts": 5}},
        },
    ]
    audit = [
        {"at": t, "action": "restart", "outcome": "applied"},
        {"at": t, "action": "restart", "outcome": "refused", "guard": "cooldown"},
    ]
    poison = [{"at": t, "stage": "notify"}]
    return Snapshot(NOW, runs, audit, poison, 0.1)


def exported_names() -> set[str]:
    body, _ = exposition(_snapshot(), timedelta(hours=24))
    names: set[str] = set()
    for fam in text_string_to_metric_families(body.decode()):
        names.add(fam.name)
        names.update(s.name for s in fam.samples)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (strings, label matchers, ranges, grouping
    clauses and function names taken out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end() :].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith("("):
            continue
        if re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


def test_metric_name_extraction() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, stage) (rate(x_bucket{a="b"}[5m]))) > on () y'
    ) == {"x_bucket", "y"}
    assert metric_names('a{alert_type=~"$alert_type"} * on (alert_type) b') == {"a", "b"}


def test_exported_names_cover_the_issue() -> None:
    names = exported_names()
    for name in (
        "alertloop_runs",
        "alertloop_stage_duration_seconds_bucket",
        "alertloop_actions",
        "alertloop_refusals",
        "alertloop_dead_letters",
        "alertloop_loop_alerts_per_day",
        "alertloop_loop_execution_ratio",
        "alertloop_loop_investigation_seconds",
        "alertloop_loop_mttr_seconds",
        "alertloop_loop_false_positive_ratio",
        "alertloop_loop_team_action_ratio",
    ):
        assert name in names, name
    assert all(n.startswith("alertloop_") for n in names)


# ---------------------------------------------------------------- rules


def test_promtool_checks_and_tests_the_loop_rules() -> None:
    promtool = _promtool()
    for args in (
        ["check", "rules", str(RULES)],
        ["test", "rules", str(RULES.with_suffix(".test.yml"))],
    ):
        proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_loop_rules_cover_the_issue_and_read_exported_metrics() -> None:
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "AlertloopNotExecuting",
        "AlertloopInvestigationSlow",
        "AlertloopDeadLetters",
        "AlertloopFalsePositivesHigh",
        "AlertloopTeamActionRateHigh",
    } <= names
    exported = exported_names()
    for rule in rules:
        assert metric_names(rule["expr"]) <= exported, (rule["alert"], rule["expr"])
        assert rule["annotations"]["runbook_url"].startswith("https://"), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")
    tests = yaml.safe_load(RULES.with_suffix(".test.yml").read_text())
    tested = {
        case["alertname"]
        for t in tests["tests"]
        for case in t["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert names == tested, names - tested


# ---------------------------------------------------------------- dashboard


def _panels() -> list[dict[str, Any]]:
    doc = json.loads(DASHBOARD.read_text())
    return [p for p in doc["panels"] if p["type"] != "row"]


def test_dashboard_imports_with_a_datasource_input() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in doc["__inputs"]] == ["DS_PROMETHEUS"]
    assert doc["uid"] and doc["title"] and isinstance(doc["schemaVersion"], int)
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in _panels():
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
        for target in p["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
    for var in doc["templating"]["list"]:
        assert metric_names(var["query"]["query"].removeprefix("label_values(").split(",")[0])


def test_every_dashboard_expression_reads_exported_metrics() -> None:
    exported = exported_names()
    used: set[str] = set()
    for panel in _panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], names - exported)
            used |= names
    doc = json.loads(DASHBOARD.read_text())
    variable = doc["templating"]["list"][0]["query"]["query"]
    assert metric_names(variable.split("(", 1)[1].split(",")[0]) <= exported
    # at least five panels: the incident timeline, the five measures, actions and refusals
    assert len(_panels()) >= 5
    for name in (
        "alertloop_incidents_open",
        "alertloop_loop_alerts_per_day",
        "alertloop_loop_investigation_seconds",
        "alertloop_loop_mttr_seconds",
        "alertloop_loop_false_positive_ratio",
        "alertloop_loop_team_action_ratio",
        "alertloop_actions",
        "alertloop_refusals",
    ):
        assert name in used, name

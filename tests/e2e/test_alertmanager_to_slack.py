"""The whole loop as deployed locally: a real Prometheus rule fires, a real Alertmanager posts
its webhook with a bearer token to ingest under functions-framework, Pub/Sub push delivers to
every stage, and the local Slack API receives one parent — updated when the alert clears."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sandbox.monitoring import Monitoring, rule
from sandbox.stack import LOCAL_TOKEN, Stack, fire, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(default_stack: Stack) -> Stack:
    return default_stack  # tests/e2e/conftest.py: shared with the console's module


def test_real_alert_fires_and_resolves_through_the_loop(stack: Stack, tmp_path: Path) -> None:
    rules = [
        rule(
            "ApplicationDown",
            "sandbox_app_up < 1",
            "critical",
            "api is down",
            namespace="shop",
            deployment="api",
        )
    ]
    with Monitoring(tmp_path, stack.ingest_url, LOCAL_TOKEN, rules) as mon:
        mon.exporter.set("sandbox_app_up", 0, namespace="shop", deployment="api")
        wait_for(lambda: stack.slack.find_parent("api is down") is not None, 90, "Slack parent")
        parent = stack.slack.find_parent("api is down")
        plan = ["investigate", "remediate"]
        wait_for(lambda: len(stack.slack.replies(parent.ts)) >= len(plan), 60, "stage replies")
        replies = stack.slack.replies(parent.ts)
        assert [r.text.split(":")[0] for r in replies] == ["Investigation", "Remediation"]
        # The runbook's host is not in the policy's link_hosts: shown as defanged text, never a
        # button (issue 21: only allowed hosts become links).
        blocks = json.dumps(parent.blocks)
        assert "runbooks[.]example[.]com/ApplicationDown" in blocks, blocks
        assert '"url": "https://runbooks.example.com' not in blocks
        # The cluster dispatch routed it to (the one implicit cluster here) is on the parent.
        assert "*Cluster*\\ndefault" in json.dumps(parent.blocks)

        mon.exporter.set("sandbox_app_up", 1, namespace="shop", deployment="api")
        wait_for(lambda: parent.text.startswith("[RESOLVED]"), 90, "resolved update")
        header = parent.blocks[0]["text"]["text"]
        assert header.startswith("RESOLVED after")
        wait_for(
            lambda: any("Resolved after" in r.text for r in stack.slack.replies(parent.ts)),
            30,
            "resolved reply",
        )
    # One incident, one parent: Alertmanager's repeats and the resolution did not add parents.
    assert len([p for p in stack.slack.parents() if "api is down" in p.text]) == 1


def test_three_execution_paths_reach_slack(stack: Stack) -> None:
    expected = {
        "HighErrorRate": ["Investigation", "Remediation"],
        "ErrorBudgetExhausted": ["Investigation", "Error-budget analysis"],
        "HighMemoryUsage": ["Investigation"],
    }
    marker = f"path-{time.monotonic_ns()}"
    for alert_type in expected:
        body = {
            "event_type": "alert-fired",
            "client_payload": {
                "alert_type": alert_type,
                "severity": "warning",
                "annotations": {"summary": f"{alert_type} {marker}"},
            },
        }
        resp = fire(stack.ingest_url, body)
        assert resp.status_code == 200, resp.text
    for alert_type, stages in expected.items():
        needle = f"{alert_type} {marker}"
        wait_for(lambda n=needle: stack.slack.find_parent(n) is not None, 60, needle)
        parent = stack.slack.find_parent(needle)
        wait_for(
            lambda p=parent, k=stages: len(stack.slack.replies(p.ts)) >= len(k),
            60,
            f"{alert_type} replies",
        )
        got = [r.text.split(":")[0] for r in stack.slack.replies(parent.ts)]
        assert got == stages, (alert_type, got)


def test_wrong_token_is_refused_by_the_deployed_function(stack: Stack) -> None:
    resp = fire(
        stack.ingest_url,
        {"event_type": "alert-fired", "client_payload": {"alert_type": "X"}},
        token="nope",
    )
    assert resp.status_code == 401

"""The console in the local stack, as `make run` starts it: a functions-framework process like
every other function; Slack's Run log button opens its incident page; the stack's Prometheus
scrapes its /metrics with the bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sandbox.monitoring import Monitoring, rule
from sandbox.stack import LOCAL_TOKEN, Stack, wait_for

pytestmark = pytest.mark.e2e


def test_console_in_the_local_stack(default_stack: Stack, tmp_path: Path) -> None:
    stack = default_stack  # tests/e2e/conftest.py
    rules = [
        rule("ApplicationDown", "sandbox_app_up < 1", "critical", "cart is down",
             namespace="shop", deployment="cart")
    ]  # fmt: skip
    mon = Monitoring(
        tmp_path / "mon",
        stack.ingest_url,
        LOCAL_TOKEN,
        rules,
        console_target=f"127.0.0.1:{stack.ports['console']}",
    )
    with mon:
        assert stack.slack is not None
        mon.exporter.set("sandbox_app_up", 0, namespace="shop", deployment="cart")
        wait_for(lambda: stack.slack.find_parent("cart is down") is not None, 90, "Slack parent")
        parent = stack.slack.find_parent("cart is down")
        assert parent is not None
        buttons = [e for b in parent.blocks if b.get("type") == "actions" for e in b["elements"]]
        run_log = next(e["url"] for e in buttons if e["text"]["text"] == "Run log")
        assert run_log.startswith(f"{stack.console_url}incidents/")

        browser = requests.Session()
        login = browser.get(stack.console_login_url, timeout=10)
        assert login.status_code == 200 and "Incidents" in login.text  # redirected to the list
        assert "ApplicationDown" in login.text
        # This test's incident, not only one of the shared stack's others (same type).
        incident = run_log.split("/incidents/", 1)[1].split("?", 1)[0]
        assert f'href="/incidents/{incident}"' in login.text
        wait_for(lambda: "Investigation" in browser.get(run_log, timeout=10).text, 60, "timeline")
        page = browser.get(run_log, timeout=10).text
        assert "Alert started firing" in page and "alertloop replay" in page
        assert requests.get(stack.console_url, timeout=10).status_code == 401

        def scraped() -> bool:
            resp = requests.get(
                f"{mon.prometheus_url}/api/v1/query",
                params={"query": 'sum(alertloop_runs{alert_type="ApplicationDown"})'},
                timeout=5,
            ).json()
            result = resp["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= 1

        wait_for(scraped, 60, "Prometheus scraping the console")

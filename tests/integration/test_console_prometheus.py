"""/metrics scraped by a real Prometheus (Debian package) with the bearer token, as the local
stack does; queries on it return the values the known runs imply, and every expression of the
Grafana dashboard and the loop rules evaluates on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sandbox.monitoring import binary, console_scrape
from sandbox.procs import Proc, free_port, http_ok, wait_until
from shared.console import app as console_app
from shared.ledger import Ledger
from tests.console_seed import (
    EXPECTED_EXECUTION_RATIO,
    EXPECTED_FALSE_POSITIVE_RATIO,
    EXPECTED_RUNS_BY_STATE,
    EXPECTED_TEAM_ACTION_RATIO,
    seed_known,
)
from tests.console_server import serve_console

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-test-token"


@pytest.fixture
def prometheus(store: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("ALERTLOOP_CONSOLE_TOKEN", TOKEN)
    monkeypatch.setenv("ALERTLOOP_CONSOLE_CACHE_SECONDS", "0")
    console_app.snapshots.clear()
    seed_known(store)
    with serve_console() as base:
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                console_scrape(base.removeprefix("http://"), token_file, interval="1s")
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = Proc(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            tmp_path / "prometheus.log",
        )
        try:
            proc.wait_ready(http_ok(f"{url}/-/ready"), 30)
            yield url
        finally:
            proc.stop()


def query(url: str, expr: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def value(url: str, expr: str) -> float:
    result = query(url, expr)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def test_prometheus_scrapes_the_loop_metrics(prometheus: str) -> None:
    url = prometheus
    wait_until(
        lambda: (
            bool(query(url, 'up{job="alertloop-console"} == 1'))
            and bool(query(url, "alertloop_runs"))
        ),
        30,
        "Prometheus scraping the console",
        interval=0.5,
    )
    for (alert_type, state), n in EXPECTED_RUNS_BY_STATE.items():
        expr = f'alertloop_runs{{alert_type="{alert_type}", state="{state}"}}'
        assert value(url, expr) == n, expr
    assert value(url, "sum(alertloop_runs)") == 6
    assert value(url, 'alertloop_loop_false_positive_ratio{alert_type="all"}') == (
        EXPECTED_FALSE_POSITIVE_RATIO
    )
    assert value(url, 'alertloop_loop_team_action_ratio{alert_type="all"}') == (
        EXPECTED_TEAM_ACTION_RATIO
    )
    assert value(url, 'alertloop_loop_execution_ratio{alert_type="all"}') == (
        EXPECTED_EXECUTION_RATIO
    )
    assert value(url, 'alertloop_loop_false_positive_ratio{alert_type="HighCPUUsage"}') == 1.0
    assert value(url, "sum(alertloop_runs_waiting)") == 1
    assert value(url, 'alertloop_refusals{guard="cooldown"}') == 1
    assert value(url, 'alertloop_dead_letters{stage="budget"}') == 1
    assert value(url, 'sum(alertloop_actions{action="restart"})') == 2
    # the gauge histogram works with histogram_quantile directly: investigations of 1, 2.5, 3,
    # 10 and 40 s; the p50 falls in the (1, 5] bucket
    buckets = 'alertloop_stage_duration_seconds_bucket{stage="investigate"}'
    p50 = value(url, f"histogram_quantile(0.5, sum by (le) ({buckets}))")
    assert 1 < p50 <= 5

    # every dashboard panel and loop rule evaluates on the real data
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$alert_type", ".*")
            assert query(url, expr) is not None, (panel["title"], expr)
    rules = yaml.safe_load((ROOT / "deploy" / "alertloop-loop-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            query(url, rule["expr"])
    # with these runs the loop's own alerts would fire on: the waiting run, the dead letter
    assert query(url, "sum by (alert_type) (alertloop_runs_waiting) > 0")
    assert not query(
        url, 'alertloop_loop_investigation_seconds{quantile="0.95", alert_type!="all"} > 300'
    )

"""The backtest's state machine against Prometheus' own rule engine (`promtool test rules`).

Random flapping series with stale markers (a stale sample removes the series from the result,
like a scrape gap longer than the lookback) go through one rule per (`for`, `keep_firing_for`)
pair. For every evaluation, the alerts our backtest says are firing become promtool's expected
alerts: promtool fails the file if Prometheus disagrees anywhere.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import yaml

from sandbox.prometheus import PROMTOOL_BIN, sandbox_unavailable
from shared.tune.backtest import Grid, SeriesPoints, backtest, label_key

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

STEPS = 45
GRID = Grid(0.0, 60.0, STEPS)
FORS = (0, 60, 120, 180)
KEEPS = (0, 60, 150)


def alert_name(for_s: int, keep_s: int) -> str:
    return f"T_for{for_s}_keep{keep_s}"


def random_series(rng: random.Random, n: int) -> list[list[float | None]]:
    """Per series, a value per evaluation (None = stale): flaps, bursts and gaps."""
    out = []
    for _ in range(n):
        values: list[float | None] = []
        high = False
        for _ in range(STEPS):
            if rng.random() < 0.35:
                high = not high
            values.append(None if rng.random() < 0.1 else (0.1 if high else 0.01))
        out.append(values)
    return out


def test_state_machine_matches_promtool(tmp_path: Path) -> None:
    if sandbox_unavailable():
        pytest.skip(sandbox_unavailable())
    rules = {
        "groups": [
            {
                "name": "tune",
                "rules": [
                    {
                        "alert": alert_name(f, k),
                        "expr": "x > 0.05",
                        "for": f"{f}s",
                        "keep_firing_for": f"{k}s",
                    }
                    for f in FORS
                    for k in KEEPS
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = []
    fired = 0
    for seed in range(8):
        rng = random.Random(seed)
        data = random_series(rng, 3)
        inputs, series = [], []
        for n, values in enumerate(data):
            labels = {"s": f"s{n}"}
            notation = " ".join("stale" if v is None else str(v) for v in values)
            inputs.append({"series": f'x{{s="s{n}"}}', "values": notation})
            pts = [(i, v) for i, v in enumerate(values) if v is not None]
            series.append(SeriesPoints(label_key(labels), pts))
        checks = []
        for f in FORS:
            for k in KEEPS:
                incidents = backtest(series, GRID, lambda v: v > 0.05, f, k)
                fired += len(incidents)
                for i in range(STEPS):
                    t = GRID.at(i)
                    firing = [
                        inc.labels
                        for inc in incidents
                        if inc.fired_at <= t and (inc.resolved_at is None or t < inc.resolved_at)
                    ]
                    checks.append(
                        {
                            "eval_time": f"{i}m",
                            "alertname": alert_name(f, k),
                            "exp_alerts": [{"exp_labels": labels} for labels in firing],
                        }
                    )
        tests.append({"interval": "1m", "input_series": inputs, "alert_rule_test": checks})
    assert fired > 100  # the random series do flap: there is something to compare
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests})
    )
    proc = subprocess.run(
        [PROMTOOL_BIN, "test", "rules", "tests.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

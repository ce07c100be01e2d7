"""Benchmark: 30-day backfill + Prometheus startup, and budget analysis latency.

    .venv/bin/python -m bench.bench_budget [--repeat 20] [--step 300]

Not a test: prints timings. Needs /usr/bin/prometheus and /usr/bin/promtool.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sandbox.prometheus import PrometheusSandbox, aligned_end, budget_scenarios
from shared.budget import BudgetSettings, analyse
from shared.model import Alert
from shared.prometheus import PrometheusClient, PrometheusSettings
from shared.run import Run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--step", type=float, default=300.0)
    args = parser.parse_args()
    end = aligned_end(args.step, margin=120)
    scenarios = budget_scenarios(end, args.step)
    series = [s for group in scenarios.values() for s in group]
    samples = sum(len(s.samples) for s in series)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        with PrometheusSandbox(series, Path(tmp)) as prom:
            print(
                f"{len(series)} series, {samples} samples, step {args.step:g}s: "
                f"{prom.timings} (total {time.monotonic() - t0:.2f}s)"
            )
            client = PrometheusClient(PrometheusSettings(url=prom.url))
            for service in scenarios:
                run = Run(
                    run_id=service,
                    source="dispatch",
                    alert=Alert(
                        name="ErrorBudgetExhausted",
                        labels={"service": service},
                        starts_at=datetime.now(UTC),
                        fingerprint=service,
                    ),
                    alert_type="ErrorBudgetExhausted",
                    plan=["budget"],
                )
                durations = []
                for _ in range(args.repeat):
                    t = time.monotonic()
                    analyse(run, client=client, settings=BudgetSettings(), now=end)
                    durations.append(time.monotonic() - t)
                print(
                    f"analyse({service}): median {statistics.median(durations) * 1000:.1f} ms, "
                    f"max {max(durations) * 1000:.1f} ms"
                )


if __name__ == "__main__":
    main()

"""Ingest throughput and latency against a bare functions-framework function, in one run.

Both run as real functions-framework processes on 127.0.0.1; ingest records every alert in the
Firestore emulator and publishes to the Pub/Sub emulator. Absolute numbers depend on the machine;
the ratio to the bare function (same process model, same client, same moment) is the figure.

    .venv/bin/python bench/bench_ingest.py [--requests 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.emulators import Emulators
from sandbox.procs import Proc, free_port

PROJECT = "alertloop-bench"
TOKEN = "bench-token"


def webhook() -> dict:
    fp = uuid.uuid4().hex[:16]
    return {
        "version": "4",
        "groupKey": "bench",
        "status": "firing",
        "receiver": "alertloop",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighCPUUsage",
                    "namespace": "shop",
                    "deployment": "api",
                    "severity": "warning",
                    "bench": fp,
                },
                "annotations": {"summary": "CPU above 80%"},
                "startsAt": "2026-11-27T06:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fp,
            }
        ],
    }


def measure(url: str, n: int, concurrency: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    session = requests.Session()
    for _ in range(10):  # warm-up: first requests create clients lazily
        session.post(url, json=webhook(), headers=headers, timeout=30).raise_for_status()
    latencies = []
    for _ in range(n):
        body = webhook()
        t = time.perf_counter()
        session.post(url, json=body, headers=headers, timeout=30).raise_for_status()
        latencies.append(time.perf_counter() - t)

    def one(_: int) -> None:
        with requests.post(url, json=webhook(), headers=headers, timeout=60) as r:
            r.raise_for_status()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "throughput_rps": n / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alertloop-bench-"))
    emu = Emulators(PROJECT, work).start()
    procs: list[Proc] = []
    try:
        import os

        from google.cloud import pubsub_v1

        os.environ.update(emu.env())
        pub = pubsub_v1.PublisherClient()
        for stage in ("investigate", "remediate", "budget", "notify", "deadletter"):
            pub.create_topic(name=f"projects/{PROJECT}/topics/bench-{stage}")
        env = {
            **emu.env(),
            "ALERTLOOP_TOPIC_PREFIX": "bench-",
            "ALERTLOOP_WEBHOOK_TOKEN": TOKEN,
            "ALERTLOOP_LOG_LEVEL": "WARNING",
        }
        ff = str(Path(sys.executable).parent / "functions-framework")
        ports = {"ingest": free_port(), "bare": free_port()}
        sources = {"ingest": ROOT / "main.py", "bare": ROOT / "bench" / "bare_function.py"}
        for name, port in ports.items():
            proc = Proc(
                name,
                [
                    ff,
                    "--source",
                    str(sources[name]),
                    "--target",
                    name,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                work / f"{name}.log",
                env=env,
                cwd=ROOT,
            )
            procs.append(proc)
            proc.wait_ready(
                lambda p=port: requests.get(f"http://127.0.0.1:{p}/", timeout=2) is not None, 60
            )
        results = {
            name: measure(f"http://127.0.0.1:{port}/", args.requests, args.concurrency)
            for name, port in ports.items()
        }
    finally:
        for proc in procs:
            proc.stop()
        emu.stop()
    b, i = results["bare"], results["ingest"]
    print(
        f"{'':10} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>9}   ({args.requests} requests, "
        f"concurrency {args.concurrency})"
    )
    for name in ("bare", "ingest"):
        r = results[name]
        print(f"{name:10} {r['p50_ms']:9.1f} {r['p95_ms']:9.1f} {r['throughput_rps']:9.1f}")
    print(
        f"ingest/bare: p50 latency x{i['p50_ms'] / b['p50_ms']:.1f}, "
        f"throughput x{i['throughput_rps'] / b['throughput_rps']:.2f}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

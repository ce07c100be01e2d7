"""interact's answer time, cold and warm, against a bare functions-framework function, in one run.

Slack waits 3 seconds for an interactivity request to be acknowledged. interact verifies the
signature, checks the permission from configuration, publishes the click to the Pub/Sub emulator
and answers; the work happens later in the act worker. Measured here, on this machine:

- cold: from spawning the functions-framework process to the answer of the first signed click
  (Python start, imports, the lazily created Pub/Sub client, the first publish) — the part of a
  Cloud Run cold start that is ours (the platform adds the container start);
- first: the first click once the process listens (lazy clients only);
- warm: sequential clicks after that (p50 / p95).

The bare function (bench/bare_function.py) goes through the same steps; the ratio is the figure.

    .venv/bin/python bench/bench_interact.py [--rounds 5] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.emulators import Emulators
from sandbox.procs import Proc, free_port
from shared.slack.simulated_clicks import block_actions_payload, signed_request

PROJECT = "alertloop-bench"
SECRET = "bench-signing-secret"
SLACK_BUDGET_S = 3.0


def signed_click() -> tuple[bytes, dict[str, str]]:
    button = {
        "type": "button",
        "action_id": "acknowledge",
        "value": "i" + uuid.uuid4().hex[:19],
        "text": {"type": "plain_text", "text": "Acknowledge"},
    }
    message = {"type": "message", "ts": f"{time.time():.6f}", "text": "FIRING", "blocks": []}
    payload = block_actions_payload(
        user_id="UBENCH",
        user_name="bench",
        channel="CBENCH",
        message=message,
        block_id="incident:bench",
        button=button,
        response_url="https://hooks.slack.com/actions/T0/1/bench",
    )
    return signed_request(payload, SECRET)


def post(url: str, session: requests.Session | None = None) -> requests.Response:
    body, headers = signed_click()
    return (session or requests).post(url, data=body, headers=headers, timeout=30)


def start(name: str, source: Path, port: int, env: dict[str, str], work: Path) -> Proc:
    ff = str(Path(sys.executable).parent / "functions-framework")
    return Proc(
        name,
        [ff, "--source", str(source), "--target", name, "--host", "127.0.0.1", "--port", str(port)],
        work / f"{name}-{port}.log",
        env=env,
        cwd=ROOT,
    )


def cold_round(name: str, source: Path, env: dict[str, str], work: Path) -> tuple[float, float]:
    """(spawn -> first answer, first answer once listening) in seconds."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = start(name, source, port, env, work)
    try:
        while True:
            try:
                resp = post(url)
                break
            except requests.ConnectionError:
                time.sleep(0.01)
        cold = time.perf_counter() - t0
        resp.raise_for_status()
    finally:
        proc.stop()
    # Again, but wait until the process listens before the first click.
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start(name, source, port, env, work)
    try:
        proc.wait_ready(lambda: requests.get(url, timeout=2) is not None, 60)
        t1 = time.perf_counter()
        post(url).raise_for_status()
        first = time.perf_counter() - t1
    finally:
        proc.stop()
    return cold, first


def warm(name: str, source: Path, env: dict[str, str], work: Path, n: int) -> list[float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start(name, source, port, env, work)
    try:
        proc.wait_ready(lambda: requests.get(url, timeout=2) is not None, 60)
        session = requests.Session()
        for _ in range(10):
            post(url, session).raise_for_status()
        latencies = []
        for _ in range(n):
            t = time.perf_counter()
            resp = post(url, session)
            latencies.append(time.perf_counter() - t)
            resp.raise_for_status()
        return sorted(latencies)
    finally:
        proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alertloop-bench-interact-"))
    emu = Emulators(PROJECT, work).start()
    try:
        from google.cloud import pubsub_v1

        os.environ.update(emu.env())
        pubsub_v1.PublisherClient().create_topic(
            name=f"projects/{PROJECT}/topics/bench-interactions"
        )
        env = {
            **emu.env(),
            "ALERTLOOP_TOPIC_PREFIX": "bench-",
            "SLACK_SIGNING_SECRET": SECRET,
            "ALERTLOOP_LOG_LEVEL": "WARNING",
        }
        sources = {"interact": ROOT / "main.py", "bare": ROOT / "bench" / "bare_function.py"}
        results: dict[str, dict[str, float]] = {}
        for name, source in sources.items():
            rounds = [cold_round(name, source, env, work) for _ in range(args.rounds)]
            lat = warm(name, source, env, work, args.requests)
            colds = sorted(r[0] for r in rounds)
            firsts = sorted(r[1] for r in rounds)
            results[name] = {
                "cold_median_s": statistics.median(colds),
                "cold_max_s": colds[-1],
                "first_median_s": statistics.median(firsts),
                "warm_p50_ms": statistics.median(lat) * 1000,
                "warm_p95_ms": lat[int(len(lat) * 0.95) - 1] * 1000,
            }
    finally:
        emu.stop()
    print(f"({args.rounds} cold rounds, {args.requests} warm requests; Slack allows 3 s)")
    print(f"{'':10} {'cold med':>9} {'cold max':>9} {'first':>9} {'warm p50':>9} {'warm p95':>9}")
    for name, r in results.items():
        print(
            f"{name:10} {r['cold_median_s']:8.2f}s {r['cold_max_s']:8.2f}s "
            f"{r['first_median_s'] * 1000:7.0f}ms {r['warm_p50_ms']:7.1f}ms "
            f"{r['warm_p95_ms']:7.1f}ms"
        )
    i, b = results["interact"], results["bare"]
    print(
        f"interact/bare: cold x{i['cold_median_s'] / b['cold_median_s']:.1f}, "
        f"warm p50 x{i['warm_p50_ms'] / b['warm_p50_ms']:.1f}; worst cold answer "
        f"{i['cold_max_s']:.2f}s = {i['cold_max_s'] / SLACK_BUDGET_S:.0%} of Slack's 3 s"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "interact.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

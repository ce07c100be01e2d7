"""Durable-first intake, measured (issue #11). One run, one machine; ratios against a baseline
measured in the same run. `make bench` runs it.

  1. ingest vs a bare functions-framework function (both real processes on 127.0.0.1; ingest
     publishes to the Pub/Sub emulator): p50/p95 latency, throughput at a concurrency.
  2. one storm webhook of 1,000 (and 10,000) realistic kube-prometheus alerts: time to 200.
  3. Firestore reads/writes and Pub/Sub messages per alert, counted at the clients' network
     boundary, for a plain alert and per alert of a storm (dispatch, the stage, notify).
  4. on the whole local stack: alert accepted -> first Slack post, and -> investigation finding
     posted, p50/p95 over N alerts.

    .venv/bin/python bench/bench_ingest.py [--requests 300] [--concurrency 8] [--alerts 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.counting import counting_firestore, counting_publisher
from sandbox.emulators import Emulators
from sandbox.procs import Proc, free_port

PROJECT = "alertloop-bench"
TOKEN = "bench-token"
ANNOTATIONS = {
    "summary": "Container memory usage is close to its limit",
    "description": (
        "Pod {pod} in namespace {ns}: container {c} uses 91.3% of its memory limit (1Gi) for "
        "the last 10 minutes. If it keeps growing the container will be OOM-killed. Check the "
        "heap profile and recent deploys; consider raising the limit or fixing the leak. "
    )
    * 3,
    "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubememoryovercommit",
}


def alert(i: int, group: str) -> dict[str, Any]:
    ns, pod = f"team-{i % 17}", f"worker-{group}-{i}"
    return {
        "status": "firing",
        "labels": {
            "alertname": "HighMemoryUsage",
            "namespace": ns,
            "pod": pod,
            "container": "app",
            "severity": "warning",
            "prometheus": "monitoring/k8s",
            "job": "kubelet",
            "service": "kubelet",
            "endpoint": "https-metrics",
            "instance": f"10.0.{i % 250}.{i % 200}:10250",
            "node": f"gke-pool-{i % 40}",
        },
        "annotations": {k: v.format(pod=pod, ns=ns, c="app") for k, v in ANNOTATIONS.items()},
        "startsAt": "2026-11-27T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=container_memory",
        "fingerprint": f"{abs(hash(group)) % 16**8:08x}{i:08x}",
    }


def webhook(n: int = 1, group: str = "") -> dict[str, Any]:
    group = group or uuid.uuid4().hex[:8]
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="HighMemoryUsage", g="{group}"}}',
        "status": "firing",
        "receiver": "alertloop",
        "groupLabels": {"alertname": "HighMemoryUsage"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "truncatedAlerts": 0,
        "alerts": [alert(i, group) for i in range(n)],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# ---- 1 and 2: ingest vs bare, storms ----------------------------------------------------------


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
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "throughput_rps": n / wall,
    }


def storm_accept(url: str, n: int) -> tuple[float, int]:
    body = json.dumps(webhook(n)).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    t = time.perf_counter()
    r = requests.post(url, data=body, headers=headers, timeout=300)
    took = time.perf_counter() - t
    r.raise_for_status()
    return took, len(body)


def ingest_vs_bare(args: argparse.Namespace, work: Path, emu: Emulators) -> dict[str, Any]:
    from google.cloud import pubsub_v1

    pubsub_v1.PublisherClient().create_topic(name=f"projects/{PROJECT}/topics/bench-intake")
    env = {
        **emu.env(),
        "ALERTLOOP_TOPIC_PREFIX": "bench-",
        "ALERTLOOP_WEBHOOK_TOKEN": TOKEN,
        "ALERTLOOP_LOG_LEVEL": "WARNING",
    }
    ff = str(Path(sys.executable).parent / "functions-framework")
    ports = {"ingest": free_port(), "bare": free_port()}
    sources = {"ingest": ROOT / "main.py", "bare": ROOT / "bench" / "bare_function.py"}
    procs: list[Proc] = []
    try:
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
        results: dict[str, Any] = {
            name: measure(f"http://127.0.0.1:{port}/", args.requests, args.concurrency)
            for name, port in ports.items()
        }
        ingest = f"http://127.0.0.1:{ports['ingest']}/"
        results["storms"] = {n: storm_accept(ingest, n) for n in (1000, 10000)}
    finally:
        for proc in procs:
            proc.stop()
    return results


# ---- 3: Firestore and Pub/Sub per alert ---------------------------------------------------------


def per_alert_counts() -> dict[str, dict[str, float]]:
    from google.cloud import pubsub_v1

    from shared.bus import Bus
    from shared.config import settings
    from shared.dispatch import dispatch_alert, dispatch_group
    from shared.intake import intake_messages
    from shared.investigation import investigate
    from shared.ledger import Ledger
    from shared.messages import IntakeAlert, NotifyMessage, StageMessage
    from shared.notifier import Notifier
    from shared.policy import load_policy
    from shared.stage import StageRunner, notify_for
    from shared.webhook import parse_body

    pub = pubsub_v1.PublisherClient()
    for t in ("intake", "investigate", "remediate", "budget", "notify", "deadletter"):
        pub.create_topic(name=f"projects/{PROJECT}/topics/count-{t}")
    os.environ.update({"ALERTLOOP_TOPIC_PREFIX": "count-", "ALERTLOOP_STORM_THRESHOLD": "20"})
    for name in ("KUBECONFIG", "KUBE_CONFIG_DATA", "PROMETHEUS_URL", "SLACK_BOT_TOKEN"):
        os.environ.pop(name, None)
    settings.cache_clear()
    cfg, policy = settings(), load_policy()
    counts: Counter[str] = Counter()
    ledger = Ledger(client=counting_firestore(PROJECT, counts))
    bus = Bus(publisher=counting_publisher(counts))
    runner = StageRunner("investigate", lambda run: investigate(run), ledger=ledger, bus=bus)
    notifier = Notifier(ledger=ledger)

    def pipeline(alerts: int) -> dict[str, float]:
        counts.clear()
        _, messages = intake_messages(parse_body(webhook(alerts)), cfg)
        for m in messages:
            counts["messages"] += 1  # what ingest published to `intake`
            if isinstance(m, IntakeAlert):
                dispatch_alert(m, policy, cfg, ledger, bus)
            else:
                dispatch_group(m, ledger, bus)
        for m in messages:
            if not isinstance(m, IntakeAlert):
                notifier(NotifyMessage(kind="group", id=m.group_id))
                continue
            run = ledger.load_run(m.run_id)
            assert run is not None
            if not run.digest_group:
                notifier(notify_for(run))  # the "firing, investigating…" projection
            runner.run(StageMessage(run_id=m.run_id, stage="investigate"))
            notifier(notify_for(run))  # the investigation's projection
        return {k: round(v / alerts, 2) for k, v in sorted(counts.items())}

    pipeline(1)  # warm-up: lazy clients, imports
    return {"plain alert": pipeline(1), "per alert of a 200-alert storm": pipeline(200)}


# ---- 4: on the whole stack ----------------------------------------------------------------------


def stack_latency(n: int, work: Path) -> dict[str, Any]:
    from sandbox.stack import LOCAL_TOKEN, Stack, fire

    posts: dict[str, float] = {}
    replies: dict[str, float] = {}
    lock = threading.Lock()

    def on_slack(kind: str, msg: Any) -> None:
        now = time.perf_counter()
        with lock:
            if kind != "post":
                return
            if msg.thread_ts is None:
                for marker in markers:
                    if marker in json.dumps(msg.blocks) and marker not in posts:
                        posts[marker] = now
                        parents[msg.ts] = marker
            elif msg.text.startswith("Investigation") and msg.thread_ts in parents:
                replies.setdefault(parents[msg.thread_ts], now)

    markers: list[str] = []
    parents: dict[str, str] = {}
    accepted: dict[str, float] = {}
    st = Stack(
        work / "stack", slack_listener=on_slack, env_overrides={"ALERTLOOP_LOG_LEVEL": "WARNING"}
    )
    with st:
        for i in range(n + 3):
            marker = f"bench-{uuid.uuid4().hex[:10]}"
            body = webhook(1)
            body["alerts"][0]["annotations"]["summary"] = marker
            with lock:
                markers.append(marker)
            r = fire(st.ingest_url, body, token=LOCAL_TOKEN)
            r.raise_for_status()
            if i >= 3:  # the first three warm every function up
                accepted[marker] = time.perf_counter()
            time.sleep(0.3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(m in replies for m in accepted):
            time.sleep(0.2)
    first = [posts[m] - t for m, t in accepted.items() if m in posts]
    found = [replies[m] - t for m, t in accepted.items() if m in replies]
    return {
        "alerts": n,
        "first_post_s": {"p50": statistics.median(first), "p95": percentile(first, 0.95)},
        "finding_s": {"p50": statistics.median(found), "p95": percentile(found, 0.95)},
        "missing": n - len(found),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--alerts", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alertloop-bench-"))
    emu = Emulators(PROJECT, work).start()
    try:
        os.environ.update(emu.env())
        os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
        os.environ["ALERTLOOP_LOG_LEVEL"] = "WARNING"
        results = ingest_vs_bare(args, work, emu)
        results["counts"] = per_alert_counts()
    finally:
        emu.stop()
    results["stack"] = stack_latency(args.alerts, work)

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
    for n, (took, size) in results["storms"].items():
        print(f"storm {n:,} alerts: accepted in {took:.2f} s ({size / 2**20:.1f} MiB body)")
    for what, c in results["counts"].items():
        line = ", ".join(f"{k} {v:g}" for k, v in c.items() if ":" not in k)
        print(f"per alert, {what}: {line}")
    s = results["stack"]
    print(
        f"local stack, {s['alerts']} alerts: accepted -> first Slack post p50 "
        f"{s['first_post_s']['p50']:.2f} s, p95 {s['first_post_s']['p95']:.2f} s; "
        f"-> investigation finding posted p50 {s['finding_s']['p50']:.2f} s, "
        f"p95 {s['finding_s']['p95']:.2f} s"
        + (f" ({s['missing']} never arrived)" if s["missing"] else "")
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "intake.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

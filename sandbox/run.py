"""`make run` and `make demo`: the whole loop locally, with real alerts and readable output.

run:  start everything, fire the three example paths through a real Prometheus and Alertmanager,
      print each Slack message, then keep running (Ctrl-C stops every process it started).
demo: the same, but exit 0 once all three paths reached Slack (non-zero with the reason if not).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sandbox.demo_data import prepare_tsdb
from sandbox.monitoring import Monitoring, rule
from sandbox.procs import Proc, free_port
from sandbox.slack_api import SlackMessage
from sandbox.stack import LOCAL_TOKEN, PROJECT, ROOT, TOPIC_PREFIX, Stack
from shared.policy import load_policy
from shared.slack_render import blocks_as_text

WORKDIR = ROOT / ".stack"

# The three execution paths of the reference design, as real alerting rules on sandbox gauges.
PATHS = {
    "A": (
        "HighErrorRate",
        "critical",
        "demo_http_error_ratio > 0.05",
        "Error rate above 5% for checkout",
        {"namespace": "shop", "deployment": "checkout"},
        0.12,
    ),
    "B": (
        "ErrorBudgetExhausted",
        "warning",
        "demo_error_budget_burn_rate > 1",
        "payments burned its 30-day error budget",
        {"namespace": "shop", "service": "payments", "deployment": "payments"},
        3.0,
    ),
    "C": (
        "HighMemoryUsage",
        "warning",
        "demo_memory_limit_ratio > 0.85",
        "cart memory above 85% of its limit",
        {"namespace": "shop", "deployment": "cart"},
        0.91,
    ),
}

_print_lock = threading.Lock()


def say(text: str = "") -> None:
    with _print_lock:
        print(text, flush=True)


def show_slack(kind: str, msg: SlackMessage) -> None:
    body = blocks_as_text(msg.blocks) or msg.text
    if kind == "update":
        first = body.splitlines()[0] if body else msg.text
        say(f"  ↻ Slack parent {msg.ts} updated → {first}")
        return
    if msg.thread_ts:
        say(f"  ↳ reply in thread {msg.thread_ts}:")
        say("\n".join("      " + line for line in body.splitlines()))
        return
    say(f"\n┌─ Slack {msg.channel} · new message {msg.ts}")
    say("\n".join("│ " + line for line in body.splitlines()))
    say("└─")


def banner(stack: Stack, mon: Monitoring) -> None:
    say(f"""
alertloop is running locally (everything on 127.0.0.1):
  ingest         {stack.ingest_url}   (Bearer token: {LOCAL_TOKEN})
  Prometheus     {mon.prometheus_url}
  Alertmanager   {mon.alertmanager_url}   (its webhook posts to ingest)
  Pub/Sub        emulator at {stack.emulators.pubsub_host if stack.emulators else "?"}
  Firestore      emulator at {stack.emulators.firestore_host if stack.emulators else "?"}
  Slack          local Web API server (messages are printed below)
  logs           {WORKDIR / "logs"}/<function>.log

Fire more:  .venv/bin/alertloop fire ApplicationDown --severity critical --namespace shop \\
                --deployment checkout
Point your own Alertmanager at it: see deploy/alertmanager.yml (url {stack.ingest_url}).
""")


def parents_done(stack: Stack, expected: dict[str, int]) -> dict[str, str]:
    """Alert name -> what is still missing (empty dict when every path reached Slack)."""
    assert stack.slack
    missing = {}
    for name, stages in expected.items():
        parent = stack.slack.find_parent(name)
        if parent is None:
            missing[name] = "no Slack parent message yet"
            continue
        got = len(stack.slack.replies(parent.ts))
        if got < stages:
            missing[name] = f"{got}/{stages} stage replies in its thread"
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="exit once all paths reached Slack")
    parser.add_argument("--timeout", type=float, default=150)
    args = parser.parse_args(argv)

    # Explicit handlers: a shell may start us with SIGINT ignored, and SIGTERM must clean up too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    WORKDIR.mkdir(exist_ok=True)
    for stale in ("prometheus-data", "alertmanager-data"):
        _rmtree(WORKDIR / stale)

    t0 = time.monotonic()
    env = _passthrough_env()
    stack = Stack(WORKDIR, env_overrides=env, slack_listener=show_slack)
    stack.ports["ingest"] = free_port()
    rules = [
        rule(name, expr, sev, summary, **labels)
        for name, sev, expr, summary, labels, _ in PATHS.values()
    ]
    mon = Monitoring(WORKDIR, stack.ingest_url, LOCAL_TOKEN, rules, prom_port=free_port())
    sandbox_notes = []
    try:
        if "PROMETHEUS_URL" not in env:
            took = prepare_tsdb(WORKDIR / "prometheus-data", WORKDIR)
            env["PROMETHEUS_URL"] = mon.prometheus_url
            sandbox_notes.append(
                f"Prometheus holds 30 days of generated demo history (backfilled in {took:.1f}s)"
            )
        if "KUBECONFIG" not in env and "KUBE_CONFIG_DATA" not in env:
            env["KUBECONFIG"] = str(start_kube_sandbox(stack))
            # The sandbox is ours to change: let remediation act on its "shop" namespace.
            env.setdefault("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
            env.setdefault("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "3")
            sandbox_notes.append(
                "Kubernetes is a SANDBOX API server (scenario 'demo'), not a real cluster; "
                "set KUBECONFIG to investigate yours (read-only unless you allow namespaces)"
            )
        say("starting emulators, functions and the local Slack API…")
        stack.start()
        mon.start()
        stack.extra.extend(p for p in (mon.prometheus, mon.alertmanager) if p)
    except BaseException:
        mon.stop()
        stack.stop()
        raise
    try:
        (WORKDIR / "stack.json").write_text(
            json.dumps(
                {
                    "ingest_url": stack.ingest_url,
                    "token": LOCAL_TOKEN,
                    "prometheus_url": mon.prometheus_url,
                    "alertmanager_url": mon.alertmanager_url,
                    "project": PROJECT,
                    "topic_prefix": TOPIC_PREFIX,
                    "pubsub_host": stack.emulators.pubsub_host if stack.emulators else "",
                    "firestore_host": stack.emulators.firestore_host if stack.emulators else "",
                }
            )
        )
        banner(stack, mon)
        for note in sandbox_notes:
            say(f"  note: {note}")
        say(
            f"stack ready in {time.monotonic() - t0:.1f}s; firing paths A, B and C through "
            "Prometheus → Alertmanager → ingest…"
        )
        for _name, _sev, _expr, _summary, labels, value in PATHS.values():
            metric = _expr.split()[0]
            mon.exporter.set(metric, value, **labels)
        policy = load_policy()
        expected = {name: len(policy.plan_for(name)) for name, *_ in PATHS.values()}
        deadline = time.monotonic() + args.timeout
        missing = parents_done(stack, expected)
        while missing and time.monotonic() < deadline:
            time.sleep(0.5)
            missing = parents_done(stack, expected)
        if missing:
            say("\nnot every path reached Slack:")
            for name, what in missing.items():
                say(f"  {name}: {what}")
            say(f"see the logs in {WORKDIR / 'logs'}")
            if args.demo:
                return 1
        else:
            say(f"\nall three paths reached Slack ({time.monotonic() - t0:.1f}s after start).")
        if args.demo:
            return 0
        say("\nstill running: fire more alerts, or Ctrl-C to stop everything.")
        while True:  # until Ctrl-C or SIGTERM (KeyboardInterrupt, below)
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping every process this run started…")
        mon.stop()
        stack.stop()
        (WORKDIR / "stack.json").unlink(missing_ok=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def start_kube_sandbox(stack: Stack) -> Path:
    """The sandbox Kubernetes API (the same server the tests use), seeded with broken apps."""
    kubeconfig = WORKDIR / "sandbox-kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    proc = Proc(
        "kube-sandbox",
        [
            sys.executable,
            "-m",
            "sandbox.kube_api",
            "--scenario",
            "demo",
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        WORKDIR / "logs" / "kube-sandbox.log",
        cwd=ROOT,
    )
    stack.extra.append(proc)
    proc.wait_ready(kubeconfig.exists, 30)
    return kubeconfig


def _passthrough_env() -> dict[str, str]:
    """Configuration the user set (their cluster, Prometheus, Slack) wins over the sandbox."""
    keys = (
        "KUBECONFIG",
        "KUBE_CONFIG_DATA",
        "PROMETHEUS_URL",
        "ALERTLOOP_DRY_RUN",
        "ALERTLOOP_REMEDIATE_NAMESPACES",
    )
    return {k: os.environ[k] for k in keys if os.environ.get(k)}


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""`make run` and `make demo`: the whole loop locally, with real alerts and readable output.

run:  start everything, fire the four example paths through a real Prometheus and Alertmanager,
      print each Slack message, then keep running (Ctrl-C stops every process it started).
demo: the same, but exit 0 once all six paths reached Slack (non-zero with the reason if not).
run --scenario-file dump.yaml (make run SCENARIO=dump.yaml): the sandbox Kubernetes API serves
      your own cluster's `kubectl get … -A -o yaml` dump instead of the demo; no demo alerts are
      fired (fire your own with `alertloop fire`), remediation may act on the dump's namespaces.

The sandbox cluster enforces deploy/rbac.yaml (its namespaced Roles in the remediation
allow-list) and investigate, remediate, rollback, dispatch and the sweeper each reach it as
their own identity; the other functions get no Kubernetes credentials at all.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.demo_data import prepare_tsdb
from sandbox.kube.dump import KUBECTL_DUMP, DumpError, dump_namespaces, load_dump
from sandbox.kube_scenarios import DEMO_DUMP
from sandbox.monitoring import Monitoring, rule
from sandbox.procs import Proc, free_port
from sandbox.slack_api import ResponsePost, SlackMessage
from sandbox.stack import (
    LOCAL_GROUP,
    LOCAL_TOKEN,
    LOCAL_USER,
    PROJECT,
    RBAC_MANIFEST,
    ROOT,
    TOPIC_PREFIX,
    Stack,
    sandbox_identities,
)
from shared.policy import load_policy
from shared.remediation.settings import parse_namespaces
from shared.slack.blocks import blocks_as_text

WORKDIR = ROOT / ".stack"

# The three execution paths of the reference design (and a refusal), as real alerting rules on
# sandbox gauges.
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
    # The refusal made visible: a restart-type alert on PostgreSQL run as a Deployment on a PVC.
    "D": (
        "ApplicationDown",
        "critical",
        "demo_ready_replicas_ratio < 1",
        "postgres has no ready replica",
        {"namespace": "shop", "deployment": "postgres"},
        0.0,
    ),
    # Outcomes (docs/outcomes.md): a restart that does not help ends `Outcome: not fixed` and
    # the brake; one after which the alert resolves ends `Outcome: fixed`.
    "E": (
        "KubePodCrashLooping",
        "critical",
        "demo_crashloop_restarts > 0",
        "search keeps crashing",
        {"namespace": "shop", "deployment": "search"},
        4.0,
    ),
    "F": (
        "KubeDeploymentReplicasMismatch",
        "critical",
        "demo_replicas_mismatch > 0",
        "catalog has fewer replicas than wanted",
        {"namespace": "shop", "deployment": "catalog"},
        1.0,
    ),
}
# Outcome paths: the alert name, and the lines its thread must end with.
OUTCOME_PATHS = {
    "KubePodCrashLooping": ("Outcome: not fixed", "Brake:"),
    "KubeDeploymentReplicasMismatch": ("Outcome: fixed",),
}
# Path F recovers once restarted: its gauge goes back to 0 (the restart "worked").
RECOVERS = "F"

# Path D must end in this refusal: the demo fails if the database Deployment was acted on.
REFUSAL_PATH, REFUSAL = PATHS["D"][0], "Refused (database_class"

_print_lock = threading.Lock()


def say(text: str = "") -> None:
    with _print_lock:
        print(text, flush=True)


def show_slack(kind: str, msg: SlackMessage) -> None:
    body = blocks_as_text(msg.blocks) or msg.text
    if kind == "update":
        first = body.splitlines()[0] if body else msg.text
        say(f"  ↻ Slack message {msg.ts} updated → {first}")
        before = set(blocks_as_text(msg.history[-1]).splitlines()) if msg.history else set()
        added = [line for line in body.splitlines()[1:] if line not in before]
        for line in added[:8]:
            say(f"      + {line}")
        return
    if msg.thread_ts:
        say(f"  ↳ reply in thread {msg.thread_ts}:")
        say("\n".join("      " + line for line in body.splitlines()))
        return
    say(f"\n┌─ Slack {msg.channel} · new message {msg.ts}")
    say("\n".join("│ " + line for line in body.splitlines()))
    say("└─")


def show_response(post: ResponsePost) -> None:
    """A reply to a click through its response_url: in Slack, only the clicker sees it."""
    text = blocks_as_text([{"type": "section", "text": {"type": "mrkdwn", "text": post.text}}])
    say(f"  ✉ to <@{post.user_id}> only (response_url): {text}")


def banner(stack: Stack, mon: Monitoring) -> None:
    say(f"""
alertloop is running locally (everything on 127.0.0.1):
  console        {stack.console_login_url}
                 (incidents, timelines, loop health; /metrics with the Bearer token)
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

Click a button (no Slack UI here: the click is signed as Slack signs it and sent to interact
{stack.interact_url}, as {LOCAL_USER}, member of the on-call group {LOCAL_GROUP}):
  .venv/bin/alertloop click acknowledge              # the newest incident's Acknowledge
  .venv/bin/alertloop click silence_1h --incident ID # silence 1h / 4h / 24h in Alertmanager
  .venv/bin/alertloop click take_over                # stop automation (resume_automation)
  .venv/bin/alertloop click verdict_noise            # verdict_useful / _noise / _manual
  .venv/bin/alertloop click approve_rollback         # a rollback proposal (reject_rollback)
  .venv/bin/alertloop health                         # loop health, verdict-based where given
""")


def parents_done(stack: Stack, expected: dict[str, int]) -> dict[str, str]:
    """Alert name -> what is still missing (empty dict when every path reached Slack)."""
    assert stack.slack
    missing = {}
    summaries = {name: summary for name, _sev, _expr, summary, _labels, _v in PATHS.values()}
    for name, stages in expected.items():
        # By the path's own summary: aliases share their policy type's name on the parent.
        parent = stack.slack.find_parent(summaries.get(name, name))
        if parent is None:
            missing[name] = "no Slack parent message yet"
            continue
        replies = stack.slack.replies(parent.ts)
        if len(replies) < stages:
            missing[name] = f"{len(replies)}/{stages} stage replies in its thread"
        elif name == REFUSAL_PATH and not any(REFUSAL in blocks_as_text(m.blocks) for m in replies):
            missing[name] = f"no {REFUSAL!r} line in its thread: the database was not refused"
        elif name in OUTCOME_PATHS:
            texts = [m.text for m in replies]
            for want in OUTCOME_PATHS[name]:
                if not any(t.startswith(want) for t in texts):
                    missing[name] = f"no {want!r} line in its thread yet"
                    break
    return missing


def recover_once_restarted(stack: Stack, mon: Monitoring) -> None:
    """Path F's workload recovers after its restart: its gauge drops, the alert resolves."""
    assert stack.slack
    _name, _sev, expr, summary, labels, _value = PATHS[RECOVERS]
    parent = stack.slack.find_parent(summary)
    if parent is None:
        return
    if any(
        m.text.startswith("Remediate") or "Restarted" in m.text
        for m in stack.slack.replies(parent.ts)
    ):
        mon.exporter.set(expr.split()[0], 0.0, **labels)


# Never opened to remediation, even when a dump contains them.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@dataclass
class DumpPlan:
    """How `make run` serves a user's cluster dump: validated before anything starts."""

    path: Path
    logs: Path | None
    namespaces: list[str]
    env: dict[str, str]  # settings for the functions (never overriding the user's)
    example: str  # an `alertloop fire` line naming one of the dump's deployments
    notes: list[str] = field(default_factory=list)


def dump_plan(path: str, logs: str, user_env: dict[str, str]) -> DumpPlan:
    """Load and check the dump (raises DumpError) and decide the run's settings for it."""
    scenario = load_dump(path, logs or None)
    namespaces = dump_namespaces(scenario)
    allowed = [ns for ns in namespaces if ns not in SYSTEM_NAMESPACES]
    env = {"ALERTLOOP_REMEDIATE_VERIFY_SECONDS": "10"}
    if "ALERTLOOP_REMEDIATE_NAMESPACES" not in user_env:
        env["ALERTLOOP_REMEDIATE_NAMESPACES"] = ",".join(allowed)
    deployments = [o["metadata"] for o in scenario.objects if o["kind"] == "Deployment"]
    target = next((d for d in deployments if d["namespace"] in allowed), None)
    example = (
        f".venv/bin/alertloop fire HighErrorRate --severity critical "
        f"--namespace {target['namespace']} --deployment {target['name']}"
        if target
        else ".venv/bin/alertloop fire ApplicationDown --severity critical --namespace NS "
        "--deployment NAME"
    )
    notes = list(scenario.notes)
    for key in ("KUBECONFIG", "KUBE_CONFIG_DATA"):
        if key in user_env:
            notes.append(f"{key} is ignored: --scenario-file serves the dump instead")
    # absolute: the sandbox process runs from the repository root
    logs_path = Path(logs).resolve() if logs else None
    return DumpPlan(Path(path).resolve(), logs_path, namespaces, env, example, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="exit once all paths reached Slack")
    parser.add_argument("--timeout", type=float, default=150)
    parser.add_argument(
        "--scenario-file",
        default="",
        help=f"serve your own cluster dump (made with: {KUBECTL_DUMP})",
    )
    parser.add_argument("--logs-file", default="", help="pod logs for --scenario-file")
    args = parser.parse_args(argv)
    dump: DumpPlan | None = None
    if args.scenario_file:
        if args.demo:
            parser.error("--demo fires the demo paths against the demo cluster: no --scenario-file")
        try:
            dump = dump_plan(args.scenario_file, args.logs_file, _passthrough_env())
        except DumpError as exc:
            say(f"cannot serve {args.scenario_file}: {exc}")
            return 2

    # Explicit handlers: a shell may start us with SIGINT ignored, and SIGTERM must clean up too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    WORKDIR.mkdir(exist_ok=True)
    for stale in ("prometheus-data", "alertmanager-data"):
        _rmtree(WORKDIR / stale)

    t0 = time.monotonic()
    env = _passthrough_env()
    if dump is not None:
        env.pop("KUBECONFIG", None)
        env.pop("KUBE_CONFIG_DATA", None)
    # Outcome checks come due quickly in a local run, and the sweeper evaluates them often.
    env.setdefault("ALERTLOOP_VERIFY_AFTER_SECONDS", "20")
    stack = Stack(WORKDIR, env_overrides=env, slack_listener=show_slack)
    stack.sweep_interval = min(stack.sweep_interval, 5.0)
    stack.ports["ingest"] = free_port()
    stack.ports["console"] = free_port()
    rules = [
        rule(name, expr, sev, summary, **labels)
        for name, sev, expr, summary, labels, _ in PATHS.values()
        if dump is None  # a dump run fires no demo alerts
    ]
    mon = Monitoring(
        WORKDIR,
        stack.ingest_url,
        LOCAL_TOKEN,
        rules,
        prom_port=free_port(),
        am_port=free_port(),
        console_target=f"127.0.0.1:{stack.ports['console']}",
    )
    # Silences from Slack and the sweeper talk to this Alertmanager (the one sending webhooks).
    env.setdefault("ALERTMANAGER_URL", mon.alertmanager_url)
    sandbox_notes = []
    try:
        if "PROMETHEUS_URL" not in env:
            env["PROMETHEUS_URL"] = mon.prometheus_url
            if dump is None:
                took = prepare_tsdb(WORKDIR / "prometheus-data", WORKDIR)
                sandbox_notes.append(
                    f"Prometheus holds 30 days of generated demo history (backfilled in "
                    f"{took:.1f}s)"
                )
            else:
                sandbox_notes.append("Prometheus is empty: the demo history is not loaded")
        if dump is not None:
            for key, value in dump.env.items():
                env.setdefault(key, value)
            allowed = env.get("ALERTLOOP_REMEDIATE_NAMESPACES", "")
            stack.function_overrides.update(
                sandbox_identities(start_kube_sandbox(stack, allowed, dump))
            )
            sandbox_notes.append(
                f"Kubernetes is a SANDBOX API server serving your dump {dump.path} "
                f"(namespaces: {', '.join(dump.namespaces)}); remediation may act on "
                f"{allowed or 'no namespace'} — in the sandbox"
            )
            sandbox_notes.extend(dump.notes)
        elif "KUBECONFIG" not in env and "KUBE_CONFIG_DATA" not in env:
            # The sandbox is ours to change: let remediation act on its "shop" namespace.
            env.setdefault("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
            env.setdefault("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "3")
            allowed = env["ALERTLOOP_REMEDIATE_NAMESPACES"]
            stack.function_overrides.update(sandbox_identities(start_kube_sandbox(stack, allowed)))
            sandbox_notes.append(
                "Kubernetes is a SANDBOX API server (the demo cluster, sandbox/demo/dump.yaml), "
                "not a real cluster; "
                "set KUBECONFIG to investigate yours (read-only unless you allow namespaces)"
            )
        if stack.function_overrides:
            sandbox_notes.append(
                f"each function reaches it as its own identity, {RBAC_MANIFEST.name} enforced: "
                "investigate reads, remediate and rollback write only in "
                f"{allowed or 'no namespace'}; the other functions have no Kubernetes access"
            )
        say("starting emulators, functions and the local Slack API…")
        stack.start()
        assert stack.slack is not None
        stack.slack.on_response = show_response
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
                    "console_url": stack.console_url,
                    "console_login_url": stack.console_login_url,
                    "token": LOCAL_TOKEN,
                    "prometheus_url": mon.prometheus_url,
                    "alertmanager_url": mon.alertmanager_url,
                    "project": PROJECT,
                    "topic_prefix": TOPIC_PREFIX,
                    "pubsub_host": stack.emulators.pubsub_host if stack.emulators else "",
                    "firestore_host": stack.emulators.firestore_host if stack.emulators else "",
                    "interact_url": stack.interact_url,
                    "slack_url": stack.slack.url if stack.slack else "",
                    "signing_secret": stack.slack.signing_secret if stack.slack else "",
                    "slack_user": LOCAL_USER,
                }
            )
        )
        banner(stack, mon)
        for note in sandbox_notes:
            say(f"  note: {note}")
        if dump is not None:
            say(f"stack ready in {time.monotonic() - t0:.1f}s. No demo alerts are fired.")
            say(f"Fire one at your own workloads:\n  {dump.example}")
            say("\nstill running: fire alerts, or Ctrl-C to stop everything.")
            while True:  # until Ctrl-C or SIGTERM (KeyboardInterrupt, below)
                time.sleep(1)
        say(
            f"stack ready in {time.monotonic() - t0:.1f}s; firing paths A to F through "
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
            recover_once_restarted(stack, mon)
            missing = parents_done(stack, expected)
        if missing:
            say("\nnot every path reached Slack:")
            for name, what in missing.items():
                say(f"  {name}: {what}")
            say(f"see the logs in {WORKDIR / 'logs'}")
            if args.demo:
                return 1
        else:
            say(f"\nall six paths reached Slack ({time.monotonic() - t0:.1f}s after start).")
            say(
                "every incident parent carries its buttons; try: "
                ".venv/bin/alertloop click acknowledge"
            )
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


def start_kube_sandbox(
    stack: Stack, allowed_namespaces: str, dump: DumpPlan | None = None
) -> dict[str, str]:
    """The sandbox Kubernetes API (the same server the tests use), serving the demo cluster
    (sandbox/demo/dump.yaml: broken apps, replayed as of now) or the user's cluster dump,
    enforcing deploy/rbac.yaml with its namespaced Roles in the allow-list. Returns function ->
    kubeconfig of that function's own identity."""
    kubeconfigs = WORKDIR / "kubeconfigs"
    _rmtree(kubeconfigs)
    which = ["--scenario-file", str(DEMO_DUMP)]  # the demo cluster is a dump too
    if dump is not None:
        which = ["--scenario-file", str(dump.path)]
        if dump.logs is not None:
            which += ["--logs-file", str(dump.logs)]
    log = WORKDIR / "logs" / "kube-sandbox.log"
    log.unlink(missing_ok=True)
    proc = Proc(
        "kube-sandbox",
        [
            sys.executable,
            "-m",
            "sandbox.kube_api",
            *which,
            "--kubeconfig-out",
            str(WORKDIR / "sandbox-kubeconfig"),  # the cluster admin's, for you
            "--rbac",
            str(RBAC_MANIFEST),
            "--namespaces",
            ",".join(parse_namespaces(allowed_namespaces)),
            "--kubeconfig-dir",
            str(kubeconfigs),
        ],
        log,
        cwd=ROOT,
    )
    stack.extra.append(proc)
    ready: dict[str, dict[str, str]] = {}

    def announced() -> bool:
        for line in log.read_text().splitlines():
            if line.startswith("{") and '"kubeconfigs"' in line:
                ready.update(json.loads(line))
                return True
        return False

    proc.wait_ready(announced, 30)
    return dict(ready["kubeconfigs"])


def _passthrough_env() -> dict[str, str]:
    """Configuration the user set (their cluster, Prometheus, Slack) wins over the sandbox."""
    keys = (
        "KUBECONFIG",
        "KUBE_CONFIG_DATA",
        "PROMETHEUS_URL",
        "ALERTLOOP_DRY_RUN",
        "ALERTLOOP_REMEDIATE_NAMESPACES",
        "ALERTLOOP_VERIFY_AFTER_SECONDS",
    )
    return {k: os.environ[k] for k in keys if os.environ.get(k)}


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m sandbox.kube_api`: serve a sandbox cluster until SIGTERM/SIGINT.

The cluster is a built-in scenario (--scenario) or a user's own `kubectl get … -A -o yaml`
dump (--scenario-file, pod logs from --logs-file or `<dump>.logs.yaml`). Prints one JSON line
when ready: {"url", "kubeconfig"} (the superuser's), plus "ca_pem" with --tls, "kubeconfigs"
(function -> path) with --rbac and "namespaces" + "notes" for a dump; a dump that cannot be
loaded exits 2 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sandbox.kube.controller import DEFAULT_DELAY_SECONDS
from sandbox.kube.dump import KUBECTL_DUMP, DumpError, dump_namespaces, load_dump
from sandbox.kube.rbac import SANDBOX_PROJECT, function_users
from sandbox.kube.scenario import Scenario
from sandbox.kube.server import KubeApiServer
from shared.k8s.permissions import IDENTITIES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Serve a sandbox Kubernetes API on 127.0.0.1.")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--scenario", default="demo", help="scenario name (see sandbox.kube_scenarios)"
    )
    which.add_argument(
        "--scenario-file",
        default="",
        help=f"serve a cluster dump instead (made with: {KUBECTL_DUMP})",
    )
    p.add_argument("--logs-file", default="", help="pod logs for --scenario-file")
    p.add_argument("--kubeconfig-out", default="", help="write a kubeconfig pointing here")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument(
        "--controller-delay",
        type=float,
        default=DEFAULT_DELAY_SECONDS,
        help="seconds the deployment controller takes per rollout step",
    )
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a throw-away CA")
    p.add_argument(
        "--rbac",
        default="",
        help="enforce these RBAC manifests (e.g. deploy/rbac.yaml) for the function identities",
    )
    p.add_argument("--project-id", default=SANDBOX_PROJECT, help="PROJECT_ID in the manifests")
    p.add_argument(
        "--namespaces",
        default=None,
        help="with --rbac: comma-separated namespaces for the NAMESPACE templates (the "
        "remediation allow-list; default: every namespace of the cluster)",
    )
    p.add_argument(
        "--kubeconfig-dir",
        default="",
        help="with --rbac: write kubeconfig-<function> here, one per function identity",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    rbac = Path(args.rbac) if args.rbac else None
    scenario: Scenario | str = args.scenario
    if args.scenario_file:
        try:
            scenario = load_dump(args.scenario_file, args.logs_file or None)
        except DumpError as exc:
            print(f"cannot serve {args.scenario_file}: {exc}", file=sys.stderr)
            return 2
        for note in scenario.notes:
            print(f"note: {note}", file=sys.stderr)
    elif args.logs_file:
        print("--logs-file goes with --scenario-file", file=sys.stderr)
        return 2
    server = KubeApiServer(
        scenario,
        port=args.port,
        kubeconfig_path=args.kubeconfig_out or None,
        controller_delay=args.controller_delay,
        tls=args.tls,
        users=function_users(args.project_id) if rbac else None,
        rbac_yaml=rbac,
        rbac_project_id=args.project_id,
        rbac_namespaces=(
            None
            if args.namespaces is None
            else [ns for ns in args.namespaces.replace(" ", ",").split(",") if ns]
        ),
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    ready: dict[str, Any] = {"url": server.url, "kubeconfig": server.kubeconfig_path}
    if args.tls:
        ready["ca_pem"] = server.ca_pem
    if isinstance(scenario, Scenario):
        ready["namespaces"] = dump_namespaces(scenario)
        ready["notes"] = scenario.notes
    if rbac:
        out = Path(args.kubeconfig_dir) if args.kubeconfig_dir else None
        if out:
            out.mkdir(parents=True, exist_ok=True)
        ready["kubeconfigs"] = {
            fn: server.kubeconfig_for(f"{fn}-token", out / f"kubeconfig-{fn}" if out else None)
            for fn in IDENTITIES
        }
    print(json.dumps(ready), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0

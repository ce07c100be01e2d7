"""`python -m sandbox.kube_api`: serve a sandbox cluster until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from sandbox.kube.controller import DEFAULT_DELAY_SECONDS
from sandbox.kube.server import KubeApiServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a sandbox Kubernetes API on 127.0.0.1.")
    parser.add_argument(
        "--scenario", default="demo", help="scenario name (see sandbox.kube_scenarios)"
    )
    parser.add_argument("--kubeconfig-out", default="", help="write a kubeconfig pointing here")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--controller-delay",
        type=float,
        default=DEFAULT_DELAY_SECONDS,
        help="seconds the deployment controller takes per rollout step",
    )
    args = parser.parse_args(argv)
    server = KubeApiServer(
        args.scenario,
        port=args.port,
        kubeconfig_path=args.kubeconfig_out or None,
        controller_delay=args.controller_delay,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(json.dumps({"url": server.url, "kubeconfig": server.kubeconfig_path}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0

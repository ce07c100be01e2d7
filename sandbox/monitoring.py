"""A real Prometheus and Alertmanager (Debian packages) wired to ingest, with a local exporter
whose gauges the caller sets: set a gauge over a threshold and a real alert fires through
Alertmanager's webhook (Bearer auth, send_resolved); set it back and the alert resolves.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from sandbox.procs import Proc, free_port, http_ok

ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(
        f"{names[0]} is not installed; `make test`/`make run` install it with "
        "apt-get install prometheus prometheus-alertmanager"
    )


class Exporter:
    """Serves /metrics with gauges set from Python: the knob that makes alerts fire."""

    def __init__(self) -> None:
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.port = free_port()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self.gauges[(name, tuple(sorted(labels.items())))] = value

    def render(self) -> str:
        lines = []
        with self._lock:
            for (name, labels), value in sorted(self.gauges.items()):
                lbl = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{lbl}}} {value}")
        return "\n".join(lines) + "\n"

    def start(self) -> Exporter:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Monitoring:
    workdir: Path
    ingest_url: str
    token: str
    rules: list[dict[str, Any]]
    exporter: Exporter = field(default_factory=Exporter)
    prometheus: Proc | None = None
    alertmanager: Proc | None = None
    prom_port: int = 0
    am_port: int = 0
    # The console's /metrics (host:port), scraped with the same bearer token as ingest's.
    console_target: str = ""

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.am_port}"

    def _write_configs(self) -> tuple[Path, Path]:
        d = self.workdir / "monitoring"
        d.mkdir(parents=True, exist_ok=True)
        token_file = d / "ingest-token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        (d / "rules.yml").write_text(
            yaml.safe_dump(
                {"groups": [{"name": "alertloop-sandbox", "interval": "1s", "rules": self.rules}]}
            )
        )
        prom = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(d / "rules.yml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "sandbox",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.exporter.port}"]}],
                },
                *([console_scrape(self.console_target, token_file)] if self.console_target else []),
            ],
        }
        am = {
            "route": {
                "receiver": "alertloop",
                "group_by": ["alertname", "namespace"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "4h",
            },
            "receivers": [
                {
                    "name": "alertloop",
                    "webhook_configs": [
                        {
                            "url": self.ingest_url,
                            "send_resolved": True,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials_file": str(token_file),
                                }
                            },
                        }
                    ],
                }
            ],
        }
        prom_file, am_file = d / "prometheus.yml", d / "alertmanager.yml"
        prom_file.write_text(yaml.safe_dump(prom))
        am_file.write_text(yaml.safe_dump(am))
        return prom_file, am_file

    def start(self) -> Monitoring:
        self.exporter.start()
        self.prom_port = self.prom_port or free_port()
        self.am_port = self.am_port or free_port()
        prom_file, am_file = self._write_configs()
        logs = self.workdir / "logs"
        self.alertmanager = Proc(
            "alertmanager",
            [
                binary(*ALERTMANAGER_BINARIES),
                f"--config.file={am_file}",
                f"--storage.path={self.workdir / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{self.am_port}",
                "--cluster.listen-address=",  # no HA gossip port
            ],
            logs / "alertmanager.log",
        )
        self.prometheus = Proc(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={prom_file}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.prom_port}",
                f"--web.external-url={self.prometheus_url}",
            ],
            logs / "prometheus.log",
        )
        self.alertmanager.wait_ready(http_ok(f"{self.alertmanager_url}/-/ready"), 30)
        self.prometheus.wait_ready(http_ok(f"{self.prometheus_url}/-/ready"), 30)
        return self

    def alert_states(self) -> dict[str, str]:
        data = requests.get(f"{self.prometheus_url}/api/v1/alerts", timeout=5).json()
        return {a["labels"]["alertname"]: a["state"] for a in data["data"]["alerts"]}

    def stop(self) -> None:
        for proc in (self.prometheus, self.alertmanager):
            if proc is not None:
                proc.stop()
        self.exporter.stop()

    def __enter__(self) -> Monitoring:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def console_scrape(target: str, token_file: Path, interval: str = "5s") -> dict[str, Any]:
    """The scrape job for the console's /metrics (bearer token from a file, as in production
    configs: deploy/prometheus-scrape-console.yml)."""
    return {
        "job_name": "alertloop-console",
        "scrape_interval": interval,
        "metrics_path": "/metrics",
        "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
        "static_configs": [{"targets": [target]}],
    }


def rule(name: str, expr: str, severity: str, summary: str, **labels: str) -> dict[str, Any]:
    """An alerting rule on a sandbox gauge: `metric > threshold`, without the scrape's own
    job/instance labels (they name the sandbox exporter, not the workload)."""
    metric, _, condition = expr.partition(" ")
    return {
        "alert": name,
        "expr": f"max without (job, instance) ({metric}) {condition}",
        "for": "0s",
        "labels": {"severity": severity, **labels},
        "annotations": {"summary": summary, "runbook_url": f"https://runbooks.example.com/{name}"},
    }

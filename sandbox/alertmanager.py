"""A real Alertmanager (Debian's prometheus-alertmanager) on its own, for tests that talk to its
API v2 without a Prometheus: alerts are pushed the way Prometheus pushes them
(POST /api/v2/alerts), silences and the alert list are Alertmanager's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from sandbox.monitoring import ALERTMANAGER_BINARIES, binary
from sandbox.procs import Proc, free_port, http_ok


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class LocalAlertmanager:
    workdir: Path
    webhook_url: str = ""  # where it sends notifications (none: a receiver without webhooks)
    token: str = ""
    port: int = 0
    proc: Proc | None = None
    pushed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        receiver: dict[str, Any] = {"name": "alertloop"}
        if self.webhook_url:
            token_file = self.workdir / "ingest-token"
            token_file.write_text(self.token)
            token_file.chmod(0o600)
            receiver["webhook_configs"] = [
                {
                    "url": self.webhook_url,
                    "send_resolved": True,
                    "http_config": {
                        "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                    },
                }
            ]
        cfg = {
            "route": {
                "receiver": "alertloop",
                "group_by": ["alertname", "namespace"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "4h",
            },
            "receivers": [receiver],
        }
        path = self.workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def start(self) -> LocalAlertmanager:
        self.port = self.port or free_port()
        config = self._config()
        self.proc = Proc(
            "alertmanager",
            [
                binary(*ALERTMANAGER_BINARIES),
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no HA gossip port
            ],
            self.workdir / "alertmanager.log",
        )
        self.proc.wait_ready(http_ok(f"{self.url}/-/ready"), 30)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def __enter__(self) -> LocalAlertmanager:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what Prometheus would do -------------------------------------------------------------

    def fire(self, labels: dict[str, str], starts_at: datetime, **annotations: str) -> None:
        """Push a firing alert (Prometheus re-sends it like this while the rule is active, with
        an endsAt a few minutes ahead)."""
        self._push(labels, starts_at, datetime.now(UTC) + timedelta(minutes=15), annotations)

    def clear(self, labels: dict[str, str], starts_at: datetime) -> None:
        """The rule stopped firing: Prometheus sends the alert once more with endsAt = now."""
        self._push(labels, starts_at, datetime.now(UTC), {})

    def _push(
        self,
        labels: dict[str, str],
        starts_at: datetime,
        ends_at: datetime,
        annotations: dict[str, str],
    ) -> None:
        body = [
            {
                "labels": labels,
                "annotations": annotations,
                "startsAt": _iso(starts_at),
                "endsAt": _iso(ends_at),
            }
        ]
        requests.post(f"{self.url}/api/v2/alerts", json=body, timeout=5).raise_for_status()
        self.pushed.extend(body)

    # ---- inspection ---------------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        resp.raise_for_status()
        data: list[dict[str, Any]] = resp.json()
        return data

    def silences(self) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/api/v2/silences", timeout=5)
        resp.raise_for_status()
        data: list[dict[str, Any]] = resp.json()
        return data

    def fingerprint(self, labels: dict[str, str]) -> str:
        """Alertmanager's fingerprint of an alert it holds (the webhook carries the same)."""
        for alert in self.alerts():
            if alert["labels"] == labels:
                return str(alert["fingerprint"])
        raise KeyError(f"Alertmanager holds no alert with labels {labels}")

"""The Pub/Sub and Firestore emulators that ship with the Google Cloud SDK, on free ports."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sandbox.procs import Proc, free_port, http_ok


def sdk_platform() -> Path:
    gcloud = shutil.which("gcloud")
    if not gcloud:
        raise RuntimeError("gcloud is not installed: the Pub/Sub and Firestore emulators need it")
    return Path(gcloud).resolve().parent.parent / "platform"


@dataclass
class Emulators:
    project: str
    workdir: Path
    pubsub: Proc | None = None
    firestore: Proc | None = None
    pubsub_host: str = ""
    firestore_host: str = ""

    def start(self) -> Emulators:
        platform = sdk_platform()
        logs = self.workdir / "logs"
        ps_port, fs_port = free_port(), free_port()
        self.pubsub_host = f"127.0.0.1:{ps_port}"
        self.firestore_host = f"127.0.0.1:{fs_port}"
        self.pubsub = Proc(
            "pubsub-emulator",
            [
                str(platform / "pubsub-emulator/bin/cloud-pubsub-emulator"),
                "--host=127.0.0.1",
                f"--port={ps_port}",
            ],
            logs / "pubsub-emulator.log",
        )
        self.firestore = Proc(
            "firestore-emulator",
            [
                str(platform / "cloud-firestore-emulator/cloud_firestore_emulator"),
                "start",
                "--host=127.0.0.1",
                f"--port={fs_port}",
            ],
            logs / "firestore-emulator.log",
        )
        self.pubsub.wait_ready(http_ok(f"http://{self.pubsub_host}/"), 60)
        self.firestore.wait_ready(http_ok(f"http://{self.firestore_host}/"), 60)
        return self

    def env(self) -> dict[str, str]:
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def stop(self) -> None:
        for proc in (self.pubsub, self.firestore):
            if proc is not None:
                proc.stop()

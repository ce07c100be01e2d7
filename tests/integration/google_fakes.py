"""Helpers for tests that run alertloop as a function identity against the local metadata server.

A Cloud Run process has ``GCE_METADATA_HOST`` from its start, and google-auth reads it once, when
``google.auth.compute_engine._metadata`` is imported. A test process switches identity, so
`use_identity` sets the environment *and* the value google-auth already read; subprocess tests
(`run_as`) use the environment alone, as production does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.gke_api import ContainerApiServer
from sandbox.kube_api import KubeApiServer
from sandbox.metadata_server import MetadataServer
from shared.clusters import clients as cluster_clients
from shared.k8s.rbac_manifest import render

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "alertloop-local"


def sa(name: str) -> str:
    return f"alertloop-{name}@{PROJECT}.iam.gserviceaccount.com"


def isolate_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials but the metadata server's: no key file, no gcloud user login."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud-empty"))


def use_identity(monkeypatch: pytest.MonkeyPatch, md: MetadataServer, name: str) -> None:
    from google.auth.compute_engine import _metadata

    for key, value in md.env_for(name).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", md.host_for(name))
    cluster_clients.clear_caches()


def no_identity(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    """Nothing answers at the metadata address (as off Google Cloud, without a login)."""
    from google.auth.compute_engine import _metadata

    host = f"127.0.0.1:{closed_port}"
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setenv("GCE_METADATA_IP", host)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", host)
    cluster_clients.clear_caches()


def fetch_token(md: MetadataServer, name: str) -> str:
    """A token the way any client gets one: GET …/token with Metadata-Flavor: Google."""
    url = f"http://{md.host_for(name)}/computeMetadata/v1/instance/service-accounts/default/token"
    resp = requests.get(url, headers={"Metadata-Flavor": "Google"}, timeout=5)
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def run_as(md: MetadataServer, name: str, code: str, env: dict[str, str] | None = None) -> Any:
    """Run `code` in a fresh Python whose only identity comes from its environment; it prints
    one JSON document, returned parsed."""
    child = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT")
    }
    child.update(md.env_for(name))
    child["CLOUDSDK_CONFIG"] = str(ROOT / ".no-gcloud-config")  # never a user login
    child.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- two GKE clusters

IDENTITIES = ("investigate", "remediate", "rollback", "dispatch", "sweeper", "budget", "admin")
K8S_IDENTITIES = ("investigate", "remediate", "rollback", "dispatch", "sweeper")
ALLOWED_NAMESPACES = ("shop",)


@dataclass
class GkeWorld:
    """Two sandbox clusters served as GKE serves them (HTTPS with a cluster CA, Google tokens
    authenticated as the service account's e-mail, RBAC = deploy/rbac.yaml for these
    identities, SubjectAccessReviews), a Container API that knows them, and a metadata server
    with one identity per function (plus `admin`, the operator, a superuser on both)."""

    md: MetadataServer
    container_api: ContainerApiServer
    kubes: dict[str, KubeApiServer]
    rbac: list[dict[str, Any]]

    def gke_name(self, cluster: str) -> str:
        return f"projects/{PROJECT}/locations/europe-west1/clusters/{cluster}"

    def table(self) -> dict[str, Any]:
        return {
            "clusters": {name: {"gke": self.gke_name(name)} for name in self.kubes},
            "identities": {fn: sa(fn) for fn in K8S_IDENTITIES},
        }

    def env(self) -> dict[str, str]:
        return {
            "ALERTLOOP_CLUSTERS": json.dumps(self.table()),
            "ALERTLOOP_CONTAINER_API_URL": self.container_api.url,
            "ALERTLOOP_REMEDIATE_NAMESPACES": ",".join(ALLOWED_NAMESPACES),
        }

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("KUBECONFIG", "KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST",
                     "ALERTLOOP_CLUSTERS_FILE", "ALERTLOOP_CLUSTER_LABELS"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
        for key, value in self.env().items():
            monkeypatch.setenv(key, value)


@contextlib.contextmanager
def gke_world(names: tuple[str, ...] = ("east", "west")) -> Iterator[GkeWorld]:
    from sandbox.kube_remediation_scenarios import remediation

    ids = {fn: sa(fn) for fn in IDENTITIES}
    rbac = render(ids, ALLOWED_NAMESPACES)
    with contextlib.ExitStack() as stack:
        md = stack.enter_context(MetadataServer(ids, project_id=PROJECT))
        viewers = {sa(fn) for fn in (*K8S_IDENTITIES, "admin")}
        api = stack.enter_context(ContainerApiServer(md.resolve, viewers=viewers))
        kubes = {}
        for name in names:
            kubes[name] = stack.enter_context(
                KubeApiServer(
                    remediation(),
                    tls=True,
                    google_tokens=md.resolve,
                    rbac_yaml=rbac,
                    superusers={sa("admin")},
                )
            )
            world_name = f"projects/{PROJECT}/locations/europe-west1/clusters/{name}"
            api.add_cluster(world_name, kubes[name].address, kubes[name].ca_pem)
        yield GkeWorld(md, api, kubes, rbac)

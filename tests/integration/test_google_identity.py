"""Google identity without GCP: the real google-auth against the local metadata server, and the
real google-cloud-container client against the local Container API (which checks the tokens)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.gke_api import ContainerApiServer
from sandbox.metadata_server import MetadataServer, remote_resolver
from shared.clusters import gke
from shared.clusters.gke import K8sCredentialsError, fetch_endpoint, gke_configuration
from shared.clusters.table import ClusterEntry
from tests.integration.google_fakes import (
    PROJECT,
    fetch_token,
    isolate_adc,
    no_identity,
    run_as,
    sa,
    use_identity,
)

pytestmark = pytest.mark.integration

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBsandbox\n-----END CERTIFICATE-----\n"
EAST = f"projects/{PROJECT}/locations/europe-west1/clusters/east"


@pytest.fixture
def md() -> Iterator[MetadataServer]:
    ids = {name: sa(name) for name in ("investigate", "remediate", "budget")}
    with MetadataServer(ids, project_id=PROJECT) as server:
        yield server


@pytest.fixture
def container_api(
    md: MetadataServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ContainerApiServer]:
    with ContainerApiServer(md.resolve, viewers={sa("investigate"), sa("remediate")}) as api:
        api.add_cluster(EAST, "127.0.0.1:6443", CA_PEM, private_endpoint="10.0.0.2")
        monkeypatch.setenv(gke.CONTAINER_API_ENV, api.url)
        yield api


@pytest.fixture(autouse=True)
def _adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_adc(monkeypatch, tmp_path)


# ---------------------------------------------------------------- the metadata protocol


def test_google_auth_default_uses_the_metadata_server_named_in_the_environment(
    md: MetadataServer,
) -> None:
    out = run_as(
        md,
        "investigate",
        """
import json, google.auth, google.auth.transport.requests as r
creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
creds.refresh(r.Request())
print(json.dumps({"module": type(creds).__module__, "project": project,
                  "email": creds.service_account_email, "token": creds.token,
                  "valid": creds.valid}))
""",
    )
    assert out["module"] == "google.auth.compute_engine.credentials"
    assert out["project"] == PROJECT
    assert out["email"] == sa("investigate")
    assert out["valid"] is True
    info = md.resolve(out["token"])
    assert info is not None and info.identity == "investigate" and info.email == sa("investigate")
    assert info.scopes == ("https://www.googleapis.com/auth/cloud-platform",)
    paths = [p for who, p in md.requests if who == "investigate"]
    assert "/" in paths  # google-auth's ping
    assert any(p.startswith("/computeMetadata/v1/instance/service-accounts/default/token?scopes=")
               for p in paths)  # fmt: skip


def test_tokens_are_refreshed_when_they_expire(
    md: MetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth
    from google.auth.transport.requests import Request

    use_identity(monkeypatch, md, "remediate")
    creds, _ = google.auth.default(scopes=[gke.CLOUD_PLATFORM_SCOPE])
    md.token_lifetime_seconds = 3600
    creds.before_request(Request(), "GET", "https://x", {})
    first = creds.token
    creds.before_request(Request(), "GET", "https://x", {})
    assert creds.token == first  # valid: reused, not fetched again
    # A lifetime under google-auth's refresh margin (3m45s): stale at once, refreshed per request.
    md.token_lifetime_seconds = 1
    creds.token = None
    tokens = []
    for _ in range(3):
        headers: dict[str, str] = {}
        creds.before_request(Request(), "GET", "https://x", headers)
        tokens.append(headers["authorization"].removeprefix("Bearer "))
    assert len(set(tokens)) == 3 and first not in tokens
    assert all(md.resolve(t) is not None for t in tokens)
    assert {md.resolve(t).email for t in tokens} == {sa("remediate")}  # type: ignore[union-attr]


def test_metadata_flavor_header_is_required(md: MetadataServer) -> None:
    base = f"http://{md.host_for('investigate')}/computeMetadata/v1/project/project-id"
    refused = requests.get(base, timeout=5)
    assert refused.status_code == 403 and "Metadata-Flavor" in refused.text
    ok = requests.get(base, headers={"Metadata-Flavor": "Google"}, timeout=5)
    assert ok.status_code == 200 and ok.text == PROJECT
    assert ok.headers["Metadata-Flavor"] == "Google"


def test_each_identity_has_its_own_tokens_and_tokeninfo_answers_for_them(
    md: MetadataServer,
) -> None:
    a, b = fetch_token(md, "investigate"), fetch_token(md, "budget")
    resolve = remote_resolver(md.tokeninfo_url)
    assert resolve(a).email == sa("investigate")  # type: ignore[union-attr]
    assert resolve(b).email == sa("budget")  # type: ignore[union-attr]
    assert resolve("ya29.made-up") is None
    assert md.revoke("budget") == 1
    assert resolve(b) is None and resolve(a) is not None
    bad = requests.get(md.tokeninfo_url, params={"access_token": b}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_token"


# ---------------------------------------------------------------- the Container API


def _entry(**kw: object) -> ClusterEntry:
    return ClusterEntry.model_validate({"name": "east", "gke": EAST, **kw})


def test_endpoint_and_ca_come_from_the_container_api(
    md: MetadataServer, container_api: ContainerApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, md, "investigate")
    endpoint, ca = fetch_endpoint(_entry(), gke.adc_credentials(), timeout=5)
    assert endpoint == "https://127.0.0.1:6443"
    assert base64.b64decode(ca).decode() == CA_PEM
    private, _ = fetch_endpoint(_entry(endpoint_type="private"), gke.adc_credentials(), 5)
    assert private == "https://10.0.0.2"
    assert container_api.calls == [(f"/v1/{EAST}", 200)] * 2


def test_an_identity_without_cluster_viewer_gets_a_clear_error(
    md: MetadataServer, container_api: ContainerApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, md, "budget")
    with pytest.raises(K8sCredentialsError) as err:
        fetch_endpoint(_entry(), gke.adc_credentials(), timeout=5)
    text = str(err.value)
    assert "not allowed to get GKE cluster" in text and "container.clusters.get" in text
    assert f"grant roles/container.clusterViewer on project {PROJECT} to {sa('budget')}" in text


def test_a_token_the_api_does_not_accept_is_a_clear_error(
    md: MetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API trusts another metadata server only: our tokens are unknown there (even refreshed).
    with (
        MetadataServer({"x": sa("x")}) as other,
        ContainerApiServer(other.resolve, viewers={sa("investigate")}) as api,
    ):
        api.add_cluster(EAST, "127.0.0.1:6443", CA_PEM)
        monkeypatch.setenv(gke.CONTAINER_API_ENV, api.url)
        use_identity(monkeypatch, md, "investigate")
        with pytest.raises(K8sCredentialsError) as err:
            fetch_endpoint(_entry(), gke.adc_credentials(), timeout=5)
    assert "refused the Google credentials of" in str(err.value)
    assert "invalid authentication credentials" in str(err.value)
    statuses = [status for _, status in api.calls]
    assert len(statuses) >= 2 and set(statuses) == {401}  # refreshed, then gave up
    assert sa("investigate") in str(err.value)


def test_no_credentials_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    no_identity(monkeypatch, port)
    with pytest.raises(K8sCredentialsError) as err:
        gke.adc_credentials()
    assert "no Google credentials" in str(err.value)
    assert "gcloud auth application-default login" in str(err.value)


def test_an_unknown_cluster_is_named(
    md: MetadataServer, container_api: ContainerApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, md, "investigate")
    missing = ClusterEntry(name="gone", gke=EAST.replace("/east", "/gone"))
    with pytest.raises(K8sCredentialsError, match="does not exist"):
        fetch_endpoint(missing, gke.adc_credentials(), timeout=5)


# ---------------------------------------------------------------- the kubernetes Configuration


def test_kubernetes_configuration_refreshes_its_bearer_token(
    md: MetadataServer, container_api: ContainerApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, md, "remediate")
    md.token_lifetime_seconds = 1  # stale at once: every request must get a fresh one
    cfg, source = gke_configuration(_entry(), timeout=5)
    assert cfg.host == "https://127.0.0.1:6443"
    assert Path(cfg.ssl_ca_cert).read_text() == CA_PEM and cfg.verify_ssl is True
    seen = [cfg.auth_settings()["BearerToken"]["value"] for _ in range(3)]
    assert all(v.startswith("Bearer ya29.local-") for v in seen)
    tokens = {v.removeprefix("Bearer ") for v in seen}
    assert len(tokens) == 3
    assert {md.resolve(t).email for t in tokens} == {sa("remediate")}  # type: ignore[union-attr]
    md.token_lifetime_seconds = 3600
    source.invalidate()
    steady = {cfg.auth_settings()["BearerToken"]["value"] for _ in range(3)}
    assert len(steady) == 1  # a valid token is reused


def test_explicit_endpoint_and_ca_need_no_container_api(
    md: MetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, md, "budget")  # not a cluster viewer: the API is never asked
    monkeypatch.setenv(gke.CONTAINER_API_ENV, "http://127.0.0.1:9")
    ca = base64.b64encode(CA_PEM.encode()).decode()
    cfg, _ = gke_configuration(_entry(endpoint="127.0.0.1:7443", ca_data=ca), timeout=5)
    assert cfg.host == "https://127.0.0.1:7443"
    assert Path(cfg.ssl_ca_cert).read_text() == CA_PEM


def test_the_metadata_server_runs_as_a_process_for_the_local_stack() -> None:
    import json
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.metadata_server", "--project", PROJECT,
         "--identity", f"investigate={sa('investigate')}", "--token-lifetime", "300"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        host = ready["hosts"]["investigate"]
        url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
        token = requests.get(url, headers={"Metadata-Flavor": "Google"}, timeout=5).json()
        assert token["expires_in"] == 300
        info = remote_resolver(ready["tokeninfo_url"])(token["access_token"])
        assert info is not None and info.email == sa("investigate")
    finally:
        proc.terminate()  # our own child, by its handle
        proc.wait(10)

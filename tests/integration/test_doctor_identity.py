"""`alertloop doctor` checks who the API server actually sees (SelfSubjectReview + tokeninfo),
not the e-mail it assumes: a token GKE would name by its numeric id is reported with its fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.metadata_server import CLOUD_PLATFORM, unique_id_for
from shared.cli import main
from shared.clusters import clients as cluster_clients
from shared.clusters.gke import gke_configuration
from shared.clusters.table import ClusterEntry, load_table
from shared.doctor import render, run_doctor
from shared.doctor_identity import who_am_i
from shared.k8s.client import KubeClients
from shared.k8s.settings import K8sSettings
from tests.integration.google_fakes import (
    ALLOWED_NAMESPACES,
    GkeWorld,
    gke_world,
    isolate_adc,
    sa,
    use_identity,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> Iterator[GkeWorld]:
    with gke_world(("east",)) as w:
        yield w


@pytest.fixture(autouse=True)
def _env(world: GkeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    isolate_adc(monkeypatch, tmp_path)
    world.apply(monkeypatch)
    use_identity(monkeypatch, world.md, "admin")  # the operator running doctor
    yield
    cluster_clients.clear_caches()


def _clients_with_scopes(scopes: list[str]) -> KubeClients:
    """Clients for `east` whose Google token has exactly `scopes` (a credential built the way
    an older build, or a hand-made one, would build it)."""
    from google.auth import compute_engine
    from kubernetes import client

    entry: ClusterEntry = load_table().clusters["east"]
    cfg, source = gke_configuration(entry, 5.0, compute_engine.Credentials(scopes=scopes))
    cfg.retries = False
    return KubeClients(client.ApiClient(cfg), settings=K8sSettings(), host=cfg.host,
                       cluster="east", token_source=source)  # fmt: skip


def test_the_sandbox_answers_self_subject_reviews_for_any_authenticated_user(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_identity(monkeypatch, world.md, "investigate")  # no RBAC rule about it: basic-user
    clients = cluster_clients.kube_clients_for(load_table().clusters["east"])
    user, groups = who_am_i(clients)
    assert user == sa("investigate")
    assert "system:authenticated" in groups


def test_doctor_shows_who_the_api_server_sees(
    world: GkeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--namespaces", ",".join(ALLOWED_NAMESPACES),
                 "--tokeninfo-url", world.md.tokeninfo_url])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"the API server sees you as: {sa('admin')} (Google token of {sa('admin')})" in out
    assert "IDENTITY" not in out


def test_a_token_without_userinfo_email_is_reported_with_its_fix(world: GkeWorld) -> None:
    report = run_doctor(
        load_table(),
        ALLOWED_NAMESPACES,
        clients_for=lambda entry: _clients_with_scopes([CLOUD_PLATFORM]),
        tokeninfo_url=world.md.tokeninfo_url,
    )
    [cluster] = report.clusters
    assert cluster.identity is not None
    assert cluster.identity.seen_as == unique_id_for(sa("admin"))  # the numeric id
    assert "no userinfo.email scope" in cluster.identity.problem
    assert not report.ok
    out = render(report)
    assert "IDENTITY: the Google token has no userinfo.email scope" in out
    assert "fix: request the scopes cloud-platform and userinfo.email" in out
    assert "result: FAILED" in out


def test_an_unreadable_tokeninfo_degrades_to_a_note(world: GkeWorld) -> None:
    closed = f"{world.md.tokeninfo_url.rsplit('/', 1)[0]}/nothing-here"
    report = run_doctor(load_table(), ALLOWED_NAMESPACES, tokeninfo_url=closed)
    [cluster] = report.clusters
    assert cluster.identity is not None and cluster.identity.seen_as == sa("admin")
    assert "cannot read the token's tokeninfo" in cluster.identity.note
    assert not cluster.identity.problem

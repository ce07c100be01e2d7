"""GKE maps a Google token to its RBAC user by e-mail only when the token carries userinfo.email.

https://cloud.google.com/kubernetes-engine/docs/how-to/role-based-access-control: a token without
that scope is the account's numeric unique id, which deploy/rbac.yaml does not bind. The sandbox
cluster follows that rule, so a cloud-platform-only token is refused as it would be on GKE, and
alertloop's own credentials (shared.clusters.gke.GKE_SCOPES) still reach the cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.metadata_server import CLOUD_PLATFORM, USERINFO_EMAIL, unique_id_for
from shared.clusters import clients as cluster_clients
from shared.clusters import gke
from shared.clusters.clients import kube_clients_for
from shared.clusters.routing import Route, route_alert
from tests.integration.google_fakes import GkeWorld, gke_world, isolate_adc, sa, use_identity

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> Iterator[GkeWorld]:
    with gke_world(("east",)) as w:
        yield w


@pytest.fixture(autouse=True)
def _env(world: GkeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    isolate_adc(monkeypatch, tmp_path)
    world.apply(monkeypatch)
    yield
    cluster_clients.clear_caches()


def _token(world: GkeWorld, identity: str, scopes: tuple[str, ...]) -> str:
    """A token from the metadata server, asked as google-auth asks (`?scopes=a,b`)."""
    url = f"http://{world.md.host_for(identity)}/computeMetadata/v1/instance/service-accounts/default/token"
    resp = requests.get(
        url, params={"scopes": ",".join(scopes)}, headers={"Metadata-Flavor": "Google"}, timeout=5
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def _list_pods(world: GkeWorld, token: str, tmp_path: Path) -> requests.Response:
    kube = world.kubes["east"]
    ca = tmp_path / "ca.pem"
    ca.write_text(kube.ca_pem)
    return requests.get(
        f"https://{kube.address}/api/v1/namespaces/shop/pods",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(ca),
        timeout=5,
    )


def test_the_metadata_server_issues_exactly_the_scopes_asked_for(world: GkeWorld) -> None:
    token = _token(world, "investigate", (CLOUD_PLATFORM, USERINFO_EMAIL))
    info = world.md.resolve(token)
    assert info is not None and info.scopes == (CLOUD_PLATFORM, USERINFO_EMAIL)
    narrow = world.md.resolve(_token(world, "investigate", (CLOUD_PLATFORM,)))
    assert narrow is not None and narrow.scopes == (CLOUD_PLATFORM,)
    assert not narrow.carries_email  # cloud-platform does not imply the e-mail


def test_tokeninfo_shows_the_email_only_with_the_userinfo_email_scope(world: GkeWorld) -> None:
    def tokeninfo(token: str) -> dict[str, str]:
        resp = requests.get(world.md.tokeninfo_url, params={"access_token": token}, timeout=5)
        resp.raise_for_status()
        return dict(resp.json())

    narrow = tokeninfo(_token(world, "investigate", (CLOUD_PLATFORM,)))
    assert "email" not in narrow
    assert narrow["sub"] == unique_id_for(sa("investigate")) and narrow["sub"].isdigit()
    wide = tokeninfo(_token(world, "investigate", gke.GKE_SCOPES))
    assert wide["email"] == sa("investigate") and wide["email_verified"] == "true"


def test_a_cloud_platform_only_token_is_the_numeric_id_and_rbac_refuses_it(
    world: GkeWorld, tmp_path: Path
) -> None:
    resp = _list_pods(world, _token(world, "investigate", (CLOUD_PLATFORM,)), tmp_path)
    assert resp.status_code == 403
    numeric = unique_id_for(sa("investigate"))
    assert f'User "{numeric}" cannot list resource "pods"' in resp.json()["message"]
    ok = _list_pods(world, _token(world, "investigate", (CLOUD_PLATFORM, USERINFO_EMAIL)), tmp_path)
    assert ok.status_code == 200, ok.text


def test_alertloop_asks_for_both_scopes_and_is_its_email_on_the_cluster(
    world: GkeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(gke.GKE_SCOPES) == {CLOUD_PLATFORM, USERINFO_EMAIL}
    use_identity(monkeypatch, world.md, "investigate")
    gke.adc_credentials.cache_clear()
    route = route_alert({"cluster": "east"})
    assert isinstance(route, Route)
    clients = kube_clients_for(route.cluster)
    pods = clients.call("list", "pods", "shop",
                        lambda **kw: clients.core.list_namespaced_pod("shop", **kw))  # fmt: skip
    assert pods["items"]
    assert world.kubes["east"].requests_matching(user=sa("investigate"))
    issued = [world.md.resolve(t) for t in world.md.issued("investigate")]
    assert any(i is not None and i.carries_email for i in issued)

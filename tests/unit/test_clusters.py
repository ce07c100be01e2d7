"""The cluster table (loading, validation) and routing an alert to one cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.clusters import table as cl
from shared.clusters.routing import Route, RoutingProblem, route, route_alert
from shared.clusters.table import ClusterConfigError, load_table, parse_table

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
EAST = "projects/acme/locations/europe-west1/clusters/east"
WEST = "projects/acme/locations/us-central1/clusters/west"


def table(doc: dict[str, object], labels: tuple[str, ...] = ("cluster",)) -> cl.ClusterTable:
    return parse_table(doc, source="test", labels=labels)


TWO = {"clusters": {"east": {"gke": EAST}, "west": {"gke": WEST, "aliases": ["gke_acme_west"]}}}
ONE = {"clusters": {"east": {"gke": EAST}}}


# ---------------------------------------------------------------- routing


def test_label_present_routes_to_that_cluster() -> None:
    got = route({"alertname": "X", "cluster": "west"}, table(TWO))
    assert isinstance(got, Route)
    assert got.name == "west" and got.label == "cluster"
    assert got.cluster.gke == WEST


def test_alias_routes_to_its_cluster() -> None:
    got = route({"cluster": "gke_acme_west"}, table(TWO))
    assert isinstance(got, Route) and got.name == "west"


def test_absent_label_with_one_cluster_is_the_default() -> None:
    got = route({"alertname": "X", "namespace": "shop"}, table(ONE))
    assert isinstance(got, Route)
    assert got.name == "east" and got.label is None


def test_absent_label_with_two_clusters_is_a_problem_naming_labels_and_clusters() -> None:
    labels = {"alertname": "HighErrorRate", "namespace": "shop", "secret_ish": "s3cr3t-value"}
    got = route(labels, table(TWO, ("cluster", "k8s_cluster")))
    assert isinstance(got, RoutingProblem)
    assert got.reason == "no_label"
    msg = str(got)
    assert "cluster, k8s_cluster" in msg  # the labels tried
    assert "east, west" in msg  # the configured clusters
    assert "alertname, namespace, secret_ish" in msg  # the labels seen: names only
    assert "s3cr3t-value" not in msg and "HighErrorRate" not in msg  # never other values
    assert "No action" in msg
    assert got.configured == ("east", "west")


def test_unknown_name_is_a_problem_even_with_one_cluster() -> None:
    got = route({"cluster": "prod-b", "namespace": "shop"}, table(ONE))
    assert isinstance(got, RoutingProblem)
    assert got.reason == "unknown"
    assert "cluster='prod-b'" in str(got)
    assert got.cluster_labels == (("cluster", "prod-b"),)


def test_alternative_label_names_are_tried_in_order() -> None:
    t = table(TWO, ("cluster", "k8s_cluster", "cluster_name"))
    got = route({"cluster_name": "east"}, t)
    assert isinstance(got, Route) and got.name == "east" and got.label == "cluster_name"
    got = route({"k8s_cluster": "west", "cluster_name": "gke_acme_west"}, t)
    assert isinstance(got, Route) and got.name == "west" and got.label == "k8s_cluster"
    # a label not in the configured list is ignored
    got = route({"kube_cluster": "west"}, t)
    assert isinstance(got, RoutingProblem) and got.reason == "no_label"


def test_labels_that_disagree_are_a_problem() -> None:
    t = table(TWO, ("cluster", "k8s_cluster"))
    got = route({"cluster": "east", "k8s_cluster": "west"}, t)
    assert isinstance(got, RoutingProblem) and got.reason == "conflict"
    assert "cluster='east'" in str(got) and "k8s_cluster='west'" in str(got)


def test_an_empty_label_counts_as_absent() -> None:
    got = route({"cluster": "  "}, table(ONE))
    assert isinstance(got, Route) and got.name == "east"


def test_implicit_table_routes_as_before_and_is_named() -> None:
    t = load_table({})
    assert t.implicit and t.names == ("default",)
    got = route({"namespace": "shop"}, t)
    assert isinstance(got, Route) and got.cluster.kind == "environment"
    named = load_table({"ALERTLOOP_DEFAULT_CLUSTER_NAME": "prod-eu"})
    assert isinstance(route({"cluster": "prod-eu"}, named), Route)
    # an alert from another cluster is never acted on in the implicit one
    other = route({"cluster": "prod-us"}, named)
    assert isinstance(other, RoutingProblem) and other.reason == "unknown"


def test_route_alert_turns_a_broken_table_into_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLOOP_CLUSTERS", "{not json")
    got = route_alert({"cluster": "east"})
    assert isinstance(got, RoutingProblem) and got.reason == "config"
    assert "ALERTLOOP_CLUSTERS is not valid JSON" in str(got)


# ---------------------------------------------------------------- loading


def test_load_from_yaml_file_with_identities_and_prometheus(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(
        f"""
clusters:
  east:
    gke: {EAST}
    prometheus:
      url: https://monitoring.googleapis.com/v1/projects/acme/location/global/prometheus/
      auth: google
  lab:
    gke: projects/acme/locations/europe-west1-b/clusters/lab
    endpoint: 10.0.0.2
    ca_data: {CA}
  onprem:
    kubeconfig_context: onprem-admin
identities:
  investigate: alertloop-investigate@acme.iam.gserviceaccount.com
"""
    )
    t = load_table(
        {
            "ALERTLOOP_CLUSTERS_FILE": str(path),
            "ALERTLOOP_CLUSTER_LABELS": "cluster, k8s_cluster",
            "ALERTLOOP_IDENTITY_ROLLBACK": "alertloop-rollback@acme.iam.gserviceaccount.com",
        }
    )
    assert t.source == f"file:{path}"
    assert t.labels == ("cluster", "k8s_cluster")
    assert [t.clusters[n].kind for n in t.names] == ["gke", "gke", "kubeconfig"]
    east = t.clusters["east"]
    assert east.gke_parts == ("acme", "europe-west1", "east")
    assert east.prometheus is not None and east.prometheus.auth == "google"
    assert not east.prometheus.url.endswith("/")
    assert t.clusters["lab"].endpoint == "https://10.0.0.2"
    assert t.identities.as_dict() == {
        "investigate": "alertloop-investigate@acme.iam.gserviceaccount.com",
        "rollback": "alertloop-rollback@acme.iam.gserviceaccount.com",
    }


def test_inline_json_as_terraform_renders_it_with_nulls() -> None:
    doc = {
        "clusters": {
            "east": {
                "gke": EAST,
                "endpoint": None,
                "ca_data": None,
                "aliases": None,
                "kubeconfig_context": None,
                "prometheus": None,
            }
        },
        "identities": {"investigate": "a@p.iam.gserviceaccount.com", "rollback": None},
    }
    t = load_table({"ALERTLOOP_CLUSTERS": json.dumps(doc)})
    assert t.source == "ALERTLOOP_CLUSTERS" and t.clusters["east"].kind == "gke"


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"clusters": {}}, "clusters: name at least one cluster"),
        ({"clusters": {"e": {"gke": EAST, "zone": "x"}}}, "clusters.e.zone: Extra inputs"),
        ({"clusters": {"e": {}}}, "set exactly one of gke"),
        (
            {"clusters": {"e": {"gke": EAST, "kubeconfig_context": "x"}}},
            "got gke, kubeconfig_context",
        ),
        ({"clusters": {"e": {"gke": "clusters/east"}}}, "projects/PROJECT/locations/"),
        ({"clusters": {"e": {"gke": EAST, "endpoint": "http://1.2.3.4"}}}, "https URL"),
        ({"clusters": {"e": {"gke": EAST, "endpoint": "1.2.3.4", "ca_data": "xx"}}}, "base64"),
        ({"clusters": {"e": {"gke": EAST, "ca_data": CA}}}, "ca_data needs endpoint"),
        (
            {"clusters": {"e": {"kubeconfig_context": "c", "endpoint": "1.2.3.4"}}},
            "belong to a gke",
        ),
        ({"clusters": {"bad name": {"gke": EAST}}}, "clusters.bad name.name: cluster name"),
        ({"clusters": {"e": {"gke": EAST, "name": "x"}}}, "the key is the name"),
        ({"clusters": {"e": {"gke": EAST}, "w": {"gke": WEST, "aliases": ["e"]}}}, "names both"),
        (
            {"clusters": {"e": {"gke": EAST, "prometheus": {"url": "ftp://x"}}}},
            "clusters.e.prometheus.url: must be an http(s) URL",
        ),
        (
            {"clusters": {"e": {"gke": EAST, "prometheus": {"url": "http://p", "auth": "basic"}}}},
            "clusters.e.prometheus.auth",
        ),
        (
            {"clusters": {"e": {"gke": EAST}}, "identities": {"investigate": "someone@gmail.com"}},
            "identities.investigate: must be a service account e-mail",
        ),
        ({"clusters": {"e": {"gke": EAST}}, "identities": {"budget": "x"}}, "identities.budget"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_invalid_tables_are_refused_with_a_clear_message(doc: object, needle: str) -> None:
    with pytest.raises(ClusterConfigError) as err:
        parse_table(doc, source="file:/etc/clusters.yaml")
    assert needle in str(err.value)
    assert str(err.value).startswith("/etc/clusters.yaml: ")


def test_file_and_inline_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ClusterConfigError, match="not both"):
        load_table({"ALERTLOOP_CLUSTERS_FILE": "x.yaml", "ALERTLOOP_CLUSTERS": "{}"})


def test_unreadable_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ClusterConfigError, match="cannot read"):
        load_table({"ALERTLOOP_CLUSTERS_FILE": str(tmp_path / "missing.yaml")})
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [unclosed")
    with pytest.raises(ClusterConfigError, match="not valid YAML/JSON"):
        load_table({"ALERTLOOP_CLUSTERS_FILE": str(bad)})


def test_bad_label_names_and_identity_overrides_are_refused() -> None:
    with pytest.raises(ClusterConfigError, match="not a Prometheus label name"):
        load_table({"ALERTLOOP_CLUSTER_LABELS": "cluster,k8s-cluster"})
    with pytest.raises(ClusterConfigError, match="ALERTLOOP_IDENTITY_"):
        load_table(
            {"ALERTLOOP_CLUSTERS": json.dumps(ONE), "ALERTLOOP_IDENTITY_REMEDIATE": "nobody"}
        )


def test_the_process_table_is_reloaded_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clusters.json"
    path.write_text(json.dumps(ONE))
    monkeypatch.delenv("ALERTLOOP_CLUSTERS", raising=False)
    monkeypatch.setenv("ALERTLOOP_CLUSTERS_FILE", str(path))
    assert cl.cluster_table().names == ("east",)
    assert cl.cluster_table() is cl.cluster_table()  # cached
    path.write_text(json.dumps(TWO))
    import os

    os.utime(path, (1, 2))  # a different mtime, whatever the clock's resolution
    assert cl.cluster_table().names == ("east", "west")


# ---------------------------------------------------------------- clients per cluster


def test_a_clusters_prometheus_overrides_the_global_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.clusters.clients import prometheus_settings_for

    monkeypatch.setenv("PROMETHEUS_URL", "http://global:9090")
    monkeypatch.setenv("PROMETHEUS_TIMEOUT_SECONDS", "7")
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN_EU", "tok-eu")
    t = table(
        {
            "clusters": {
                "east": {"gke": EAST},
                "west": {
                    "gke": WEST,
                    "prometheus": {
                        "url": "https://prom.west",
                        "auth": "bearer",
                        "bearer_token_env": "PROMETHEUS_BEARER_TOKEN_EU",
                    },
                },
            }
        }
    )
    east = prometheus_settings_for(t.clusters["east"])
    assert (east.url, east.auth, east.timeout_seconds) == ("http://global:9090", "none", 7.0)
    west = prometheus_settings_for(t.clusters["west"])
    assert (west.url, west.auth, west.bearer_token) == ("https://prom.west", "bearer", "tok-eu")
    assert west.timeout_seconds == 7.0  # the global timeout unless the cluster sets one
    assert "tok-eu" not in repr(west)


def test_a_kubeconfig_context_entry_uses_that_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.k8s.client import load_clients
    from shared.k8s.errors import K8sConfigError, K8sNotConfigured
    from shared.k8s.settings import k8s_settings

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": n, "cluster": {"server": f"https://{n}.example:6443"}} for n in ("a", "b")
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in ("a", "b")],
        "current-context": "a",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig))
    for name in ("KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST", "ALERTLOOP_K8S_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    entry = table({"clusters": {"b": {"kubeconfig_context": "b"}}}).clusters["b"]
    with pytest.raises(K8sNotConfigured, match="for cluster b"):
        load_clients(k8s_settings(), cluster=entry)
    monkeypatch.setenv("KUBECONFIG", str(path))
    clients = load_clients(k8s_settings(), cluster=entry)
    assert clients.host == "https://b.example:6443" and clients.cluster == "b"
    assert load_clients(k8s_settings()).host == "https://a.example:6443"  # current-context
    missing = table({"clusters": {"c": {"kubeconfig_context": "c"}}}).clusters["c"]
    with pytest.raises(K8sConfigError, match="context"):
        load_clients(k8s_settings(), cluster=missing)


def test_the_cluster_modules_import_no_heavy_client() -> None:
    """Cold start: kubernetes, google-auth and the Container API client load only when used."""
    import subprocess
    import sys

    code = (
        "import sys, shared.clusters.table, shared.clusters.routing, shared.clusters.clients,"
        " shared.clusters.gke, shared.doctor\n"
        "print([m for m in ('kubernetes', 'google.cloud.container_v1', 'google.auth', 'grpc')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

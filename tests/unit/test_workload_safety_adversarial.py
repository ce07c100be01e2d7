"""Counterexamples found by an adversarial review of the workload classifier.

Each test is a realistic API object (camelCase JSON) that the classifier once let through as
"stateless" (or that made it hang), next to the ordinary programs that must stay writable.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.remediation.data_patterns import parse_image
from shared.remediation.workload_safety import ACTIONS, classify, may_write
from tests.unit.k8s_objects import DIGEST, deployment, hpa, owner_ref, pod

ENABLED = {"alertloop.io/remediation": "enabled"}


def app(**kw: Any) -> dict[str, Any]:
    """An ordinary Deployment with neutral labels (callers add the one ingredient tested)."""
    kw.setdefault("labels", {"team": "shop"})
    kw.setdefault("template_labels", {"team": "shop"})
    images = kw.pop("images", [("c", "registry.example.com/shop/api:2")])
    return deployment("api", images, **kw)


def assert_never_written(d: dict[str, Any], rule: str, **kw: Any) -> None:
    c = classify(d, **kw)
    assert (c.data_class, c.rule) == (True, rule), c.evidence
    for action in ACTIONS:
        v = may_write(action, c, d, hpa=None)
        assert not v.allowed and v.rule == f"database_class/{rule}", (action, v.reason)


# ---------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("stackgres.io/v1", "SGCluster"),
        ("kubegres.reactive-tech.io/v1", "Kubegres"),
        ("mariadb.mmontes.io/v1alpha1", "MariaDB"),  # mariadb-operator before k8s.mariadb.com
        ("apps.kubeblocks.io/v1alpha1", "Cluster"),
        ("workloads.kubeblocks.io/v1", "InstanceSet"),
        ("couchbase.com/v2", "CouchbaseCluster"),
        ("yugabyte.com/v1alpha1", "YBCluster"),
        ("operator.yugabyte.io/v1alpha1", "YBUniverse"),
        ("pingcap.com/v1alpha1", "TidbCluster"),
        ("cluster.redpanda.com/v1alpha2", "Redpanda"),
        ("redpanda.vectorized.io/v1alpha1", "Cluster"),
        ("opensearch.org/v1", "OpenSearchCluster"),  # the operator's current group
        ("everest.percona.com/v1alpha1", "DatabaseCluster"),
        ("postgresql.k8s.enterprisedb.io/v1", "Cluster"),
        ("platform.confluent.io/v1beta1", "Kafka"),
        ("kafka.banzaicloud.io/v1beta1", "KafkaCluster"),
        ("solr.apache.org/v1beta1", "SolrCloud"),
        ("dragonflydb.io/v1alpha1", "Dragonfly"),
        ("database.arangodb.com/v1", "ArangoDeployment"),
        ("asdb.aerospike.com/v1", "AerospikeCluster"),
        ("hazelcast.com/v1alpha1", "Hazelcast"),
        ("database.oracle.com/v1alpha1", "SingleInstanceDatabase"),
        ("alloydbomni.dbadmin.goog/v1", "DBCluster"),
        ("operator.etcd.io/v1alpha1", "EtcdCluster"),
        ("ceph.rook.io/v1", "CephCluster"),  # Rook runs Ceph mons and OSDs as Deployments
    ],
)
def test_database_operators_that_were_missing(api_version: str, kind: str) -> None:
    d = app(annotations=ENABLED, owners=[owner_ref(api_version, kind, "db")])
    assert_never_written(d, "data_operator")


@pytest.mark.parametrize(
    "api_version",
    [
        "postgresql.cnpg.io",  # no version: the API server accepts it as a bare version
        " postgresql.cnpg.io/v1",
        "postgresql.cnpg.io./v1",
        "Postgresql.CNPG.io/v1",
    ],
)
def test_odd_spellings_of_an_operator_api_version(api_version: str) -> None:
    d = app(owners=[owner_ref(api_version, "Cluster", "orders-pg")])
    assert_never_written(d, "data_operator")


def test_ordinary_owners_still_are_not_operators() -> None:
    for api_version in ("v1", "apps/v1", "argoproj.io/v1alpha1", "kibana.k8s.elastic.co/v1"):
        d = app(owners=[owner_ref(api_version, "Thing", "t")])
        assert not classify(d).data_class, api_version


# ---------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    "image",
    [
        # official images of known products, spelt by their vendors' registries
        "container-registry.oracle.com/mysql/community-server:8.0",
        "container-registry.oracle.com/mysql/enterprise-server:8.4",
        "mcr.microsoft.com/mssql/rhel/server:2022-latest",
        "percona/percona-distribution-postgresql:16",
        "quay.io/mongodb/mongodb-enterprise-database-ubi:1.0",
        "quay.io/mongodb/mongodb-enterprise-appdb-database-ubi:7.0.2-ent",
        "redislabs/redismod:latest",
        "redislabs/redisearch:2.8",
        "redislabs/rejson",
        "pingcap/tiflash:v7.5.0",
        "apachepulsar/pulsar-all:3.2.0",
        "quay.io/ceph/ceph:v18.2",
        # data stores of families that were missing altogether
        "aerospike/aerospike-server:7.0",
        "aerospike:ce-7.0.0.3",
        "foundationdb/foundationdb:7.1.57",
        "apache/ignite:2.16.0",
        "tarantool/tarantool:3",
        "harisekhon/hbase:2.1",
        "typesense/typesense:0.25.2",
        "getmeili/meilisearch:v1.6",
        "memgraph/memgraph:2.14",
        "surrealdb/surrealdb:v1.2",
        "ravendb/ravendb:6.0-ubuntu-latest",
        "victoriametrics/victoria-metrics:v1.97.1",
        "victoriametrics/vmstorage:v1.97.1-cluster",
        "greptime/greptimedb:v0.6",
        "oceanbase/oceanbase-ce:4.2",
        "chrislusf/seaweedfs:3.62",
        "apache/activemq-artemis:2.32.0",
        "apache/activemq-classic:6.0.1",
        "apache/rocketmq:5.1.4",
        "emqx/emqx:5.5",
        "eclipse-mosquitto:2.0",
        "vernemq/vernemq:1.13",
    ],
)
def test_data_images_that_were_missing(image: str) -> None:
    d = app(images=[("c", image)], annotations=ENABLED)
    assert_never_written(d, "data_image")


@pytest.mark.parametrize(
    "image",
    [
        "rook/ceph:v1.13.0",  # the Rook operator
        "quay.io/cephcsi/cephcsi:v3.10",
        "apache/rocketmq-dashboard:1.0.0",
        "victoriametrics/vmselect:v1.97.1-cluster",
        "victoriametrics/victoria-metrics-operator:v0.42",
        "emqx/emqx-operator-controller:2.2",
        "mysql/mysql-router:8.0",
        "container-registry.oracle.com/mysql/community-operator:8.3",
        "mariadb/maxscale:23.08",
        "quay.io/mongodb/mongodb-kubernetes-operator:0.9",
        "getmeili/meilisearch-ui",
        "redis/redisinsight:2.44",
        "distribution/registry:2.8",
    ],
)
def test_programs_around_those_stores_stay_ordinary(image: str) -> None:
    assert not classify(app(images=[("c", image)])).data_class, image


def test_pathological_image_names_do_not_hang_the_classifier() -> None:
    """A Deployment author controls the image string: matching must stay cheap."""
    for image in ["cp-" * 4000 + "x", "cp-" * 600 + "16-" * 600 + "x", "a-" * 50_000 + "b"]:
        start = time.monotonic()
        c = classify(app(images=[("c", image)]))
        assert time.monotonic() - start < 1.0, len(image)
        assert c.data_class  # too long to be a repository name: unreadable
    # label values go through the same words rule, with no length limit of their own here
    for value in ["cp-" * 4000 + "x", "cp-" * 600 + "16-" * 600 + "x", "cp-" * 4000 + "redis"]:
        start = time.monotonic()
        c = classify(app(template_labels={"app": value}))
        assert time.monotonic() - start < 1.0, len(value)
        assert c.data_class == value.endswith("redis")


@pytest.mark.parametrize(
    "image",
    [
        "C:\\images\\postgres",  # a Windows path, not a reference: the tag is "\images\..."
        "registry.example.com/shop/api:2@",
        "registry.example.com/shop/api:",
        "registry.example.com/shop/api:1:2",
        "registry.example.com/shop/api@sha256:abc",
        "registry.example.com/shop/api@" + DIGEST + "@x",
        "registry.example.com/shop/api:" + "1" * 129,
    ],
)
def test_malformed_tags_and_digests_fail_closed(image: str) -> None:
    assert parse_image(image) is None
    d = app(images=[("c", image)])
    c = classify(d)
    assert (c.data_class, c.rule) == (True, "unreadable")
    assert not may_write("restart", c, d).allowed


def test_well_formed_tags_and_digests_still_parse() -> None:
    for image in [
        "registry.example.com/shop/api:2.3.1_rc-1",
        "registry.example.com/shop/api:Latest",
        f"registry.example.com/shop/api:2@{DIGEST}",
        f"registry.example.com:5000/shop/api@{DIGEST}",
        "quay.io/minio/minio:RELEASE.2024-01-01T00-00-00Z",
    ]:
        assert parse_image(image) is not None, image


# ---------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("helm.sh/chart", "postgresql-12.1.0"),  # release installed with a nameOverride
        ("helm.sh/chart", "redis-18.6.1"),
        ("helm.sh/chart", "mongodb-sharded-7.1.0"),
        ("k8s-app", "redis"),
        ("name", "mongo"),
        ("app", "redis-master"),
        ("app", "postgres-primary"),
        ("app", "elasticsearch-data"),
        ("app", "mongodb-replicaset"),
        ("app.kubernetes.io/name", "mysql-slave"),
        ("app.kubernetes.io/component", "postgresql-replica"),
    ],
)
def test_data_labels_that_were_missing(key: str, value: str) -> None:
    d = app(template_labels={key: value}, annotations=ENABLED)
    assert_never_written(d, "data_label")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("helm.sh/chart", "kafka-ui-0.7.5"),
        ("helm.sh/chart", "prometheus-postgres-exporter-5.3.0"),
        ("helm.sh/chart", "redis-commander-0.6.0"),
        ("helm.sh/chart", "cart-1.2.0"),
        ("k8s-app", "kube-dns"),
        ("name", "cart"),
        ("app", "redis-master-proxy"),
        ("app.kubernetes.io/component", "primary"),  # alone it names no product
    ],
)
def test_labels_that_stay_ordinary(key: str, value: str) -> None:
    assert not classify(app(template_labels={key: value})).data_class


# ---------------------------------------------------------------------------- volumes


@pytest.mark.parametrize(
    "source",
    [
        {"gcePersistentDisk": {"pdName": "orders-db", "fsType": "ext4"}},
        {"awsElasticBlockStore": {"volumeID": "vol-0abc", "fsType": "ext4"}},
        {"azureDisk": {"diskName": "orders", "diskURI": "/subscriptions/x/disks/orders"}},
        {"cinder": {"volumeID": "f3f3"}},
        {"rbd": {"monitors": ["10.0.0.1:6789"], "image": "orders"}},
        {"iscsi": {"targetPortal": "10.0.0.2:3260", "iqn": "iqn.2001-04.com.x:y", "lun": 0}},
        {"nfs": {"server": "nfs.example.com", "path": "/exports/orders"}},
        {"cephfs": {"monitors": ["10.0.0.1:6789"]}},
        {"hostPath": {"path": "/var/lib/postgresql/data", "type": "DirectoryOrCreate"}},
        {"hostPath": {"path": "/mnt/disks/ssd0"}},
        {"hostPath": {"path": "/etc/ssl/../../var/lib/mysql"}},  # not a plain system path
        {"hostPath": {"path": "/etc/sslx/data"}},
    ],
)
def test_persistent_volumes_mounted_without_a_claim(source: dict[str, Any]) -> None:
    d = app(volumes=[{"name": "data", **source}], annotations=ENABLED)
    assert_never_written(d, "persistent_volume")
    p = pod(
        "api-7d9c-x", [("c", "registry.example.com/shop/api:2")], volumes=[{"name": "d", **source}]
    )
    assert classify(app(), pods=[p]).rule == "persistent_volume"


@pytest.mark.parametrize(
    "source",
    [
        {"csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True}},
        {"hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}},
        {"hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
        {"hostPath": {"path": "/etc/localtime", "type": "File"}},
        {"hostPath": {"path": "/etc/ssl/certs/"}},
        {"hostPath": {"path": "/usr/share/zoneinfo/Europe/Paris"}},
        {"hostPath": {"path": "/proc"}},
        {"downwardAPI": {"items": []}},
        {"ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
    ],
)
def test_scratch_and_secret_volumes_stay_ordinary(source: dict[str, Any]) -> None:
    assert not classify(app(volumes=[{"name": "v", **source}])).data_class


# ---------------------------------------------------------------------------- kinds


@pytest.mark.parametrize("kind", ["statefulset", "Statefulset", "STATEFULSET", " StatefulSet"])
def test_statefulset_spelt_oddly_is_still_a_statefulset(kind: str) -> None:
    d = app()
    d["kind"] = kind
    assert classify(d).rule == "statefulset"
    d = app(owners=[owner_ref("apps/v1", kind, "orders-db")])
    assert_never_written(d, "owned_by_statefulset")


# ---------------------------------------------------------------------------- may_write


def test_an_opted_in_deployment_without_an_hpa_is_scaled_only_when_stateless() -> None:
    stateless = app(annotations=ENABLED)
    assert may_write("scale_deployment", classify(stateless), stateless, hpa=None).allowed
    on_disk = app(
        annotations=ENABLED, volumes=[{"name": "d", "gcePersistentDisk": {"pdName": "x"}}]
    )
    c = classify(on_disk)
    for h in (None, hpa("api", "api")):
        v = may_write("scale_deployment", c, on_disk, hpa=h)
        assert not v.allowed and v.rule == "database_class/persistent_volume"

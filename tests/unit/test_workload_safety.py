"""The workload decides: classification of the target workload and the write verdicts."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from shared.policy import WorkloadSafety
from shared.remediation.data_patterns import DATA_OPERATOR_GROUPS, parse_image, patterns
from shared.remediation.workload_safety import (
    ACTIONS,
    Classification,
    classify,
    may_write,
    remediation_annotation,
)
from tests.unit.k8s_objects import (
    DIGEST,
    SCRATCH_VOLUMES,
    deployment,
    hpa,
    owner_ref,
    pod,
    pvc,
    pvc_volume,
    workload,
)

NEVER = "database-class workloads are never changed by alertloop"
ENABLED = {"alertloop.io/remediation": "enabled"}


def verdicts(obj: dict[str, Any], c: Classification, **kw: Any) -> dict[str, Any]:
    return {a: may_write(a, c, obj, hpa=kw.get("hpa")) for a in ACTIONS}


# ---------------------------------------------------------------------------- fixtures


def postgres_with_pvc() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A PostgreSQL Deployment (not a StatefulSet) with its data on a claim, plus its PVC."""
    d = deployment(
        "orders-db",
        [
            ("db", "docker.io/bitnami/postgresql:16"),
            ("metrics", "prometheuscommunity/postgres-exporter:v0.15.0"),
        ],
        namespace="shop",
        replicas=1,
        volumes=[pvc_volume("data", "orders-db-data"), {"name": "run", "emptyDir": {}}],
    )
    return d, [pvc("orders-db-data"), pvc("unrelated", size="1Gi")]


def redis_single() -> dict[str, Any]:
    """The Redis of the issue: one replica, no HPA, no claim (HighCPUUsage scaled it 1 -> 3)."""
    return deployment(
        "cart-cache",
        [("redis", "redis:7.2.4-alpine")],
        replicas=1,
        labels={"app": "cart-cache"},
        template_labels={"app": "cart-cache"},
    )


def cnpg_pod() -> dict[str, Any]:
    """An instance pod of a CloudNativePG Cluster (the operator owns pods directly)."""
    return pod(
        "orders-pg-1",
        [("postgres", "ghcr.io/cloudnative-pg/postgresql:16.2")],
        labels={"cnpg.io/cluster": "orders-pg", "role": "primary"},
        owners=[owner_ref("postgresql.cnpg.io/v1", "Cluster", "orders-pg")],
    )


def cart() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An ordinary stateless Deployment and its pods (owned by its ReplicaSet)."""
    d = deployment(
        "cart",
        [("cart", "registry.example.com/shop/cart:1.4.2"), ("proxy", "envoyproxy/envoy:v1.30.1")],
        init=[("migrate", "registry.example.com/shop/cart-migrations:1.4.2")],
        volumes=SCRATCH_VOLUMES,
        labels={"app.kubernetes.io/name": "cart", "app.kubernetes.io/component": "backend"},
    )
    rs = owner_ref("apps/v1", "ReplicaSet", "cart-6d5f7c9b8")
    pods = [
        pod(
            f"cart-6d5f7c9b8-{s}",
            [("cart", "registry.example.com/shop/cart:1.4.2")],
            labels={"app.kubernetes.io/name": "cart"},
            owners=[rs],
            volumes=SCRATCH_VOLUMES,
        )
        for s in ("x2k4p", "q9z7m")
    ]
    return d, pods


# ---------------------------------------------------------------------------- the issue's cases


def test_postgres_deployment_with_a_claim_is_never_written() -> None:
    d, claims = postgres_with_pvc()
    c = classify(d, pvcs=claims)
    assert c.data_class
    assert c.rule == "persistent_volume_claim"
    assert c.evidence == (
        "volume data mounts PersistentVolumeClaim orders-db-data "
        "(20Gi, class standard-rwo, ReadWriteOnce)"
    )
    rules = {s.rule for s in c.signals}
    assert rules == {"persistent_volume_claim", "data_image"}
    assert any("is a PostgreSQL image" in s.evidence for s in c.signals)
    for action, v in verdicts(d, c, hpa=None).items():
        assert not v.allowed, action
        assert v.rule == "database_class/persistent_volume_claim"
        assert v.reason.endswith(NEVER)
        assert "no annotation or policy setting" in v.how_to_change


def test_the_issue_refusal_text_for_a_postgres_image() -> None:
    d = deployment("orders-db", [("db", "docker.io/bitnami/postgresql:16")])
    v = may_write("restart", classify(d), d)
    assert not v.allowed
    assert v.rule == "database_class/data_image"
    assert v.reason == (
        "image docker.io/bitnami/postgresql:16 (container db) is a PostgreSQL image: "
        "database-class workloads are never changed by alertloop"
    )


def test_single_replica_redis_without_hpa_is_not_scaled_even_when_opted_in() -> None:
    d = redis_single()
    c = classify(d)
    assert (c.data_class, c.rule) == (True, "data_image")
    assert c.evidence == "image redis:7.2.4-alpine (container redis) is a Redis/Valkey image"
    assert not may_write("scale_deployment", c, d, hpa=None).allowed
    assert not may_write("restart", c, d).allowed
    d["metadata"]["annotations"].update(ENABLED)
    v = may_write("scale_deployment", classify(d), d, hpa=None)
    assert not v.allowed
    assert "alertloop.io/remediation: enabled cannot opt in a database-class workload" in v.reason


def test_cnpg_owned_pod_is_data_class_by_its_operator() -> None:
    p = cnpg_pod()
    c = classify(p)
    assert c.rule == "data_operator"
    assert c.evidence == (
        "pod/shop/orders-pg-1 is owned by Cluster orders-pg (postgresql.cnpg.io/v1), managed by "
        "a database operator (postgresql.cnpg.io)"
    )
    assert {s.rule for s in c.signals} == {"data_operator", "data_image", "data_label"}


def test_cnpg_pod_makes_the_workload_it_belongs_to_data_class() -> None:
    """The alert named a Deployment but the pods read are CNPG's: the pods decide."""
    d, _ = cart()
    c = classify(d, pods=[cnpg_pod()])
    assert c.data_class and c.rule == "data_operator"


def test_ordinary_app_restart_allowed_scale_needs_opt_in() -> None:
    d, pods = cart()
    c = classify(d, pods=pods, pvcs=[pvc("somebody-elses-claim")])
    assert not c.data_class
    assert c.rule == "stateless" and c.signals == ()
    v = may_write("restart", c, d)
    assert v.allowed and v.rule == "allowed"
    assert may_write("rollback", c, d).allowed
    assert may_write("propose_rollback", c, d).allowed
    v = may_write("scale_deployment", c, d, hpa=None)
    assert not v.allowed and v.rule == "no_hpa"
    assert v.reason == (
        "no HPA manages deployment/shop/cart: scaling without an HPA needs the annotation "
        "alertloop.io/remediation: enabled on the Deployment"
    )
    assert v.how_to_change.startswith(
        "kubectl -n shop annotate deployment cart alertloop.io/remediation=enabled"
    )
    d["metadata"]["annotations"].update(ENABLED)
    v = may_write("scale_deployment", classify(d, pods=pods), d, hpa=None)
    assert v.allowed
    assert 'alertloop.io/remediation: "enabled"' in v.reason


# ---------------------------------------------------------------------------- images

FAMILIES: dict[str, list[str]] = {
    "PostgreSQL": [
        "postgres",
        "postgresql",
        "bitnami/postgresql-repmgr",
        "postgis/postgis",
        "timescale/timescaledb-ha",
        "ghcr.io/zalando/spilo-16",
        "ghcr.io/cloudnative-pg/postgresql",
        "registry.developers.crunchydata.com/crunchydata/crunchy-postgres",
        "percona/percona-postgresql",
        "citusdata/citus",
    ],
    "MySQL/MariaDB": [
        "mysql",
        "mysql/mysql-server",
        "mariadb",
        "bitnami/mariadb-galera",
        "percona/percona-server",
        "percona/percona-xtradb-cluster",
        "vitess/lite",
    ],
    "MongoDB": [
        "mongo",
        "percona/percona-server-mongodb",
        "mongodb/mongodb-community-server",
        "mongodb/mongodb-enterprise-server",
        "bitnami/mongodb-sharded",
    ],
    "Redis/Valkey": [
        "redis",
        "redis/redis-stack-server",
        "redis/redis-stack",
        "valkey/valkey",
        "bitnami/redis-sentinel",
        "bitnami/redis-cluster",
        "eqalpha/keydb",
        "docker.dragonflydb.io/dragonflydb/dragonfly",
        "rancher/mirrored-library-redis",
    ],
    "Cassandra/Scylla": [
        "cassandra",
        "scylladb/scylla",
        "k8ssandra/cass-management-api",
        "datastax/dse-server",
        "bitnami/cassandra",
    ],
    "Elasticsearch/OpenSearch": [
        "docker.elastic.co/elasticsearch/elasticsearch",
        "opensearchproject/opensearch",
        "bitnami/elasticsearch",
    ],
    "Kafka": [
        "confluentinc/cp-kafka",
        "confluentinc/cp-server",
        "quay.io/strimzi/kafka",
        "strimzi/kafka",
        "apache/kafka",
        "apache/kafka-native",
        "bitnami/kafka",
        "redpandadata/redpanda",
    ],
    "ZooKeeper": ["zookeeper", "bitnami/zookeeper", "confluentinc/cp-zookeeper"],
    "etcd": ["quay.io/coreos/etcd", "registry.k8s.io/etcd", "gcr.io/etcd-development/etcd"],
    "ClickHouse": [
        "clickhouse/clickhouse-server",
        "yandex/clickhouse-server",
        "clickhouse/clickhouse-keeper",
        "altinity/clickhouse-server",
    ],
    "CockroachDB": ["cockroachdb/cockroach", "cockroachdb/cockroach-unstable"],
    "RabbitMQ": ["rabbitmq", "bitnami/rabbitmq"],
    "NATS": ["nats", "nats-streaming", "bitnami/nats"],
    "Memcached": ["memcached", "bitnami/memcached"],
    "SQL Server": ["mcr.microsoft.com/mssql/server", "microsoft/mssql-server-linux"],
    "Oracle Database": [
        "container-registry.oracle.com/database/enterprise",
        "container-registry.oracle.com/database/free",
        "gvenzl/oracle-xe",
        "gvenzl/oracle-free",
    ],
    "IBM Db2": ["ibmcom/db2", "icr.io/db2_community/db2"],
    "TiDB/TiKV": ["pingcap/tidb", "pingcap/tikv", "pingcap/pd"],
    "YugabyteDB": ["yugabytedb/yugabyte"],
    "CouchDB/Couchbase": ["couchdb", "apache/couchdb", "couchbase", "couchbase/server"],
    "Neo4j": ["neo4j"],
    "ArangoDB": ["arangodb", "arangodb/arangodb"],
    "RethinkDB": ["rethinkdb"],
    "Dgraph": ["dgraph/dgraph"],
    "InfluxDB": ["influxdb", "bitnami/influxdb"],
    "QuestDB": ["questdb/questdb"],
    "MinIO": ["minio/minio", "quay.io/minio/minio", "bitnami/minio"],
    "Pulsar/BookKeeper": ["apachepulsar/pulsar", "apache/pulsar", "apache/bookkeeper"],
    "Hazelcast": ["hazelcast/hazelcast"],
    "Solr": ["solr", "bitnami/solr"],
    "Vector databases": ["qdrant/qdrant", "milvusdb/milvus", "semitechnologies/weaviate"],
}


def spellings(base: str, tag: str = "16.3") -> Iterator[str]:
    """Registries (with ports), path prefixes, tags and digests around one repository."""
    yield base
    yield f"{base}:{tag}"
    yield f"{base}@{DIGEST}"
    yield f"{base}:{tag}@{DIGEST}"
    if "." not in base.split("/")[0]:
        yield f"docker.io/{base}:latest"
        yield f"localhost:5000/{base}:{tag}"
        yield f"registry.example.com:443/mirror/team/{base}:{tag}-debian-12-r3"
    yield f"{base.upper()}:{tag}"


@pytest.mark.parametrize(
    ("family", "base"), [(f, b) for f, bases in FAMILIES.items() for b in bases]
)
def test_data_images_of_every_family_in_every_spelling(family: str, base: str) -> None:
    for image in spellings(base):
        d = deployment("x", [("main", "registry.example.com/shop/api:1")], init=[("i", image)])
        c = classify(d)
        assert c.rule == "data_image", image
        assert c.evidence == f"image {image} (init container i) is a {family} image"


@pytest.mark.parametrize(
    "image",
    [
        "rabbitmq:3-management",
        "rabbitmq:3.13-management-alpine",
        "postgres:16-alpine@" + DIGEST,
        "docker.io/library/mysql:8.0.36",
        "index.docker.io/library/mongo:7",
        "bitnami/postgresql:16.2.0-debian-12-r8",
        "quay.io/strimzi/kafka:0.40.0-kafka-3.7.0",
    ],
)
def test_tags_never_matter(image: str) -> None:
    assert classify(deployment("x", [("c", image)])).rule == "data_image"


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1.27",
        "registry.example.com/shop/api:2.3.1",
        "acme/postgres-backup-uploader:1.0",
        "my-redis-client:3",
        "ghcr.io/acme/my-redis-client",
        "rediscommander/redis-commander:latest",
        "prometheuscommunity/postgres-exporter:v0.15.0",
        "oliver006/redis_exporter:v1.58.0",
        "bitnami/redis-exporter",
        "danielqsj/kafka-exporter",
        "provectuslabs/kafka-ui:latest",
        "obsidiandynamics/kafdrop",
        "mongo-express:1.0",
        "dpage/pgadmin4",
        "bitnami/pgbouncer",
        "edoburu/pgbouncer",
        "docker.elastic.co/kibana/kibana:8.13.0",
        "opensearchproject/opensearch-dashboards:2.13.0",
        "confluentinc/cp-schema-registry:7.6.0",
        "confluentinc/cp-kafka-connect:7.6.0",
        "confluentinc/cp-kafka-rest",
        "natsio/nats-box:0.14.2",
        "natsio/nats-server-config-reloader:0.14.0",
        "ghcr.io/cloudnative-pg/cloudnative-pg:1.23.0",
        "registry.opensource.zalan.do/acid/postgres-operator:v1.11.0",
        "percona/percona-server-mongodb-operator:1.16.0",
        "quay.io/strimzi/operator:0.40.0",
        "mysql/mysql-router:8.0",
        "busybox:1.36",
        "python:3.12-slim",
        "node:20-alpine",
        "golang:1.22",
        "redisinsight/redisinsight",
        "memcached-exporter",
        "registry.example.com/team/redis-cli-job:1",
        "acme/etcd-backup:2",
        "nginx-postgres-gateway",
        "minio/mc",
        "bitnami/minio-client",
        "qdrant/qdrant-web-ui",
    ],
)
def test_programs_that_merely_mention_a_product_are_not_data(image: str) -> None:
    d = deployment("x", [("c", image)], labels={"app": "x"}, template_labels={"app": "x"})
    c = classify(d)
    assert not c.data_class, c.evidence


def test_an_exporter_sidecar_does_not_hide_the_database() -> None:
    d = deployment(
        "cache",
        [("exporter", "oliver006/redis_exporter:v1.58.0"), ("redis", "valkey/valkey:7.2")],
        labels={"app": "cache"},
        template_labels={"app": "cache"},
    )
    c = classify(d)
    assert c.rule == "data_image"
    assert "valkey/valkey:7.2 (container redis)" in c.evidence


def test_a_standalone_exporter_deployment_is_ordinary() -> None:
    d = deployment(
        "pg-exporter",
        [("exporter", "quay.io/prometheuscommunity/postgres-exporter:v0.15.0")],
        labels={"app": "pg-exporter"},
        template_labels={"app": "pg-exporter"},
    )
    c = classify(d)
    assert not c.data_class
    assert may_write("restart", c, d).allowed


def test_a_database_image_in_an_init_container_makes_a_data_pod() -> None:
    d = deployment(
        "api",
        [("api", "registry.example.com/shop/api:2")],
        init=[("wait-for-db", "postgres:16-alpine")],
    )
    c = classify(d)
    assert c.evidence == (
        "image postgres:16-alpine (init container wait-for-db) is a PostgreSQL image"
    )


def test_a_database_image_only_in_a_pod_counts() -> None:
    """Mid-rollout, or a debug container: every container of every pod given is checked."""
    d, pods = cart()
    pods[1]["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "redis:7"}]
    c = classify(d, pods=pods)
    assert c.evidence == (
        "image redis:7 (ephemeral container debugger of pod cart-6d5f7c9b8-q9z7m) is a "
        "Redis/Valkey image"
    )


@pytest.mark.parametrize(
    ("image", "registry", "path"),
    [
        ("postgres", "", ("postgres",)),
        ("localhost:5000/postgres:16", "localhost:5000", ("postgres",)),
        ("localhost/team/app", "localhost", ("team", "app")),
        (f"quay.io/coreos/etcd:v3.5.13@{DIGEST}", "quay.io", ("coreos", "etcd")),
        ("bitnami/redis", "", ("bitnami", "redis")),
    ],
)
def test_parse_image(image: str, registry: str, path: tuple[str, ...]) -> None:
    ref = parse_image(image)
    assert ref is not None
    assert (ref.registry, ref.path) == (registry, path)


@pytest.mark.parametrize("image", ["", "  ", "has space:1", "a//b", "/x", "-x", "x/:tag"])
def test_unparseable_images_fail_closed(image: str) -> None:
    d = deployment("x", [("c", image)])
    c = classify(d)
    assert c.data_class and c.rule == "unreadable"
    v = may_write("restart", c, d)
    assert not v.allowed and v.rule == "unreadable"
    assert "could not be read" in v.reason


# ---------------------------------------------------------------------------- kinds and claims


def test_statefulsets_are_data_class_whatever_they_run() -> None:
    s = workload("StatefulSet", "web", [("web", "nginx:1.27")])
    c = classify(s)
    assert (c.rule, c.evidence) == ("statefulset", "statefulset/shop/web is a StatefulSet")
    for v in verdicts(s, c, hpa=None).values():
        assert not v.allowed and v.rule == "database_class/statefulset"


def test_volume_claim_templates_count_on_any_kind() -> None:
    d = deployment("odd", [("c", "nginx")], claim_templates=["data"])
    c = classify(d)
    assert (c.rule, c.evidence) == (
        "volume_claim_template",
        "deployment/shop/odd declares volumeClaimTemplate data",
    )


def test_pods_owned_by_a_statefulset_are_data_class() -> None:
    d, _ = cart()
    p = pod("web-0", [("web", "nginx")], owners=[owner_ref("apps/v1", "StatefulSet", "web")])
    c = classify(d, pods=[p])
    assert (c.rule, c.evidence) == (
        "owned_by_statefulset",
        "pod web-0 is owned by StatefulSet web",
    )


def test_read_only_claims_count_and_pod_claims_count() -> None:
    d = deployment(
        "assets", [("c", "nginx")], volumes=[pvc_volume("static", "assets", read_only=True)]
    )
    assert classify(d).rule == "persistent_volume_claim"
    d2, pods = cart()
    pods[0]["spec"]["volumes"] = [pvc_volume("data", "cart-data")]
    c = classify(d2, pods=pods)
    assert c.evidence == (
        "volume data of pod cart-6d5f7c9b8-x2k4p mounts PersistentVolumeClaim cart-data"
    )


def test_generic_ephemeral_volumes_are_scratch_space() -> None:
    eph = {
        "name": "scratch",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                }
            }
        },
    }
    d = deployment("render", [("c", "registry.example.com/render:1")], volumes=[eph])
    assert not classify(d).data_class


@pytest.mark.parametrize("kind", ["DaemonSet", "ReplicaSet", "Job"])
def test_only_deployments_are_written(kind: str) -> None:
    w = workload(kind, "agent", [("a", "registry.example.com/agent:1")])
    c = classify(w)
    assert not c.data_class
    for action, v in verdicts(w, c, hpa=None).items():
        assert not v.allowed, action
        assert v.rule == "kind"
        assert v.reason == (
            f"{kind.lower()}/shop/agent is a {kind}: alertloop only changes Deployments "
            "(and their HPAs)"
        )


# ---------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "value",
    [
        "database",
        "db",
        "cache",
        "queue",
        "storage",
        "datastore",
        "broker",
        "Database",
        "postgresql",
    ],
)
def test_component_labels(value: str) -> None:
    d = deployment(
        "x",
        [("c", "registry.example.com/x:1")],
        labels={"app.kubernetes.io/component": value},
    )
    c = classify(d)
    assert (c.rule, c.evidence) == (
        "data_label",
        f"label app.kubernetes.io/component={value} on deployment/shop/x marks a data component",
    )


@pytest.mark.parametrize(
    ("key", "value", "family"),
    [
        ("app.kubernetes.io/name", "redis-cluster", "Redis/Valkey"),
        ("app.kubernetes.io/name", "postgresql-ha", "PostgreSQL"),
        ("app", "kafka", "Kafka"),
        ("application", "spilo", "PostgreSQL"),
        ("app", "RabbitMQ", "RabbitMQ"),
    ],
)
def test_name_labels_naming_a_product(key: str, value: str, family: str) -> None:
    d = deployment(
        "x", [("c", "registry.example.com/x:1")], labels={}, template_labels={key: value}
    )
    c = classify(d)
    assert c.evidence == (
        f"label {key}={value} on the pod template of deployment/shop/x names {family}"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("app.kubernetes.io/name", "redis-commander"),
        ("app.kubernetes.io/name", "postgres-exporter"),
        ("app", "kafka-ui"),
        ("app.kubernetes.io/component", "frontend"),
        ("app.kubernetes.io/component", "backend"),
        ("tier", "database"),  # not a standard label: only the policy can make it one
        ("app.kubernetes.io/instance", "redis"),  # a release name, says nothing
    ],
)
def test_labels_that_are_not_data_labels(key: str, value: str) -> None:
    d = deployment("x", [("c", "registry.example.com/x:1")], labels={key: value})
    assert not classify(d).data_class


def test_labels_only_database_pods_carry() -> None:
    d, pods = cart()
    pods[0]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = "cart-0"
    c = classify(d, pods=pods)
    assert c.evidence == (
        "label statefulset.kubernetes.io/pod-name=cart-0 on pod cart-6d5f7c9b8-x2k4p: only "
        "database pods carry statefulset.kubernetes.io/pod-name"
    )


# ---------------------------------------------------------------------------- operators


@pytest.mark.parametrize("group", DATA_OPERATOR_GROUPS)
def test_every_operator_group_owns_data_workloads(group: str) -> None:
    d, _ = cart()
    d["metadata"]["ownerReferences"] = [owner_ref(f"{group}/v1", "Thing", "t")]
    c = classify(d)
    assert c.rule == "data_operator"
    assert c.evidence.endswith(f"managed by a database operator ({group})")


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("acid.zalan.do/v1", "postgresql"),
        ("postgres-operator.crunchydata.com/v1beta1", "PostgresCluster"),
        ("pxc.percona.com/v1", "PerconaXtraDBCluster"),
        ("psmdb.percona.com/v1", "PerconaServerMongoDB"),
        ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"),
        ("kafka.strimzi.io/v1beta2", "Kafka"),
        ("core.strimzi.io/v1beta2", "StrimziPodSet"),
        ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"),
        ("opensearch.opster.io/v1", "OpenSearchCluster"),
        ("k8ssandra.io/v1alpha1", "K8ssandraCluster"),
        ("cassandra.datastax.com/v1beta1", "CassandraDatacenter"),
        ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
        ("databases.spotahome.com/v1", "RedisFailover"),
        ("redis.redis.opstreelabs.in/v1beta2", "RedisCluster"),
        ("clickhouse.altinity.com/v1", "ClickHouseInstallation"),
        ("crdb.cockroachlabs.com/v1alpha1", "CrdbCluster"),
        ("mysql.oracle.com/v2", "InnoDBCluster"),
        ("planetscale.com/v2", "VitessCluster"),
        ("etcd.database.coreos.com/v1beta2", "EtcdCluster"),
        ("control.k8ssandra.io/v1alpha1", "K8ssandraTask"),  # a subdomain of k8ssandra.io
    ],
)
def test_owner_chain_through_owner_objects(api_version: str, kind: str) -> None:
    """The chain pod -> ReplicaSet -> Deployment -> custom resource, given as objects."""
    d, pods = cart()
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "cart-6d5f7c9b8",
            "ownerReferences": [owner_ref("apps/v1", "Deployment", "cart")],
        },
    }
    cr = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "main", "namespace": "shop"},
    }
    c = classify(d, pods=pods, owners=[rs, cr])
    assert c.rule == "data_operator", c.evidence
    assert c.evidence.startswith(f"deployment/shop/cart has owner {kind} main ({api_version})")
    # ...and as an ownerReference of something further up
    up = {
        **rs,
        "metadata": {**rs["metadata"], "ownerReferences": [owner_ref(api_version, kind, "m")]},
    }
    assert classify(d, owners=[up]).rule == "data_operator"
    # ...and as a bare ownerReference
    assert classify(d, owners=[owner_ref(api_version, kind, "m")]).rule == "data_operator"


@pytest.mark.parametrize(
    "api_version",
    [
        "argoproj.io/v1alpha1",
        "keda.sh/v1alpha1",
        "apps/v1",
        "v1",
        "kibana.k8s.elastic.co/v1",
        "notmongodb.com/v1",
    ],
)
def test_other_owners_are_not_database_operators(api_version: str) -> None:
    d, pods = cart()
    d["metadata"]["ownerReferences"] = [owner_ref(api_version, "Rollout", "cart")]
    assert not classify(d, pods=pods).data_class


# ---------------------------------------------------------------------------- annotations


@pytest.mark.parametrize(
    ("annotations", "setting"),
    [
        ({}, "default"),
        ({"alertloop.io/remediation": "enabled"}, "enabled"),
        ({"alertloop.io/remediation": " Enabled "}, "enabled"),
        ({"alertloop.io/remediation": "disabled"}, "disabled"),
        ({"alertloop.io/remediation": "DISABLED"}, "disabled"),
        ({"alertloop.io/remediate": "false"}, "disabled"),
        ({"alertloop.io/remediate": "off"}, "disabled"),
        ({"alertloop.io/remediate": "false", "alertloop.io/remediation": "enabled"}, "disabled"),
        ({"alertloop.io/remediation": "enable"}, "invalid"),
        ({"alertloop.io/remediation": "true"}, "invalid"),
        ({"alertloop.io/remediation": ""}, "invalid"),
        ({"alertloop.io/remediate": "true"}, "invalid"),
        ({"alertloop.io/remediaton": "disabled"}, "invalid"),
        ({"Alertloop.io/Remediation": "enabled"}, "invalid"),
        ({"alertloop.io/remediation": 1}, "invalid"),
        ({"alertloop.io/owner": "team-a", "example.com/remediation": "x"}, "default"),
    ],
)
def test_annotation_settings(annotations: dict[str, Any], setting: str) -> None:
    d, _ = cart()
    d["metadata"]["annotations"] = annotations
    assert remediation_annotation(d).setting == setting


def test_annotations_on_the_pod_template() -> None:
    d, _ = cart()
    d["spec"]["template"]["metadata"]["annotations"] = {"alertloop.io/remediation": "disabled"}
    assert remediation_annotation(d).setting == "disabled"
    d["spec"]["template"]["metadata"]["annotations"] = {"alertloop.io/remediation": "enabled"}
    note = remediation_annotation(d)
    assert note.setting == "default"
    v = may_write("scale_deployment", classify(d), d, hpa=None)
    assert v.rule == "no_hpa"
    assert "has no effect: it belongs on the workload's metadata" in v.reason


@pytest.mark.parametrize("annotations", [["not", "a", "map"], "x"])
def test_unreadable_annotations_are_invalid(annotations: Any) -> None:
    d, _ = cart()
    d["metadata"]["annotations"] = annotations
    v = may_write("restart", classify(d), d)
    assert (v.allowed, v.rule) == (False, "annotation_invalid")


def test_opt_out_refuses_every_action_and_says_how_to_undo() -> None:
    for given, shown in [
        ({"alertloop.io/remediation": "disabled"}, 'alertloop.io/remediation: "disabled"'),
        ({"alertloop.io/remediate": "false"}, 'alertloop.io/remediate: "false"'),
    ]:
        d, _ = cart()
        d["metadata"]["annotations"] = given
        for action, v in verdicts(d, classify(d), hpa=hpa("cart", "cart")).items():
            assert (v.allowed, v.rule) == (False, "opt_out"), action
            assert v.reason == (
                f"deployment/shop/cart is annotated {shown}: it opted out of automatic remediation"
            )
            assert v.how_to_change.startswith("remove that annotation")


def test_typos_fail_safe_and_are_reported() -> None:
    d, _ = cart()
    d["metadata"]["annotations"] = {"alertloop.io/remediation": "enable"}
    for action, v in verdicts(d, classify(d), hpa=None).items():
        assert (v.allowed, v.rule) == (False, "annotation_invalid"), action
        assert v.reason == (
            'deployment/shop/cart: alertloop.io/remediation: "enable" is neither "enabled" nor '
            '"disabled": refused until the annotation is fixed'
        )
    d["metadata"]["annotations"] = {"alertloop.io/remediate": "true"}
    v = may_write("restart", classify(d), d)
    assert v.rule == "annotation_invalid"
    assert "the old annotation only opts out" in v.reason
    d["metadata"]["annotations"] = {"alertloop.io/remediaton": "disabled"}
    v = may_write("restart", classify(d), d)
    assert v.rule == "annotation_invalid"
    assert 'annotation "alertloop.io/remediaton" is not "alertloop.io/remediation"' in v.reason


# ---------------------------------------------------------------------------- HPA


def test_hpa_rules() -> None:
    d, _ = cart()
    c = classify(d)
    managed = hpa("cart", "cart")
    v = may_write("scale_deployment", c, d, hpa=managed)
    assert (v.allowed, v.rule) == (False, "hpa_manages")
    assert v.how_to_change == "raise the HPA's maxReplicas instead (raise_hpa_max)"
    assert may_write("raise_hpa_max", c, d, hpa=managed).allowed
    v = may_write("raise_hpa_max", c, d, hpa=None)
    assert (v.allowed, v.rule) == (False, "no_hpa_to_raise")
    # restart and rollback do not care about the HPA
    assert may_write("restart", c, d, hpa=managed).allowed


def test_scaling_needs_the_hpa_looked_up() -> None:
    d, _ = cart()
    d["metadata"]["annotations"].update(ENABLED)
    c = classify(d)
    for action in ("scale_deployment", "raise_hpa_max"):
        v = may_write(action, c, d)
        assert (v.allowed, v.rule) == (False, "hpa_unknown")


def test_an_hpa_of_another_workload_is_refused() -> None:
    d, _ = cart()
    v = may_write("raise_hpa_max", classify(d), d, hpa=hpa("checkout", "checkout"))
    assert (v.allowed, v.rule) == (False, "hpa_mismatch")
    v = may_write("raise_hpa_max", classify(d), d, hpa=hpa("cart", "cart", namespace="other"))
    assert v.rule == "hpa_mismatch"


def test_an_hpa_that_opted_out_is_not_raised() -> None:
    d, _ = cart()
    h = hpa("cart", "cart", **{"alertloop.io/remediate": "false"})
    v = may_write("raise_hpa_max", classify(d), d, hpa=h)
    assert (v.allowed, v.rule) == (False, "opt_out")
    assert v.reason.startswith("HPA cart of deployment/shop/cart is annotated")
    h = hpa("cart", "cart", **{"alertloop.io/remediation": "nope"})
    assert may_write("raise_hpa_max", classify(d), d, hpa=h).rule == "annotation_invalid"


# ---------------------------------------------------------------------------- policy additions


def test_policy_patterns_add_to_the_built_ins() -> None:
    extra = WorkloadSafety(
        data_images=["ledger", "acme/vault-db", "registry.acme.io:5000/team/blobs"],
        data_labels=["acme.io/tier=ledger", "acme.io/holds-money"],
        data_operator_groups=["ledger.acme.io"],
    )
    cases: list[tuple[dict[str, Any], str]] = [
        (deployment("a", [("c", "registry.acme.io/fin/ledger-server:4")]), "data_image"),
        (deployment("a", [("c", "acme/vault-db:1@" + DIGEST)]), "data_image"),
        (deployment("a", [("c", "registry.acme.io/team/blobs:2")]), "data_image"),
        (deployment("a", [("c", "nginx")], labels={"acme.io/tier": "Ledger"}), "data_label"),
        (deployment("a", [("c", "nginx")], labels={"acme.io/holds-money": ""}), "data_label"),
        (
            deployment("a", [("c", "nginx")], owners=[owner_ref("eu.ledger.acme.io/v1", "L", "l")]),
            "data_operator",
        ),
        (deployment("a", [("c", "postgres")]), "data_image"),  # the built-ins stay
    ]
    for d, rule in cases:
        c = classify(d, extra=extra)
        assert (c.data_class, c.rule) == (True, rule), d["spec"]["template"]["spec"]
    c = classify(cases[0][0], extra=extra)
    assert c.evidence == (
        "image registry.acme.io/fin/ledger-server:4 (container c) matches the data_images entry "
        '"ledger" of the policy file'
    )
    # without the extras, only the built-in case is data class
    assert [classify(d).data_class for d, _ in cases] == [False] * 6 + [True]
    # near misses of the extras
    for image in ["acme/ledger-exporter", "other/vault-db-ui", "registry.acme.io/team/blobs-ui"]:
        assert not classify(deployment("a", [("c", image)]), extra=extra).data_class


def test_patterns_are_built_once_for_the_built_ins() -> None:
    assert patterns() is patterns(None)
    assert patterns(WorkloadSafety(data_images=["x"])) is patterns(
        WorkloadSafety(data_images=["x"])
    )
    assert patterns(WorkloadSafety(data_images=["x"])) is not patterns(WorkloadSafety())


# ---------------------------------------------------------------------------- fail closed


class Exploding(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("kind"),
        lambda d: d["metadata"].pop("name"),
        lambda d: d["metadata"].pop("namespace"),
        lambda d: d.__setitem__("metadata", "x"),
        lambda d: d["spec"].pop("template"),
        lambda d: d["spec"]["template"]["spec"].__setitem__("containers", []),
        lambda d: d["spec"]["template"]["spec"].__setitem__("containers", "nginx"),
        lambda d: d["spec"]["template"]["spec"]["containers"].append("nginx"),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("image"),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", 7),
        lambda d: d["spec"]["template"]["spec"].__setitem__("volumes", {"a": 1}),
        lambda d: d["spec"]["template"]["spec"]["volumes"].append(
            {"name": "v", "persistentVolumeClaim": "data"}
        ),
        lambda d: d["metadata"].__setitem__("labels", ["a"]),
        lambda d: d["metadata"].__setitem__("labels", {"a": 1}),
        lambda d: d["metadata"].__setitem__("ownerReferences", [None]),
        lambda d: d["spec"].__setitem__("template", Exploding()),
    ],
)
def test_malformed_workloads_fail_closed(mutate: Any) -> None:
    d, _ = cart()
    mutate(d)
    c = classify(d)
    assert c.data_class, "malformed must never look writable"
    for action in ACTIONS:
        v = may_write(action, c, d, hpa=None)
        assert not v.allowed
        assert v.rule in ("unreadable", "database_class/persistent_volume_claim")


@pytest.mark.parametrize("obj", [None, "deployment/cart", 42, [], Exploding()])
def test_not_an_object_at_all(obj: Any) -> None:
    c = classify(obj)
    assert c.data_class and c.rule == "unreadable"
    assert not may_write("restart", c, obj).allowed


def test_garbage_pods_owners_and_pvcs() -> None:
    d, _ = cart()
    assert classify(d, pods=[None]).rule == "unreadable"
    assert classify(d, owners=["x"]).rule == "unreadable"
    assert classify(d, pods=[{"metadata": {"name": "p"}, "spec": {}}]).rule == "unreadable"
    assert not classify(d, pvcs=[None, "x", {"metadata": 3}]).data_class  # only descriptions


def test_may_write_refuses_what_it_cannot_judge() -> None:
    d, _ = cart()
    c = classify(d)
    assert may_write("delete", c, d).rule == "unknown_action"
    assert may_write(["restart"], c, d).rule == "unknown_action"  # type: ignore[arg-type]
    assert not may_write("restart", "stateless", d).allowed  # type: ignore[arg-type]
    other = copy.deepcopy(d)
    other["metadata"]["name"] = "checkout"
    v = may_write("restart", c, other)
    assert (v.allowed, v.rule) == (False, "unreadable")
    assert "not the one classified" in v.reason


def test_results_serialise_for_the_audit_trail() -> None:
    d, claims = postgres_with_pvc()
    c = classify(d, pvcs=claims)
    v = may_write("restart", c, d)
    out = v.as_dict()
    assert out["allowed"] is False
    assert out["classification"]["rule"] == "persistent_volume_claim"
    assert out["classification"]["signals"][0]["rule"] == "persistent_volume_claim"

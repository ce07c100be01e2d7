"""Properties of the workload classifier over generated workloads (hypothesis).

The generator knows which ingredients carry a data-class signal (a StatefulSet, a claim, a
data image, a data label, a database operator owner) and the expectations are computed from
that knowledge, never from the classifier.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.remediation.workload_safety import ACTIONS, classify, may_write
from tests.unit.k8s_objects import DIGEST, hpa, owner_ref, pod, pvc_volume, workload

PROPERTY = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

DATA_REPOS = [
    "postgres",
    "postgresql",
    "bitnami/postgresql-repmgr",
    "ghcr.io/cloudnative-pg/postgresql",
    "mysql",
    "mariadb",
    "percona/percona-server-mongodb",
    "mongo",
    "redis",
    "redis/redis-stack-server",
    "valkey/valkey",
    "cassandra",
    "scylladb/scylla",
    "docker.elastic.co/elasticsearch/elasticsearch",
    "opensearchproject/opensearch",
    "confluentinc/cp-kafka",
    "strimzi/kafka",
    "bitnami/zookeeper",
    "quay.io/coreos/etcd",
    "clickhouse/clickhouse-server",
    "cockroachdb/cockroach",
    "rabbitmq",
    "nats",
    "memcached",
]
APP_REPOS = [
    "nginx",
    "registry.example.com/shop/cart",
    "shop/api",
    "envoyproxy/envoy",
    "busybox",
    "python",
    "acme/postgres-backup-uploader",
    "my-redis-client",
    "rediscommander/redis-commander",
    "prometheuscommunity/postgres-exporter",
    "oliver006/redis_exporter",
    "provectuslabs/kafka-ui",
    "mongo-express",
    "bitnami/pgbouncer",
    "opensearchproject/opensearch-dashboards",
    "confluentinc/cp-kafka-connect",
    "natsio/nats-box",
]
REGISTRIES = ["", "docker.io/", "localhost:5000/", "quay.io/", "registry.example.com:443/mirror/"]
PREFIXES = ["", "library/", "team/sub/"]
TAGS = ["", ":16", ":3-management", ":latest", ":1.2.3-debian-12-r4"]
DIGESTS = ["", "@" + DIGEST]

DATA_LABELS = [
    ("app.kubernetes.io/component", "database"),
    ("app.kubernetes.io/component", "cache"),
    ("app.kubernetes.io/component", "broker"),
    ("app.kubernetes.io/name", "postgresql"),
    ("app", "redis"),
    ("cnpg.io/cluster", "orders"),
]
APP_LABELS = [
    ("app.kubernetes.io/component", "frontend"),
    ("app.kubernetes.io/name", "cart"),
    ("app", "redis-commander"),
    ("tier", "backend"),
    ("team", "payments"),
]
DATA_OWNERS = [
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("core.strimzi.io/v1beta2", "StrimziPodSet"),
    ("acid.zalan.do/v1", "postgresql"),
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("apps/v1", "StatefulSet"),
]
APP_OWNERS = [
    ("argoproj.io/v1alpha1", "Rollout"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
]
SCRATCH = [
    {"name": "tmp", "emptyDir": {}},
    {"name": "cfg", "configMap": {"name": "cfg"}},
    {"name": "s", "secret": {"secretName": "s"}},
    {
        "name": "eph",
        "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}},
    },
]
ANNOTATIONS: dict[str, dict[str, str]] = {
    "none": {},
    "enabled": {"alertloop.io/remediation": "enabled"},
    "disabled": {"alertloop.io/remediation": "disabled"},
    "legacy": {"alertloop.io/remediate": "false"},
    "typo": {"alertloop.io/remediation": "enable"},
    "typo_key": {"alertloop.io/remediaton": "enabled"},
}


SIGNALS = (
    "image",
    "init",
    "pod_image",
    "pvc",
    "pod_pvc",
    "label",
    "pod_label",
    "owner",
    "claim_template",
)


@dataclass
class Case:
    obj: dict[str, Any]
    pods: list[dict[str, Any]]
    owners: list[dict[str, Any]]
    kind: str
    data: bool  # the generator put a data-class signal in
    annotation: str
    hpa: dict[str, Any] | None


@st.composite
def images(draw: st.DrawFn, data: bool) -> str:
    repo = draw(st.sampled_from(DATA_REPOS if data else APP_REPOS))
    if "." in repo.split("/")[0]:  # already has a registry
        registry, prefix = "", ""
    else:
        registry, prefix = draw(st.sampled_from(REGISTRIES)), draw(st.sampled_from(PREFIXES))
    return f"{registry}{prefix}{repo}{draw(st.sampled_from(TAGS))}{draw(st.sampled_from(DIGESTS))}"


@st.composite
def containers(draw: st.DrawFn, data: bool, min_size: int) -> list[tuple[str, str]]:
    n = draw(st.integers(max(min_size, int(data)), 3))
    chosen = [draw(images(False)) for _ in range(n)]
    if data:
        chosen[draw(st.integers(0, n - 1))] = draw(images(True))
    return [(f"c{i}", image) for i, image in enumerate(chosen)]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(
            ["Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]
        )
    )
    # Each ingredient carries a signal one time in ten: about 40% of workloads have none.
    sig = {k: draw(st.integers(0, 9)) == 0 for k in SIGNALS}
    main = draw(containers(sig["image"], 1))
    init = draw(containers(sig["init"], 0)) or None
    volumes = draw(st.lists(st.sampled_from(SCRATCH), max_size=3, unique_by=lambda v: v["name"]))
    if sig["pvc"]:
        volumes.append(pvc_volume("data", draw(st.sampled_from(["data", "pgdata", "x"]))))
    labels = dict(draw(st.lists(st.sampled_from(APP_LABELS), max_size=3)))
    if sig["label"]:
        key, value = draw(st.sampled_from(DATA_LABELS))
        labels[key] = value
    annotation = draw(st.sampled_from(list(ANNOTATIONS)))
    owners_refs = (
        [owner_ref(*draw(st.sampled_from(APP_OWNERS)), "o")] if draw(st.booleans()) else []
    )
    if sig["owner"]:
        owners_refs.append(owner_ref(*draw(st.sampled_from(DATA_OWNERS)), "db"))
    owner_on_workload = draw(st.booleans())
    obj = workload(
        kind,
        draw(st.sampled_from(["cart", "orders", "api"])),
        main,
        init=init,
        volumes=volumes or None,
        labels=labels if draw(st.booleans()) else {},
        template_labels=labels or {"app": "x"},
        annotations=dict(ANNOTATIONS[annotation]),
        owners=owners_refs if owner_on_workload else None,
        claim_templates=["data"] if sig["claim_template"] else None,
    )
    pods = []
    for i in range(draw(st.integers(0, 2))):
        p_images = draw(containers(sig["pod_image"] and i == 0, 1))
        p_labels = dict(draw(st.lists(st.sampled_from(APP_LABELS), max_size=2)))
        if sig["pod_label"] and i == 0:
            key, value = draw(st.sampled_from(DATA_LABELS))
            p_labels[key] = value
        p_vols = [pvc_volume("d", "claim")] if sig["pod_pvc"] and i == 0 else None
        pods.append(pod(f"p{i}", p_images, labels=p_labels, volumes=p_vols))
    # the pod-borne signals only exist when a pod was generated
    for k in ("pod_image", "pod_label", "pod_pvc"):
        sig[k] = sig[k] and bool(pods)
    owners: list[dict[str, Any]] = []
    if not owner_on_workload and owners_refs:
        if draw(st.booleans()) or not pods:
            owners = [dict(r) for r in owners_refs]  # given as bare ownerReferences
        else:
            pods[0]["metadata"]["ownerReferences"] = owners_refs
    data = kind == "StatefulSet" or any(sig.values())
    has_hpa = kind == "Deployment" and draw(st.booleans())
    return Case(
        obj,
        pods,
        owners,
        kind,
        data,
        annotation,
        hpa("h", obj["metadata"]["name"]) if has_hpa else None,
    )


@PROPERTY
@given(cases())
def test_data_class_is_never_writable_and_stateless_follows_the_rules(case: Case) -> None:
    c = classify(case.obj, pods=case.pods, owners=case.owners)
    verdicts = {a: may_write(a, c, case.obj, hpa=case.hpa) for a in ACTIONS}
    event(f"data={case.data} kind={case.kind} rule={c.rule}")
    if case.data:
        assert c.data_class, (c, case)
        for action, v in verdicts.items():
            assert not v.allowed, (action, v)
            assert v.rule.startswith("database_class/"), v
            assert "database-class workloads are never changed by alertloop" in v.reason
            assert v.rule.split("/", 1)[1] == c.signals[0].rule
        return
    assert not c.data_class, (c.evidence, case.obj)
    if case.kind != "Deployment":
        assert all(not v.allowed and v.rule == "kind" for v in verdicts.values())
        return
    if case.annotation in ("disabled", "legacy", "typo", "typo_key"):
        expected = "opt_out" if case.annotation in ("disabled", "legacy") else "annotation_invalid"
        assert all(not v.allowed and v.rule == expected for v in verdicts.values()), verdicts
        return
    opted_in = case.annotation == "enabled"
    assert verdicts["restart"].allowed
    assert verdicts["rollback"].allowed
    assert verdicts["scale_deployment"].allowed is (case.hpa is None and opted_in)
    assert verdicts["raise_hpa_max"].allowed is (case.hpa is not None)
    for v in verdicts.values():
        assert v.reason and v.how_to_change


@settings(PROPERTY, max_examples=500)
@given(cases(), st.randoms(use_true_random=False))
def test_classification_is_deterministic_and_order_free(case: Case, rnd: Any) -> None:
    first = classify(case.obj, pods=case.pods, owners=case.owners)
    again = classify(copy.deepcopy(case.obj), pods=copy.deepcopy(case.pods), owners=case.owners)
    assert first == again
    shuffled = copy.deepcopy(case.obj)
    rnd.shuffle(shuffled["spec"]["template"]["spec"]["containers"])
    pods = copy.deepcopy(case.pods)
    rnd.shuffle(pods)
    owners = list(case.owners)
    rnd.shuffle(owners)
    other = classify(shuffled, pods=pods, owners=owners)
    assert (other.data_class, other.rule, other.evidence) == (
        first.data_class,
        first.rule,
        first.evidence,
    )
    assert set(other.signals) == set(first.signals)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "kind",
                        "metadata",
                        "spec",
                        "template",
                        "containers",
                        "image",
                        "name",
                        "namespace",
                        "volumes",
                        "labels",
                        "annotations",
                        "ownerReferences",
                        "persistentVolumeClaim",
                        "apiVersion",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_garbage_never_raises_and_is_never_writable(obj: Any) -> None:
    c = classify(obj, pods=[obj], owners=[obj])
    for action in ACTIONS:
        assert not may_write(action, c, obj, hpa=None).allowed


def test_the_generator_makes_both_kinds_of_workload() -> None:
    """Guard against a generator that silently stopped producing one side."""
    seen: set[tuple[bool, str]] = set()

    # Hypothesis favours small and repeated draws: 300 random examples held no quiet DaemonSet
    # in about 1 run of 30 (measured). A fixed sequence of 600 makes this guard a fact about
    # the generator, not about luck.
    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(cases())
    def collect(case: Case) -> None:
        seen.add((case.data, case.kind))

    collect()
    assert {(True, "Deployment"), (False, "Deployment"), (True, "StatefulSet")} <= seen
    assert (False, "DaemonSet") in seen

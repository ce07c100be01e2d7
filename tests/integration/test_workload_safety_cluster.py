"""The workload classifier on objects read through the real `kubernetes` client from the sandbox
API server: the JSON shape it is written against is the shape `KubeClients.call` returns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.kube_api import KubeApiServer
from shared.k8s import reads
from shared.k8s.client import KubeClients, load_clients
from shared.k8s.settings import k8s_settings
from shared.remediation.workload_safety import Classification, classify, may_write
from shared.workload.resolve import WorkloadRef, get_workload, list_pods, selector_string
from tests.unit.k8s_objects import deployment, owner_ref, pod, pvc_volume


@pytest.fixture
def clients(remediation_cluster: KubeApiServer) -> Iterator[KubeClients]:
    srv = remediation_cluster
    srv.put_object(
        deployment(
            "orders-db",
            [("db", "docker.io/bitnami/postgresql:16")],
            init=[("perms", "bitnami/os-shell:12")],
            volumes=[pvc_volume("data", "orders-db-data")],
            replicas=1,
        )
    )
    srv.put_object(deployment("cart-cache", [("redis", "redis:7.2.4-alpine")], replicas=1))
    srv.put_object(
        pod(
            "orders-pg-1",
            [("postgres", "ghcr.io/cloudnative-pg/postgresql:16.2")],
            labels={"cnpg.io/cluster": "orders-pg"},
            owners=[owner_ref("postgresql.cnpg.io/v1", "Cluster", "orders-pg")],
        )
    )
    c = load_clients(k8s_settings())
    try:
        yield c
    finally:
        c.close()


def read(
    clients: KubeClients, kind: str, ns: str, name: str
) -> tuple[dict[str, Any], Classification]:
    obj = get_workload(clients, kind, ns, name)
    pods = []
    if kind != "Pod":
        pods = list_pods(clients, ns, selector_string((obj.get("spec") or {}).get("selector")))
    return obj, classify(obj, pods=pods)


def test_stateless_scenario_deployments(clients: KubeClients) -> None:
    api, c = read(clients, "Deployment", "shop", "api")
    assert not c.data_class, c.signals
    assert may_write("restart", c, api).allowed
    hpa = reads.find_hpa(clients, WorkloadRef("Deployment", "api", "shop"))
    assert hpa is None
    assert may_write("scale_deployment", c, api, hpa=hpa).rule == "no_hpa"

    web, c = read(clients, "Deployment", "shop", "web")
    hpa = reads.find_hpa(clients, WorkloadRef("Deployment", "web", "shop"))
    assert hpa is not None  # a list item: no kind, which the HPA checks do not need
    assert may_write("raise_hpa_max", c, web, hpa=hpa).allowed
    assert may_write("scale_deployment", c, web, hpa=hpa).rule == "hpa_manages"

    legacy, c = read(clients, "Deployment", "shop", "legacy")
    assert may_write("restart", c, legacy).rule == "opt_out"


def test_database_class_objects_as_the_api_returns_them(clients: KubeClients) -> None:
    sts, c = read(clients, "StatefulSet", "data", "postgres")
    assert c.rule == "statefulset"
    assert {s.rule for s in c.signals} >= {"statefulset", "owned_by_statefulset", "data_image"}
    assert not may_write("restart", c, sts).allowed

    db, c = read(clients, "Deployment", "shop", "orders-db")
    assert (c.rule, c.evidence) == (
        "persistent_volume_claim",
        "volume data mounts PersistentVolumeClaim orders-db-data",
    )
    assert not may_write("restart", c, db).allowed

    cache, c = read(clients, "Deployment", "shop", "cart-cache")
    v = may_write("scale_deployment", c, cache, hpa=None)
    assert (v.allowed, v.rule) == (False, "database_class/data_image")

    pg, c = read(clients, "Pod", "shop", "orders-pg-1")
    assert c.rule == "data_operator"
    assert may_write("restart", c, pg).rule == "database_class/data_operator"

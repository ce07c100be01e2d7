"""Storage the classifier must see wherever it hides, and image names with version / OS /
distribution suffixes as a class (issue 21, item 2). Image names are real ones from Docker
Hub, quay.io, registry.redhat.io, ghcr.io and the Crunchy Data registry."""

from __future__ import annotations

from typing import Any

import pytest

from shared.remediation.workload_safety import ACTIONS, classify, may_write
from tests.unit.k8s_objects import deployment

ENABLED = {"alertloop.io/remediation": "enabled"}


def app(**kw: Any) -> dict[str, Any]:
    kw.setdefault("labels", {"team": "shop"})
    kw.setdefault("template_labels", {"team": "shop"})
    images = kw.pop("images", [("c", "registry.example.com/shop/api:2")])
    return deployment("api", images, **kw)


def assert_never_written(d: dict[str, Any], rule: str) -> None:
    c = classify(d)
    assert (c.data_class, c.rule) == (True, rule), c.evidence
    for action in ACTIONS:
        assert not may_write(action, c, d, hpa=None).allowed, action


@pytest.mark.parametrize(
    "driver",
    [
        "nfs.csi.k8s.io",
        "file.csi.azure.com",
        "disk.csi.azure.com",
        "gcsfuse.csi.storage.gke.io",
        "filestore.csi.storage.gke.io",
        "efs.csi.aws.com",
        "smb.csi.k8s.io",
        "s3.csi.aws.com",
        "csi.juicefs.com",
        "rook-ceph.cephfs.csi.ceph.com",
        "some.vendor.example",  # unknown drivers are storage until shown otherwise
        "",
    ],
)
def test_inline_csi_volumes_of_storage_drivers_are_data(driver: str) -> None:
    vol = {"name": "share", "csi": {"driver": driver, "volumeAttributes": {"bucket": "orders"}}}
    assert_never_written(app(volumes=[vol], annotations=ENABLED), "persistent_volume")


@pytest.mark.parametrize(
    "driver", ["secrets-store.csi.k8s.io", "csi.cert-manager.io", "Secrets-Store.csi.k8s.io"]
)
def test_known_ephemeral_csi_drivers_are_scratch(driver: str) -> None:
    vol = {"name": "certs", "csi": {"driver": driver, "readOnly": True}}
    assert not classify(app(volumes=[vol])).data_class


@pytest.mark.parametrize(
    "host_path",
    [
        {"path": "/dev/disk/by-id/google-orders", "type": "BlockDevice"},
        {"path": "/dev/disk/by-uuid/8f1c"},
        {"path": "/dev/nvme0n1"},
        {"path": "/dev/sdb", "type": ""},
        {"path": "/dev/mapper/vg-data"},
        {"path": "/dev"},
        {"path": "/srv/block0", "type": "BlockDevice"},
    ],
)
def test_block_devices_and_node_disks_are_data(host_path: dict[str, str]) -> None:
    vol = {"name": "disk", "hostPath": host_path}
    assert_never_written(app(volumes=[vol], annotations=ENABLED), "persistent_volume")


@pytest.mark.parametrize("path", ["/dev/fuse", "/dev/shm", "/dev/net/tun", "/dev/kmsg"])
def test_named_character_devices_stay_ordinary(path: str) -> None:
    assert not classify(app(volumes=[{"name": "d", "hostPath": {"path": path}}])).data_class


def test_an_ephemeral_claim_bound_to_an_existing_volume_is_data() -> None:
    vol = {
        "name": "data",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-orders-db"}
            }
        },
    }
    d = app(volumes=[vol], annotations=ENABLED)
    assert_never_written(d, "persistent_volume")
    assert "pv-orders-db" in classify(d).evidence


# Real repository names, suffixed with versions, OS and distribution builds.
SUFFIXED_DATA_IMAGES = [
    "quay.io/sclorg/postgresql-15-c9s:latest",
    "quay.io/sclorg/postgresql-16-c10s",
    "quay.io/sclorg/mariadb-1011-c9s",
    "quay.io/sclorg/redis-7-c9s",
    "quay.io/sclorg/mysql-80-c9s",
    "centos/postgresql-12-centos7",
    "centos/mongodb-36-centos7",
    "registry.access.redhat.com/rhscl/postgresql-10-rhel7",
    "registry.redhat.io/rhel9/postgresql-15",
    "registry.redhat.io/rhel8/redis-6",
    "registry.redhat.io/rhel9/mysql-80:1-200",
    "registry.redhat.io/rhel8/postgresql-13-el8",
    "example.com/db/postgres-16-jammy",
    "example.com/db/redis-7-bookworm-slim",
    "example.com/db/postgres-16-rc1",
    "registry.developers.crunchydata.com/crunchydata/crunchy-postgres-gis:ubi8-16.1-3.4-0",
    "registry.developers.crunchydata.com/crunchydata/crunchy-postgres:ubi8-16.1-0",
    "memgraph/memgraph-platform:2.14",
    "memgraph/memgraph-mage:1.15",
    "hashicorp/vault:1.15",
    "hashicorp/vault-enterprise:1.15-ent",
    "openbao/openbao:2.0",
    "consul:1.15",
    "hashicorp/consul:1.18",
    "hashicorp/consul-enterprise:1.18-ent",
]


@pytest.mark.parametrize("image", SUFFIXED_DATA_IMAGES)
def test_suffixed_data_images_are_recognised(image: str) -> None:
    assert_never_written(app(images=[("c", image)], annotations=ENABLED), "data_image")


# Programs around those stores: clients, exporters, injectors, operators, UIs.
AROUND_THE_STORES = [
    "prometheuscommunity/postgres-exporter:v0.15.0",
    "quay.io/prometheuscommunity/postgres-exporter",
    "bitnami/postgres-exporter:0.15.0-debian-12-r7",
    "oliver006/redis_exporter:v1.58.0-alpine",
    "hashicorp/vault-k8s:1.4",
    "hashicorp/vault-csi-provider:1.4",
    "hashicorp/consul-k8s-control-plane:1.4",
    "hashicorp/consul-dataplane:1.4",
    "hashicorp/consul-template:0.37",
    "bitnami/pgbouncer:1.22",
    "rediscommander/redis-commander",
    "memgraph/lab:2.14",
    "quay.io/sclorg/nginx-122-c9s",
    "quay.io/sclorg/python-311-c9s",
    "registry.redhat.io/rhel9/nodejs-20",
    "crunchydata/crunchy-pgbackrest",
    "crunchydata/postgres-operator:ubi8-5.5.0-0",
    "example.com/shop/redis-client-7-jammy",
]


@pytest.mark.parametrize("image", AROUND_THE_STORES)
def test_programs_around_the_stores_stay_ordinary(image: str) -> None:
    c = classify(app(images=[("c", image)]))
    assert not c.data_class, c.evidence

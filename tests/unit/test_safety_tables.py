"""The built-in workload-safety tables: packaged YAML, validated by the policy section model."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.policy import WorkloadSafety
from shared.remediation.data_patterns import parse_image, patterns
from shared.remediation.safety_tables import (
    SOURCE,
    TABLES,
    SafetyTablesError,
    WorkloadSafetyTables,
    load_tables,
    parse_tables,
)
from shared.remediation.workload_safety import classify

ROOT = Path(__file__).resolve().parents[2]
TEXT = resources.files("shared.remediation").joinpath("workload_safety.yaml").read_text()


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TEXT)
    return data


def test_the_packaged_tables_load_through_the_policy_sections_model() -> None:
    tables = load_tables()
    assert isinstance(tables, WorkloadSafety)  # the model a policy's workload_safety extends
    assert tables == WorkloadSafetyTables.model_validate(_raw()) == TABLES
    # Its policy-section part is a valid policy section as it stands, and merges like one.
    section = WorkloadSafety(
        data_labels=tables.data_labels, data_operator_groups=tables.data_operator_groups
    )
    assert section.merged(WorkloadSafety(data_operator_groups=["db.acme.io"])).data_operator_groups[
        :-1
    ] == list(tables.data_operator_groups)


def test_the_matcher_uses_every_table_entry() -> None:
    pats = patterns()
    for family, names in TABLES.products.items():
        for name in names:
            ref = parse_image(f"registry.example.com/team/{name}:1.0")
            assert ref is not None and pats.image_family(ref) == family, name
    for path, family in TABLES.data_image_paths.items():
        ref = parse_image(f"quay.io/{path}@sha256:{'a' * 64}")
        assert ref is not None and pats.image_family(ref) == family, path
    assert pats.label_keys == frozenset(TABLES.data_labels)
    assert pats.operator_groups == tuple(TABLES.data_operator_groups)


def test_a_policy_adds_to_the_tables_and_removes_nothing() -> None:
    extra = WorkloadSafety(
        data_images=["ledger"], data_labels=["tier=db"], data_operator_groups=["db.acme.io"]
    )
    pats = patterns(extra)
    assert set(TABLES.data_labels) <= pats.label_keys
    assert pats.operator_groups[: len(TABLES.data_operator_groups)] == tuple(
        TABLES.data_operator_groups
    )
    assert pats.operator_groups[-1] == "db.acme.io"
    ref = parse_image("postgres:16")
    assert ref is not None and pats.image_family(ref) == "PostgreSQL"


def _pod(volume: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "web", "image": "web:1"}], "volumes": [volume]}
            }
        },
    }


def test_the_volume_tables_decide_what_is_persistent() -> None:
    for driver in TABLES.ephemeral_csi_drivers:
        got = classify(_pod({"name": "v", "csi": {"driver": driver}}))
        assert not got.data_class, driver
    assert classify(_pod({"name": "v", "csi": {"driver": "nfs.csi.k8s.io"}})).data_class
    for path in TABLES.system_host_paths:
        assert not classify(_pod({"name": "v", "hostPath": {"path": path}})).data_class, path
    assert classify(_pod({"name": "v", "hostPath": {"path": "/var/lib/data"}})).data_class


def _with(change: dict[str, Any]) -> str:
    raw = _raw()
    raw.update(change)
    return yaml.safe_dump(raw)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"products": {"PostgreSQL": ["postgres", "my postgres"]}}, "products.PostgreSQL"),
        ({"products": {"PostgreSQL": ["bitnami/postgres"]}}, "without a path"),
        ({"products": {"PostgreSQL": []}}, "products.PostgreSQL is empty"),
        ({"data_image_paths": {"cp-server": "Kafka"}}, "data_image_paths keys"),
        ({"data_image_paths": {"vitess/lite": " "}}, "family name"),
        ({"vendor_prefixes": ["bitnami", "red-hat"]}, "'red-hat' is not valid"),
        ({"flavour_suffixes": ["alpine", "server.x"]}, "words of the image rule"),
        ({"data_components": ["database", "data store"]}, "data_components"),
        ({"name_labels": ["app", "=x"]}, "name_labels"),
        # The policy section's own validators, inherited unchanged.
        ({"data_labels": ["cnpg.io/cluster", "tier=has space"]}, "data_labels entries"),
        ({"data_operator_groups": ["acme"]}, "data_operator_groups entries are API groups"),
        ({"data_images": ["ledger"]}, "list them under products"),
        ({"ephemeral_csi_drivers": ["csi.cert-manager.io/"]}, "ephemeral_csi_drivers"),
        ({"persistent_sources": ["gce-persistent-disk"]}, "persistent_sources"),
        ({"system_host_paths": ["etc/ssl"]}, "system_host_paths"),
        ({"system_host_paths": ["/etc/../var"]}, "system_host_paths"),
        ({"not_data_host_path_types": ["Sockets"]}, "not_data_host_path_types"),
        ({"ephemeral_csi_driver": ["csi.spiffe.io"]}, "ephemeral_csi_driver: Extra inputs"),
    ],
)
def test_a_malformed_table_entry_is_refused_clearly(change: dict[str, Any], says: str) -> None:
    with pytest.raises(SafetyTablesError, match=says) as err:
        parse_tables(_with(change))
    assert str(err.value).startswith(SOURCE + ": ")


def test_a_missing_table_is_refused_by_name() -> None:
    raw = _raw()
    del raw["ephemeral_csi_drivers"]
    with pytest.raises(SafetyTablesError, match="ephemeral_csi_drivers: Field required"):
        parse_tables(yaml.safe_dump(raw))


@pytest.mark.parametrize("text", ["products: [", "- a list\n", ""])
def test_a_file_that_is_not_a_mapping_of_tables_is_refused(text: str) -> None:
    with pytest.raises(SafetyTablesError, match=SOURCE):
        parse_tables(text)


def test_the_same_validators_as_a_policy_file() -> None:
    """An entry a policy's workload_safety refuses is refused in the tables with its message."""
    with pytest.raises(ValidationError) as policy_err:
        WorkloadSafety(data_operator_groups=["acme.io/v1"])
    with pytest.raises(SafetyTablesError) as tables_err:
        parse_tables(_with({"data_operator_groups": ["acme.io/v1"]}))
    policy_msg = policy_err.value.errors()[0]["msg"]
    assert policy_msg in str(tables_err.value)


def test_the_tables_ship_with_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["shared"]
    assert any(fnmatch.fnmatch("remediation/workload_safety.yaml", g) for g in globs)

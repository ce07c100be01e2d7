"""The built-in workload-safety tables: shared/remediation/workload_safety.yaml, loaded once.

`WorkloadSafetyTables` IS the policy file's `workload_safety` model (shared.policy.
WorkloadSafety: data_labels and data_operator_groups are validated by the very same validators)
plus the tables only the built-ins define: images by product family, the words of the image
rule, label keys, and the volume tables of shared.remediation.workload_safety. A policy adds to
these tables (data_patterns.Patterns.build); it never replaces or removes an entry.

Every entry is checked so that it can match what it is compared with: a word of the image rule
has no separator (names are split on "-", "_" and "."), a repository name is what an image
reference holds, a label key is a Kubernetes label key... A malformed entry stops the import
with `SafetyTablesError` naming the table and the entry: the guardrails never run on a partial
table.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from shared.policy import _IMAGE_PATTERN, _LABEL_KEY, _LABEL_VALUE, WorkloadSafety, _checked

SOURCE = "shared/remediation/workload_safety.yaml"

_WORD = re.compile(r"^[a-z0-9]+$")  # data_patterns.words() splits on - _ .
_DRIVER = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")  # a CSI driver name (DNS-1123 style)
_FIELD = re.compile(r"^[a-z][A-Za-z0-9]*$")  # a pod volume source field (camelCase)
_HOST_PATH = re.compile(r"^(?:/[A-Za-z0-9._-]+)+$")  # absolute, no trailing slash, no "//"
HostPathType = Literal[
    "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice"
]


class SafetyTablesError(ValueError):
    """The built-in tables cannot be used; the message names the table and the entry."""


def _non_empty(values: list[str], what: str) -> list[str]:
    if not values:
        raise ValueError(f"{what} is empty: the built-in table must list at least one entry")
    return values


def _non_empty_map(value: dict[str, Any], what: str) -> dict[str, Any]:
    if not value:
        raise ValueError(f"{what} is empty: the built-in table must list at least one entry")
    return value


def _family(name: str) -> str:
    family = name.strip()
    if not family or family != name:
        raise ValueError(f"family name {name!r} must be non-empty, without surrounding spaces")
    return family


class WorkloadSafetyTables(WorkloadSafety):
    """The built-in tables: a policy's `workload_safety` section plus the built-in-only ones."""

    # Product family -> repository names (no slash): the image words rule.
    products: dict[str, list[str]]
    # Repository path suffix ("confluentinc/cp-server") -> product family.
    data_image_paths: dict[str, str]
    vendor_prefixes: list[str]
    flavour_suffixes: list[str]
    distro_names: list[str]  # with an optional version: centos7, el9
    distro_codenames: list[str]
    # app.kubernetes.io/component values of data workloads (lowercase).
    data_components: list[str]
    # Labels whose value may name a product.
    name_labels: list[str]
    ephemeral_csi_drivers: list[str]
    persistent_sources: list[str]
    not_data_host_path_types: list[HostPathType] = Field(min_length=1)
    system_host_paths: list[str]

    @field_validator("products")
    @classmethod
    def _products(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for family, names in _non_empty_map(value, "products").items():
            _family(family)
            out[family] = _checked(
                _non_empty(names, f"products.{family}"),
                lambda n: "/" not in n and _IMAGE_PATTERN.match(n),
                f"products.{family} entries are repository names without a path (postgres, "
                "cp-kafka)",
            )
        return out

    @field_validator("data_image_paths")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for path, family in _non_empty_map(value, "data_image_paths").items():
            (key,) = _checked(
                [path],
                lambda p: "/" in p and _IMAGE_PATTERN.match(p),
                "data_image_paths keys are repository paths with a slash (vitess/lite)",
            )
            out[key] = _family(family)
        return out

    @field_validator("vendor_prefixes", "flavour_suffixes", "distro_names", "distro_codenames")
    @classmethod
    def _words(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "a word table"),
            _WORD.match,
            'words of the image rule are lowercase letters and digits (no "-", "_" or ".")',
        )

    @field_validator("data_components")
    @classmethod
    def _components(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "data_components"),
            _LABEL_VALUE.match,
            "data_components entries are label values",
        )

    @field_validator("name_labels")
    @classmethod
    def _name_labels(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "name_labels"),
            _LABEL_KEY.match,
            "name_labels entries are label keys",
            lower=False,
        )

    @field_validator("ephemeral_csi_drivers")
    @classmethod
    def _drivers(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "ephemeral_csi_drivers"),
            _DRIVER.match,
            "ephemeral_csi_drivers entries are CSI driver names (csi.cert-manager.io)",
        )

    @field_validator("persistent_sources")
    @classmethod
    def _sources(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "persistent_sources"),
            _FIELD.match,
            "persistent_sources entries are pod volume fields (gcePersistentDisk)",
            lower=False,
        )

    @field_validator("system_host_paths")
    @classmethod
    def _system_paths(cls, values: list[str]) -> list[str]:
        return _checked(
            _non_empty(values, "system_host_paths"),
            lambda p: _HOST_PATH.match(p) and ".." not in p.split("/"),
            "system_host_paths entries are absolute paths without a trailing slash",
            lower=False,
        )

    @model_validator(mode="after")
    def _images_have_families(self) -> WorkloadSafetyTables:
        if self.data_images:
            raise ValueError(
                "built-in images name their product family: list them under products (names) "
                "or data_image_paths (paths), not data_images"
            )
        if not self.data_labels or not self.data_operator_groups:
            raise ValueError("data_labels and data_operator_groups must not be empty")
        return self


def parse_tables(text: str, source: str = SOURCE) -> WorkloadSafetyTables:
    """The tables in `text` (YAML), or SafetyTablesError saying what is wrong and where."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SafetyTablesError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SafetyTablesError(f"{source} must be a mapping of table name -> entries")
    try:
        return WorkloadSafetyTables.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'tables'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SafetyTablesError(f"{source}: {problems}") from exc


def load_tables() -> WorkloadSafetyTables:
    """The packaged tables (shared/remediation/workload_safety.yaml)."""
    return parse_tables(
        resources.files("shared.remediation").joinpath("workload_safety.yaml").read_text()
    )


TABLES = load_tables()

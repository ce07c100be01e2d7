"""What a database / stateful-data workload looks like: images, labels, operator API groups.

Matching, used by `shared.remediation.workload_safety`; the built-in patterns are data
(shared/remediation/workload_safety.yaml, loaded by shared.remediation.safety_tables) and
cannot be switched off; a policy file's `workload_safety` section (shared.policy.
WorkloadSafety) only adds to them (`patterns(extra)`).

Images are matched on the repository NAME only: the registry (docker.io, quay.io,
localhost:5000...), the path prefix (bitnami/, library/, team/sub/), the tag and the @sha256
digest are ignored. The last path component is split into words on "-", "_" and "."; it is a
data image when its words are

    [vendor prefixes] PRODUCT [flavour suffixes]

where PRODUCT is a name in PRODUCTS (words joined by "-"), vendor prefixes are
VENDOR_PREFIXES and flavour suffixes are FLAVOUR_SUFFIXES (server flavours, base images and
the roles of a replicated store's members: master, primary, replica, data...) or versions (16,
v3) or build / OS / distribution suffixes as a class (c9s, centos7, el9, jammy, rc1, a commit
hash: _DISTRO_WORD, DISTRO_CODENAMES). So postgres, bitnami/postgresql-repmgr, cp-kafka,
percona-server-mongodb, redis-stack-server, clickhouse/clickhouse-server, zalando/spilo-16,
mongodb-community-server and quay.io/sclorg/postgresql-15-c9s match. Any OTHER
word makes it a different program that merely mentions a product: postgres-exporter,
redis_exporter, my-redis-client, redis-commander, acme/postgres-backup-uploader, kafka-ui,
mongo-express, opensearch-dashboards, cp-kafka-connect, pgbouncer and operators
(postgres-operator) do not match. Repositories whose last component says nothing on its own are
matched by the end of their path (DATA_IMAGE_PATHS: confluentinc/cp-server, vitess/lite,
mysql/community-server). A reference with a malformed tag or digest, or a repository name longer
than the distribution spec allows (MAX_REPOSITORY), cannot be parsed (the caller fails closed).
Matching is linear in the number of words: image names are written by whoever writes workloads.

Label values naming a product (app.kubernetes.io/name=redis-cluster, app=redis-master,
helm.sh/chart=postgresql-12.1.0) use the same words rule. Operator API groups match an
ownerReference's apiVersion group (trimmed, case-insensitive; a bare "group.example.com" without
a version is read as that group) exactly or as a parent domain (mongodb.com matches
mongodbcommunity.mongodb.com, percona.com matches every Percona operator).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from shared.policy import WorkloadSafety
from shared.remediation.safety_tables import TABLES

# The tables are data: shared/remediation/workload_safety.yaml (shared.remediation.
# safety_tables validates it with the policy section's model); these names are views of it.
# Product family -> repository names that are that product's server (or its HA machinery).
PRODUCTS: Final[Mapping[str, tuple[str, ...]]] = {
    family: tuple(names) for family, names in TABLES.products.items()
}
# Repositories matched by the end of their path: their last component alone says nothing.
DATA_IMAGE_PATHS: Final[Mapping[str, str]] = dict(TABLES.data_image_paths)
# Words that may precede the product: vendors, distributions, mirrors.
VENDOR_PREFIXES: Final = frozenset(TABLES.vendor_prefixes)
# Words that may follow the product: server flavours, HA/cluster variants, base images, and
# the roles of a replicated store's members (redis-master, postgres-primary, elasticsearch-data).
FLAVOUR_SUFFIXES: Final = frozenset(TABLES.flavour_suffixes)
_VERSION_WORD = re.compile(r"^v?\d+[a-z]?$")
# Build, OS and distribution suffixes as a class (postgresql-15-c9s, postgresql-12-centos7,
# postgres-16-jammy, redis-7-el9, mysql-80-rhel8, ...): a distribution name with an optional
# version (the table's distro_names), CentOS Stream's c9s, release candidates and builds, a
# commit hash.
_DISTRO_WORD = re.compile(
    rf"^(?:{'|'.join(map(re.escape, TABLES.distro_names))})\d*$"
    r"|^c\d+s$|^(?:rc|beta|alpha|build|b|r|p)\d+$|^\d+[a-z]+\d*$|^(?=[0-9a-f]*\d)[0-9a-f]{7,40}$"
)
# Ubuntu and Debian release code names used as image suffixes.
DISTRO_CODENAMES: Final = frozenset(TABLES.distro_codenames)

COMPONENT_LABEL: Final = "app.kubernetes.io/component"
# app.kubernetes.io/component values of data workloads (compared case-insensitively).
DATA_COMPONENTS: Final = frozenset(TABLES.data_components)
# Labels whose value may name a product (same words rule as images). helm.sh/chart is
# "<chart>-<version>": the version words are flavours, so postgresql-12.1.0 names PostgreSQL;
# every workload of a database chart's release counts (a nameOverride does not hide it).
NAME_LABELS: Final = tuple(TABLES.name_labels)
# Labels only database pods carry: operators' instance labels, StatefulSet pod labels.
DATA_LABEL_KEYS: Final = tuple(TABLES.data_labels)
# API groups of operators whose workloads are databases (subdomains match too).
DATA_OPERATOR_GROUPS: Final = tuple(TABLES.data_operator_groups)

DOCKER_HUB: Final = "docker.io"
DOCKER_HUB_ALIASES: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
POLICY_SOURCE = 'data_images entry "{}" of the policy file'


def words(name: str) -> list[str]:
    return [w for w in re.split(r"[-_.]+", name.lower()) if w]


def _flavour(word: str) -> bool:
    return (
        word in FLAVOUR_SUFFIXES
        or word in DISTRO_CODENAMES
        or bool(_VERSION_WORD.match(word) or _DISTRO_WORD.match(word))
    )


def product_of(name: str, products: Mapping[str, str]) -> str | None:
    """The family `name` (a repository name or label value) is the server of, by the words
    rule; `products` maps product names (words joined by "-") to families.

    Linear in the number of words (names come from whoever wrote the workload): the product
    ends where the flavour suffixes begin, and is at most as long as the longest product."""
    ws = words(name)
    tail = len(ws)  # ws[tail:] are all flavour suffixes
    while tail > 0 and _flavour(ws[tail - 1]):
        tail -= 1
    longest = max((p.count("-") + 1 for p in products), default=0)
    for start, word in enumerate(ws):
        for end in range(min(len(ws), start + longest), max(tail, start + 1) - 1, -1):
            family = products.get("-".join(ws[start:end]))
            if family is not None:
                return family
        if word not in VENDOR_PREFIXES:
            return None
    return None


@dataclass(frozen=True)
class ImageRef:
    image: str  # as written
    registry: str  # "" when none (Docker Hub)
    path: tuple[str, ...]  # repository path components, lowercased; never empty

    @property
    def name(self) -> str:
        return self.path[-1]


_TAG = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,127}")  # lowercased, as parse_image compares
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-z0-9=_-]{32,}")
MAX_REPOSITORY = 255  # the distribution spec's limit on a repository name (without the host)


def parse_image(image: str) -> ImageRef | None:
    """registry/path/name[:tag][@digest] -> its parts; None when it cannot be an image (a
    malformed tag or digest, or a repository name longer than MAX_REPOSITORY)."""
    text = image.strip().lower()
    if not text or any(c.isspace() for c in text):
        return None
    text, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    parts = text.split("/")
    parts[-1], colon, tag = parts[-1].partition(":")
    if colon and not _TAG.fullmatch(tag):
        return None
    registry = ""
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
    if len("/".join(parts)) > MAX_REPOSITORY:
        return None
    if not all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*", p) for p in parts):
        return None
    return ImageRef(image, registry, tuple(parts))


def from_policy(family: str) -> bool:
    """Whether a matched "family" is a policy file entry (rather than a built-in product)."""
    return family.startswith(POLICY_SOURCE.split("{")[0])


@dataclass(frozen=True)
class Patterns:
    """Built-in patterns plus a policy's additions, ready for matching."""

    products: Mapping[str, str]  # product name -> family (or POLICY_SOURCE)
    paths: Mapping[tuple[str, ...], str]  # path suffix -> family
    label_values: Mapping[str, frozenset[str]]  # key -> values (casefolded)
    label_keys: frozenset[str]  # any value
    operator_groups: tuple[str, ...]

    @classmethod
    def build(cls, extra: WorkloadSafety | None = None) -> Patterns:
        products = {"-".join(words(n)): fam for fam, names in PRODUCTS.items() for n in names}
        paths = {tuple(p.split("/")): family for p, family in DATA_IMAGE_PATHS.items()}
        values: dict[str, set[str]] = {}
        keys: set[str] = set()
        groups: list[str] = []
        for entry in extra.data_images if extra else ():
            if "/" in entry:
                path = entry.split("/")
                path[0] = path[0].split(":", 1)[0]  # a registry's port never matters
                paths.setdefault(tuple(path), POLICY_SOURCE.format(entry))
            else:
                products.setdefault("-".join(words(entry)), POLICY_SOURCE.format(entry))
        # The built-in labels and groups are read exactly as a policy's are.
        for entry in (*TABLES.data_labels, *(extra.data_labels if extra else ())):
            key, sep, value = entry.partition("=")
            if sep:
                values.setdefault(key, set()).add(value.casefold())
            else:
                keys.add(key)
        for g in (*TABLES.data_operator_groups, *(extra.data_operator_groups if extra else ())):
            if g not in groups:
                groups.append(g)
        return cls(
            products=products,
            paths=paths,
            label_values={k: frozenset(v) for k, v in values.items()},
            label_keys=frozenset(keys),
            operator_groups=tuple(groups),
        )

    def image_family(self, ref: ImageRef) -> str | None:
        registry = ref.registry.split(":", 1)[0] or DOCKER_HUB
        path = ref.path
        if registry in DOCKER_HUB_ALIASES and len(path) == 1:
            path = ("library", *path)  # Docker Hub's official images
        full = (registry, *path)
        for suffix, family in self.paths.items():
            if len(suffix) <= len(full) and full[-len(suffix) :] == suffix:
                return family
        return product_of(ref.name, self.products)

    def operator_group(self, api_version: str) -> str | None:
        # "group/version", or "v1" for the core group; a bare "postgresql.cnpg.io" (which the
        # API server accepts as a version) is read as the group it names.
        group = api_version.strip().lower().split("/", 1)[0].rstrip(".")
        for g in self.operator_groups:
            if group == g or group.endswith("." + g):
                return g
        return None


_BUILTIN = Patterns.build()


def patterns(extra: WorkloadSafety | None = None) -> Patterns:
    """The built-in patterns, plus the policy's when given (built once per distinct policy)."""
    if extra is None:
        return _BUILTIN
    return _with_extra(
        tuple(extra.data_images), tuple(extra.data_labels), tuple(extra.data_operator_groups)
    )


@lru_cache(maxsize=8)
def _with_extra(
    images: tuple[str, ...], labels: tuple[str, ...], groups: tuple[str, ...]
) -> Patterns:
    return Patterns.build(
        WorkloadSafety(
            data_images=list(images), data_labels=list(labels), data_operator_groups=list(groups)
        )
    )

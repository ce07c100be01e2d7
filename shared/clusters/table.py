"""The cluster table (data, not code): which clusters alertloop may act on, and how to reach each.

Which Kubernetes clusters alertloop may act on, how to reach each, and optionally its own
Prometheus. One document, from ``ALERTLOOP_CLUSTERS_FILE`` (a YAML or JSON file: the primary
way, reviewed like the policy file) or ``ALERTLOOP_CLUSTERS`` (the same document as inline JSON:
what Terraform renders); setting both is an error::

    clusters:
      prod-eu:                                   # the value of the alert's cluster label
        gke: projects/acme/locations/europe-west1/clusters/prod-eu
        aliases: [gke_acme_europe-west1_prod-eu] # other label values naming the same cluster
        prometheus:                              # overrides PROMETHEUS_* for this cluster
          url: https://monitoring.googleapis.com/v1/projects/acme/location/global/prometheus
          auth: google
      prod-us:
        gke: projects/acme/locations/us-central1/clusters/prod-us
        endpoint_type: private                   # the control plane's private IP
      lab:
        gke: projects/acme/locations/europe-west1-b/clusters/lab
        endpoint: https://10.0.0.2               # given: no Container API call
        ca_data: LS0tLS1CRUdJTi...               # base64 PEM, as in a kubeconfig
      onprem:
        kubeconfig_context: onprem-admin         # from KUBECONFIG / KUBE_CONFIG_DATA
    identities:                                  # for `alertloop doctor`
      investigate: alertloop-investigate@acme.iam.gserviceaccount.com
      remediate: alertloop-remediate@acme.iam.gserviceaccount.com
      rollback: alertloop-rollback@acme.iam.gserviceaccount.com

A `gke` cluster is reached with the function's own Google identity (Application Default
Credentials); a `kubeconfig_context` one with the kubeconfig as before. With no table, one
implicit cluster reaches Kubernetes exactly as before (KUBECONFIG, KUBE_CONFIG_DATA or
in-cluster), named by ``ALERTLOOP_DEFAULT_CLUSTER_NAME`` (default ``default``).

Routing (shared.clusters.routing.route) is pure: the cluster comes from the first alert labels
named in ``ALERTLOOP_CLUSTER_LABELS`` (default ``cluster``; e.g. ``cluster,k8s_cluster``). With
exactly one cluster configured it is the default when no such label is present. Anything else
that is not one known cluster — no label among several clusters, an unknown name, labels that
disagree — is a `RoutingProblem`: no action, never a silent fallback.

``ALERTLOOP_IDENTITY_INVESTIGATE`` / ``_REMEDIATE`` / ``_ROLLBACK`` set (or override) the
identities. Nothing here imports kubernetes or Google clients (shared.clusters.clients and
shared.clusters.gke do).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared import envvars

FILE_ENV = "ALERTLOOP_CLUSTERS_FILE"
INLINE_ENV = "ALERTLOOP_CLUSTERS"
LABELS_ENV = "ALERTLOOP_CLUSTER_LABELS"
DEFAULT_NAME_ENV = "ALERTLOOP_DEFAULT_CLUSTER_NAME"
IDENTITY_ENV_PREFIX = "ALERTLOOP_IDENTITY_"
DEFAULT_LABELS = ("cluster",)
DEFAULT_CLUSTER_NAME = "default"
FUNCTIONS_WITH_IDENTITY = ("investigate", "remediate", "rollback", "dispatch", "sweeper")

# A cluster name is matched against alert label values: label-value characters, <= 63.
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# projects/P/locations/L/clusters/C (project ids may be domain-scoped: example.com:proj).
_GKE = re.compile(
    r"^projects/(?P<project>[a-z0-9][-a-z0-9.:]{0,62})/locations/(?P<location>[a-z0-9-]{2,40})"
    r"/clusters/(?P<cluster>[a-z]([-a-z0-9]{0,38}[a-z0-9])?)$"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$")
_TOKEN_ENV = re.compile(r"^PROMETHEUS_BEARER_TOKEN(_[A-Z0-9][A-Z0-9_]*)?$")
_SA_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.gserviceaccount\.com$")
# A Kubernetes ServiceAccount as RBAC names it (kubeconfig clusters without Google identities).
_K8S_SA = re.compile(r"^system:serviceaccount:[a-z0-9-]{1,63}:[a-z0-9.-]{1,253}$")
_PEM_CERT = "-----BEGIN CERTIFICATE-----"


class ClusterConfigError(ValueError):
    """The cluster table cannot be loaded or is invalid; the message says where and why."""


# --------------------------------------------------------------------------- the document


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusTarget(_Strict):
    """A cluster's own Prometheus (overrides PROMETHEUS_URL / _AUTH / _TIMEOUT_SECONDS)."""

    url: str
    auth: Literal["none", "bearer", "google"] = "none"
    # The *name* of the env var holding the bearer token (a mounted secret), never the token:
    # PROMETHEUS_BEARER_TOKEN or one of its family, PROMETHEUS_BEARER_TOKEN_<NAME>
    # (shared/envvars.py), so the registry knows every variable the code reads.
    bearer_token_env: str = "PROMETHEUS_BEARER_TOKEN"  # noqa: S105 - a name
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"must be an http(s) URL, got {v!r}")
        return v.rstrip("/")

    @field_validator("bearer_token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not _TOKEN_ENV.match(v):
            raise ValueError(
                "must be PROMETHEUS_BEARER_TOKEN or PROMETHEUS_BEARER_TOKEN_<NAME> (UPPER_SNAKE), "
                f"got {v!r}"
            )
        return v


class ClusterEntry(_Strict):
    """One cluster: how to reach it (GKE with ADC, a kubeconfig context, or the environment)."""

    name: str
    gke: str | None = None
    endpoint: str | None = None
    ca_data: str | None = None
    endpoint_type: Literal["public", "private"] = "public"
    kubeconfig_context: str | None = None
    # Kubernetes access exactly as without a table (KUBECONFIG / KUBE_CONFIG_DATA / in-cluster).
    use_environment: bool = False
    aliases: tuple[str, ...] = ()
    prometheus: PrometheusTarget | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"cluster name {v!r} must be 1-63 letters, digits, '-', '_' or '.' (it is "
                "matched against the alert's cluster label)"
            )
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for alias in v:
            if not _NAME.match(alias):
                raise ValueError(f"alias {alias!r} must be 1-63 letters, digits, '-', '_' or '.'")
        return v

    @field_validator("gke")
    @classmethod
    def _gke(cls, v: str | None) -> str | None:
        if v is not None and not _GKE.match(v):
            raise ValueError(
                f"must look like projects/PROJECT/locations/LOCATION/clusters/NAME, got {v!r}"
            )
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return None
        host = v.removeprefix("https://").rstrip("/")
        if v.startswith("http://") or not _HOST.match(host):
            raise ValueError(f"must be an https URL or a host[:port], got {v!r}")
        return f"https://{host}"

    @field_validator("ca_data")
    @classmethod
    def _ca(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            pem = base64.b64decode(v, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("must be the base64 of a PEM certificate") from exc
        if _PEM_CERT not in pem:
            raise ValueError("must be the base64 of a PEM certificate (no BEGIN CERTIFICATE)")
        return v

    @model_validator(mode="after")
    def _one_way_in(self) -> ClusterEntry:
        ways = [w for w in ("gke", "kubeconfig_context") if getattr(self, w)]
        ways += ["use_environment"] if self.use_environment else []
        if len(ways) != 1:
            raise ValueError(
                "set exactly one of gke (GKE, the function's own Google identity), "
                "kubeconfig_context (a kubeconfig from KUBECONFIG / KUBE_CONFIG_DATA) or "
                f"use_environment: true; got {', '.join(ways) or 'none'}"
            )
        if (self.endpoint or self.ca_data) and not self.gke:
            raise ValueError("endpoint and ca_data belong to a gke cluster")
        if self.ca_data and not self.endpoint:
            raise ValueError("ca_data needs endpoint (without both, they are fetched)")
        if self.endpoint and self.endpoint_type != "public":
            raise ValueError("endpoint_type chooses a fetched endpoint; drop it or endpoint")
        return self

    @property
    def kind(self) -> Literal["gke", "kubeconfig", "environment"]:
        if self.gke:
            return "gke"
        return "kubeconfig" if self.kubeconfig_context else "environment"

    @property
    def gke_parts(self) -> tuple[str, str, str]:
        """(project, location, cluster) of a gke entry."""
        m = _GKE.match(self.gke or "")
        if m is None:
            raise ValueError(f"cluster {self.name!r} is not a gke cluster")
        return m["project"], m["location"], m["cluster"]

    def describe(self) -> str:
        if self.kind == "gke":
            return f"{self.name} (GKE {self.gke})"
        if self.kind == "kubeconfig":
            return f"{self.name} (kubeconfig context {self.kubeconfig_context})"
        return f"{self.name} (KUBECONFIG / KUBE_CONFIG_DATA / in-cluster)"


class Identities(_Strict):
    """Who each function that talks to Kubernetes is, as RBAC sees it: its Google service account
    e-mail (GKE), or ``system:serviceaccount:NAMESPACE:NAME`` (a kubeconfig's ServiceAccount)."""

    investigate: str | None = None
    remediate: str | None = None
    rollback: str | None = None
    dispatch: str | None = None  # read-only: a pod-named alert -> its workload
    sweeper: str | None = None  # read-only: an outcome check's pod readiness

    @field_validator(*FUNCTIONS_WITH_IDENTITY)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not (_SA_EMAIL.match(v) or _K8S_SA.match(v)):
            raise ValueError(
                "must be a service account e-mail (…gserviceaccount.com) or "
                f"system:serviceaccount:NAMESPACE:NAME, got {v!r}"
            )
        return v

    def as_dict(self) -> dict[str, str]:
        return {fn: e for fn in FUNCTIONS_WITH_IDENTITY if (e := getattr(self, fn))}


class _Document(_Strict):
    clusters: dict[str, dict[str, Any]]
    identities: Identities = Identities()


@dataclass(frozen=True)
class ClusterTable:
    clusters: Mapping[str, ClusterEntry]
    identities: Identities
    labels: tuple[str, ...] = DEFAULT_LABELS
    source: str = "implicit"  # "file:<path>", "ALERTLOOP_CLUSTERS", or "implicit"

    @property
    def implicit(self) -> bool:
        return self.source == "implicit"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.clusters)

    def lookup(self, value: str) -> ClusterEntry | None:
        """The cluster a label value names (its name or one of its aliases)."""
        if value in self.clusters:
            return self.clusters[value]
        for entry in self.clusters.values():
            if value in entry.aliases:
                return entry
        return None


# --------------------------------------------------------------------------- loading


def _drop_nulls(obj: Any) -> Any:
    """Terraform's jsonencode writes unset optional attributes as null: treat them as absent."""
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj


def _errors(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_labels(raw: str) -> tuple[str, ...]:
    """ALERTLOOP_CLUSTER_LABELS: label names, comma/space separated, tried in order."""
    names: list[str] = []
    for part in raw.replace(" ", ",").split(","):
        name = part.strip()
        if not name:
            continue
        if not _LABEL_NAME.match(name):
            raise ClusterConfigError(f"{LABELS_ENV}: {name!r} is not a Prometheus label name")
        if name not in names:
            names.append(name)
    return tuple(names) or DEFAULT_LABELS


def _identity_overrides(env: Mapping[str, str] | None) -> dict[str, str]:
    return {
        fn: value
        for fn in FUNCTIONS_WITH_IDENTITY
        if (value := envvars.read(IDENTITY_ENV_PREFIX + fn.upper(), env))
    }


def parse_table(
    document: Any,
    *,
    source: str,
    labels: Sequence[str] = DEFAULT_LABELS,
    identities: Mapping[str, str] | None = None,
) -> ClusterTable:
    """Validate a cluster-table document (already parsed from YAML/JSON)."""
    where = source.removeprefix("file:")
    document = _drop_nulls(document)
    if not isinstance(document, dict):
        raise ClusterConfigError(f"{where}: expected a mapping with a 'clusters' key")
    try:
        doc = _Document.model_validate(document)
    except ValidationError as exc:
        raise ClusterConfigError(f"{where}: {_errors(exc, '')}") from exc
    if not doc.clusters:
        raise ClusterConfigError(f"{where}: clusters: name at least one cluster")
    clusters: dict[str, ClusterEntry] = {}
    for name, body in doc.clusters.items():
        if not isinstance(body, dict):
            raise ClusterConfigError(f"{where}: clusters.{name}: expected a mapping")
        if "name" in body:
            raise ClusterConfigError(f"{where}: clusters.{name}: the key is the name; drop 'name'")
        try:
            clusters[name] = ClusterEntry.model_validate({**body, "name": name})
        except ValidationError as exc:
            raise ClusterConfigError(f"{where}: {_errors(exc, f'clusters.{name}')}") from exc
    seen: dict[str, str] = {}
    for entry in clusters.values():
        for value in (entry.name, *entry.aliases):
            if value in seen and seen[value] != entry.name:
                raise ClusterConfigError(
                    f"{where}: {value!r} names both cluster {seen[value]!r} and {entry.name!r}"
                )
            seen[value] = entry.name
    ids = doc.identities
    if identities:
        try:
            ids = Identities.model_validate({**ids.model_dump(exclude_none=True), **identities})
        except ValidationError as exc:
            raise ClusterConfigError(
                f"{IDENTITY_ENV_PREFIX}*: {_errors(exc, 'identities')}"
            ) from exc
    return ClusterTable(clusters, ids, tuple(labels), source)


def implicit_table(env: Mapping[str, str] | None = None) -> ClusterTable:
    """No table configured: one cluster reached as before, under ALERTLOOP_DEFAULT_CLUSTER_NAME."""
    name = envvars.read(DEFAULT_NAME_ENV, env) or DEFAULT_CLUSTER_NAME
    try:
        entry = ClusterEntry(name=name, use_environment=True)
        ids = Identities.model_validate(_identity_overrides(env))
    except ValidationError as exc:
        raise ClusterConfigError(_errors(exc, DEFAULT_NAME_ENV)) from exc
    return ClusterTable({name: entry}, ids, parse_labels(envvars.read(LABELS_ENV, env)), "implicit")


def load_table(env: Mapping[str, str] | None = None) -> ClusterTable:
    """The table from the environment (`env`: the process's by default; raises
    ClusterConfigError with a clear message)."""
    path = envvars.read(FILE_ENV, env)
    inline = envvars.read(INLINE_ENV, env)
    labels = parse_labels(envvars.read(LABELS_ENV, env))
    overrides = _identity_overrides(env)
    if path and inline:
        raise ClusterConfigError(f"set {FILE_ENV} or {INLINE_ENV}, not both")
    if inline:
        try:
            document = json.loads(inline)
        except ValueError as exc:
            raise ClusterConfigError(f"{INLINE_ENV} is not valid JSON: {exc}") from exc
        return parse_table(document, source=INLINE_ENV, labels=labels, identities=overrides)
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ClusterConfigError(f"{FILE_ENV}: cannot read {path}: {exc.strerror}") from exc
        try:
            document = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise ClusterConfigError(f"{path}: not valid YAML/JSON: {exc}") from exc
        return parse_table(document, source=f"file:{path}", labels=labels, identities=overrides)
    return implicit_table(env)


_TABLE_ENV = (
    FILE_ENV,
    INLINE_ENV,
    LABELS_ENV,
    DEFAULT_NAME_ENV,
    *(IDENTITY_ENV_PREFIX + fn.upper() for fn in FUNCTIONS_WITH_IDENTITY),
)


@lru_cache(maxsize=4)
def _cached(key: tuple[str, ...], mtime: float) -> ClusterTable:
    return load_table(dict(zip(_TABLE_ENV, key, strict=True)))


def cluster_table() -> ClusterTable:
    """The process's table, loaded once per distinct configuration (and file modification)."""
    key = tuple(envvars.read(name) for name in _TABLE_ENV)
    path = key[0].strip()
    try:
        mtime = Path(path).stat().st_mtime if path else 0.0
    except OSError:
        mtime = -1.0  # unreadable: load_table says why
    return _cached(key, mtime)

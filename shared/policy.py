"""The policy table: alert type -> plan, automatic action, follow-up and guardrails.

It is data (shared/policy_default.yaml), overridable by a file named in ALERTLOOP_POLICY_FILE.
Its `workload_safety` section only ever adds database-class patterns to the built-in ones
(shared/remediation/workload_safety.py): a policy file cannot remove or switch them off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.model import PLAN_STAGES

Remediation = Literal["none", "restart", "scale", "propose_rollback"]
# Which Prometheus analysis investigation runs for the alert type.
Investigation = Literal["errors", "memory", "cpu", "down", "database", "generic"]
# What a recent deploy means for the alert type: nothing, a likely cause, or a cause to roll back.
RecentDeploy = Literal["ignore", "cause", "rollback"]
# How much an action may do on its own (docs/owners-and-autonomy.md): act, propose, nothing, or
# start at `approve` and earn `auto` from verified outcomes (shared.remediation.autonomy).
AutonomyMode = Literal["auto", "approve", "off", "earned"]
UNKNOWN = "unknown"


class PolicyError(ValueError):
    """The policy file is missing, unreadable or invalid."""


class Guardrails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cooldown_minutes: int = Field(30, ge=0)
    max_attempts: int = Field(2, ge=0)
    # Attempts count per incident (a flap chain is one incident) over this rolling window.
    attempt_window_hours: float = Field(24, gt=0)
    replica_ceiling: int = Field(20, ge=1)
    scale_step: int = Field(2, ge=1)
    approval_required: bool = False
    dry_run: bool = False
    # `autonomy: earned`: approved actions verified fixed in a row before an action turns auto.
    promote_after: int = Field(3, ge=1)


class Verification(BaseModel):
    """Did the action work? Checked once, by the sweeper, after the window (docs/outcomes.md)."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: float = Field(10, gt=0)
    # Per action (restart, scale_deployment, raise_hpa_max, rollback): overrides window_minutes.
    action_windows: dict[str, float] = Field(default_factory=dict)
    # PromQL that returns a sample when the action worked (e.g. restarts stopped increasing);
    # "$namespace" and "$workload" are replaced by the workload's (escaped) names.
    success_query: str = ""
    # The brake: after this many automatic actions that did not fix the alert within the
    # window, no automatic action on the workload until resumed (default: max_attempts).
    brake_after: int | None = Field(None, ge=1)
    brake_window_hours: float = Field(24, gt=0)


class FleetBrake(BaseModel):
    """All automatic writes stop when this share of recent outcomes did not fix the alert."""

    model_config = ConfigDict(extra="forbid")

    not_fixed_share: float = Field(0.6, gt=0, le=1)
    min_outcomes: int = Field(5, ge=1)
    window_hours: float = Field(1, gt=0)


class AlertPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    severity: str = "warning"
    detection: str = ""
    stages: list[str]
    automatic_action: str = ""
    remediation: Remediation = "none"
    follow_up: str = ""
    guardrails: Guardrails = Field(default_factory=Guardrails)
    aliases: list[str] = Field(default_factory=list)
    database: bool = False
    investigation: Investigation = "generic"
    recent_deploy: RecentDeploy = "ignore"
    # Alerts of this type join the incident of their workload (one thread per workload);
    # false: every alert of this type opens its own incident (flap chains still apply).
    correlate: bool = True
    verification: Verification = Field(default_factory=Verification)
    # action (restart | scale_deployment | raise_hpa_max) -> workload class (gitops | keda |
    # helm | plain, or "default") -> mode. Absent: auto (approve with approval_required).
    autonomy: dict[str, dict[str, AutonomyMode]] = Field(default_factory=dict)

    @field_validator("autonomy", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted `off` as false: take it as the mode it was meant to be."""
        if not isinstance(value, dict):
            return value
        return {
            action: {k: "off" if v is False else v for k, v in by_class.items()}
            if isinstance(by_class, dict)
            else by_class
            for action, by_class in value.items()
        }

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: list[str]) -> list[str]:
        allowed = {s.value for s in PLAN_STAGES}
        bad = [s for s in stages if s not in allowed]
        if bad:
            raise ValueError(f"unknown stage(s) {bad}; allowed: {sorted(allowed)}")
        return stages


# An image repository: optional registry host[:port], then lowercase path components; no tag or
# digest (patterns match any tag and digest).
_IMAGE_PATTERN = re.compile(
    r"^(?:[a-z0-9]([a-z0-9.-]*[a-z0-9])?(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
)
_LABEL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^(?:[a-z0-9](?:[a-z0-9.-]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^{_LABEL_NAME}$")
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_API_GROUP = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})+$")


_LINK_HOST = re.compile(
    r"^(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$"
)


def _checked(
    values: list[str], ok: Callable[[str], object], what: str, *, lower: bool = True
) -> list[str]:
    out: list[str] = []
    for raw in values:
        value = raw.strip().lower() if lower else raw.strip()
        if not ok(value):
            raise ValueError(f"{what}: {raw!r} is not valid")
        if value not in out:
            out.append(value)
    return out


def _label_ok(entry: str) -> bool:
    key, sep, value = entry.partition("=")
    return bool(_LABEL_KEY.match(key)) and (not sep or bool(_LABEL_VALUE.match(value)))


class WorkloadSafety(BaseModel):
    """Extra database-class patterns; added to the built-in ones, never replacing them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "ledger" matches repository names like the built-in products (any registry/path/tag/
    # digest, vendor prefixes, flavour suffixes); "acme/ledger-db" matches paths ending so.
    data_images: list[str] = Field(default_factory=list)
    # "key=value" (value compared case-insensitively) or "key" (any value).
    data_labels: list[str] = Field(default_factory=list)
    # API groups of operators owning data workloads; subdomains match too.
    data_operator_groups: list[str] = Field(default_factory=list)

    @field_validator("data_images")
    @classmethod
    def _images(cls, values: list[str]) -> list[str]:
        return _checked(
            values,
            _IMAGE_PATTERN.match,
            "data_images entries are repository names without tag or digest",
        )

    @field_validator("data_labels")
    @classmethod
    def _labels(cls, values: list[str]) -> list[str]:
        return _checked(
            values, _label_ok, 'data_labels entries are "key" or "key=value"', lower=False
        )

    @field_validator("data_operator_groups")
    @classmethod
    def _groups(cls, values: list[str]) -> list[str]:
        return _checked(
            values, _API_GROUP.match, "data_operator_groups entries are API groups (acme.io)"
        )

    def merged(self, other: WorkloadSafety) -> WorkloadSafety:
        """Both sets of patterns (order kept, duplicates dropped)."""
        return WorkloadSafety(
            data_images=[*self.data_images, *other.data_images],
            data_labels=[*self.data_labels, *other.data_labels],
            data_operator_groups=[*self.data_operator_groups, *other.data_operator_groups],
        )


class OwnerPolicy(BaseModel):
    """Who owns a workload's desired state and what that means (shared.k8s.owners)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Labels Argo CD tracks by (label tracking). app.kubernetes.io/instance is Argo CD's default
    # key but Helm sets it too: list it only when your Argo CD tracks by it.
    argocd_label_keys: list[str] = Field(default_factory=lambda: ["argocd.argoproj.io/instance"])
    # Does the owner put its desired state back (Argo CD self-heal, Flux and Config Sync always)?
    # Only where it does not is a kubectl rollback offered next to the owner's way.
    self_heal: dict[str, bool] = Field(
        default_factory=lambda: {"argocd": True, "flux": True, "config_sync": True}
    )
    # Scale / HPA-max raises on a KEDA workload: raise the ScaledObject's maxReplicaCount, or
    # refuse with the proposal.
    keda: Literal["scaledobject", "refuse"] = "scaledobject"
    # PromQL for the request rate of a workload (KEDA ScaledObject proposals); {namespace} and
    # {workload} are replaced by validated names.
    request_rate_query: str = (
        'sum(rate(http_requests_total{{namespace="{namespace}",service="{workload}"}}[2m]))'
    )

    @field_validator("self_heal")
    @classmethod
    def _gitops_tools(cls, value: dict[str, bool]) -> dict[str, bool]:
        bad = sorted(set(value) - {"argocd", "flux", "config_sync"})
        if bad:
            raise ValueError(f"owners.self_heal: unknown tool(s) {bad} (argocd, flux, config_sync)")
        return value


class Policy(BaseModel):
    alerts: dict[str, AlertPolicy]
    unknown: AlertPolicy
    workload_safety: WorkloadSafety = Field(default_factory=WorkloadSafety)
    fleet_brake: FleetBrake = Field(default_factory=FleetBrake)
    # Hosts whose URLs from alerts (runbook_url, generatorURL) may become buttons and console
    # links ("runbooks.example.com", "*.example.com"); others are shown as defanged text.
    link_hosts: list[str] = Field(default_factory=list)

    @field_validator("link_hosts")
    @classmethod
    def _link_hosts(cls, values: list[str]) -> list[str]:
        return _checked(
            values,
            _LINK_HOST.match,
            'link_hosts entries are host names ("runbooks.example.com" or "*.example.com")',
        )

    owners: OwnerPolicy = Field(default_factory=OwnerPolicy)

    def resolve(self, alert_name: str) -> tuple[str, AlertPolicy]:
        """(policy alert type, entry) for an alert name, following aliases; unknown -> default."""
        if alert_name in self.alerts:
            return alert_name, self.alerts[alert_name]
        for name, entry in self.alerts.items():
            if alert_name in entry.aliases:
                return name, entry
        return alert_name, self.unknown

    def plan_for(self, alert_name: str, action: str = "auto") -> list[str]:
        """The ordered stage list. A manual `action` narrows it (investigate/notify only)."""
        _, entry = self.resolve(alert_name)
        if action == "notify":
            return []
        if action == "investigate":
            return ["investigate"]
        return list(entry.stages)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_policy(raw: dict[str, Any]) -> Policy:
    defaults = raw.get("defaults", {}).get("guardrails", {})
    verify_defaults = raw.get("defaults", {}).get("verification", {})
    alerts = {}
    for name, entry in (raw.get("alerts") or {}).items():
        merged = dict(entry, name=name)
        merged["guardrails"] = _merge(defaults, entry.get("guardrails") or {})
        merged["verification"] = _merge(verify_defaults, entry.get("verification") or {})
        alerts[name] = AlertPolicy.model_validate(merged)
    unknown_raw = dict(raw.get("unknown") or {"stages": ["investigate"]}, name=UNKNOWN)
    unknown_raw["guardrails"] = _merge(defaults, unknown_raw.get("guardrails") or {})
    unknown_raw["verification"] = _merge(verify_defaults, unknown_raw.get("verification") or {})
    safety = WorkloadSafety.model_validate(raw.get("workload_safety") or {})
    fleet = FleetBrake.model_validate((raw.get("outcomes") or {}).get("fleet_brake") or {})
    return Policy(
        alerts=alerts,
        unknown=AlertPolicy.model_validate(unknown_raw),
        workload_safety=safety,
        fleet_brake=fleet,
        link_hosts=list(raw.get("link_hosts") or []),
        owners=OwnerPolicy.model_validate(raw.get("owners") or {}),
    )


def default_policy_data() -> dict[str, Any]:
    text = resources.files("shared").joinpath("policy_default.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _added_safety(base: Any, override: Any, path: str) -> Any:
    """The file's workload_safety patterns are added to the default's, never replace them."""
    if override is None:
        return base
    if not isinstance(override, dict):
        raise PolicyError(f"policy file {path}: workload_safety must be a mapping")
    try:
        return (
            WorkloadSafety.model_validate(base or {})
            .merged(WorkloadSafety.model_validate(override))
            .model_dump()
        )
    except ValueError as exc:
        raise PolicyError(f"invalid policy file {path}: workload_safety: {exc}") from exc


def load_policy(path: str = "") -> Policy:
    """The embedded default, with a policy file's entries replacing same-named defaults
    (workload_safety patterns are added to the default's instead)."""
    raw = default_policy_data()
    if path:
        try:
            override = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        if not isinstance(override, dict):
            raise PolicyError(f"policy file {path} must be a mapping")
        if "defaults" in override:
            raw["defaults"] = _merge(raw.get("defaults", {}), override["defaults"])
        raw["alerts"] = {**raw["alerts"], **(override.get("alerts") or {})}
        if "unknown" in override:
            raw["unknown"] = override["unknown"]
        if "outcomes" in override:
            raw["outcomes"] = _merge(raw.get("outcomes") or {}, override["outcomes"] or {})
        if "link_hosts" in override:
            raw["link_hosts"] = override["link_hosts"]
        if "owners" in override:
            raw["owners"] = _merge(raw.get("owners") or {}, override["owners"] or {})
        raw["workload_safety"] = _added_safety(
            raw.get("workload_safety"), override.get("workload_safety"), path
        )
    try:
        return build_policy(raw)
    except ValueError as exc:
        raise PolicyError(f"invalid policy{' file ' + path if path else ''}: {exc}") from exc


@lru_cache(maxsize=4)
def cached_policy(path: str = "") -> Policy:
    return load_policy(path)

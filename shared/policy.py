"""The policy table: alert type -> plan, automatic action, follow-up and guardrails.

It is data (shared/policy_default.yaml), overridable by a file named in ALERTLOOP_POLICY_FILE.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.envelope import PLAN_STAGES

Remediation = Literal["none", "restart", "scale", "propose_rollback"]
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

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: list[str]) -> list[str]:
        allowed = {s.value for s in PLAN_STAGES}
        bad = [s for s in stages if s not in allowed]
        if bad:
            raise ValueError(f"unknown stage(s) {bad}; allowed: {sorted(allowed)}")
        return stages


class Policy(BaseModel):
    alerts: dict[str, AlertPolicy]
    unknown: AlertPolicy

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
    alerts = {}
    for name, entry in (raw.get("alerts") or {}).items():
        merged = dict(entry, name=name)
        merged["guardrails"] = _merge(defaults, entry.get("guardrails") or {})
        alerts[name] = AlertPolicy.model_validate(merged)
    unknown_raw = dict(raw.get("unknown") or {"stages": ["investigate"]}, name=UNKNOWN)
    unknown_raw["guardrails"] = _merge(defaults, unknown_raw.get("guardrails") or {})
    return Policy(alerts=alerts, unknown=AlertPolicy.model_validate(unknown_raw))


def default_policy_data() -> dict[str, Any]:
    text = resources.files("shared").joinpath("policy_default.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_policy(path: str = "") -> Policy:
    """The embedded default, with a policy file's entries replacing same-named defaults."""
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
    try:
        return build_policy(raw)
    except ValueError as exc:
        raise PolicyError(f"invalid policy{' file ' + path if path else ''}: {exc}") from exc


@lru_cache(maxsize=4)
def cached_policy(path: str = "") -> Policy:
    return load_policy(path)

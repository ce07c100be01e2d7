"""Error-budget settings: environment defaults, overridable per alert through annotations.

Environment (process-wide defaults): the BUDGET_* variables of shared/envvars.py (objective,
period, error and total selectors, label names, endpoints listed, deploy correlation window).

Alert annotations (set on the Prometheus alerting rule) override per alert:
``slo_objective``, ``slo_period_days``, ``slo_errors_selector``, ``slo_total_selector``,
``slo_endpoint_label``. Selectors must be plain vector selectors (``metric{matchers}``); the
analysis wraps them in ``rate(...[window])`` and adds the alert's label matchers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from shared import envvars, promql

DEFAULT_ERRORS_SELECTOR = 'http_requests_total{code=~"5.."}'
DEFAULT_TOTAL_SELECTOR = "http_requests_total"


class BudgetConfigError(ValueError):
    """A setting (env var or annotation) is invalid; the message names it."""


def parse_objective(raw: str, source: str) -> float:
    try:
        value = float(raw.strip().rstrip("%"))
    except ValueError as exc:
        raise BudgetConfigError(
            f"{source} must be a number such as 0.99 or 99, got {raw!r}"
        ) from exc
    if value >= 1:
        value /= 100
    if not 0 < value < 1:
        raise BudgetConfigError(f"{source} must be between 0 and 1 (or 0 and 100 %), got {raw!r}")
    return value


def _positive_int(raw: str, source: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise BudgetConfigError(f"{source} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise BudgetConfigError(f"{source} must be > 0, got {raw!r}")
    return value


def check_selector(raw: str, source: str) -> str:
    """A plain vector selector, parsed by shared.promql (`m{a="b"} or vector(1)` is refused)."""
    try:
        promql.parse_selector(raw)
    except promql.PromQLError as exc:
        raise BudgetConfigError(
            f'{source} must be a vector selector like metric{{a="b"}} ({exc})'
        ) from exc
    return raw.strip()


def _labels(raw: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in raw.split(",") if x.strip())


@dataclass(frozen=True)
class BudgetSettings:
    objective: float = 0.99
    period_days: int = 30
    errors_selector: str = DEFAULT_ERRORS_SELECTOR
    total_selector: str = DEFAULT_TOTAL_SELECTOR
    match_labels: tuple[str, ...] = ("service", "job", "namespace")
    endpoint_labels: tuple[str, ...] = ("route", "handler", "path", "endpoint")
    top_endpoints: int = 5
    deploy_correlation_minutes: int = 120

    @property
    def period_seconds(self) -> int:
        return self.period_days * 86400

    @property
    def allowed_error_ratio(self) -> float:
        return 1 - self.objective

    @classmethod
    def from_env(cls) -> BudgetSettings:
        env = envvars.read
        return cls(
            objective=parse_objective(env("BUDGET_SLO_OBJECTIVE"), "BUDGET_SLO_OBJECTIVE"),
            period_days=_positive_int(env("BUDGET_SLO_PERIOD_DAYS"), "BUDGET_SLO_PERIOD_DAYS"),
            errors_selector=check_selector(env("BUDGET_ERRORS_SELECTOR"), "BUDGET_ERRORS_SELECTOR"),
            total_selector=check_selector(env("BUDGET_TOTAL_SELECTOR"), "BUDGET_TOTAL_SELECTOR"),
            match_labels=_labels(env("BUDGET_MATCH_LABELS")),
            endpoint_labels=_labels(env("BUDGET_ENDPOINT_LABELS")),
            top_endpoints=_positive_int(env("BUDGET_TOP_ENDPOINTS"), "BUDGET_TOP_ENDPOINTS"),
            deploy_correlation_minutes=_positive_int(
                env("BUDGET_DEPLOY_CORRELATION_MINUTES"), "BUDGET_DEPLOY_CORRELATION_MINUTES"
            ),
        )

    def with_annotations(self, annotations: Mapping[str, str]) -> BudgetSettings:
        """Per-alert overrides from the alerting rule's annotations (see module docstring)."""
        changes: dict[str, object] = {}
        if raw := annotations.get("slo_objective", "").strip():
            changes["objective"] = parse_objective(raw, "annotation slo_objective")
        if raw := annotations.get("slo_period_days", "").strip():
            changes["period_days"] = _positive_int(raw, "annotation slo_period_days")
        if raw := annotations.get("slo_errors_selector", "").strip():
            changes["errors_selector"] = check_selector(raw, "annotation slo_errors_selector")
        if raw := annotations.get("slo_total_selector", "").strip():
            changes["total_selector"] = check_selector(raw, "annotation slo_total_selector")
        if raw := annotations.get("slo_endpoint_label", "").strip():
            changes["endpoint_labels"] = _labels(raw)
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]

"""Error-budget analysis (issue 5): multi-window burn rates on Prometheus data.

``analyse_budget(envelope) -> Finding`` is the budget stage's work. It never raises for expected
failures: Prometheus not configured -> ``skipped``; no data -> ``skipped``; Prometheus down or a
rejected query -> ``error``; each with a message saying what to do. Settings: see
`shared.budget.settings` (env vars ``BUDGET_*``, alert annotations ``slo_*``) and
`shared.prometheus` (``PROMETHEUS_*``).
"""

from __future__ import annotations

from shared.budget.analysis import analyse
from shared.budget.settings import BudgetConfigError, BudgetSettings
from shared.model import Finding
from shared.run import Run


def analyse_budget(envelope: Run) -> Finding:
    """The budget finding (stage="budget") for a run, evaluated now with env settings."""
    return analyse(envelope)


__all__ = ["BudgetConfigError", "BudgetSettings", "analyse", "analyse_budget"]

"""PromQL for the budget analysis: three queries per analysis, all evaluated at one time.

1. one instant query for error and request rates over every window (sub-queries tagged with
   ``window``/``kind`` labels through ``label_replace`` and joined with ``or``);
2. one instant query for errors and requests per endpoint over 1h and the SLO period;
3. one range query of the error ratio over the SLO period (onset of the current burn).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def alert_matchers(labels: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    """The alert's labels that select the service's series (only valid names, non-empty)."""
    return {k: labels[k] for k in keys if labels.get(k) and _LABEL_NAME.match(k)}


def with_matchers(selector: str, matchers: Mapping[str, str]) -> str:
    """Add equality matchers to a vector selector: ``m{a="b"}`` + {c: d} -> ``m{a="b",c="d"}``."""
    if not matchers:
        return selector
    extra = ",".join(f"{k}={quote(v)}" for k, v in sorted(matchers.items()))
    selector = selector.strip()
    if selector.endswith("}"):
        inner = selector[selector.index("{") + 1 : -1].strip().rstrip(",")
        head = selector[: selector.index("{")]
        return f"{head}{{{inner + ',' if inner else ''}{extra}}}"
    return f"{selector}{{{extra}}}"


def _tag(expr: str, **labels: str) -> str:
    for name, value in labels.items():
        expr = f"label_replace({expr}, {quote(name)}, {quote(value)}, '', '')"
    return expr


def windows_query(errors: str, total: str, windows: Sequence[str]) -> str:
    """sum(rate(...)) for errors and total over each window, tagged kind=errors|total, window=."""
    parts = []
    for w in windows:
        parts.append(_tag(f"sum(rate({errors}[{w}]))", kind="errors", window=w))
        parts.append(_tag(f"sum(rate({total}[{w}]))", kind="total", window=w))
    return " or ".join(parts)


def endpoints_query(
    errors: str, total: str, endpoint_labels: Sequence[str], windows: Sequence[str]
) -> str:
    """increase() of errors and totals by the endpoint labels, per window."""
    by = ", ".join(endpoint_labels)
    parts = []
    for w in windows:
        parts.append(_tag(f"sum by ({by}) (increase({errors}[{w}]))", kind="errors", window=w))
        parts.append(_tag(f"sum by ({by}) (increase({total}[{w}]))", kind="total", window=w))
    return " or ".join(parts)


def ratio_query(errors: str, total: str, window: str) -> str:
    """Error ratio over `window` (NaN or absent without traffic)."""
    return f"sum(rate({errors}[{window}])) / sum(rate({total}[{window}]))"

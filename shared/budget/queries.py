"""PromQL for the budget analysis: three queries per analysis, all evaluated at one time.

1. one instant query for error and request rates over every window (sub-queries tagged with
   ``window``/``kind`` labels through ``label_replace`` and joined with ``or``);
2. one instant query for errors and requests per endpoint over 1h and the SLO period;
3. one range query of the error ratio over the SLO period (onset of the current burn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared import promql


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return promql.string(value)


def alert_matchers(labels: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    """The alert's labels that select the service's series (only valid names, non-empty)."""
    return {k: labels[k] for k in keys if labels.get(k) and promql.is_label_name(k)}


def with_matchers(selector: str, matchers: Mapping[str, str]) -> str:
    """Add equality matchers to a vector selector: ``m{a="b"}`` + {c: d} -> ``m{a="b",c="d"}``.

    The selector is parsed (shared.promql), never spliced as text: a selector that is more than
    a plain vector selector is a PromQLError, and every value is escaped."""
    parsed = promql.parse_selector(selector)
    extra = [promql.equal(k, v) for k, v in sorted(matchers.items())]
    return str(parsed.with_matchers(extra))


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
    by = ", ".join(promql.label_name(lbl) for lbl in endpoint_labels)
    parts = []
    for w in windows:
        parts.append(_tag(f"sum by ({by}) (increase({errors}[{w}]))", kind="errors", window=w))
        parts.append(_tag(f"sum by ({by}) (increase({total}[{w}]))", kind="total", window=w))
    return " or ".join(parts)


def ratio_query(errors: str, total: str, window: str) -> str:
    """Error ratio over `window` (NaN or absent without traffic)."""
    return f"sum(rate({errors}[{window}])) / sum(rate({total}[{window}]))"

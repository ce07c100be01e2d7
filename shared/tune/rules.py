"""Alerting rules read from a Prometheus rules file, with where each value sits in the text.

The file is composed (not loaded) with PyYAML so every scalar keeps its source span: the edit
module changes a threshold or a `for:` in place and leaves every other byte — comments,
quoting, folding — as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.tune.promql import PromqlError, parse_duration

DEFAULT_INTERVAL_SECONDS = 60.0  # Prometheus' default global evaluation_interval


class RulesError(ValueError):
    """The rules file cannot be read, or is not a Prometheus rules file."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    style: str | None  # None (plain), "'", '"', "|" or ">"


@dataclass(frozen=True)
class AlertRule:
    alert: str
    expr: str
    for_seconds: float
    keep_firing_for_seconds: float
    labels: dict[str, str]
    group: str
    interval_seconds: float | None  # the group's own interval, when it sets one
    position: int  # 1-based among the file's rules with this alert name
    expr_span: Span
    for_span: Span | None  # None: the rule has no `for:`
    indent: int  # column of the rule's keys (to insert a `for:` line)
    flow: bool  # written in flow style ({alert: …}): not edited in place
    line: int  # 1-based line of `alert:`

    @property
    def static_labels(self) -> dict[str, str]:
        """Labels without templates: every alert of this rule carries exactly these."""
        return {k: v for k, v in self.labels.items() if "{{" not in v}

    def describe(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"#{self.position} (line {self.line}, group {self.group}) {{{labels}}}"


@dataclass
class RulesFile:
    path: Path
    text: str
    alerts: list[AlertRule] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)  # recorded name -> expression

    def named(self, name: str) -> list[AlertRule]:
        return [a for a in self.alerts if a.alert == name]


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _pairs(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _span(node: yaml.Node) -> Span:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Span(node.start_mark.index, node.end_mark.index, style or None)


def _seconds(node: yaml.Node | None, what: str, where: str) -> float:
    try:
        return parse_duration(_scalar(node))
    except PromqlError as exc:
        raise RulesError(f"{where}: {what}: {exc}") from exc


def parse_rules(text: str, path: Path = Path("<text>")) -> RulesFile:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise RulesError(f"{path} is not valid YAML: {exc}") from exc
    groups = _pairs(root).get("groups") if root is not None else None
    if not isinstance(groups, yaml.SequenceNode):
        raise RulesError(f"{path} has no `groups:` list (not a Prometheus rules file)")
    out = RulesFile(path, text)
    seen: dict[str, int] = {}
    for group in groups.value:
        g = _pairs(group)
        name = _scalar(g.get("name")) or "?"
        interval_node = g.get("interval")
        interval = _seconds(interval_node, "interval", f"group {name}") if interval_node else None
        rules = g.get("rules")
        if not isinstance(rules, yaml.SequenceNode):
            continue
        for node in rules.value:
            r = _pairs(node)
            expr_node = r.get("expr")
            expr = _scalar(expr_node)
            if expr is None or expr_node is None:
                continue
            if record := _scalar(r.get("record")):
                out.records[record] = expr
                continue
            alert = _scalar(r.get("alert"))
            if alert is None:
                continue
            where = f"{path}:{node.start_mark.line + 1} ({alert})"
            seen[alert] = seen.get(alert, 0) + 1
            labels_node = r.get("labels")
            labels = (
                {k: _scalar(v) or "" for k, v in _pairs(labels_node).items()} if labels_node else {}
            )
            for_node = r.get("for")
            out.alerts.append(
                AlertRule(
                    alert=alert,
                    expr=expr,
                    for_seconds=_seconds(for_node, "for", where),
                    keep_firing_for_seconds=_seconds(
                        r.get("keep_firing_for"), "keep_firing_for", where
                    ),
                    labels=labels,
                    group=name,
                    interval_seconds=interval,
                    position=seen[alert],
                    expr_span=_span(expr_node),
                    for_span=_span(for_node) if for_node is not None else None,
                    indent=node.value[0][0].start_mark.column if node.value else 0,
                    flow=bool(getattr(node, "flow_style", False)),
                    line=node.start_mark.line + 1,
                )
            )
    return out


def load_rules(path: Path) -> RulesFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_rules(text, path)

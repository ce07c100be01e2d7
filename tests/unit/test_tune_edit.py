"""Reading rules files and changing one rule's threshold / `for:` in the text (diff)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from shared.tune.command import TuneError, select_rule
from shared.tune.edit import Change, EditError, apply_change, unified_diff
from shared.tune.promql import Split, split_threshold
from shared.tune.rules import AlertRule, RulesError, load_rules, parse_rules

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-rules.yml"


def edit(text: str, name: str, change: Change, position: int = 1) -> str:
    rule = parse_rules(text).named(name)[position - 1]
    found = split_threshold(rule.expr)
    return apply_change(text, rule, found if isinstance(found, Split) else None, change)


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    a, b = old.splitlines(), new.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_reads_the_repos_rules_file() -> None:
    rules = load_rules(RULES)
    high = rules.named("HighErrorRate")
    assert len(high) == 1
    r = high[0]
    assert (r.expr, r.for_seconds, r.group, r.interval_seconds) == (
        "workload:http_errors:ratio_rate5m > 0.05",
        300,
        "alertloop-application",
        None,
    )
    assert r.labels == {"severity": "critical"}
    assert RULES.read_text().splitlines()[r.line - 1].strip() == "- alert: HighErrorRate"
    burns = rules.named("ErrorBudgetExhausted")
    assert [b.position for b in burns] == [1, 2, 3, 4]
    assert [b.for_seconds for b in burns] == [120, 900, 3600, 3600]
    assert rules.records["workload:http_errors:ratio_rate5m"].startswith("sum by")
    assert rules.named("NoSuchAlert") == []


def test_the_repos_high_error_rate_rule_diff_keeps_everything_else() -> None:
    text = RULES.read_text()
    new = edit(text, "HighErrorRate", Change(threshold=0.06, for_seconds=600))
    assert changed_lines(text, new) == [
        (
            "        expr: workload:http_errors:ratio_rate5m > 0.05",
            "        expr: workload:http_errors:ratio_rate5m > 0.06",
        ),
        ("        for: 5m", "        for: 10m"),
    ]
    assert unified_diff(text, new, "deploy/prometheus-rules.yml") == textwrap.dedent(
        """\
        --- a/deploy/prometheus-rules.yml
        +++ b/deploy/prometheus-rules.yml
        @@ -41,8 +41,8 @@
           - name: alertloop-application
             rules:
               - alert: HighErrorRate
        -        expr: workload:http_errors:ratio_rate5m > 0.05
        -        for: 5m
        +        expr: workload:http_errors:ratio_rate5m > 0.06
        +        for: 10m
                 labels:
                   severity: critical
                 annotations:
        """
    )
    assert "# Alerting rules for the alert types" in text and new.startswith(text[:200])


def test_block_scalar_threshold_changes_only_the_first_comparison() -> None:
    text = RULES.read_text()
    new = edit(text, "ErrorBudgetExhausted", Change(threshold=0.16), position=1)
    assert changed_lines(text, new) == [
        (
            "          workload:http_errors:ratio_rate1h > (14.4 * 0.01)",
            "          workload:http_errors:ratio_rate1h > 0.16",
        )
    ]
    # The other entries of the same alert keep their thresholds.
    assert new.count("> (14.4 * 0.01)") == 1 and new.count("> (6 * 0.01)") == 2


SMALL = textwrap.dedent(
    """\
    # team rules — keep this comment
    groups:
      - name: g
        interval: 30s
        rules:
          - alert: Twice   # same number twice
            expr: a > 0.05 and b > 0.05
            for: "2m"
            labels: {severity: warning}
          - alert: Folded
            expr: >-
              sum(rate(errors_total[5m]))
                / sum(rate(requests_total[5m]))
              >
              0.05
          - alert: NoFor
            expr: x < 3
            labels:
              severity: page
          - alert: BlockNoFor
            expr: |
              y >= 10
          - {alert: Flow, expr: z > 1, for: 1m}
    """
)


def test_rules_parsing_details() -> None:
    rules = parse_rules(SMALL)
    twice = rules.named("Twice")[0]
    assert twice.interval_seconds == 30
    assert twice.for_seconds == 120 and twice.for_span is not None
    assert twice.for_span.style == '"'
    assert twice.labels == {"severity": "warning"}
    assert rules.named("NoFor")[0].for_span is None
    assert rules.named("Flow")[0].flow


def test_only_the_first_of_two_equal_thresholds_changes_and_quotes_stay() -> None:
    new = edit(SMALL, "Twice", Change(threshold=0.07, for_seconds=240))
    assert changed_lines(SMALL, new) == [
        ("        expr: a > 0.05 and b > 0.05", "        expr: a > 0.07 and b > 0.05"),
        ('        for: "2m"', '        for: "4m"'),
    ]
    assert new.startswith("# team rules — keep this comment\n")
    assert "# same number twice" in new


def test_folded_expression_keeps_its_folding() -> None:
    new = edit(SMALL, "Folded", Change(threshold=0.08))
    assert changed_lines(SMALL, new) == [("          0.05", "          0.08")]
    assert yaml.safe_load(new)["groups"][0]["rules"][1]["expr"].endswith("> 0.08")


def test_missing_for_is_inserted_under_the_expression() -> None:
    new = edit(SMALL, "NoFor", Change(for_seconds=600))
    assert "      - alert: NoFor\n        expr: x < 3\n        for: 10m\n        labels:\n" in new
    new = edit(SMALL, "BlockNoFor", Change(for_seconds=60))
    assert "        expr: |\n          y >= 10\n        for: 1m\n" in new


def test_flow_style_rules_are_not_edited() -> None:
    with pytest.raises(EditError, match="flow style"):
        edit(SMALL, "Flow", Change(for_seconds=120))


def test_threshold_change_without_a_threshold_is_refused() -> None:
    text = RULES.read_text()
    rule = parse_rules(text).named("ApplicationDown")[0]
    with pytest.raises(EditError, match="no threshold"):
        apply_change(text, rule, None, Change(threshold=1))


def test_unreadable_files() -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(Path("/nonexistent/rules.yml"))
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("groups: [")
    with pytest.raises(RulesError, match="no `groups:`"):
        parse_rules("route: {}")
    with pytest.raises(RulesError, match="for"):
        parse_rules("groups: [{name: g, rules: [{alert: A, expr: x, for: 5 minutes}]}]")


def test_selecting_one_of_several_entries() -> None:
    burns: list[AlertRule] = load_rules(RULES).named("ErrorBudgetExhausted")
    with pytest.raises(TuneError) as exc:
        select_rule(burns)
    assert "has 4 rule entries and 4 match" in str(exc.value)
    assert "burn_rate=14.4" in str(exc.value)  # the listing tells them apart
    with pytest.raises(TuneError, match="2 match"):
        select_rule(burns, severity="critical")
    assert select_rule(burns, severity="critical", entry=2).for_seconds == 900
    assert select_rule(burns, entry=3).labels["long_window"] == "3d"
    with pytest.raises(TuneError, match="none matches"):
        select_rule(burns, severity="page")
    with pytest.raises(TuneError, match="there are 4"):
        select_rule(burns, entry=9)

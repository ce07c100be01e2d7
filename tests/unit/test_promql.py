"""shared.promql: escaping, label-name validation, literal regexes, selector parsing, and the
places that build queries from alert labels (investigation, canary, budget)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import promql
from shared.budget import queries
from shared.budget.settings import BudgetConfigError, BudgetSettings
from shared.investigation.analysis import query, request_selector
from shared.workload.resolve import WorkloadRef

HOSTILE = 'x"} or vector(0) or {__name__="up'

# A PromQL double-quoted string literal, as Prometheus' lexer reads one.
_DQ_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def test_string_escapes_backslash_quote_and_controls() -> None:
    assert promql.string("plain") == '"plain"'
    assert promql.string('a"b') == r'"a\"b"'
    assert promql.string("a\\b") == r'"a\\b"'
    assert promql.string("a\nb\rc\td") == r'"a\nb\rc\td"'
    assert promql.string("\x00\x1b\x7f") == r'"\x00\x1b\x7f"'
    assert promql.string("caf\u00e9 \u2603") == '"caf\u00e9 \u2603"'  # UTF-8 stays as is
    assert promql.string("\ud800") == '"\ufffd"'  # cannot be sent as UTF-8


@given(st.text())
def test_any_value_is_exactly_one_string_literal_that_decodes_back(value: str) -> None:
    literal = promql.string(value)
    assert _DQ_LITERAL.fullmatch(literal)
    parsed = promql.parse_selector(f"m{{a={literal}}}")
    expected = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    assert parsed.matchers[0].value == expected


def test_label_names_are_validated_not_escaped() -> None:
    assert promql.label_name("service") == "service"
    assert promql.label_name("_x9") == "_x9"
    for bad in ("", "9a", "a-b", "a.b", 'a"', "a}", "a b", "a:b", "é"):
        with pytest.raises(promql.PromQLError, match="label name"):
            promql.label_name(bad)
    with pytest.raises(promql.PromQLError):
        promql.equal("x=~", "y")
    assert str(promql.equal("service", HOSTILE)) == r'service="x\"} or vector(0) or {__name__=\"up"'


def test_regex_literal_escapes_re2_metacharacters_only() -> None:
    assert promql.regex_literal("api.v2") == r"api\.v2"
    assert promql.regex_literal("a+b*c?(d)|[e]{f}^$\\") == r"a\+b\*c\?\(d\)\|\[e\]\{f\}\^\$\\"
    # RE2 rejects escaped spaces, letters and digits: those are left alone.
    assert promql.regex_literal("a b-9_z") == "a b-9_z"
    m = promql.literal_regex_matcher("pod", "api.v2", "-.*")
    # regex layer (\.) then string-literal layer (\\.)
    assert str(m) == r'pod=~"api\\.v2-.*"'


@given(st.text(max_size=40))
def test_literal_regex_matches_exactly_the_value(value: str) -> None:
    # Python's re agrees with RE2 on these escapes; Prometheus anchors regexes fully.
    assert re.fullmatch(promql.regex_literal(value), value, re.DOTALL)
    assert not re.fullmatch(promql.regex_literal(value), value + "x", re.DOTALL)


def test_parse_selector_accepts_plain_selectors() -> None:
    s = promql.parse_selector('http_requests_total{code=~"5..", job!="x" ,}')
    assert s.metric == "http_requests_total"
    found = [(m.name, m.op, m.value) for m in s.matchers]
    assert found == [("code", "=~", "5.."), ("job", "!=", "x")]
    assert str(s) == 'http_requests_total{code=~"5..",job!="x"}'
    assert str(promql.parse_selector(" up ")) == "up"
    assert str(promql.parse_selector("up{}")) == "up"
    assert str(promql.parse_selector("{__name__='up'}")) == '{__name__="up"}'
    assert promql.parse_selector(r'm{a="q\"\\\x41\u00e9\101"}').matchers[0].value == 'q"\\AéA'
    assert promql.parse_selector("m{a=`raw\\`}").matchers[0].value == "raw\\"
    assert str(promql.parse_selector("ns:metric:rate5m")) == "ns:metric:rate5m"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        'm{a="b"} or vector(1)',
        "sum(rate(x[5m]))",
        'm{a="b"}[5m]',
        'm{a="b"',
        'm{a="b}',
        "m{a=b}",
        'm{a~"b"}',
        'm{"a"="b"}',
        'm{a="b" c="d"}',
        'm{a-b="c"}',
        'm{a="\\q"}',
        "m offset 5m",
        "m{a='b\"}",
        'm{a="x\ny"}',
    ],
)
def test_parse_selector_refuses_anything_else(text: str) -> None:
    with pytest.raises(promql.PromQLError):
        promql.parse_selector(text)


def test_request_selector_escapes_the_service_label() -> None:
    sel = request_selector(None, {"service": HOSTILE}, "shop")
    assert sel == r'namespace="shop",service="x\"} or vector(0) or {__name__=\"up"'
    q = query("ERROR_RATIO", selector=sel)
    # Exactly the two literals we put in, each an intact string, twice (numerator, denominator).
    literals = _DQ_LITERAL.findall(q)
    assert literals.count(promql.string(HOSTILE)) == 2
    assert " or " not in _DQ_LITERAL.sub('""', q)


def test_request_selector_validates_the_configured_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLOOP_PROM_SERVICE_LABEL", 'svc"}')
    with pytest.raises(promql.PromQLError):
        request_selector(WorkloadRef("Deployment", "api", "shop"), {}, "shop")


def test_quoted_placeholders_are_escaped_for_their_literal() -> None:
    q = query("MEMORY", namespace='sh"op', pod_regex=r"api\.v2-.*")
    assert 'namespace="sh\\"op"' in q
    assert r'pod=~"api\\.v2-.*"' in q


def test_templates_must_put_values_where_they_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLOOP_QUERY_MEMORY", "mem{namespace=$namespace}")
    with pytest.raises(promql.PromQLError, match=r"\$namespace"):
        query("MEMORY", namespace="shop", pod_regex="x")
    monkeypatch.setenv("ALERTLOOP_QUERY_MEMORY", "mem{namespace='$namespace'}")
    with pytest.raises(promql.PromQLError, match=r"\$namespace"):
        query("MEMORY", namespace="shop", pod_regex="x")
    monkeypatch.setenv("ALERTLOOP_QUERY_ERROR_RATIO", 'x{a="$selector"}')
    with pytest.raises(promql.PromQLError, match=r"\$selector"):
        query("ERROR_RATIO", selector='a="b"')
    # A quote escaped inside the string does not end it; ${name} is the same placeholder.
    monkeypatch.setenv("ALERTLOOP_QUERY_MEMORY", r'mem{x="\"",namespace="${namespace}"}')
    assert query("MEMORY", namespace='a"b', pod_regex="x") == r'mem{x="\"",namespace="a\"b"}'


def test_budget_selectors_are_parsed_and_matchers_escaped() -> None:
    assert (
        queries.with_matchers('http_requests_total{code=~"5.."}', {"service": HOSTILE})
        == r'http_requests_total{code=~"5..",service="x\"} or vector(0) or {__name__=\"up"}'
    )
    with pytest.raises(promql.PromQLError):
        queries.with_matchers('m{a="b"} or vector(1)', {"service": "x"})
    with pytest.raises(BudgetConfigError, match="slo_errors_selector"):
        BudgetSettings().with_annotations(
            {"slo_errors_selector": 'http_requests_total{code="500"} or vector(0)'}
        )
    with pytest.raises(promql.PromQLError):
        queries.endpoints_query("e", "t", ["route) (vector(1)"], ["1h"])

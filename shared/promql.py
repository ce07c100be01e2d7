"""PromQL built from values we do not control. Every value interpolated into a query goes here.

Label values come from alerts (anyone who can shape a label can shape it), so:

- a value becomes a double-quoted string literal with ``\\``, ``"`` and control characters
  escaped (`string`, `escape`): ``x"} or vector(0) or {__name__="up`` stays one string;
- label names are validated (``[a-zA-Z_][a-zA-Z0-9_]*``), never escaped (`label_name`);
- a regex matcher built from a literal value escapes RE2 metacharacters first (the set of Go's
  ``regexp.QuoteMeta``) and then the string literal (`regex_literal`, `literal_regex_matcher`);
- selectors written by operators (``metric{a="b"}``, env vars and alert annotations) are parsed,
  not pattern-matched, so ``m{a="b"} or vector(1)`` is refused and extra matchers are added to the
  parsed selector instead of spliced into text (`parse_selector`, `Selector.with_matchers`).

Pure and dependency-free; `PromQLError` (a ValueError) names what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]
OPS: tuple[Op, ...] = ("=~", "!~", "!=", "=")  # longest first, for the parser

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
# Go's regexp.QuoteMeta escapes exactly these; RE2 rejects escapes of letters, digits and space.
_RE2_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The characters `escape` rewrites: backslash, quote, C0 controls, DEL, lone surrogates.
_TO_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f\ud800-\udfff]')


class PromQLError(ValueError):
    """A label name, metric name or selector is not valid PromQL; the message says which."""


def label_name(name: str) -> str:
    """`name` if it is a valid label name, else PromQLError (names are never escaped)."""
    if not isinstance(name, str) or not _LABEL_NAME.match(name):
        raise PromQLError(f"invalid label name {name!r} (want [a-zA-Z_][a-zA-Z0-9_]*)")
    return name


def is_label_name(name: str) -> bool:
    return isinstance(name, str) and bool(_LABEL_NAME.match(name))


def metric_name(name: str) -> str:
    if not isinstance(name, str) or not _METRIC_NAME.match(name):
        raise PromQLError(f"invalid metric name {name!r} (want [a-zA-Z_:][a-zA-Z0-9_:]*)")
    return name


def _escape_char(match: re.Match[str]) -> str:
    c = match.group(0)
    if c in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[c]
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"  # a lone surrogate cannot be sent as UTF-8 at all
    return f"\\x{ord(c):02x}"


def escape(value: str) -> str:
    """The content of a double-quoted PromQL string literal holding `value` (no quotes)."""
    return _TO_ESCAPE.sub(_escape_char, str(value))


def string(value: str) -> str:
    """`value` as a double-quoted PromQL string literal."""
    return f'"{escape(value)}"'


def regex_literal(value: str) -> str:
    """An RE2 regex matching exactly `value` (metacharacters escaped; not yet a string literal)."""
    return _RE2_META.sub(r"\\\1", str(value))


@dataclass(frozen=True)
class Matcher:
    """One label matcher; rendering validates the name and escapes the value."""

    name: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        label_name(self.name)
        if self.op not in OPS:
            raise PromQLError(f"invalid matcher operator {self.op!r}")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{string(self.value)}"


def equal(name: str, value: str) -> Matcher:
    """``name="value"``."""
    return Matcher(name, "=", value)


def literal_regex_matcher(name: str, value: str, suffix: str = "") -> Matcher:
    """``name=~"<value, regex-escaped><suffix>"``: e.g. pods ``literal_regex_matcher("pod",
    "api", "-.*")``. `suffix` is trusted regex text written in our code, never outside input."""
    return Matcher(name, "=~", regex_literal(value) + suffix)


def matchers(items: Iterable[Matcher]) -> str:
    """Matchers joined for the inside of ``{...}``: ``a="b",c=~"d"``."""
    return ",".join(str(m) for m in items)


def equal_matchers(labels: Mapping[str, str]) -> str:
    """``a="b",c="d"`` for a mapping (sorted by name)."""
    return matchers(equal(k, v) for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class Selector:
    """An instant-vector selector: optional metric name and matchers."""

    metric: str = ""
    matchers: tuple[Matcher, ...] = ()

    def __post_init__(self) -> None:
        if self.metric:
            metric_name(self.metric)
        if not self.metric and not self.matchers:
            raise PromQLError("a selector needs a metric name or at least one matcher")

    def with_matchers(self, extra: Iterable[Matcher]) -> Selector:
        return Selector(self.metric, (*self.matchers, *extra))

    def __str__(self) -> str:
        if not self.matchers:
            return self.metric
        return f"{self.metric}{{{matchers(self.matchers)}}}"


# ---------------------------------------------------------------------------- parsing selectors

_WS = re.compile(r"\s*")


def _skip(text: str, pos: int) -> int:
    """The offset of the next non-space character at or after `pos`."""
    m = _WS.match(text, pos)
    return m.end() if m else pos


_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_DQ = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_SQ = re.compile(r"'((?:[^'\\\n]|\\.)*)'")
_BQ = re.compile(r"`([^`]*)`")
_GO_ESCAPE = re.compile(
    r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))", re.DOTALL
)
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote(body: str, quote: str) -> str:
    """Decode a Go-style quoted string body (what Prometheus' lexer accepts)."""

    def one(m: re.Match[str]) -> str:
        hex2, hex4, hex8, octal, other = m.groups()
        if hex2 or hex4 or hex8:
            code = int(hex2 or hex4 or hex8, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise PromQLError(f"invalid escape {m.group(0)!r} in a string")
            return chr(code)
        if octal:
            return chr(int(octal, 8))
        if other in _SIMPLE:
            return _SIMPLE[other]
        if other in ("\\", quote):
            return other
        raise PromQLError(f"unknown escape sequence {m.group(0)!r} in a string")

    return _GO_ESCAPE.sub(one, body)


def _string_at(text: str, pos: int) -> tuple[str, int]:
    for pattern, quote in ((_DQ, '"'), (_SQ, "'"), (_BQ, "`")):
        m = pattern.match(text, pos)
        if m:
            value = m.group(1) if quote == "`" else _unquote(m.group(1), quote)
            return value, m.end()
    raise PromQLError(f"expected a quoted string at offset {pos}")


def parse_selector(text: str) -> Selector:
    """Parse ``metric``, ``metric{a="b",c=~"d"}`` or ``{__name__="m"}``; anything else (functions,
    operators, ranges, a second selector) is a PromQLError."""
    pos = _skip(text, 0)
    metric = ""
    if m := _IDENT.match(text, pos):
        metric = m.group(0)
        pos = _skip(text, m.end())
    found: list[Matcher] = []
    if pos < len(text) and text[pos] == "{":
        pos = _skip(text, pos + 1)
        while pos < len(text) and text[pos] != "}":
            name_match = _IDENT.match(text, pos)
            if not name_match:
                raise PromQLError(f"expected a label name at offset {pos} in {text!r}")
            name = label_name(name_match.group(0))
            pos = _skip(text, name_match.end())
            op = next((o for o in OPS if text.startswith(o, pos)), None)
            if op is None:
                raise PromQLError(f"expected =, !=, =~ or !~ at offset {pos} in {text!r}")
            pos = _skip(text, pos + len(op))
            value, pos = _string_at(text, pos)
            found.append(Matcher(name, op, value))
            pos = _skip(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip(text, pos + 1)
            elif pos < len(text) and text[pos] != "}":
                raise PromQLError(f"expected , or }} at offset {pos} in {text!r}")
        if pos >= len(text):
            raise PromQLError(f"unterminated {{ in {text!r}")
        pos = _skip(text, pos + 1)
    if pos != len(text):
        raise PromQLError(f"not a plain vector selector (unexpected text at {pos}): {text!r}")
    return Selector(metric, tuple(found))

"""The one renderer for text that comes from outside: alert labels and annotations, log lines,
event messages, Kubernetes object names — anything we did not write ourselves.

- `redact(text)`: secrets replaced by ``[REDACTED]``, key names and context kept
  (``password=hunter2`` -> ``password=[REDACTED]``). Our own rules (below) cover the forms we see
  in logs, events and annotations; detect-secrets' regex detectors (token shapes of ~25 vendors)
  run after them, loaded lazily on first use.
- `for_mrkdwn(text, limit)`: for Slack mrkdwn text objects (sections, fields, context).
- `for_plain_text(text, limit)`: for Block Kit ``plain_text`` (headers, button labels).
- `for_html(text, limit)`: for the console's HTML.

Each is pure (no I/O), total (any str; anything else is str()-ed; never raises) and starts with
`clean`: control, format (bidi overrides, zero-width) and private-use characters are removed
*before* redaction, so an invisible character cannot split a key name and hide a secret. Input
past MAX_CHARS is cut first, which bounds the time any text can take.

Deliberately left as they are: Unicode emoji (content, and a fake status line still cannot be
bold); bare domains without `scheme://` or `www.` (shared.slack marks mrkdwn objects
`verbatim`, so Slack does not auto-link them); public IP addresses (evidence, not secrets).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from shared import limits

REDACTED = "[REDACTED]"
ELLIPSIS = "…"
# Longer input is cut (see `_bounded`): it bounds the time any text can take, and no Slack
# message, finding or console cell shows more.
MAX_CHARS = 16_384

# --------------------------------------------------------------------------- invisible characters

# C0/C1 controls except \t and \n; format characters (Unicode category Cf: bidi embeddings,
# overrides and isolates U+202A-202E/U+2066-2069, marks U+200E/200F/061C, zero-width
# U+200B-200D/2060/FEFF, soft hyphen, tag characters U+E0000-E007F, ...); invisible fillers
# (Hangul fillers, U+034F, variation selectors); lone surrogates (not encodable as UTF-8) and
# private-use characters. tests/unit/test_untrusted.py checks this against unicodedata.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ud800-\udfff\ue000-\uf8ff\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # a hostile __str__ must not break rendering
        return object.__repr__(value)


def clean(text: object) -> str:
    """The text with line breaks normalised to \\n and invisible/control characters removed."""
    return _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", _text(text)))


# --------------------------------------------------------------------------- redaction: key=value

# Key names whose values are secrets. LONG words may be glued to a prefix (PGPASSWORD,
# accessToken, secretAccessKey, X-Amz-Signature); SHORT ones need a separator before them
# (DB_PASS, MYSQL_PWD) so `bypass=`, `compass=` stay.
_LONG_KEYS = "|".join(
    (
        r"pass(?:word|wd|phrase)|secret(?:[_-]?key(?:[_-]?base)?)?|token|jwt",
        r"api[_-]?key|private[_-]?key(?:[_-]?id)?|credentials?|signature",
        r"(?:access|account|shared[_-]?access|signing|encryption|master|app|client|auth)"
        r"[_-]?key(?:[_-]?id)?",
        r"session[_-]?(?:id|key)|cookie|authorization|requirepass|connection[_-]?string",
    )
)
_SHORT_KEYS = r"pass|pwd|pw|sig|auth|sas"
_KEY = (
    rf"(?<![A-Za-z0-9_./-])(?:[A-Za-z0-9_.-]*?(?:{_LONG_KEYS})"
    rf"|(?:[A-Za-z0-9]+[_.-])*(?:{_SHORT_KEYS}))(?![A-Za-z0-9])"
)
# Values: double-quoted (backslash escapes), backslash-escaped-double-quoted (JSON inside a JSON
# string), single-quoted, a {{ template }}, or a bare run ended by whitespace, a quote, or the
# ; & , that separate fields.
_VALUE = (
    r"(?:\"(?P<dq>(?:[^\"\\\n]|\\.)*)\""
    r"|\\\"(?P<eq>.*?)\\\""
    r"|'(?P<sq>[^'\n]*)'"
    r"|(?P<tpl>\{\{[^\n]{0,200}?\}\})"
    r"|(?P<bare>[^\s'\",;&]+))"
)
_KV = rf"(?i)(?P<key>{_KEY})(?P<sep>\\?[\"']?[ \t]*(?:=|:)[ \t]*){_VALUE}"
# --password value, --db-password=value, -Djavax.net.ssl.keyStorePassword=value
_FLAG = (
    rf"(?i)(?P<key>(?<![\w-])--?(?:[A-Za-z0-9]+[_.-])*?(?:{_LONG_KEYS}|{_SHORT_KEYS}))"
    rf"(?P<sep> +)(?![-\s]){_VALUE}"
)
# A Kubernetes env entry or any name/value pair naming a secret: {name: DB_PASS, value: x},
# {"name":"API_TOKEN","value":"x"}, YAML `- name: API_TOKEN` then `value: x` on the next line
_NAME_VALUE = (
    rf"(?i)(?P<key>[\"']?\bname[\"']?[ \t]*[:=][ \t]*[\"']?{_KEY}[\"']?[ \t]*"
    rf"(?:,|\\n|\n)?[ \t]*[\"']?value)(?P<sep>[\"']?[ \t]*[:=][ \t]*){_VALUE}"
)
# <password>value</password>
_XML = rf"(?i)<(?P<tag>(?:\w+:)?{_KEY})>(?P<value>[^<]+)</(?P=tag)>"

_PLACEHOLDER_WORDS = frozenset(
    (
        *("null", "none", "nil", "undefined", "unset", "empty", "n/a", "na", "true", "false"),
        *("yes", "no", "ok", "on", "off", "set", "not", "redacted", "hidden", "masked"),
        *("omitted", "filtered", "sensitive", "secret", "password", "token", "required"),
        *("missing", "invalid", "expired", "rejected", "denied", "revoked", "malformed"),
        *("unknown", "incorrect", "wrong", "provided", "present", "absent", "supplied"),
        *("configured", "changed", "updated", "rotated", "refreshed", "verified", "valid"),
        *("disabled", "enabled", "bearer", "basic", "digest", "changeme_placeholder"),
    )
)
_PLACEHOLDER = re.compile(
    r"""(?x)
    [*xX•.]+                          # ***, xxxx
    | \$\{?[A-Z_][A-Z0-9_]*\}?        # $API_KEY, ${API_KEY}
    | \{\{.*\}\} | \$\(.*\) | %[sd] | %\(\w+\)s   # templates
    | <[\w\s.-]*> | \[[\w\s.-]*\] | \([\w\s.-]*\)  # <redacted>, [FILTERED], (hidden)
    | [|>][+-]?\d?[+-]?                # a YAML block scalar's indicator (the value follows)
    """
)
_OPEN = {")": "(", "]": "[", "}": "{", ">": "<"}
_ALNUM = re.compile(r"[A-Za-z0-9]")
# What an earlier rule left: [REDACTED], or name=[REDACTED] (a cookie pair, a nested field).
_REDACTED_PART = re.compile(rf"(?:[\w.-]{{1,64}}[=:])?{re.escape(REDACTED)}")


def _keep(value: str) -> bool:
    """Values that are not secrets: placeholders, env references, templates, our own marker.
    A value an earlier rule redacted only in part (`AKIA…` inside `[REDACTED]/rest`) is not
    kept: what is left of it may be the rest of the secret."""
    v = value.strip()
    if REDACTED in v:
        return not _ALNUM.search(_REDACTED_PART.sub("", v))
    return not v or v.lower() in _PLACEHOLDER_WORDS or bool(_PLACEHOLDER.fullmatch(v))


# A version tag glued to a name by a bare colon: `oauth-proxy:v7.6.0`, `edge-auth:5.0.0-rc.1`.
_VERSION_TAG = re.compile(r"v?\d+(?:\.\d+){1,3}(?:[-+][0-9A-Za-z.-]+)?")


def _kv_sub(m: re.Match[str]) -> str:
    groups = m.groupdict()
    if groups["tpl"] is not None:
        return m.group(0)  # a Helm/Jinja template, not a value
    if groups["dq"] is not None:
        value, quote = groups["dq"], '"'
    elif groups["eq"] is not None:
        value, quote = groups["eq"], '\\"'
    elif groups["sq"] is not None:
        value, quote = groups["sq"], "'"
    else:
        value, quote = groups["bare"], ""
    if groups["key"].upper() == "PWD" and value.startswith("/"):
        return m.group(0)  # the shell's working directory, not a password
    tail = ""
    if not quote:
        # `(password=abc)`: give back closing brackets that the value did not open.
        while value and value[-1] in _OPEN and _OPEN[value[-1]] not in value:
            value, tail = value[:-1], value[-1] + tail
    if groups["sep"] == ":" and _VERSION_TAG.fullmatch(value):
        return m.group(0)  # an image reference (edge-auth:5.0.0), not `auth: <secret>`
    if _keep(value):
        return m.group(0)
    return f"{groups['key']}{groups['sep']}{quote}{REDACTED}{quote}{tail}"


def _xml_sub(m: re.Match[str]) -> str:
    if _keep(m.group("value")):
        return m.group(0)
    return f"<{m.group('tag')}>{REDACTED}</{m.group('tag')}>"


# --------------------------------------------------------------------------- redaction: shapes

_AUTH_SCHEMES = (
    r"bearer|basic|digest|token|negotiate|ntlm|hoba|mutual|dpop|apikey|api-key|sso-key|"
    r"key|gssapi|aws4-hmac-sha256|goog4-hmac-sha256|splunk|ssws|otp"
)
_AUTHORIZATION = (
    rf"(?i)(?P<head>\b(?:proxy-)?authorization\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?)"
    rf"(?P<scheme>(?:{_AUTH_SCHEMES})[ \t]+)?(?P<value>(?:[^\s\"',;\\]|\\(?![\"']))+)"
)


def _authorization_sub(m: re.Match[str]) -> str:
    if _keep(m.group("value")):
        return m.group(0)
    return f"{m.group('head')}{m.group('scheme') or ''}{REDACTED}"


def _credential_like(token: str) -> bool:
    """A standalone Bearer/Basic argument that looks like a credential, not an English word."""
    return len(token) >= 8 and (len(token) >= 24 or not token.isalpha())


def _scheme_sub(m: re.Match[str]) -> str:
    if not _credential_like(m.group(2)) or _keep(m.group(2)):
        return m.group(0)
    return f"{m.group(1)}{REDACTED}"


_COOKIE_HEADER = r"(?im)(\b(?:set-)?cookie\\?[\"']?[ \t]*[:=][ \t]*)([^\n]*)"
_COOKIE_PAIR = re.compile(
    r"(?<![!#$%&'*+\-.^_`|~0-9A-Za-z])([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=(\"[^\"]*\"|[^;,\s\"]*)"
)
_COOKIE_ATTRIBUTES = frozenset(
    ("path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority")
)


def _cookie_sub(m: re.Match[str]) -> str:
    head, rest = m.group(1), m.group(2)
    end = len(rest)
    if head.rstrip().endswith(('"', "'")):  # a quoted header value ends at its quote
        q = rest.find(head.rstrip()[-1])
        end = q if q >= 0 else end

    def pair(p: re.Match[str]) -> str:
        if p.group(1).lower() in _COOKIE_ATTRIBUTES or _keep(p.group(2)):
            return p.group(0)
        return f"{p.group(1)}={REDACTED}"

    return head + _COOKIE_PAIR.sub(pair, rest[:end]) + rest[end:]


def _url_userinfo_sub(m: re.Match[str]) -> str:
    if _keep(m.group("password")):
        return m.group(0)
    return f"{m.group('head')}{REDACTED}@"


def _block_sub(m: re.Match[str]) -> str:
    body = m.group("body")
    lines = body.split("\n")
    if all(_keep(line) for line in lines):
        return m.group(0)
    indent = re.match(r"[ \t]*", next((x for x in lines if x.strip()), "")) or None
    pad = indent.group(0) if indent else "  "
    tail = "\n" if body.endswith("\n") else ""
    return f"{m.group('indent')}{m.group('head')}\n{pad}{REDACTED}{tail}"


def _next_line_sub(m: re.Match[str]) -> str:
    value = m.group("value").strip()
    if _keep(value) or value.startswith(REDACTED) or re.match(r"[|>][+-]?\d?$", value):
        return m.group(0)
    return f"{m.group('key')}{m.group('sep')}{REDACTED}"


def _prose_sub(m: re.Match[str]) -> str:
    value = m.group("value").strip("\"'")
    words = value.lower()
    credential = not value.isalpha() or (value.lower() != value and value.upper() != value)
    if _keep(value) or words in _PROSE_WORDS or not credential:
        return m.group(0)
    return f"{m.group('key')}{m.group('sep')}{REDACTED}"


# Words after "password is" that describe it rather than being it.
_PROSE_WORDS = frozenset(
    ("too", "being", "now", "still", "correct", "weak", "strong", "short", "long", "stored",
     "used", "needed", "incorrect", "reset", "the", "a", "an", "in", "at", "for")
)  # fmt: skip


_Sub = tuple[str, str | Callable[[re.Match[str]], str]]

_RULE_SOURCES: list[_Sub] = [
    # PEM private keys, whole blocks (possibly flattened with literal \n), or to the end.
    (
        r"(?s)-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----"
        r".*?(?:-----END (?P=kind)-----|\Z)",
        rf"-----BEGIN \g<kind>-----{REDACTED}-----END \g<kind>-----",
    ),
    # JWTs (and JWS/JWE with more segments)
    (r"\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]{4,}){1,4}\.?[A-Za-z0-9_-]*", REDACTED),
    # URL userinfo: scheme://user:password@host — the password may contain @ (the last @ before
    # the path ends it) and :.
    (
        r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@]*:)(?P<password>[^\s/?#]*)@",
        _url_userinfo_sub,
    ),
    (_AUTHORIZATION, _authorization_sub),
    (r"(?i)\b(Bearer[ \t]+)([A-Za-z0-9._~+/=-]+)", _scheme_sub),
    (r"\b(Basic[ \t]+)([A-Za-z0-9+/]+={0,2})(?![\w+/=])", _scheme_sub),
    (_COOKIE_HEADER, _cookie_sub),
    # mysql -pSECRET (glued: `-p SECRET` would be a prompt and a database name), sshpass -p,
    # redis-cli -a, curl -u user:password
    (
        r"(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb)"
        r"\b[^\n|;&]{0,300}?[ \t]-p)('[^'\n]*'|\"[^\"\n]*\"|[^\s'\"-][^\s]*)",
        rf"\1{REDACTED}",
    ),
    (r"(\bsshpass[ \t]+-p[ \t]*)('[^'\n]*'|\"[^\"\n]*\"|\S+)", rf"\1{REDACTED}"),
    (r"(\bsqlplus\b[^\n|;&]{0,300}?[ \t][\w$#]+/)([^\s@/]+)(?=@)", rf"\1{REDACTED}"),
    (r"(\bredis-cli\b[^\n|;&]{0,300}?[ \t]-a[ \t]+)(\S+)", rf"\1{REDACTED}"),
    (
        r"(\bcurl\b[^\n|;&]{0,300}?[ \t](?:-u|--user)[ \t]*['\"]?[^\s:'\"]+:)([^\s'\"]+)",
        rf"\1{REDACTED}",
    ),
    # Well-known token shapes (detect-secrets adds more vendors after these).
    (
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}\b",
        REDACTED,
    ),
    (r"\bAIza[0-9A-Za-z_-]{35}", REDACTED),
    (r"\bya29\.[0-9A-Za-z_-]{20,}", REDACTED),
    (r"\b1//0[0-9A-Za-z_-]{20,}", REDACTED),
    (r"\bgh[pousr]_[A-Za-z0-9_]{30,}", REDACTED),
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}", REDACTED),
    (
        r"\bgl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-[A-Za-z0-9_-]{20,}",
        REDACTED,
    ),
    # Slack tokens, also when wrapped: a continuation line of token characters with a digit.
    (
        r"\bxox[abposrec]-(?:[A-Za-z0-9-]{10,}|[A-Za-z0-9-]{4,}(?=\n))"
        r"(?:\n[ \t]*(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,})*",
        REDACTED,
    ),
    (r"\bxapp-\d-[A-Za-z0-9-]{10,}", REDACTED),
    (
        r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+",
        rf"\1{REDACTED}",
    ),
    # Discord and Microsoft Teams incoming webhooks: the URL is the credential.
    (r"(\bdiscord(?:app)?\.com/api/webhooks/)[A-Za-z0-9/_-]+", rf"\1{REDACTED}"),
    (r"(\.webhook\.office\.com/webhookb2/)[A-Za-z0-9/@_-]+", rf"\1{REDACTED}"),
    (r"\b(?:[sr]k|whsec)_(?:live|test)_[A-Za-z0-9]{16,}", REDACTED),
    (r"\bwhsec_[A-Za-z0-9+/=]{24,}", REDACTED),
    (r"\bnpm_[A-Za-z0-9]{36}\b", REDACTED),
    (r"\bpypi-[A-Za-z0-9_-]{50,}", REDACTED),
    (r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", REDACTED),
    (r"\bsk-(?:proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_-]{32,}", REDACTED),
    (r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}", REDACTED),
    (r"\bdop_v1_[a-f0-9]{64}\b", REDACTED),
    # YAML block scalars: `password: |` (or >-, |2...) then the indented lines of the value.
    (
        rf"(?im)^(?P<indent>[ \t]*-?[ \t]*)(?P<head>[\"']?{_KEY}[\"']?[ \t]*:[ \t]*[|>][+-]?\d?"
        rf"[+-]?[ \t]*)\n(?P<body>(?:[ \t]*\n|(?P=indent)[ \t]+[^\n]*(?:\n|\Z))+)",
        _block_sub,
    ),
    # `DB password:` at the end of a line, the value alone on the next one.
    (
        rf"(?im)(?P<key>{_KEY})(?P<sep>[ \t]*[:=][ \t]*\n[ \t]*)(?P<value>[^\s][^\n]*)",
        _next_line_sub,
    ),
    # Prose: "the password is hunter2", "token was: abc123".
    (
        rf"(?i)(?P<key>{_KEY})(?P<sep>[ \t]+(?:is|was|=)[ \t]*:?[ \t]+)"
        r"(?P<value>[\"']?[^\s\"',;]+[\"']?)",
        _prose_sub,
    ),
    # key=value forms last: earlier rules leave [REDACTED], which these keep.
    (_NAME_VALUE, _kv_sub),
    (_XML, _xml_sub),
    (_FLAG, _kv_sub),
    (_KV, _kv_sub),
]


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]:
    """The rules, compiled on first use (~10 ms a cold start that never redacts does not pay)."""
    return tuple((re.compile(pattern), repl) for pattern, repl in _RULE_SOURCES)


# detect-secrets detectors we do not run: public IPs are not secrets (and help investigations).
_SKIPPED_DETECTORS = frozenset(("IPPublicDetector",))
# Detectors that match only a marker ("BEGIN OPENSSH PRIVATE KEY"): the key follows it, so
# everything from the marker on is redacted (unless our PEM rule already did).
_MARKER_DETECTORS = frozenset(("PrivateKeyDetector",))
_SPAN_EDGES = " \t=:\"'"
# Literals without which a detector cannot match: its (quadratic on hostile input) pattern is
# only run when the literal is present. bench/bench_untrusted.py finds any new such pattern.
_DETECTOR_PREFILTER = {"NpmDetector": "_authToken", "OpenAIDetector": "T3BlbkFJ"}


def _detector_classes() -> list[Any]:
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except Exception:  # not installed: our own rules still cover the forms we know
        return []
    every: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    found = [
        cls
        for cls in every
        if issubclass(cls, RegexBasedDetector) and cls.__name__ not in _SKIPPED_DETECTORS
    ]
    return sorted(found, key=lambda cls: str(cls.__name__))


@lru_cache(maxsize=1)
def _detector_patterns() -> tuple[tuple[re.Pattern[str], bool, str], ...]:
    """detect-secrets' regex detectors as (pattern, marker-only, required literal), imported on
    first use (the package loads ~25 plugin modules; cold starts that never redact do not pay)."""
    return tuple(
        (pattern, cls.__name__ in _MARKER_DETECTORS, _DETECTOR_PREFILTER.get(cls.__name__, ""))
        for cls in _detector_classes()
        for pattern in getattr(cls, "denylist", ())
        if isinstance(pattern.pattern, str)
    )


def detector_names() -> list[str]:
    """The detect-secrets detectors in use (empty if the package is missing)."""
    return [cls.__name__ for cls in _detector_classes()]


_PEM_DONE = f"-----{REDACTED}"


def _spans(
    text: str, patterns: Iterable[tuple[re.Pattern[str], bool, str]]
) -> list[tuple[int, int]]:
    """Match spans of the detectors, trimmed of the delimiters some patterns include, merged."""
    found: list[tuple[int, int]] = []
    for pattern, marker, required in patterns:
        if required and required not in text:
            continue
        for m in pattern.finditer(text):
            start, end = m.span()
            if marker:
                if text.startswith(_PEM_DONE, end):
                    continue
                end = len(text)
            while start < end and text[start] in _SPAN_EDGES:
                start += 1
            while end > start and text[end - 1] in _SPAN_EDGES:
                end -= 1
            if end > start and REDACTED not in text[start:end]:
                found.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _bounded(text: str) -> str:
    """At most MAX_CHARS characters: cut at a space when there is one near the end, so the cut
    does not leave the first half of a secret that the rules would no longer recognise."""
    if len(text) <= MAX_CHARS:
        return text
    head = text[:MAX_CHARS]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= MAX_CHARS - 1024:
        head = head[:space]
    return head + ELLIPSIS


# --------------------------------------------------------------------------- keyless entropy

# A run of base64/base64url characters long enough to be a key, with upper, lower and digits,
# not hex (digests, commit and trace ids stay: they are evidence), scored by detect-secrets'
# Base64HighEntropyString. The limit was set against the corpus's SAFE lines (0 hits) and its
# keyless secrets (tests/unit/test_untrusted.py measures both).
_ENTROPY_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_.-])[A-Za-z0-9+/_=-]{24,}")
_ENTROPY_SHAPE = re.compile(r"[A-Za-z0-9+/_-]{24,512}={0,2}")
_HEX_OR_ID = re.compile(r"[0-9a-fA-F-]+|(?:sha\d*-)?[0-9a-f]+")
ENTROPY_LIMIT = 4.3


@lru_cache(maxsize=1)
def _entropy() -> Callable[[str], float] | None:
    try:
        from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
    except Exception:  # not installed: the keyed rules still hold
        return None
    plugin = Base64HighEntropyString()
    score: Callable[[str], float] = plugin.calculate_shannon_entropy
    return score


def high_entropy(token: str) -> bool:
    """A keyless token that looks like a random secret (see _ENTROPY_TOKEN)."""
    score = _entropy()
    if score is None or not _ENTROPY_SHAPE.fullmatch(token) or _HEX_OR_ID.fullmatch(token):
        return False
    if token.count("/") > 2:
        return False
    if not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token)):
        return False
    return score(token) >= ENTROPY_LIMIT


def _entropy_sub(m: re.Match[str]) -> str:
    return REDACTED if high_entropy(m.group(0)) else m.group(0)


# --------------------------------------------------------------------------- decoding passes

# Latin look-alikes of key-name letters (Unicode confusables.txt, Cyrillic and Greek) that NFKC
# does not fold: Russian words stay, but "password" written with a Cyrillic a and o reads
# "password" again (the mapping's sources, in order: Cyrillic, then Greek letters).
_CONFUSABLES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0456\u0458\u0455\u0501\u04bb\u04cf\u051b"
    "\u051d\u043a\u043c\u0442\u0432\u043d\u0410\u0415\u041e\u0420\u0421\u0425\u0423\u0406"
    "\u0408\u0405\u041a\u041c\u0422\u0412\u041d\u03b1\u03bf\u03c1\u03c4\u03c5\u03bd\u03ba"
    "\u03b5\u0391\u0392\u0395\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
    "aeopcxyijsdhlqwkmtbhAEOPCXYIJSKMTBHaoptuvkeABEHIKMNOPTYX",
)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _url_decoded(text: str) -> str:
    from urllib.parse import unquote

    for _ in range(3):  # double (and triple) encoding
        if not _PERCENT.search(text):
            break
        text = unquote(text)
    return text


def _html_decoded(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _folded(text: str) -> str:
    import unicodedata

    return clean(unicodedata.normalize("NFKC", text)).translate(_CONFUSABLES)


_DECODERS: tuple[Callable[[str], str], ...] = (_url_decoded, _html_decoded, _folded)


def redact(text: object) -> str:
    """The text (cleaned, see `clean`; at most MAX_CHARS) with secret values replaced by
    [REDACTED]. The rules run over the whole text (multi-line forms: PEM blocks, YAML block
    scalars, a value on the line after its key, wrapped tokens), then over its decoded forms
    (URL and double-URL encoding, HTML entities, NFKC with confusable folding): when a decoded
    form reveals a secret, the decoded form, redacted, is what is returned."""
    out = _bounded(clean(text))
    if not out:
        return out
    out = _redact_once(out)
    decoded = out
    for decode in _DECODERS:  # one decoded form, one more pass: the cost stays bounded
        decoded = decode(decoded)
    if decoded != out:
        again = _redact_once(decoded)
        if again != decoded:
            out = again
    return out


def _redact_once(out: str) -> str:
    for pattern, repl in _rules():
        out = pattern.sub(repl, out)
    spans = _spans(out, _detector_patterns())
    if spans:
        parts, last = [], 0
        for start, end in spans:
            parts.append(out[last:start])
            parts.append(REDACTED)
            last = end
        parts.append(out[last:])
        out = "".join(parts)
    return _ENTROPY_TOKEN.sub(_entropy_sub, out)


# --------------------------------------------------------------------------- URLs from outside

_SECRET_PARAM = re.compile(rf"(?i)^(?:{_KEY}|code|state|sig|x-amz-credential|x-goog-credential)$")


def sanitize_url(url: object) -> str:
    """An outside URL (runbook_url, generatorURL...) fit to show or link: cleaned, userinfo
    removed, query parameters whose name or value looks secret removed, the rest redacted.
    Returns "" when it is not an http(s) URL. Never raises."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    text = clean(url).strip()
    if not text or any(c.isspace() for c in text):
        return ""
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return ""
        host = parts.hostname
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _SECRET_PARAM.match(k.strip()) and redact(f"{k}={v}") == f"{k}={v}"
        ]
        fragment = parts.fragment if redact(parts.fragment) == parts.fragment else ""
        rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path, urlencode(query), fragment))
    except ValueError:
        return ""
    return redact(rebuilt)


def url_host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """`host` is one of `allowed` ("runbooks.example.com") or under a "*.example.com" entry."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        e = entry.strip().lower().rstrip(".")
        if e.startswith("*.") and host.endswith(e[1:]) and len(host) > len(e) - 1:
            return True
        if e and host == e:
            return True
    return False


def link_or_text(url: object, allowed_hosts: Iterable[str]) -> tuple[str, str]:
    """(link, text) for an outside URL: `link` is the sanitised URL when its host is allowed
    by the policy (and nothing was redacted in it), else ""; `text` is the sanitised URL to
    show as inert text (defanged by the renderers) when there is no link."""
    safe = sanitize_url(url)
    if not safe:
        return "", redact(clean(url).strip())
    if REDACTED not in safe and host_allowed(url_host(safe), allowed_hosts):
        return safe, ""
    return "", safe


# --------------------------------------------------------------------------- rendering

# URLs: Slack turns `scheme://host` (and bare hosts) into links. Defanged the way incident
# responders write them — `hxxps[://]evil[.]example/path` — readable, copyable by a human who
# means it, never a link.
_URL = re.compile(r"(?i)([a-z][a-z0-9+.-]{0,30})?://((?:[^\s/?#<>:]|:(?!//))*)")
_WWW = re.compile(r"(?i)www\.([^\s/?#<>]*)")
_DEFANGED_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp", "ftps": "fxps"}


def _defang_url(m: re.Match[str]) -> str:
    scheme = m.group(1) or ""
    scheme = _DEFANGED_SCHEMES.get(scheme.lower(), scheme)
    return f"{scheme}[://]{m.group(2).replace('.', '[.]')}"


def defang_urls(text: str) -> str:
    text = _URL.sub(_defang_url, text)
    return _WWW.sub(lambda m: "www[.]" + m.group(1).replace(".", "[.]"), text)


# Slack mrkdwn markup is neutralised by replacing its control characters with look-alikes that
# Slack does not parse: ASTERISK OPERATOR (U+2217) for *, TILDE OPERATOR (U+223C) for ~,
# MODIFIER LETTER GRAVE ACCENT (U+02CB) for `, MODIFIER LETTER LOW MACRON (U+02CD) for _,
# FULLWIDTH GREATER-THAN (U+FF1E) for a > that starts a line (Slack reads `&gt;` there as a
# quote), RATIO (U+2236) for the colon opening an :emoji: shortcode (never a time's colon: a
# name with no letter is not a shortcode), FULLWIDTH COMMERCIAL AT
# (U+FF20) for a word-initial @ (@here, @channel).
# Why not the alternatives: a code span cannot hold backticks or newlines and still lets Slack
# autolink; zero-width joiners are exactly what hostile text uses (we strip them) and vanish on
# copy-paste inconsistently. Look-alikes stay readable and are inert in every Slack client.
# An underscore between two letters/digits (snake_case, http_requests_total) is never italic in
# Slack, so it is kept: metric and label names stay copyable.
_MARKUP = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_UNDERSCORE = re.compile(r"_(?![A-Za-z0-9])|(?<![A-Za-z0-9])_")
_QUOTE_LINE = re.compile(r"(?m)^([ \t]*)>")
# An emoji shortcode's name has a letter, or is one of the four without one (:100:, :1234:,
# :+1:, :-1: in Slack's emoji set): the colons of times, ports and ratios (10:21:03, 8080:80)
# are left as they are, so they copy as typed.
EMOJI_WITHOUT_LETTER = ("100", "1234", "+1", "-1")
_SHORTCODE_COLON = re.compile(r":(?=(?:[\w+'-]*[^\W\d_][\w+'-]*|100|1234|\+1|-1):)")
_MENTION_AT = re.compile(r"(?<![\w.+\-])@(?=\w)")


def _neutralise_common(text: str) -> str:
    text = defang_urls(text)
    text = _SHORTCODE_COLON.sub("\u2236", text)
    return _MENTION_AT.sub("\uff20", text)


def _neutralise_mrkdwn(text: str) -> str:
    text = _neutralise_common(text).translate(_MARKUP)
    text = _UNDERSCORE.sub("\u02cd", text)
    return _QUOTE_LINE.sub("\\1\uff1e", text)


def _escape_slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ENTITY_TAIL = re.compile(r"&[#a-zA-Z0-9]{0,8}\Z")


def limit(text: str, max_len: int) -> str:
    """At most `max_len` characters, ending with … when cut; never cuts an &entity; in half."""
    if max_len <= 0:
        return ""
    if len(text) <= max_len:
        return text
    head = text[: max_len - len(ELLIPSIS)]
    head = _ENTITY_TAIL.sub("", head)
    return head + ELLIPSIS


def for_mrkdwn(text: object, max_len: int = limits.SLACK_SECTION_TEXT) -> str:
    """Outside text for a Slack mrkdwn text object: cleaned, redacted, URLs defanged, markup
    inert, &<> escaped, at most `max_len` characters."""
    out = limit(_escape_slack(_neutralise_mrkdwn(redact(text))), max_len)
    if out.endswith("_" + ELLIPSIS):  # the cut left an underscore at a word's end
        out = out[: -len(ELLIPSIS) - 1] + "\u02cd" + ELLIPSIS
    return out


_WHITESPACE = re.compile(r"\s+")


def for_plain_text(text: object, max_len: int = limits.SLACK_HEADER_TEXT) -> str:
    """Outside text for Block Kit plain_text (headers, button labels): cleaned, redacted, on one
    line, URLs defanged, emoji shortcodes and mentions inert, < and > as U+2039 and U+203A
    (nothing in plain_text is parsed, but a field later switched to mrkdwn must stay safe)."""
    text = _WHITESPACE.sub(" ", _neutralise_common(redact(text))).strip()
    return limit(text.replace("<", "\u2039").replace(">", "\u203a"), max_len)


def for_html(text: object, max_len: int = 10_000) -> str:
    """Outside text for HTML (the console): cleaned, redacted, html-escaped (quotes too)."""
    return limit(html.escape(redact(text), quote=True), max_len)


def redact_lines(lines: list[str]) -> list[str]:
    """Redacted as one text, not line by line: a PEM body, a YAML block scalar or a value on
    the line after its key spans lines, and each line alone looks harmless."""
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for line in lines:  # chunks within what redact() reads whole (MAX_CHARS)
        if chunk and size + len(line) + 1 > MAX_CHARS:
            out += redact("\n".join(chunk)).split("\n")
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out += redact("\n".join(chunk)).split("\n")
    return out

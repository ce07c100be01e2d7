"""Secret redaction for log lines and event messages before they go into a finding.

`redact(text)` replaces secret values with `[REDACTED]` and keeps the rest of the line (the key
names, hosts, users) so the line still explains what happened. Rules, applied in order:

- PEM private keys (from BEGIN to END, or to the end of the line)
- JWTs (three base64url segments starting with `eyJ`)
- Authorization headers: Bearer / Basic / Token schemes
- URLs with a password (`scheme://user:password@host`)
- well-known token shapes: AWS access key ids, GCP API keys, Google OAuth tokens, GitHub, Slack,
  Stripe, GitLab, npm, SendGrid tokens
- `key=value` / `key: value` / `"key": "value"` / `--key value` where the key *ends* with a
  secret word (password, passwd, pwd, secret, token, api_key, apikey, access_key, private_key,
  credentials, client_secret, session_id, cookie, auth_token...), including connection strings
  (`Password=...;`). Keys that only contain such a word (`tokens_used`, `password_reset_sent`)
  are left alone, as are placeholder values (`***`, `<redacted>`, `null`...).
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# key names that hold secrets (a regex, not a password)
_SECRET_WORDS = "|".join(
    (
        r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey",
        r"access[_-]?key(?:[_-]?id)?|secret[_-]?key|private[_-]?key|credentials?",
        r"client[_-]?secret|session[_-]?(?:id|key)|cookie|authorization|signature|sig",
        r"key[_-]?secret",
    )
)

# key: a word ending in a secret word, optionally prefixed (db_password, AWS_SECRET_ACCESS_KEY).
_KEY = rf"(?:[A-Za-z0-9]+[_.-])*(?:{_SECRET_WORDS})"

_PLACEHOLDERS = {
    "",
    "***",
    "****",
    "*****",
    "******",
    "********",
    "null",
    "none",
    "nil",
    "<redacted>",
    "[redacted]",
    "redacted",
    "<hidden>",
    "xxx",
    "changeme_placeholder",
    "true",
    "false",
    "required",
    "missing",
    "invalid",
    "expired",
    "ok",
    "bearer",
    "basic",
    "digest",
}

_RULES: list[tuple[re.Pattern[str], str]] = [
    # PEM private key blocks (possibly flattened onto one line with literal \n).
    (
        re.compile(
            r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----"
            r".*?(?:-----END \1-----|$)",
            re.DOTALL,
        ),
        f"-----BEGIN \\1-----{REDACTED}-----END \\1-----",
    ),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Authorization header values
    (
        re.compile(r"(?i)\b(Bearer|Basic|Token|Digest)(\s+)[A-Za-z0-9._~+/=:-]{8,}"),
        f"\\1\\2{REDACTED}",
    ),
    # Passwords in URLs: scheme://user:password@host
    (
        re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s@/]+)(@)"),
        f"\\1{REDACTED}\\3",
    ),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), REDACTED),
    # GCP API keys, Google OAuth access tokens
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), REDACTED),
    # GitHub, GitLab, Slack, Stripe, npm, SendGrid, OpenAI-style tokens
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"), REDACTED),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b"), REDACTED),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), REDACTED),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\b"), REDACTED),
    (re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}\b"), REDACTED),
]

# "key": "value"   (JSON)
_JSON_KV = re.compile(rf'(?i)("{_KEY}"\s*:\s*")((?:[^"\\]|\\.)*)(")')
# key=value, key: value, key = 'value'   (logfmt, env, YAML, connection strings)
_KV = re.compile(rf"(?i)(?<![A-Za-z0-9])({_KEY})(\s*[=:]\s*)(['\"]?)([^\s'\",;&)}}\]]+)(\3)")
# --password value, --token=value
_FLAG = re.compile(rf"(?i)(--{_KEY})([= ])(['\"]?)([^\s'\"]+)(\3)")


def _keep(value: str) -> bool:
    v = value.strip().lower()
    return (
        v in _PLACEHOLDERS
        or v.startswith(("[redacted", "<redacted", "$", "${", "{{"))
        or (set(v) <= {"*", "x"})
    )


def _kv_sub(match: re.Match[str]) -> str:
    key, sep, quote, value, close = match.groups()
    if _keep(value) or value == REDACTED:
        return match.group(0)
    return f"{key}{sep}{quote}{REDACTED}{close}"


def _json_sub(match: re.Match[str]) -> str:
    head, value, tail = match.groups()
    if _keep(value):
        return match.group(0)
    return f"{head}{REDACTED}{tail}"


def redact(text: str) -> str:
    """The text with secret values replaced by [REDACTED]."""
    if not text:
        return text
    out = text
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    out = _JSON_KV.sub(_json_sub, out)
    out = _FLAG.sub(_kv_sub, out)
    out = _KV.sub(_kv_sub, out)
    return out


def redact_lines(lines: list[str]) -> list[str]:
    return [redact(line) for line in lines]

"""Who may see the console.

Locally (auth=token) every request carries the stack's token: `Authorization: Bearer <token>`
(Prometheus' scrape, curl) or the session cookie a `?token=` login link sets (a browser). The
cookie holds an HMAC of the token, not the token. In production (auth=iam) Cloud Run's IAM has
already admitted the caller: Terraform grants roles/run.invoker on the console to its viewers
only, never to allUsers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from shared.console.settings import ConsoleSettings

COOKIE = "alertloop_console"
# A path on this console: printable ASCII only. Browsers drop tabs and newlines from a Location
# (so "/\t/evil.example" would become "//evil.example"), and a CR/LF cannot be in a header.
_LOCAL_PATH = re.compile(r"/[!-~]*")


class Unauthorized(PermissionError):
    pass


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"alertloop-console-session", hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Credentials:
    authorization: str = ""  # the Authorization header
    cookie: str = ""  # the session cookie's value


def check(creds: Credentials, cfg: ConsoleSettings) -> None:
    """Raise Unauthorized unless the request may see the console."""
    if cfg.auth == "iam":
        return
    if not cfg.token:
        raise Unauthorized("the console has no ALERTLOOP_CONSOLE_TOKEN set; refusing all requests")
    scheme, _, token = creds.authorization.partition(" ")
    if scheme.lower() == "bearer" and token and _same(token.strip(), cfg.token):
        return
    if creds.cookie and _same(creds.cookie, session_value(cfg.token)):
        return
    raise Unauthorized("sign in with the console link `make run` printed (…/login?token=…)")


def login_ok(token: str, cfg: ConsoleSettings) -> bool:
    """A `?token=` login link carries the right token (token mode only)."""
    return cfg.auth == "token" and bool(cfg.token) and bool(token) and _same(token, cfg.token)


def safe_next(path: str) -> str:
    """Where to go after login: a path on this console only (no //host, no scheme, no
    whitespace or control characters, no backslash)."""
    if not _LOCAL_PATH.fullmatch(path) or path.startswith("//") or "\\" in path:
        return "/"
    return path

"""Routing for the `console` HTTP function: one small WSGI-free router over a flask.Request.

GET /                    incidents (filters: state, alert_type, cluster, namespace, since;
                         cursor pagination)
GET /incidents/<id>      one incident's timeline
GET /health              the five loop-health measures per day, per alert type
GET /metrics             Prometheus exposition (shared.console.metrics)
GET /login?token=…       sets the session cookie, then redirects (token mode)
GET /logout              clears it
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import flask

from shared.config import settings
from shared.console import auth, pages
from shared.console.data import SnapshotCache
from shared.console.metrics import exposition
from shared.console.settings import ConsoleSettings, console_settings
from shared.lazy import lazy
from shared.ledger import Ledger, LedgerError, document_id_ok
from shared.log import event, get_logger
from shared.model import utcnow
from shared.policy import cached_policy

log = get_logger("alertloop.console")

INCIDENT_PATH = re.compile(r"^/incidents/([^/]+)/?$")  # the id: checked by document_id_ok
# No scripts anywhere, nothing loaded from elsewhere; styles are inline (the <style> element and
# the legend swatches).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

snapshots = SnapshotCache()


def _headers(resp: flask.Response) -> flask.Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def _html(body: str, status: int = 200) -> flask.Response:
    return _headers(flask.Response(body, status=status, mimetype="text/html"))


def _message(status: int, heading: str, message: str) -> flask.Response:
    return _html(pages.message_page(heading, message), status)


def _redirect(location: str) -> flask.Response:
    resp = flask.Response("", status=303)
    resp.headers["Location"] = location
    return _headers(resp)


def _login(request: flask.Request, cfg: ConsoleSettings) -> flask.Response:
    token = request.args.get("token", "")
    if not auth.login_ok(token, cfg):
        event(log, "console login refused", 30, remote=request.remote_addr)
        return _message(401, "Not signed in", "That login link is not valid for this console.")
    if request.path == "/login":
        target = auth.safe_next(request.args.get("next", "/"))
    else:  # a page opened with ?token=: drop the token from the address
        rest = {k: v for k, v in request.args.items() if k != "token"}
        target = auth.safe_next(request.path) + (f"?{urlencode(rest)}" if rest else "")
    resp = _redirect(target)
    resp.set_cookie(
        auth.COOKIE,
        auth.session_value(cfg.token),
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
        max_age=12 * 3600,
    )
    return resp


def handle(request: flask.Request, ledger: Ledger) -> flask.Response:
    cfg = console_settings()
    if request.method not in ("GET", "HEAD"):
        return _headers(flask.Response("use GET\n", status=405, headers={"Allow": "GET, HEAD"}))
    path = request.path or "/"
    if path == "/login" or "token" in request.args:
        return _login(request, cfg)
    if path == "/logout":
        resp = _redirect("/")
        resp.delete_cookie(auth.COOKIE, path="/")
        return resp
    try:
        auth.check(
            auth.Credentials(
                request.headers.get("Authorization", ""), request.cookies.get(auth.COOKIE, "")
            ),
            cfg,
        )
    except auth.Unauthorized as exc:
        if path == "/metrics" or request.headers.get("Authorization"):
            return _headers(
                flask.Response(
                    f"{exc}\n",
                    status=401,
                    mimetype="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="alertloop-console"'},
                )
            )
        return _message(401, "Not signed in", str(exc))
    try:
        return _route(request, path, ledger, cfg)
    except LedgerError as exc:
        event(log, "console cannot read the ledger", 50, error=str(exc))
        return _message(503, "The run ledger is unavailable", f"Firestore: {exc}")


def _route(
    request: flask.Request, path: str, ledger: Ledger, cfg: ConsoleSettings
) -> flask.Response:
    if path == "/metrics":
        snap = snapshots.get(ledger, cfg)
        window = timedelta(hours=cfg.metrics_window_hours)
        body, ctype = snap.computed(f"metrics:{window}", lambda: exposition(snap, window))
        resp = flask.Response(body, status=200, headers={"Content-Type": ctype})
        return _headers(resp)
    if path in ("/", "/incidents", "/incidents/"):
        return _incidents(request, ledger, cfg)
    m = INCIDENT_PATH.match(path)
    if m and document_id_ok(m.group(1)):
        record = ledger.incident_record(m.group(1))
        if record is None:
            return _message(404, "No such incident", "The ledger has no incident with that id.")
        hosts = tuple(cached_policy(settings().policy_file).link_hosts)
        return _html(pages.incident_page(record, cfg.slack_workspace_url, hosts))
    if path in ("/health", "/health/"):
        snap = snapshots.get(ledger, cfg)
        return _html(pages.health_page(snap, cfg.health_days, request.args.get("alert_type", "")))
    return _message(404, "Not found", "Try the incidents list or the loop health page.")


def _incidents(request: flask.Request, ledger: Ledger, cfg: ConsoleSettings) -> flask.Response:
    args: dict[str, Any] = {k: v for k, v in request.args.items()}
    try:
        flt, since = pages.incident_filter(args, utcnow())
    except pages.BadQuery as exc:
        return _message(400, "Bad request", str(exc))
    cursor = str(args.get("cursor", ""))
    if cursor and not document_id_ok(cursor):
        return _message(400, "Bad request", "That page link is not valid: start from the newest.")
    page = ledger.incidents_page(flt, cursor, cfg.page_size)
    types = list(cached_policy(settings().policy_file).alerts)
    return _html(pages.incidents_page(page, flt, since, cursor, types))


class Console:
    """The console function: `handle` with this instance's ledger (built on first use)."""

    ledger = lazy(lambda _: Ledger())

    def __call__(self, request: flask.Request) -> flask.Response:
        return handle(request, self.ledger)

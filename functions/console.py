"""console (HTTP): the incident list, incident timelines, loop health and /metrics.

Read-only: it reads the ledger (shared.ledger.queries) and never publishes or writes.
"""

from __future__ import annotations

import flask
import functions_framework

from shared.console import handle
from shared.ledger import Ledger

_ledger: Ledger | None = None


def _client() -> Ledger:
    # Created once per instance, on first use: cold start stays cheap.
    global _ledger
    if _ledger is None:
        _ledger = Ledger()
    return _ledger


@functions_framework.http
def console(request: flask.Request) -> flask.Response:
    return handle(request, _client())

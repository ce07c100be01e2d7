"""console (HTTP): the incident list, incident timelines, loop health and /metrics.

Read-only: it reads the ledger (shared.ledger.queries) and never publishes or writes.
"""

from __future__ import annotations

import flask
import functions_framework

from shared.console import Console

_console = Console()


@functions_framework.http
def console(request: flask.Request) -> flask.Response:
    return _console(request)

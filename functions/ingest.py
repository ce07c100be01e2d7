"""ingest (HTTP): authenticate, validate, split, publish to `intake` (shared.ingest). No
Firestore here."""

from __future__ import annotations

import flask
import functions_framework

from shared.ingest import Ingest

_ingest = Ingest()


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    return _ingest(request)

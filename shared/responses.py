"""JSON answers for the HTTP functions (ingest, approve): one shape for every refusal."""

from __future__ import annotations

import json
from typing import Any

import flask


def json_reply(status: int, body: dict[str, Any], **headers: str) -> flask.Response:
    """`headers` use underscores for dashes: Retry_After="10" -> Retry-After: 10."""
    resp = flask.Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in headers.items():
        resp.headers[key.replace("_", "-")] = value
    return resp


def json_error(status: int, message: str, **headers: str) -> flask.Response:
    return json_reply(status, {"error": message}, **headers)

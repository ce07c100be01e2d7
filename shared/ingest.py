"""The ingest function (HTTP): authenticate, bound and decode the webhook body, then hand it to
intake (shared.intake: validate, split, publish to `intake`). No Firestore here."""

from __future__ import annotations

import json

import flask

from shared.bus import Bus, PublishError
from shared.config import settings
from shared.intake import Unauthorized, accept, check_bearer
from shared.lazy import lazy
from shared.log import event, get_logger
from shared.responses import json_error, json_reply
from shared.webhook import BadRequest

log = get_logger("alertloop.ingest")


class Ingest:
    """One instance per function instance; its publisher is built on first use."""

    bus = lazy(lambda _: Bus())

    def __call__(self, request: flask.Request) -> flask.Response:
        cfg = settings()
        if request.method != "POST":
            return json_error(405, "use POST", Allow="POST")
        try:
            check_bearer(request.headers.get("Authorization"), cfg)
        except Unauthorized as exc:
            event(log, "rejected: unauthorized", 30, remote=request.remote_addr)
            return json_error(401, str(exc), WWW_Authenticate='Bearer realm="alertloop"')
        if request.mimetype != "application/json":
            return json_error(
                415, f"Content-Type must be application/json, got {request.mimetype!r}"
            )
        limit = cfg.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return json_error(413, f"body is larger than {limit} bytes (ALERTLOOP_MAX_BODY_BYTES)")
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            return json_error(413, f"body is larger than {limit} bytes (ALERTLOOP_MAX_BODY_BYTES)")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return json_error(400, f"body is not valid JSON: {exc}")
        except RecursionError:
            return json_error(400, "body is nested too deeply to be an alert")
        try:
            result = accept(body, cfg, self.bus)
        except BadRequest as exc:
            event(log, "rejected: bad request", 30, reason=str(exc))
            return json_error(400, str(exc))
        except PublishError as exc:
            # Nothing is acknowledged: Alertmanager resends the group, dispatch dedupes.
            event(log, "ingest unavailable: publish failed", 50, reason=str(exc))
            return json_error(503, f"temporarily unable to publish alerts: {exc}", Retry_After="10")
        return json_reply(200, result.summary())

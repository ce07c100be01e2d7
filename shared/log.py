"""Structured logging: one JSON object per line (Cloud Logging parses it), or text locally."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from shared import envvars

_CONFIGURED = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = getattr(record, "fields", None)
        tail = ""
        if isinstance(extra, dict) and extra:
            tail = " " + " ".join(f"{k}={v}" for k, v in extra.items())
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}{tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure() -> None:
    """Idempotent: set up the root handler once per process."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    _CONFIGURED = True
    handler = logging.StreamHandler(sys.stdout)
    fmt = envvars.read("ALERTLOOP_LOG_FORMAT").lower()
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(envvars.read("ALERTLOOP_LOG_LEVEL").upper())
    # Client libraries are chatty at INFO; their warnings still show.
    for noisy in ("urllib3", "google", "kubernetes", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    configure()
    return logging.getLogger(name)


def event(logger: logging.Logger, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log with structured fields (run_id, stage, ...) that become jsonPayload keys."""
    logger.log(level, message, extra={"fields": fields})

"""The bearer tokens ingest accepts: two at once while a token is rotated, re-read as it runs.

Sources, all optional: ALERTLOOP_WEBHOOK_TOKEN and ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS (plain env
or Secret Manager env mounts: fixed for an instance's life), and the files named in
ALERTLOOP_WEBHOOK_TOKEN_FILES (Secret Manager volumes). Cloud Run fetches a volume's `latest`
version each time the file is read, while env secrets are resolved once at instance start
(cloud.google.com/run/docs/configuring/services/secrets), so Terraform mounts the webhook
secrets as volumes: the files are read again every FILE_TTL_SECONDS, and sooner when a token
matches none of them (at most every MISS_REREAD_SECONDS, so a flood of bad tokens does not
become a flood of Secret Manager reads). A rotated token is accepted within seconds, with no
redeploy, while the previous one still is.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from shared import envvars
from shared.log import event, get_logger

log = get_logger(__name__)

FILE_TTL_SECONDS = 30.0
MISS_REREAD_SECONDS = 5.0


class WebhookTokens:
    def __init__(
        self,
        fixed: tuple[str, ...],
        files: tuple[str, ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed = tuple(t for t in fixed if t)
        self._files = tuple(Path(f) for f in files if f)
        self._clock = clock
        self._lock = threading.Lock()
        self._from_files: tuple[str, ...] = ()
        self._read_at: float | None = None

    @property
    def configured(self) -> bool:
        return bool(self._fixed or self._files)

    def _reread(self) -> None:
        found = []
        for path in self._files:
            try:
                text = path.read_text().strip()
            except OSError as exc:  # a disabled/destroyed version: that slot accepts nothing
                event(log, "webhook token file unreadable", 30, path=str(path), reason=str(exc))
                continue
            if text:
                found.append(text)
        self._from_files = tuple(found)
        self._read_at = self._clock()

    def _current(self, after_miss: bool) -> tuple[str, ...]:
        if not self._files:
            return self._fixed
        with self._lock:
            age = None if self._read_at is None else self._clock() - self._read_at
            limit = MISS_REREAD_SECONDS if after_miss else FILE_TTL_SECONDS
            if age is None or age >= limit:
                self._reread()
            return self._fixed + self._from_files

    def accepts(self, presented: str) -> bool:
        """Constant-time comparison against every accepted token (none short-circuits)."""
        for after_miss in (False, True):
            tokens = self._current(after_miss)
            hits = [hmac.compare_digest(presented.encode(), t.encode()) for t in tokens]
            if any(hits):
                return True
            if not self._files:
                return False
        return False


@lru_cache(maxsize=4)
def _tokens(current: str, previous: str, files: str) -> WebhookTokens:
    names = tuple(f.strip() for f in files.split(",") if f.strip())
    return WebhookTokens((current, previous), names)


def webhook_tokens(current: str) -> WebhookTokens:
    """The process's token set; `current` is Settings.webhook_token (ALERTLOOP_WEBHOOK_TOKEN)."""
    return _tokens(
        current,
        envvars.read("ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS"),
        envvars.read("ALERTLOOP_WEBHOOK_TOKEN_FILES"),
    )

"""The Firestore client, collections and transactions every part of the ledger uses.

Only `shared.ledger` touches Firestore collections (DESIGN §2); callers get typed methods.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.config import Settings, settings
from shared.ledger.schema import CheckedCollection, CheckedWrites

# The ids alertloop writes (run, incident, approval ids: hex or hex with a prefix) and looks up
# for people; Firestore itself refuses "__…__" ids, even for a read.
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RESERVED_ID = re.compile(r"__.*__")


def document_id_ok(value: str) -> bool:
    """Whether `value` (from a URL, a form) can be looked up as one of our document ids."""
    return bool(_DOCUMENT_ID.fullmatch(value)) and not _RESERVED_ID.fullmatch(value)


class LedgerError(RuntimeError):
    """Firestore could not be reached or refused the write; the caller should retry."""


class LedgerBase:
    def __init__(self, cfg: Settings | None = None, client: Any = None) -> None:
        self._cfg = cfg
        self._client = client

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import firestore

            self._client = firestore.Client(
                project=self.cfg.project, database=self.cfg.firestore_database
            )
        return self._client

    def _col(self, name: str) -> Any:
        # Every write through a document of it is checked against Firestore's rules first.
        return CheckedCollection(self.client.collection(f"{self.cfg.collection_prefix}{name}"))

    def _doc(self, collection: str, doc_id: str) -> Any:
        return self._col(collection).document(doc_id)

    def _transaction(self, fn: Any, *args: Any, attempts: int = 10) -> Any:
        """Run `fn(transaction, *args)` atomically; LedgerError when Firestore fails or the
        transaction stays contended (callers fail closed or retry)."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        try:
            transaction = self.client.transaction(max_attempts=attempts)
            # The transaction's writes are checked against Firestore's rules first (schema.py).
            checked = lambda t, *a: fn(CheckedWrites(t), *a)  # noqa: E731
            return firestore.transactional(checked)(transaction, *args)
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc
        except ValueError as exc:
            # The client gives up on a contended transaction with a bare ValueError.
            if "Failed to commit transaction" not in str(exc):
                raise
            raise LedgerError(f"Firestore transaction contended: {exc}") from exc

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A single Firestore call, its failures as LedgerError."""
        from google.api_core import exceptions as gexc

        try:
            return fn(*args, **kwargs)
        except gexc.GoogleAPIError as exc:
            raise LedgerError(f"Firestore: {exc}") from exc

    def _get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        snap = self._call(self._doc(collection, doc_id).get)
        return (snap.to_dict() or {}) if snap.exists else None

    def _merge(self, collection: str, doc_id: str, fields: dict[str, Any]) -> None:
        self._call(self._doc(collection, doc_id).set, nest(fields), merge=True)


def snap_dict(snap: Any) -> dict[str, Any]:
    return (snap.to_dict() or {}) if snap.exists else {}


def nest(fields: dict[str, Any]) -> dict[str, Any]:
    """Turn {"a.b": 1} into {"a": {"b": 1}} so set(merge=True) merges nested maps."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        parts = key.split(".")
        cur = out
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = value
    return out


def as_dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None

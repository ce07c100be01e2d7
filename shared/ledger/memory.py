"""An in-memory stand-in for the part of the google-cloud-firestore client the ledger uses.

`Ledger(client=MemoryFirestore())` runs the very same ledger code (schema checks included,
`firestore.transactional`'s own retry loop driving the transactions); only the storage is
swapped. For tests of code that needs ledger semantics, not Firestore itself: Firestore
behaviour stays tested on the emulator, and tests/integration/test_ledger_contract.py runs the
same assertions on both. Nothing in production constructs it (no setting selects it).

Each rule names the documented contract it follows:
  [tx]     https://cloud.google.com/firestore/docs/transactions
  [add]    https://cloud.google.com/firestore/docs/manage-data/add-data
  [delete] https://cloud.google.com/firestore/docs/manage-data/delete-data
  [query]  https://cloud.google.com/firestore/docs/query-data/queries
  [order]  https://cloud.google.com/firestore/docs/query-data/order-limit-data
  [cursor] https://cloud.google.com/firestore/docs/query-data/query-cursors
  [types]  https://cloud.google.com/firestore/docs/concepts/data-types
  [py]     the Python client's reference (google.cloud.firestore_v1: Transaction,
           DocumentReference, Client.get_all), https://cloud.google.com/python/docs/reference/firestore/latest

Not implemented (the ledger does not use them; each refuses loudly rather than pretend):
queries inside a transaction, count/aggregation queries, collection groups, listing collections,
listeners, write preconditions (`option=`), MIN/MAX transforms.
"""

from __future__ import annotations

import copy
import math
import secrets
import string
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1 import transforms

from shared.ledger.schema import CheckedDocument

_AUTO_ID = string.ascii_letters + string.digits


def _now() -> datetime:
    return datetime.now(UTC)


# ---- values --------------------------------------------------------------------------------


def _stored(value: Any, in_array: bool = False) -> Any:
    """`value` as Firestore stores it: a copy, tuples/sets as arrays, datetimes in UTC with
    microsecond precision ([py]: naive datetimes are taken as UTC; reads return aware UTC
    datetimes), anything the client cannot encode refused with its TypeError ([types]), an
    array directly in an array refused by the service (INVALID_ARGUMENT, [types] "Array")."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, list | tuple | set | frozenset):
        if in_array:
            raise gexc.InvalidArgument("Cannot convert an array value in an array value.")  # type: ignore[no-untyped-call]
        return [_stored(v, True) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError("Cannot convert to a Firestore Value", key, "Invalid key type")
            out[key] = _stored(v)
        return out
    raise TypeError("Cannot convert to a Firestore Value", value, "Invalid type", type(value))


def _order_key(value: Any) -> tuple[Any, ...]:
    """Firestore's order of values across types ([types] "Value type ordering"): null < bool <
    number (NaN first; integers and doubles compare by value) < timestamp < string (UTF-8 byte
    order, which is code point order) < bytes < array < map."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, 0) if isinstance(value, float) and math.isnan(value) else (2, 1, value)
    if isinstance(value, datetime):
        return (3, value)
    if isinstance(value, str):
        return (4, value)
    if isinstance(value, bytes):
        return (5, value)
    if isinstance(value, list):
        return (8, tuple(_order_key(v) for v in value))
    if isinstance(value, dict):
        return (9, tuple((k, _order_key(value[k])) for k in sorted(value)))
    raise TypeError(f"no Firestore order for {type(value).__name__}")


_MISSING = object()


def _lookup(doc: Mapping[str, Any], parts: list[str]) -> Any:
    cur: Any = doc
    for part in parts:
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _split(field_path: str) -> list[str]:
    """A dotted field path ([add] "Update fields in nested objects"); back-quoted segments,
    which the ledger never writes, are refused."""
    if "`" in field_path:
        raise NotImplementedError("quoted field paths are not supported by the memory store")
    return field_path.split(".")


# ---- transforms ([add] "Server timestamp", "Increment a numeric value", "Update elements in
# an array"; [py] google.cloud.firestore_v1.transforms) ---------------------------------------


def _transformed(current: Any, value: Any, commit_time: datetime) -> Any:
    """The value a field takes when `value` (possibly a transform) is written over `current`
    (`_MISSING` when the field is absent)."""
    if value is transforms.SERVER_TIMESTAMP:
        return commit_time
    if isinstance(value, transforms.Increment):
        step = value.value
        if isinstance(current, int | float) and not isinstance(current, bool):
            total = current + step
            return float(total) if isinstance(current, float) or isinstance(step, float) else total
        return step  # a non-number (or absent) field is set to the increment itself
    if isinstance(value, transforms.ArrayUnion):
        base = list(current) if isinstance(current, list) else []
        for item in _stored(value.values):
            if item not in base:
                base.append(item)
        return base
    if isinstance(value, transforms.ArrayRemove):
        removed = _stored(value.values)
        return [v for v in current if v not in removed] if isinstance(current, list) else []
    if isinstance(value, transforms.Sentinel | transforms._ValueList | transforms._NumericValue):
        raise NotImplementedError(f"{value!r} is not supported by the memory store")
    if isinstance(value, Mapping):
        # A map written whole: transforms inside it apply to absent fields.
        if not all(isinstance(k, str) for k in value):
            raise TypeError("Cannot convert to a Firestore Value", value, "Invalid key type")
        return {k: _transformed(_MISSING, v, commit_time) for k, v in value.items()}
    return _stored(value)


def _leaves(data: Mapping[str, Any], prefix: list[str]) -> Iterator[tuple[list[str], Any]]:
    """The field paths a set(merge=True) writes: every leaf of the nested maps, an empty map
    being a leaf ([py] `extract_fields`). Keys are field names, never dotted paths."""
    if not data and prefix:
        yield prefix, {}
        return
    for key, value in data.items():
        path = [*prefix, key]
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        else:
            yield path, value


def _put(doc: dict[str, Any], parts: list[str], value: Any, commit_time: datetime) -> None:
    """Write `value` at `parts`, creating (or replacing non-map) parents as maps."""
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    if value is transforms.DELETE_FIELD:
        cur.pop(parts[-1], None)
        return
    cur[parts[-1]] = _transformed(cur.get(parts[-1], _MISSING), value, commit_time)


def _has_delete(data: Any) -> bool:
    if data is transforms.DELETE_FIELD:
        return True
    return isinstance(data, Mapping) and any(_has_delete(v) for v in data.values())


# ---- the store -----------------------------------------------------------------------------


@dataclass
class _Doc:
    data: dict[str, Any]
    create_time: datetime
    update_time: datetime


@dataclass
class _Write:
    kind: str  # set | merge | create | update | delete
    path: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class WriteResult:
    update_time: datetime


class MemoryFirestore:
    """The client: collections of documents, transactions, batches, get_all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # collection -> id -> document. A stored _Doc is never changed in place (a write
        # stores a new one), so queries can read them outside the lock.
        self._docs: dict[str, dict[str, _Doc]] = {}
        # Per path, bumped by every write (deletes too): what a transaction's reads are checked
        # against at commit; it never goes back, so a deleted-and-recreated document differs.
        self._versions: dict[str, int] = {}
        self._clock = datetime.min.replace(tzinfo=UTC)

    # -- references

    def collection(self, name: str) -> MemoryCollection:
        if not name or len(name.split("/")) % 2 == 0 or not all(name.split("/")):
            raise ValueError(f"A collection must have an odd number of path elements: {name!r}")
        return MemoryCollection(self, name)

    def transaction(self, max_attempts: int = 5, read_only: bool = False) -> MemoryTransaction:
        return MemoryTransaction(self, max_attempts, read_only)

    def batch(self) -> MemoryBatch:
        return MemoryBatch(self)

    def get_all(
        self,
        references: Iterable[Any],
        field_paths: Iterable[str] | None = None,
        transaction: MemoryTransaction | None = None,
        **_rpc: Any,
    ) -> Iterator[MemorySnapshot]:
        """[py] Client.get_all: one snapshot per distinct reference (missing ones with
        exists False), in no particular order."""
        refs = {r.path: r for r in (_plain(ref) for ref in references)}
        if transaction is not None:
            transaction._before_read()
        with self._lock:
            snaps = [self._snapshot(ref, field_paths) for ref in refs.values()]
            if transaction is not None:
                for ref in refs.values():
                    transaction._read_versions.setdefault(ref.path, self._versions.get(ref.path))
        return iter(snaps)

    # -- internals

    def _snapshot(self, ref: MemoryDocument, field_paths: Iterable[str] | None) -> MemorySnapshot:
        doc = self._docs.get(ref._collection, {}).get(ref.id)
        if doc is None:
            return MemorySnapshot(ref, None, None, None)
        # Stored data is never changed in place: a snapshot may share it (to_dict copies).
        data = doc.data
        if field_paths is not None:
            data = _project(data, field_paths)
        return MemorySnapshot(ref, data, doc.create_time, doc.update_time)

    def _stored(self, path: str) -> _Doc | None:
        collection, doc_id = path.rsplit("/", 1)
        return self._docs.get(collection, {}).get(doc_id)

    def _tick(self) -> datetime:
        # Commit times strictly increase (one commit, one time).
        self._clock = max(self._clock + timedelta(microseconds=1), _now())
        return self._clock

    def _commit(self, writes: list[_Write], reads: Mapping[str, int | None]) -> list[WriteResult]:
        """Apply `writes` atomically ([add] "Batched writes": all succeed or none), after
        checking that no document the transaction read changed since ([tx]: a transaction that
        read a document another write changed is retried)."""
        with self._lock:
            for path, version in reads.items():
                if self._versions.get(path) != version:
                    raise gexc.Aborted(f"Transaction contended on {path}; retry it.")  # type: ignore[no-untyped-call]
            commit_time = self._tick()
            staged: dict[str, _Doc | None] = {}
            for write in writes:
                current = staged[write.path] if write.path in staged else self._stored(write.path)
                staged[write.path] = _applied(write, current, commit_time)
            for path, doc in staged.items():
                collection, doc_id = path.rsplit("/", 1)
                if doc is None:
                    self._docs.get(collection, {}).pop(doc_id, None)
                else:
                    self._docs.setdefault(collection, {})[doc_id] = doc
                self._versions[path] = self._versions.get(path, 0) + 1
        return [WriteResult(commit_time) for _ in writes]


def _applied(write: _Write, current: _Doc | None, commit_time: datetime) -> _Doc | None:
    """The document after one write (None: absent)."""
    if write.kind == "delete":
        # Deleting a missing document succeeds ([delete]).
        return None
    if write.kind == "create" and current is not None:
        # [add] "create() ... fails if the document already exists" (ALREADY_EXISTS, 409).
        raise gexc.AlreadyExists(f"Document already exists: {write.path}")  # type: ignore[no-untyped-call]
    if write.kind == "update" and current is None:
        # [add] "update ... the document must exist" (NOT_FOUND, 404).
        raise gexc.NotFound(f"No document to update: {write.path}")  # type: ignore[no-untyped-call]
    if write.kind in ("set", "create") and _has_delete(write.data):
        # [py]: DELETE_FIELD only in update() or set(merge=True).
        raise ValueError("Cannot apply DELETE_FIELD in a set request without merge.")
    keep = write.kind in ("merge", "update") and current is not None
    data = copy.deepcopy(current.data) if keep and current is not None else {}
    if write.kind == "update":
        # Keys are dotted field paths; a map value replaces the whole map at its path.
        for key, value in write.data.items():
            _put(data, _split(key), value, commit_time)
    else:
        # set replaces the document, set(merge=True) merges the nested maps field by field
        # ([add] "Set a document"); either way keys are field names, never paths.
        for parts, value in _leaves(write.data, []):
            _put(data, parts, value, commit_time)
    created = current.create_time if current is not None else commit_time
    return _Doc(data, created, commit_time)


def _project(data: dict[str, Any], field_paths: Iterable[str]) -> dict[str, Any]:
    """Only the selected fields ([query] "select"): absent ones stay absent."""
    out: dict[str, Any] = {}
    for path in field_paths:
        parts = _split(path)
        value = _lookup(data, parts)
        if value is not _MISSING:
            cur = out
            for part in parts[:-1]:
                cur = cur.setdefault(part, {})
            cur[parts[-1]] = value
    return out


def _plain(ref: Any) -> MemoryDocument:
    if isinstance(ref, CheckedDocument):
        ref = ref._ref
    if not isinstance(ref, MemoryDocument):
        raise TypeError(f"not a memory document reference: {ref!r}")
    return ref


# ---- documents -----------------------------------------------------------------------------


class MemorySnapshot:
    def __init__(
        self,
        reference: MemoryDocument,
        data: dict[str, Any] | None,
        create_time: datetime | None,
        update_time: datetime | None,
    ) -> None:
        self.reference = reference
        self._data = data
        self.create_time = create_time
        self.update_time = update_time

    @property
    def id(self) -> str:
        return self.reference.id

    @property
    def exists(self) -> bool:
        return self._data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._data)

    def get(self, field_path: str) -> Any:
        if self._data is None:
            return None
        value = _lookup(self._data, _split(field_path))
        if value is _MISSING:
            raise KeyError(f"No field {field_path!r}")  # [py] DocumentSnapshot.get
        return copy.deepcopy(value)


class MemoryDocument:
    def __init__(self, client: MemoryFirestore, collection: str, doc_id: str) -> None:
        # [py] a path with slashes names a document in a subcollection ("a/b/c" under "col" is
        # document c of col/a/b); a path with an odd number of parts is refused.
        parts = doc_id.split("/")
        if len(parts) % 2 == 0 or not all(parts):
            raise ValueError(f"A document must have an even number of path elements: {doc_id!r}")
        collection, doc_id = "/".join([collection, *parts[:-1]]), parts[-1]
        if doc_id.startswith("__") and doc_id.endswith("__"):
            # [types]/quotas: ids matching __.*__ are reserved; the service refuses them.
            raise gexc.InvalidArgument(f"Document id {doc_id!r} is reserved (__.*__)")  # type: ignore[no-untyped-call]
        self._client = client
        self._collection = collection
        self.id = doc_id

    @property
    def path(self) -> str:
        return f"{self._collection}/{self.id}"

    @property
    def parent(self) -> MemoryCollection:
        return MemoryCollection(self._client, self._collection)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryDocument) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def get(
        self,
        field_paths: Iterable[str] | None = None,
        transaction: MemoryTransaction | None = None,
        **_rpc: Any,
    ) -> MemorySnapshot:
        return next(self._client.get_all([self], field_paths, transaction=transaction))

    def set(self, document_data: Mapping[str, Any], merge: bool = False, **_rpc: Any) -> Any:
        kind = "merge" if merge else "set"
        if merge is not True and merge is not False:
            raise NotImplementedError("set(merge=[field paths]) is not supported")
        return self._client._commit([_Write(kind, self.path, document_data)], {})[0]

    def create(self, document_data: Mapping[str, Any], **_rpc: Any) -> Any:
        return self._client._commit([_Write("create", self.path, document_data)], {})[0]

    def update(self, field_updates: Mapping[str, Any], option: Any = None, **_rpc: Any) -> Any:
        _no_option(option)
        _not_empty(field_updates)
        return self._client._commit([_Write("update", self.path, field_updates)], {})[0]

    def delete(self, option: Any = None, **_rpc: Any) -> Any:
        _no_option(option)
        return self._client._commit([_Write("delete", self.path)], {})[0].update_time


def _not_empty(field_updates: Mapping[str, Any]) -> None:
    if not field_updates:
        raise ValueError("Cannot update with an empty document.")  # [py] as the client


def _no_option(option: Any) -> None:
    if option is not None:
        raise NotImplementedError("write preconditions are not supported by the memory store")


# ---- writes in bulk ------------------------------------------------------------------------


class _Writes:
    def __init__(self, client: MemoryFirestore) -> None:
        self._client = client
        self._writes: list[_Write] = []

    def _add(self, write: _Write) -> None:
        self._writes.append(write)

    def set(self, reference: Any, document_data: Mapping[str, Any], merge: bool = False) -> None:
        if merge is not True and merge is not False:
            raise NotImplementedError("set(merge=[field paths]) is not supported")
        self._add(_Write("merge" if merge else "set", _plain(reference).path, document_data))

    def create(self, reference: Any, document_data: Mapping[str, Any]) -> None:
        self._add(_Write("create", _plain(reference).path, document_data))

    def update(self, reference: Any, field_updates: Mapping[str, Any], option: Any = None) -> None:
        _no_option(option)
        _not_empty(field_updates)
        self._add(_Write("update", _plain(reference).path, field_updates))

    def delete(self, reference: Any, option: Any = None) -> None:
        _no_option(option)
        self._add(_Write("delete", _plain(reference).path))


class MemoryBatch(_Writes):
    """[add] "Batched writes": applied atomically on commit."""

    def commit(self, **_rpc: Any) -> list[WriteResult]:
        writes, self._writes = self._writes, []
        return self._client._commit(writes, {})


class MemoryTransaction(_Writes):
    """Driven by the client's own `firestore.transactional` (its retry loop, its
    "Failed to commit transaction in N attempts." ValueError), through the private hooks that
    loop calls: `_clean_up`, `_begin`, `_commit`, `_rollback`, `_id`, `_max_attempts`,
    `_read_only`. Optimistic: reads record each document's version; the commit fails with
    Aborted (which the loop retries) when one changed since ([tx] "Transactions ... the
    transaction is retried" when a document it read is modified before it commits)."""

    def __init__(self, client: MemoryFirestore, max_attempts: int, read_only: bool) -> None:
        super().__init__(client)
        self._max_attempts = max_attempts
        self._read_only = read_only
        self._id: bytes | None = None
        self._read_versions: dict[str, int | None] = {}

    @property
    def in_progress(self) -> bool:
        return self._id is not None

    @property
    def id(self) -> bytes | None:
        return self._id

    def _clean_up(self) -> None:
        self._writes = []
        self._read_versions = {}
        self._id = None

    def _begin(self, retry_id: bytes | None = None) -> None:
        if self.in_progress:
            raise ValueError(
                f"The transaction has already begun. Current transaction ID: {self._id!r}."
            )
        self._id = uuid.uuid4().bytes

    def _before_read(self) -> None:
        # [tx] "Read operations must come before write operations" (the client raises
        # ReadAfterWriteError).
        from google.cloud.firestore_v1 import ReadAfterWriteError

        if self._writes:
            raise ReadAfterWriteError("Attempted read after write in a transaction.")

    def _add(self, write: _Write) -> None:
        if self._read_only:
            raise ValueError("Cannot perform write operation in read-only transaction.")
        super()._add(write)

    def _commit(self) -> list[WriteResult]:
        if not self.in_progress:
            raise ValueError("The transaction has no transaction ID, so it cannot be committed.")
        # On Aborted the transaction stays in progress, as the client's does (the loop begins
        # it again, or rolls it back after the last attempt).
        results = self._client._commit(self._writes, self._read_versions)
        self._clean_up()
        return results

    def _rollback(self) -> None:
        if not self.in_progress:
            raise ValueError("The transaction has no transaction ID, so it cannot be rolled back.")
        self._clean_up()

    def get(self, ref_or_query: Any, **_rpc: Any) -> Iterator[MemorySnapshot]:
        if isinstance(ref_or_query, MemoryQuery):
            raise NotImplementedError("queries in a transaction are not supported")
        return self._client.get_all([ref_or_query], transaction=self)

    def get_all(self, references: Iterable[Any], **_rpc: Any) -> Iterator[MemorySnapshot]:
        return self._client.get_all(references, transaction=self)


# ---- queries -------------------------------------------------------------------------------

ASCENDING = "ASCENDING"
DESCENDING = "DESCENDING"
_RANGE = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "!=": "ne", "not-in": "nin"}


def _matches(value: Any, op: str, operand: Any) -> bool:
    """[query] "Query operators": a document lacking the field never matches; range
    comparisons only match values of the operand's type ([types]: a query on a timestamp
    returns only timestamps)."""
    if value is _MISSING:
        return False
    key = _order_key(value)
    if op == "==":
        return key == _order_key(_stored(operand))
    if op == "in":
        return any(key == _order_key(_stored(v)) for v in operand)
    if op == "array-contains":
        return isinstance(value, list) and any(
            _order_key(v) == _order_key(_stored(operand)) for v in value
        )
    if op == "array-contains-any":
        wanted = [_order_key(_stored(v)) for v in operand]
        return isinstance(value, list) and any(_order_key(v) in wanted for v in value)
    if op == "!=":
        return value is not None and key != _order_key(_stored(operand))
    if op == "not-in":
        return value is not None and all(key != _order_key(_stored(v)) for v in operand)
    bound = _order_key(_stored(operand))
    if key[0] != bound[0]:
        return False
    return {
        "<": key < bound,
        "<=": key <= bound,
        ">": key > bound,
        ">=": key >= bound,
    }[op]


@dataclass(frozen=True)
class _Filter:
    field: str
    op: str
    value: Any


class MemoryQuery:
    def __init__(
        self,
        client: MemoryFirestore,
        collection: str,
        filters: tuple[_Filter, ...] = (),
        orders: tuple[tuple[str, str], ...] = (),
        limit: int | None = None,
        after: tuple[Any, ...] | None = None,
        projection: tuple[str, ...] | None = None,
    ) -> None:
        self._client = client
        self._collection = collection
        self._filters = filters
        self._orders = orders
        self._limit = limit
        self._after = after
        self._projection = projection

    def _with(self, **changes: Any) -> MemoryQuery:
        state = {
            "filters": self._filters,
            "orders": self._orders,
            "limit": self._limit,
            "after": self._after,
            "projection": self._projection,
            **changes,
        }
        return MemoryQuery(self._client, self._collection, **state)

    def where(
        self,
        field_path: str | None = None,
        op_string: str | None = None,
        value: Any = None,
        *,
        filter: Any = None,  # the client's keyword
    ) -> MemoryQuery:
        if filter is not None:
            if not hasattr(filter, "op_string"):
                raise NotImplementedError("composite filters are not supported")
            field_path, op_string, value = filter.field_path, filter.op_string, filter.value
        if field_path is None or op_string is None:
            raise ValueError("a filter needs a field path and an operator")
        return self._with(filters=(*self._filters, _Filter(field_path, op_string, value)))

    def order_by(self, field_path: str, direction: str = ASCENDING) -> MemoryQuery:
        if direction not in (ASCENDING, DESCENDING):
            raise ValueError(f"Invalid direction {direction!r}")
        return self._with(orders=(*self._orders, (field_path, direction)))

    def limit(self, count: int) -> MemoryQuery:
        return self._with(limit=count)

    def select(self, field_paths: Iterable[str]) -> MemoryQuery:
        return self._with(projection=tuple(field_paths))

    def start_after(self, document_fields_or_snapshot: Any) -> MemoryQuery:
        snap = document_fields_or_snapshot
        if not isinstance(snap, MemorySnapshot):
            raise NotImplementedError("start_after takes a snapshot in the memory store")
        data = snap._data or {}
        values = tuple(_lookup(data, _split(f)) for f, _ in self._effective_orders())
        return self._with(after=(*values, snap.id))

    def _effective_orders(self) -> list[tuple[str, str]]:
        """[order]: an inequality filter's field is ordered by first when no order names it;
        documents are then ordered by id, in the direction of the last order (default
        ascending)."""
        orders = list(self._orders)
        named = {f for f, _ in orders}
        for flt in self._filters:
            if flt.op in _RANGE and flt.field not in named:
                orders.append((flt.field, ASCENDING))
                named.add(flt.field)
        return orders

    def stream(self, transaction: Any = None, **_rpc: Any) -> Iterator[MemorySnapshot]:
        if transaction is not None:
            raise NotImplementedError("queries in a transaction are not supported")
        with self._client._lock:
            docs = list(self._client._docs.get(self._collection, {}).items())
        orders = self._effective_orders()
        found = []
        for doc_id, doc in docs:
            data = doc.data
            if not all(
                _matches(_lookup(data, _split(f.field)), f.op, f.value) for f in self._filters
            ):
                continue
            values = [_lookup(data, _split(f)) for f, _ in orders]
            if any(v is _MISSING for v in values):
                continue  # [order]: ordering by a field excludes documents without it
            found.append((values, doc_id, doc))
        last = orders[-1][1] if orders else ASCENDING

        def sort_key(values: list[Any], doc_id: str) -> tuple[Any, ...]:
            keys = [
                _Directed(_order_key(v), d == DESCENDING)
                for v, (_, d) in zip(values, orders, strict=True)
            ]
            return (*keys, _Directed((4, doc_id), last == DESCENDING))

        found.sort(key=lambda item: sort_key(item[0], item[1]))
        if self._after is not None:
            # [cursor] start_after: strictly after the cursor's position in this order.
            cursor = sort_key(list(self._after[:-1]), str(self._after[-1]))
            found = [item for item in found if sort_key(item[0], item[1]) > cursor]
        if self._limit is not None:
            found = found[: self._limit]
        for _, doc_id, doc in found:
            data = doc.data  # shared, never changed in place (to_dict copies)
            if self._projection is not None:
                data = _project(data, self._projection)
            ref = MemoryDocument(self._client, self._collection, doc_id)
            yield MemorySnapshot(ref, data, doc.create_time, doc.update_time)

    def get(self, **kw: Any) -> list[MemorySnapshot]:
        return list(self.stream(**kw))


class _Directed:
    """A sort key that compares in reverse when `descending`."""

    __slots__ = ("descending", "key")

    def __init__(self, key: tuple[Any, ...], descending: bool) -> None:
        self.key = key
        self.descending = descending

    def __lt__(self, other: _Directed) -> bool:
        return other.key < self.key if self.descending else self.key < other.key

    def __gt__(self, other: _Directed) -> bool:
        return other < self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Directed) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


class MemoryCollection(MemoryQuery):
    def __init__(self, client: MemoryFirestore, name: str) -> None:
        super().__init__(client, name)
        self.id = name

    def document(self, document_id: str | None = None) -> MemoryDocument:
        # [add] "Add a document": without an id, an automatic one (20 characters, as the client).
        doc_id = document_id or "".join(secrets.choice(_AUTO_ID) for _ in range(20))
        return MemoryDocument(self._client, self.id, doc_id)

    def add(self, document_data: Mapping[str, Any], document_id: str | None = None) -> Any:
        ref = self.document(document_id)
        return ref.create(document_data), ref


__all__ = ["MemoryFirestore"]

"""What Firestore accepts, checked before every ledger write (DESIGN §2).

Firestore refuses a whole write for one bad value ("Cannot convert an array value in an array
value"), and a refused write retried forever turns one odd alert into a failing run per alert.
So every document and field update the ledger writes passes `check_fields` first: tuples become
arrays (lossless); what the service would refuse raises `DocumentRefused` naming the field path.
The rules, from https://firebase.google.com/docs/firestore/quotas ("Limits for field names and
values", "Documents") and https://firebase.google.com/docs/firestore/storage-size:

- an array cannot directly contain another array (a map holding an array is fine);
- maps and arrays nest at most 20 deep;
- field names matching ``__.*__`` are reserved; a field name (and field path) is at most 1,500
  bytes; map keys are strings;
- integers are 64-bit signed; strings are UTF-8 (a lone surrogate cannot be encoded);
- a document is at most 1 MiB (1,048,576 bytes) by the storage-size formula: document name
  size + sum over fields of (field name UTF-8 bytes + 1) + value size, + 32 bytes; value sizes:
  string = UTF-8 bytes + 1, int/float/timestamp 8, bool/null 1, bytes = length, array = sum of
  its values, map = sum of (key bytes + 1 + value size) (+ 32 the way a nested document counts).

The write path: `LedgerBase._doc`/`_col` hand out `CheckedDocument` references and
`LedgerBase._transaction` a `CheckedWrites` transaction, so `set`/`create`/`update` through
either are checked, including writes added later. Values we cannot size (server timestamps,
increments, references) are Firestore's own types and pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from shared import limits

_RESERVED = re.compile(r"__.*__")


class DocumentRefused(ValueError):
    """A write Firestore would refuse (says which field and why). Not retryable: fix the data."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"Firestore would refuse {path or 'the document'}: {why}")
        self.path = path
        self.why = why


def _string_size(value: str, path: str) -> int:
    try:
        return len(value.encode("utf-8")) + 1
    except UnicodeEncodeError as exc:
        raise DocumentRefused(path, "a string is not valid UTF-8") from exc


def _check_name(name: Any, path: str) -> int:
    if not isinstance(name, str):
        raise DocumentRefused(path, f"field name {name!r} is not a string")
    if _RESERVED.fullmatch(name):
        raise DocumentRefused(path, f"field name {name!r} is reserved (__.*__)")
    size = _string_size(name, path)
    if size - 1 > limits.FIRESTORE_FIELD_NAME_BYTES:
        raise DocumentRefused(path, f"field name longer than {limits.FIRESTORE_FIELD_NAME_BYTES}")
    return size


def _firestore_native(value: Any) -> bool:
    """Firestore's own value types (sentinels, transforms, references, geo points, vectors)."""
    module = type(value).__module__
    return module.startswith("google.cloud.firestore")


def _value(value: Any, path: str, depth: int, in_array: bool) -> tuple[Any, int]:
    """(the value as it will be written, its storage size)."""
    if depth > limits.FIRESTORE_MAX_DEPTH:
        raise DocumentRefused(path, f"maps/arrays nest deeper than {limits.FIRESTORE_MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return value, 1
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise DocumentRefused(path, "integer outside the 64-bit range")
        return value, 8
    if isinstance(value, float):
        return value, 8  # NaN and infinities are valid Firestore doubles
    if isinstance(value, str):
        return value, _string_size(value, path)
    if isinstance(value, bytes):
        return value, len(value)
    if isinstance(value, datetime | date):
        return value, 8
    if isinstance(value, list | tuple):
        if in_array:
            raise DocumentRefused(path, "an array directly inside an array")
        items, size = [], 0
        for i, item in enumerate(value):
            out, n = _value(item, f"{path}[{i}]", depth + 1, True)
            items.append(out)
            size += n
        return items, size
    if isinstance(value, Mapping):
        fields, size = _fields(value, path, depth + 1)
        return fields, size + 32
    if _firestore_native(value):
        return value, 8
    raise DocumentRefused(path, f"a {type(value).__name__} is not a Firestore value")


def _fields(data: Mapping[Any, Any], prefix: str, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    size = 0
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        size += _check_name(key, path)
        out[key], n = _value(value, path, depth, False)
        size += n
    return out, size


def document_size(doc_path: str, data: Mapping[str, Any]) -> int:
    """Firestore's storage size of `data` stored at `doc_path` ("collection/id/...")."""
    name = sum(len(part.encode()) + 1 for part in doc_path.split("/")) + 16
    return name + _fields(data, "", 0)[1] + 32


def check_fields(
    data: Mapping[str, Any], *, doc_path: str = "", dotted: bool = False
) -> dict[str, Any]:
    """`data` as Firestore will store it, or `DocumentRefused`.

    `dotted`: the keys are field paths (`update({"a.b": 1})`); each segment is a field name.
    The size checked is that of what is written (a whole document for `set`; a merge or update
    is at least that big once stored).
    """
    if dotted:
        for key in data:
            if not isinstance(key, str):
                raise DocumentRefused(str(key), "field path is not a string")
            if len(key.encode("utf-8", "replace")) > limits.FIRESTORE_FIELD_NAME_BYTES:
                raise DocumentRefused(key, "field path longer than 1,500 bytes")
            for part in key.split("."):
                _check_name(part, key)
        out: dict[str, Any] = {}
        size = 0
        for key, value in data.items():
            out[key], n = _value(value, key, 1, False)
            size += n + len(key.encode()) + 1
    else:
        out, size = _fields(data, "", 0)
    name = sum(len(part.encode()) + 1 for part in doc_path.split("/")) + 16 if doc_path else 0
    total = name + size + 32
    if total > limits.FIRESTORE_DOCUMENT_BYTES:
        raise DocumentRefused(
            "",
            f"{total} bytes is over Firestore's document limit of "
            f"{limits.FIRESTORE_DOCUMENT_BYTES} (1 MiB)",
        )
    return out


def _path_of(ref: Any) -> str:
    path = getattr(ref, "path", "")
    return path if isinstance(path, str) else ""


class CheckedWrites:
    """A Firestore transaction or write batch whose set/create/update are checked first."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def set(self, reference: Any, document_data: Mapping[str, Any], merge: Any = False) -> Any:
        data = check_fields(document_data, doc_path=_path_of(reference))
        return self._target.set(_unwrap(reference), data, merge=merge)

    def create(self, reference: Any, document_data: Mapping[str, Any]) -> Any:
        data = check_fields(document_data, doc_path=_path_of(reference))
        return self._target.create(_unwrap(reference), data)

    def update(self, reference: Any, field_updates: Mapping[str, Any], option: Any = None) -> Any:
        data = check_fields(field_updates, doc_path=_path_of(reference), dotted=True)
        return self._target.update(_unwrap(reference), data, option=option)

    def delete(self, reference: Any, option: Any = None) -> Any:
        return self._target.delete(_unwrap(reference), option=option)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class CheckedDocument:
    """A DocumentReference whose set/create/update are checked first (reads pass through)."""

    def __init__(self, ref: Any) -> None:
        self._ref = ref

    def set(self, document_data: Mapping[str, Any], merge: Any = False, **kw: Any) -> Any:
        data = check_fields(document_data, doc_path=_path_of(self._ref))
        return self._ref.set(data, merge=merge, **kw)

    def create(self, document_data: Mapping[str, Any], **kw: Any) -> Any:
        return self._ref.create(check_fields(document_data, doc_path=_path_of(self._ref)), **kw)

    def update(self, field_updates: Mapping[str, Any], option: Any = None, **kw: Any) -> Any:
        data = check_fields(field_updates, doc_path=_path_of(self._ref), dotted=True)
        return self._ref.update(data, option=option, **kw)

    def get(self, *args: Any, **kw: Any) -> Any:
        if "transaction" in kw:
            kw["transaction"] = _unwrap(kw["transaction"])
        return self._ref.get(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ref, name)


class CheckedCollection:
    """A CollectionReference whose documents are `CheckedDocument`s (queries pass through)."""

    def __init__(self, col: Any) -> None:
        self._col = col

    def document(self, *args: Any, **kw: Any) -> CheckedDocument:
        return CheckedDocument(self._col.document(*args, **kw))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._col, name)


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, CheckedDocument):
        return obj._ref
    if isinstance(obj, CheckedWrites):
        return obj._target
    return obj


UNSTORABLE_TEXT = 2_000


def storable_finding(
    doc_path: str, run: Mapping[str, Any], stage: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A stage's finding as it can be stored on its run: as is when Firestore would take the
    run with it; else the same finding with its details replaced by why they were not stored,
    so the stage still completes and the run still reaches notify (a finding is written once)."""
    merged = {**run, "findings": {**(run.get("findings") or {}), stage: data}}
    try:
        check_fields(merged, doc_path=doc_path)
        return data
    except DocumentRefused as exc:
        summary = str(data.get("summary", ""))
        return {
            **data,
            "summary": summary[:UNSTORABLE_TEXT],
            "details": {"unstorable": str(exc)[:UNSTORABLE_TEXT]},
        }


# Outside maps (object fields, patches, labels) may hold names Firestore reserves (__.*__). They
# are stored with "~" in front (and so is a name that already starts with "~"), and read back
# without it: the record round-trips exactly instead of being refused.
_ESCAPE = re.compile(r"^(__.*__|~.*)$", re.S)


def escaped_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            ("~" + k if isinstance(k, str) and _ESCAPE.match(k) else k): escaped_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [escaped_keys(v) for v in value]
    return value


def unescaped_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            (k[1:] if isinstance(k, str) and k.startswith("~") else k): unescaped_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [unescaped_keys(v) for v in value]
    return value

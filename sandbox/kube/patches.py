"""The three PATCH flavours: JSON merge patch (RFC 7386), strategic merge patch (the parts the
clients use: lists of named objects merge by their key; `$patch` directives), and JSON patch
(RFC 6902, strict like the API server: `replace`/`remove` of a missing path fail with 422)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.errors import ApiError

_MERGE_KEYS = ("name", "type", "containerPort", "mountPath", "devicePath", "ip")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, enough of it: lists of named objects merge by their merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    if patch.get("$patch") == "replace":
        out = {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $patch, $retainKeys, $setElementOrder/... directives
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        if isinstance(value, list) and isinstance(current, list):
            mkey = _merge_key(value) if value else None
            if mkey and _merge_key(current) == mkey:
                merged = [copy.deepcopy(c) for c in current]
                for item in value:
                    idx = next(
                        (i for i, c in enumerate(merged) if c.get(mkey) == item.get(mkey)), None
                    )
                    if item.get("$patch") == "delete":
                        if idx is not None:
                            merged.pop(idx)
                    elif idx is None:
                        merged.append({k: v for k, v in item.items() if not k.startswith("$")})
                    else:
                        merged[idx] = strategic_merge_patch(merged[idx], item)
                out[key] = merged
                continue
        out[key] = strategic_merge_patch(current, value)
    return out


def _pointer(path: str) -> list[str]:
    if path and not path.startswith("/"):
        raise _patch_error(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _patch_error(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _index(parent: list[Any], token: str, path: str, *, allow_end: bool = False) -> int:
    try:
        idx = int(token)
    except ValueError:
        raise _patch_error(f"invalid array index {token!r} in {path}") from None
    if idx < 0 or idx > len(parent) or (idx == len(parent) and not allow_end):
        raise _patch_error(f"array index {idx} out of bounds in {path}")
    return idx


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_index(node, part, path)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise _patch_error(f"doc is missing path: {path}")
    return node


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 (add, replace, remove, test)."""
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise ApiError(400, "BadRequest", "json patch operation without a path")
        path = str(op["path"])
        kind = op.get("op")
        parts = _pointer(path)
        if not parts:
            raise _patch_error(f"{kind} of the whole document is not supported")
        parent = _parent(doc, parts, path)
        last = parts[-1]
        if kind == "test":
            if isinstance(parent, list):
                current = parent[_index(parent, last, path)]
            elif last in parent:
                current = parent[last]
            else:
                raise _patch_error(f"testing value {path} failed: missing")
            if current != op.get("value"):
                raise _patch_error(f"testing value {path} failed")
        elif kind == "add":
            if isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op["value"]))
                else:
                    parent.insert(_index(parent, last, path, allow_end=True), op["value"])
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif kind in ("replace", "remove"):
            if isinstance(parent, list):
                idx = _index(parent, last, path)
            elif last not in parent:
                raise _patch_error(
                    f"{kind} operation does not apply: doc is missing key: {path}: missing value"
                )
            if kind == "replace":
                if isinstance(parent, list):
                    parent[idx] = copy.deepcopy(op["value"])
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif isinstance(parent, list):
                parent.pop(idx)
            else:
                parent.pop(last)
        else:
            raise _patch_error(f"unsupported json patch op {kind!r}")
    return doc

"""A diagnosis read whose failure is a note, not an error: the diagnosis works with what it has.

An unreachable or slow API stops the remaining reads (`StopReading`); a refusal or any other API
error is noted and the read gives None; a 404 gives None silently (a deleted node, a pod not
started: nothing to say).
"""

from __future__ import annotations

from typing import Any

from shared.k8s.errors import K8sError, K8sNotFound, K8sTimeout, K8sUnreachable


class StopReading(Exception):
    pass


def noted(diag: dict[str, Any], what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except (K8sTimeout, K8sUnreachable) as exc:
        diag["notes"].append(f"{what}: {exc}")
        raise StopReading from exc
    except K8sNotFound:
        return None
    except K8sError as exc:
        diag["notes"].append(f"{what}: {exc}")
        return None

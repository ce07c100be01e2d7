"""After a change: did it take effect? A bounded wait on the deployment's rollout status
(and, for an HPA raise, on the HPA growing past its old maximum).

A write only stores the new spec; the deployment controller acts on it later (it creates the
ReplicaSet, sets the revision and `status.observedGeneration`). So, like `kubectl rollout
status`, nothing counts before the controller has observed the written generation:

`rollout_state` is pure (kubectl's `rollout status` logic, in its order):
  still progressing  observedGeneration < generation (the controller has not acted yet), or
                     the written generation passed as `generation`
  failed             condition Progressing=False, reason ProgressDeadlineExceeded
  still progressing  updated < replicas, old replicas pending termination, updated replicas
                     not all available, or the deployment is paused
  succeeded          otherwise
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sError
from shared.k8s.reads import REVISION_ANNOTATION, get_deployment, get_hpa, hpa_summary

SUCCEEDED = "succeeded"
FAILED = "failed"
PROGRESSING = "still progressing"
NOT_VERIFIED = "not verified"


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def observed(deploy: dict[str, Any], generation: int | None = None) -> bool:
    """True once the controller has acted on the deployment's (or the written) generation."""
    meta = deploy.get("metadata") or {}
    want = max(_int(meta.get("generation")), generation or 0)
    return _int((deploy.get("status") or {}).get("observedGeneration")) >= want


def rollout_state(deploy: dict[str, Any], generation: int | None = None) -> tuple[str, str]:
    """(state, why) for a deployment object; `generation` is the one a write returned."""
    meta = deploy.get("metadata") or {}
    spec = deploy.get("spec") or {}
    status = deploy.get("status") or {}
    want_generation = max(_int(meta.get("generation")), generation or 0)
    seen = _int(status.get("observedGeneration"))
    if seen < want_generation:
        return PROGRESSING, (
            f"the deployment controller has not observed generation {want_generation} yet "
            f"(observed {seen})"
        )
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("status") == "False"
            and cond.get("reason") == "ProgressDeadlineExceeded"
        ):
            return FAILED, f"rollout exceeded its progress deadline: {cond.get('message', '')}"
    raw_want = spec.get("replicas")
    want = int(raw_want) if raw_want is not None else 1
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    total = _int(status.get("replicas"))
    paused = " (the deployment is paused: resume it to roll out)" if spec.get("paused") else ""
    if updated < want:
        return PROGRESSING, f"{updated} of {want} replicas updated{paused}"
    if total > updated:
        return PROGRESSING, f"{total - updated} old replica(s) pending termination{paused}"
    if available < updated:
        return PROGRESSING, f"{available} of {updated} updated replicas available{paused}"
    return SUCCEEDED, f"{available}/{want} replicas updated and available"


def hpa_state(hpa: dict[str, Any], old_max: int, new_max: int) -> tuple[str, str]:
    s = hpa_summary(hpa)
    if s["max_replicas"] < new_max:
        return FAILED, f"HPA maxReplicas is {s['max_replicas']}, not {new_max} (changed back?)"
    if not s["scaling_active"]:
        return FAILED, "HPA cannot compute replicas: " + "; ".join(s["failed_metrics"])
    if s["current_replicas"] > old_max or s["desired_replicas"] > old_max:
        return SUCCEEDED, (
            f"HPA scaled past its old maximum {old_max} "
            f"(current {s['current_replicas']}, desired {s['desired_replicas']})"
        )
    return PROGRESSING, (
        f"HPA maxReplicas is {new_max}; it has not scaled past {old_max} yet "
        f"(current {s['current_replicas']}, desired {s['desired_replicas']})"
    )


def verify(
    clients: KubeClients,
    namespace: str,
    deployment: str,
    *,
    timeout: float,
    interval: float,
    hpa: tuple[str, int, int] | None = None,
    generation: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until succeeded/failed or `timeout` seconds pass. `hpa` = (name, old max, new max);
    `generation` = the deployment's metadata.generation as the write returned it.

    The result carries the deployment's revision annotation and generations as last read:
    `revision` is the one the controller produced only when `observed` is true."""
    if timeout <= 0:
        return {"result": NOT_VERIFIED, "detail": "ALERTLOOP_REMEDIATE_VERIFY_SECONDS is 0"}
    started = clock()
    deadline = started + timeout
    polls = 0
    state, why = PROGRESSING, "not read yet"
    last: dict[str, Any] = {}
    while True:
        polls += 1
        try:
            last = get_deployment(clients, namespace, deployment)
            state, why = rollout_state(last, generation)
            if hpa is not None and state != FAILED:
                h_state, h_why = hpa_state(get_hpa(clients, namespace, hpa[0]), hpa[1], hpa[2])
                if h_state != SUCCEEDED or state == SUCCEEDED:
                    state, why = h_state, f"{h_why}; deployment: {why}"
        except K8sError as exc:
            state, why = PROGRESSING, f"cannot read the rollout status: {exc}"
        if state in (SUCCEEDED, FAILED):
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
    meta = last.get("metadata") or {}
    return {
        "result": state,
        "detail": why,
        "waited_seconds": round(clock() - started, 2),
        "polls": polls,
        "timeout_seconds": timeout,
        "revision": (meta.get("annotations") or {}).get(REVISION_ANNOTATION),
        "generation": meta.get("generation"),
        "observed_generation": (last.get("status") or {}).get("observedGeneration"),
        "observed": bool(last) and observed(last, generation),
    }

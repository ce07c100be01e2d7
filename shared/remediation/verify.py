"""After a change: did it take effect? A bounded wait on the deployment's rollout status
(and, for an HPA raise, on the HPA growing past its old maximum).

`rollout_state` is pure (kubectl's `rollout status` logic):
  succeeded          observedGeneration >= generation and updated == available == replicas
  failed             condition Progressing=False, reason ProgressDeadlineExceeded
  still progressing  anything else (reported when the wait ends)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sError
from shared.k8s.reads import get_deployment, get_hpa, hpa_summary

SUCCEEDED = "succeeded"
FAILED = "failed"
PROGRESSING = "still progressing"
NOT_VERIFIED = "not verified"


def rollout_state(deploy: dict[str, Any]) -> tuple[str, str]:
    """(state, why) for a deployment object."""
    meta = deploy.get("metadata") or {}
    spec = deploy.get("spec") or {}
    status = deploy.get("status") or {}
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("status") == "False"
            and cond.get("reason") == "ProgressDeadlineExceeded"
        ):
            return FAILED, f"rollout exceeded its progress deadline: {cond.get('message', '')}"
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if observed < generation:
        return PROGRESSING, f"controller has not observed generation {generation} yet"
    raw_want = spec.get("replicas")
    want = int(raw_want) if raw_want is not None else 1
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if updated < want:
        return PROGRESSING, f"{updated} of {want} replicas updated"
    if total > updated:
        return PROGRESSING, f"{total - updated} old replica(s) pending termination"
    if available < want:
        return PROGRESSING, f"{available} of {want} updated replicas available"
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
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until succeeded/failed or `timeout` seconds pass. `hpa` = (name, old max, new max)."""
    if timeout <= 0:
        return {"result": NOT_VERIFIED, "detail": "ALERTLOOP_REMEDIATE_VERIFY_SECONDS is 0"}
    started = clock()
    deadline = started + timeout
    polls = 0
    state, why = PROGRESSING, "not read yet"
    while True:
        polls += 1
        try:
            state, why = rollout_state(get_deployment(clients, namespace, deployment))
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
    return {
        "result": state,
        "detail": why,
        "waited_seconds": round(clock() - started, 2),
        "polls": polls,
        "timeout_seconds": timeout,
    }

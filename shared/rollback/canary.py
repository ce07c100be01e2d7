"""After a rollback: a bounded canary check.

1. the rollout becomes available (shared.remediation.verify, kubectl's `rollout status` logic);
2. with Prometheus configured, the workload's error ratio (the investigation's ERROR_RATIO
   query) falls below the alert threshold — polled until the same deadline.

Verdicts: "healthy", "still erroring", "rollout failed", "rollout still progressing",
"rolled back (not verified)" (no wait configured, or no Prometheus data).

The result's `revision` is the revision the deployment controller gave the rolled-back
template, read once the controller has observed the patched `generation` (the PATCH response
still carries the old one: the controller acts after the write). None when it had not acted
within the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.k8s.client import KubeClients
from shared.remediation import verify
from shared.workload.resolve import WorkloadRef

HEALTHY = "healthy"
STILL_ERRORING = "still erroring"
ROLLOUT_FAILED = "rollout failed"
ROLLOUT_PROGRESSING = "rollout still progressing"
NOT_VERIFIED = "not verified"


def canary(
    clients: KubeClients,
    workload: WorkloadRef,
    labels: dict[str, str],
    *,
    timeout: float,
    interval: float,
    threshold: float,
    prometheus: Any = None,
    generation: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    started = clock()
    out: dict[str, Any] = {"threshold": threshold, "timeout_seconds": timeout, "revision": None}
    if timeout <= 0:
        out.update(verdict=NOT_VERIFIED, detail="ALERTLOOP_ROLLBACK_VERIFY_SECONDS is 0")
        return out
    rollout = verify.verify(
        clients,
        workload.namespace,
        workload.name,
        timeout=timeout,
        interval=interval,
        generation=generation,
        sleep=sleep,
        clock=clock,
    )
    out["rollout"] = rollout
    if rollout.get("observed"):
        out["revision"] = rollout.get("revision")
    if rollout["result"] == verify.FAILED:
        out.update(verdict=ROLLOUT_FAILED, detail=rollout["detail"])
    elif rollout["result"] != verify.SUCCEEDED:
        out.update(verdict=ROLLOUT_PROGRESSING, detail=rollout["detail"])
    elif prometheus is None or not getattr(prometheus, "configured", False):
        out.update(
            verdict=HEALTHY,
            detail=f"rollout available ({rollout['detail']}); error ratio not checked "
            "(Prometheus not configured)",
            error_ratio=None,
        )
    else:
        _errors(out, prometheus, workload, labels, started + timeout, interval, sleep, clock)
    out["waited_seconds"] = round(clock() - started, 2)
    return out


def _errors(
    out: dict[str, Any],
    prometheus: Any,
    workload: WorkloadRef,
    labels: dict[str, str],
    deadline: float,
    interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    from shared.investigation.analysis import query, request_selector
    from shared.prometheus import PrometheusError
    from shared.promql import PromQLError

    threshold = float(out["threshold"])
    try:
        # The investigation's builder: label values are escaped, so an alert label cannot turn
        # the query into one that answers "healthy".
        selector = request_selector(workload, labels, workload.namespace)
        promql = query("ERROR_RATIO", selector=selector)
    except PromQLError as exc:
        out.update(verdict=NOT_VERIFIED, detail=f"rollout available; query not built: {exc}")
        return
    out["query"] = promql
    ratio: float | None = None
    polls = 0
    while True:
        polls += 1
        try:
            ratio = prometheus.scalar(promql)
            error = ""
        except PrometheusError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if ratio is not None and not error and ratio < threshold:
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
    out["error_ratio"] = round(ratio, 5) if ratio is not None else None
    out["polls"] = polls
    rollout = out["rollout"]["detail"]
    if error:
        out.update(verdict=NOT_VERIFIED, detail=f"rollout available; Prometheus failed: {error}")
    elif ratio is None:
        out.update(
            verdict=NOT_VERIFIED,
            detail=f"rollout available ({rollout}); no request metrics for {{{selector}}}",
        )
    elif ratio < threshold:
        out.update(
            verdict=HEALTHY,
            detail=f"rollout available ({rollout}); error ratio {ratio:.1%} is below the "
            f"threshold {threshold:.0%}",
        )
    else:
        out.update(
            verdict=STILL_ERRORING,
            detail=f"rollout available ({rollout}); error ratio still {ratio:.1%} "
            f"(threshold {threshold:.0%}) at the end of the wait",
        )

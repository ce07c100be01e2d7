"""The deployment controller, asynchronous like the real one.

A write to a Deployment only stores it (the API server bumps `metadata.generation` when the spec
changes). This controller, on its own thread and `delay` seconds later, does what
kube-controller-manager does, one step per sync:

1. observe: find the ReplicaSet whose pod template equals the deployment's (ignoring
   `pod-template-hash`), or create one; give it revision max(old revisions) + 1 when it is not
   already the newest (a rollback re-uses the old ReplicaSet, whose old number moves to
   `deployment.kubernetes.io/revision-history`); copy the revision onto the deployment; set
   `status.observedGeneration`; scale the new ReplicaSet to `spec.replicas` (pods created, not
   ready yet);
2. the new pods start (ready, or stuck in the reason `fail_image` configured for their image);
   once every new pod is ready the old ReplicaSets are scaled to 0 and their pods deleted,
   and ReplicaSets beyond `revisionHistoryLimit` are removed;
3. a rollout that makes no progress for `progressDeadlineSeconds` gets Progressing=False,
   reason ProgressDeadlineExceeded.

Statuses (deployment and ReplicaSets) are recomputed from the pods on every sync. Only
deployments that were written are synced: a scenario's or a dump's statuses stay as given until
something changes them. A paused deployment (`spec.paused`) is observed but not progressed.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from typing import Any

from sandbox.kube.objects import (
    ANNOTATIONS_TO_SKIP,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    REVISION_HISTORY,
    controller_event,
    new_pod,
    new_replicaset,
    pod_ready,
    start_pod,
)
from sandbox.kube.resources import REVISION_ANNOTATION
from sandbox.kube.store import ClusterState, equal_ignore_hash, now_iso

log = logging.getLogger(__name__)

DEFAULT_DELAY_SECONDS = 0.25
DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_REVISION_HISTORY_LIMIT = 10

Key = tuple[str, str]


def revision(obj: dict[str, Any]) -> int:
    raw = (obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def _fencepost(value: Any, replicas: int, *, round_up: bool) -> int:
    """maxSurge / maxUnavailable: an int, or a percentage of replicas."""
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value) if value is not None else 0


def surge_and_unavailable(deploy: dict[str, Any], replicas: int) -> tuple[int, int]:
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    rolling = strategy.get("rollingUpdate") or {}
    surge = _fencepost(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _fencepost(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the API validation forbids both 0; the controller treats it as 1
    return surge, unavailable


class DeploymentController:
    """Syncs written deployments on its own thread. `delay` seconds between a write and the
    first sync, and between steps of a rollout."""

    def __init__(self, state: ClusterState, delay: float = DEFAULT_DELAY_SECONDS) -> None:
        self.state = state
        self.delay = delay
        self.failing_images: dict[str, str] = {}  # image -> waiting reason of its containers
        self._due: dict[Key, float] = {}
        self._last_progress: dict[Key, float] = {}
        self._starting: set[str] = set()  # uids of pods this controller created, not started
        self._cv = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name="kube-sandbox-deployment-controller", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # queue ---------------------------------------------------------------------------------

    def enqueue(self, namespace: str, name: str, after: float | None = None) -> None:
        """Sync this deployment `after` seconds from now (default: the controller's delay)."""
        due = time.monotonic() + (self.delay if after is None else after)
        with self._cv:
            key = (namespace, name)
            self._due[key] = min(due, self._due.get(key, due))
            self._cv.notify_all()

    def observe_write(self, namespace: str, name: str) -> None:
        """A client wrote the deployment: a new rollout (its progress clock starts now)."""
        with self.state.lock:  # the lock sync holds: never mid-sync
            self._last_progress.pop((namespace, name), None)
        self.enqueue(namespace, name)

    def fail_image(self, image: str, reason: str | None = "CrashLoopBackOff") -> None:
        """Pods started from now on with this image never become ready (None: they do again)."""
        with self._cv:
            if reason is None:
                self.failing_images.pop(image, None)
            else:
                self.failing_images[image] = reason

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or syncing (a rollout finished or gave up)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._due or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stopped:
                    return
                now = time.monotonic()
                ready = [k for k, due in self._due.items() if due <= now]
                if not ready:
                    wait = min(self._due.values(), default=now + 1.0) - now
                    self._cv.wait(max(wait, 0.005))
                    continue
                for key in ready:
                    del self._due[key]
                self._busy = True
            try:
                for key in ready:
                    try:
                        again = self.sync(*key)
                    except Exception:  # a sandbox bug must not stop the controller
                        log.exception("deployment controller: sync of %s/%s failed", *key)
                        again = None
                    if again is not None:
                        self.enqueue(*key, after=again)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    # one sync ------------------------------------------------------------------------------

    def sync(self, namespace: str, name: str) -> float | None:
        """One step of the deployment's rollout. Returns seconds until the next step, or None
        when there is nothing more to do (complete, paused, failed, or gone)."""
        with self.state.lock:
            deploy = self.state.get("deployments", namespace, name)
            if deploy is None:
                self._last_progress.pop((namespace, name), None)
                return None
            return self._sync(deploy)

    def _sync(self, deploy: dict[str, Any]) -> float | None:
        before = copy.deepcopy(deploy)
        try:
            return self._sync_steps(deploy)
        finally:
            if deploy != before:
                self.state.put("deployments", deploy)

    def _sync_steps(self, deploy: dict[str, Any]) -> float | None:
        key = (deploy["metadata"]["namespace"], deploy["metadata"]["name"])
        spec = deploy["spec"]
        desired = int(spec.get("replicas", 1))
        surge, _ = surge_and_unavailable(deploy, desired)
        owned = self.state.owned_by("replicasets", deploy)
        new_rs = next(
            (rs for rs in owned if equal_ignore_hash(rs["spec"]["template"], spec["template"])),
            None,
        )
        paused = bool(spec.get("paused"))
        progressed = False
        if not paused:
            old = [rs for rs in owned if rs is not new_rs]
            next_revision = max((revision(rs) for rs in old), default=0) + 1
            if new_rs is None:
                new_rs = self.state.add(new_replicaset(deploy, next_revision, surge))
                owned.append(new_rs)
            else:
                self._annotate_new(deploy, new_rs, next_revision, desired + surge)
            self._set_annotation(deploy, REVISION_ANNOTATION, str(revision(new_rs)))
            progressed = self._step(deploy, new_rs, old, desired)
            if progressed:
                self._last_progress[key] = time.monotonic()
        self._last_progress.setdefault(key, time.monotonic())
        complete = self._update_status(deploy, new_rs, owned, desired, paused)
        if paused or complete:
            self._last_progress.pop(key, None)
            if complete:
                self._cleanup(deploy, new_rs)
            return None
        deadline = self._last_progress[key] + int(
            spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
        )
        if time.monotonic() >= deadline:
            self._timed_out(deploy, new_rs)
            self._last_progress.pop(key, None)
            return None
        if progressed or self._starting_pods(new_rs):
            return self.delay
        return max(deadline - time.monotonic(), 0.0)  # stuck: look again at the deadline

    # steps ---------------------------------------------------------------------------------

    def _annotate_new(
        self, deploy: dict[str, Any], rs: dict[str, Any], next_revision: int, max_replicas: int
    ) -> None:
        """What the controller does to an existing ReplicaSet that becomes the new one."""
        ann = rs["metadata"].setdefault("annotations", {})
        before = dict(ann)
        for k, v in (deploy["metadata"].get("annotations") or {}).items():
            if k not in ANNOTATIONS_TO_SKIP:
                ann[k] = v
        current = revision(rs)
        if current < next_revision:
            if current:
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                ann[REVISION_HISTORY] = ",".join([*history, str(current)])
            ann[REVISION_ANNOTATION] = str(next_revision)
        ann[DESIRED_REPLICAS] = str(deploy["spec"].get("replicas", 1))
        ann[MAX_REPLICAS] = str(max_replicas)
        if ann != before:
            self.state.put("replicasets", rs)

    def _set_annotation(self, obj: dict[str, Any], key: str, value: str) -> None:
        ann = obj["metadata"].setdefault("annotations", {})
        if ann.get(key) != value:
            ann[key] = value

    def _step(
        self, deploy: dict[str, Any], new_rs: dict[str, Any], old: list[dict[str, Any]], want: int
    ) -> bool:
        """Advance the rollout by one step; True when something changed."""
        new_pods = self.state.owned_by("pods", new_rs)
        if len(new_pods) != want or new_rs["spec"].get("replicas") != want:
            verb = "up" if want > len(new_pods) else "down"
            self._scale(new_rs, want, new_pods)
            self._event(
                deploy,
                "ScalingReplicaSet",
                f"Scaled {verb} replica set "
                f"{new_rs['metadata']['name']} from {len(new_pods)} to {want}",
            )
            return True
        starting = self._starting_pods(new_rs)
        for pod in starting:
            failure = self._failure_for(pod)
            start_pod(pod, failure)
            self._starting.discard(pod["metadata"]["uid"])
            self.state.put("pods", pod)
        changed = any(pod_ready(p) for p in starting)
        if all(pod_ready(p) for p in self.state.owned_by("pods", new_rs)):
            for rs in old:
                pods = self.state.owned_by("pods", rs)
                if pods or rs["spec"].get("replicas"):
                    self._scale(rs, 0, pods)
                    self._event(
                        deploy,
                        "ScalingReplicaSet",
                        f"Scaled down replica set {rs['metadata']['name']} from {len(pods)} to 0",
                    )
                    changed = True
        return changed

    def _scale(self, rs: dict[str, Any], want: int, pods: list[dict[str, Any]]) -> None:
        rs["spec"]["replicas"] = want
        if len(pods) > want:  # delete the not-ready ones first, as the ReplicaSet controller does
            doomed = sorted(pods, key=pod_ready)[: len(pods) - want]
            for pod in doomed:
                self.state.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
                self._starting.discard(pod["metadata"]["uid"])
        for _ in range(want - len(pods)):
            pod = self.state.add(new_pod(rs))
            self._starting.add(pod["metadata"]["uid"])
        self.state.put("replicasets", rs)

    def _starting_pods(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            p for p in self.state.owned_by("pods", rs) if p["metadata"]["uid"] in self._starting
        ]

    def _failure_for(self, pod: dict[str, Any]) -> str | None:
        with self._cv:
            for c in pod["spec"].get("containers") or []:
                reason = self.failing_images.get(c.get("image", ""))
                if reason:
                    return reason
        return None

    def _event(self, deploy: dict[str, Any], reason: str, message: str) -> None:
        self.state.add(controller_event(deploy, reason, message))

    def _cleanup(self, deploy: dict[str, Any], new_rs: dict[str, Any] | None) -> None:
        """Old, empty ReplicaSets beyond revisionHistoryLimit are deleted (oldest first)."""
        limit = int(deploy["spec"].get("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT))
        old = [
            rs
            for rs in self.state.owned_by("replicasets", deploy)
            if rs is not new_rs
            and not rs["spec"].get("replicas")
            and not self.state.owned_by("pods", rs)
        ]
        old.sort(key=revision)
        for rs in old[: max(len(old) - limit, 0)]:
            self.state.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    # status --------------------------------------------------------------------------------

    def _update_status(
        self,
        deploy: dict[str, Any],
        new_rs: dict[str, Any] | None,
        owned: list[dict[str, Any]],
        desired: int,
        paused: bool,
    ) -> bool:
        """Recompute the ReplicaSets' and the deployment's status from the pods; store them.
        True when the rollout is complete."""
        total = ready = updated = 0
        for rs in owned:
            if self.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]):
                pods = self.state.owned_by("pods", rs)
                n_ready = sum(1 for p in pods if pod_ready(p))
                rs_status = {
                    "replicas": len(pods),
                    "fullyLabeledReplicas": len(pods),
                    "readyReplicas": n_ready,
                    "availableReplicas": n_ready,
                    "observedGeneration": rs["metadata"].get("generation", 1),
                }
                if rs.get("status") != rs_status:
                    rs["status"] = rs_status
                    self.state.put("replicasets", rs)
                total += len(pods)
                ready += n_ready
                if rs is new_rs:
                    updated = len(pods)
        _, max_unavailable = surge_and_unavailable(deploy, desired)
        complete = (
            not paused
            and new_rs is not None
            and updated == desired
            and total == desired
            and ready == desired
        )
        status = dict(deploy.get("status") or {})
        status.update(
            observedGeneration=deploy["metadata"].get("generation", 1),
            replicas=total,
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=ready,
        )
        if desired - ready > 0:
            status["unavailableReplicas"] = desired - ready
        else:
            status.pop("unavailableReplicas", None)
        rs_name = new_rs["metadata"]["name"] if new_rs else deploy["metadata"]["name"]
        available = ready >= desired - max_unavailable
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        conditions["Available"] = _condition(
            conditions.get("Available"),
            "Available",
            "True" if available else "False",
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
        )
        if paused:
            progressing = ("Unknown", "DeploymentPaused", "Deployment is paused")
        elif complete:
            progressing = (
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        else:
            progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        conditions["Progressing"] = _condition(
            conditions.get("Progressing"), "Progressing", *progressing
        )
        status["conditions"] = [conditions["Available"], conditions["Progressing"]]
        deploy["status"] = status
        return complete

    def _timed_out(self, deploy: dict[str, Any], new_rs: dict[str, Any] | None) -> None:
        rs_name = new_rs["metadata"]["name"] if new_rs else deploy["metadata"]["name"]
        status = deploy["status"]
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c.get("type") != "Progressing"
        ] + [
            _condition(
                None,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )
        ]


def _condition(
    old: dict[str, Any] | None, type_: str, status: str, reason: str, message: str
) -> dict[str, Any]:
    if old and (old.get("status"), old.get("reason"), old.get("message")) == (
        status,
        reason,
        message,
    ):
        return old
    now = now_iso()
    changed = old is None or old.get("status") != status
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now if changed else (old or {}).get("lastTransitionTime", now),
        "reason": reason,
        "message": message,
    }

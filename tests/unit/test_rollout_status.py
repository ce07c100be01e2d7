"""`rollout_state` follows `kubectl rollout status`: nothing counts (not even a failed
condition) before the controller observed the written generation."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube_scenarios import deployment
from shared.remediation import verify

DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "api-x" has timed out progressing.',
}


def dep(**status: Any) -> dict[str, Any]:
    d = deployment("shop", "api", "api:1", created="2024-06-01T00:00:00Z", replicas=3, revision=2)
    d["status"].update(status)
    return d


def test_complete_rollout_succeeds() -> None:
    assert verify.rollout_state(dep()) == (verify.SUCCEEDED, "3/3 replicas updated and available")


def test_a_stale_deadline_condition_waits_for_the_controller() -> None:
    written = dep(conditions=[DEADLINE])
    written["metadata"]["generation"] = 3  # the write bumped it; the controller saw 2
    state, why = verify.rollout_state(written)
    assert state == verify.PROGRESSING
    assert "has not observed generation 3" in why
    written["status"]["observedGeneration"] = 3
    assert verify.rollout_state(written)[0] == verify.FAILED


def test_the_generation_a_write_returned_is_awaited() -> None:
    d = dep()  # as read from a lagging cache: generation 2, observed 2
    assert verify.rollout_state(d)[0] == verify.SUCCEEDED
    state, why = verify.rollout_state(d, generation=3)
    assert state == verify.PROGRESSING and "generation 3" in why
    assert not verify.observed(d, 3) and verify.observed(d, 2)


def test_progress_messages_in_kubectl_order() -> None:
    assert verify.rollout_state(dep(updatedReplicas=1))[1] == "1 of 3 replicas updated"
    assert verify.rollout_state(dep(replicas=5))[1] == "2 old replica(s) pending termination"
    assert verify.rollout_state(dep(availableReplicas=2))[1] == "2 of 3 updated replicas available"


def test_a_paused_deployment_says_so() -> None:
    d = dep(updatedReplicas=0)
    d["spec"]["paused"] = True
    state, why = verify.rollout_state(d)
    assert state == verify.PROGRESSING and "paused" in why
    done = copy.deepcopy(d)
    done["status"]["updatedReplicas"] = 3
    assert verify.rollout_state(done)[0] == verify.SUCCEEDED

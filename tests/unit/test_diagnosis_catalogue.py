"""Every catalogue entry against a real message (it must match) and a look-alike (it must not),
plus the engine's ranking, timing, unknown and database rules. Pure: no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.investigation import catalogue as cat
from shared.investigation.diagnose import Evidence, diagnose, fill
from shared.investigation.diagnosis_reads import hosts_in_logs, service_of

START = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


def at(minutes_before: float) -> str:
    return (START - timedelta(minutes=minutes_before)).isoformat().replace("+00:00", "Z")


def C(
    reason: str = "Error",
    exit_code: int | None = 1,
    message: str = "",
    *,
    waiting: str = "",
    init: bool = False,
    restarts: int = 3,
    memory: str = "512Mi",
) -> dict[str, Any]:
    return {
        "pod": "api-7c9f-x2x4k",
        "container": "migrate" if init else "api",
        "image": "registry.example.com/shop/api:2.3.1",
        "init": init,
        "node": "gke-pool-1",
        "restarts": restarts,
        "waiting_reason": waiting,
        "waiting_message": message if waiting else "",
        "terminated_reason": reason,
        "exit_code": exit_code,
        "terminated_message": "" if waiting else message,
        "memory_limit": memory,
        "cpu_limit": "1",
    }


def E(reason: str, message: str, obj: str = "pod/api-7c9f-x2x4k", type_: str = "Warning") -> Any:
    return {"reason": reason, "message": message, "object": obj, "count": 5, "type": type_}


def L(*lines: str, source: str = "previous") -> dict[str, Any]:
    return {"pod": "api-7c9f-x2x4k", "container": "api", "source": source, "lines": list(lines)}


def P(reason: str, message: str) -> dict[str, Any]:
    return {"name": "api-7c9f-x2x4k", "reason": reason, "message": message, "node": "gke-pool-1"}


def H(at_max: bool = False, active: bool = True, failed: str = "") -> dict[str, Any]:
    return {
        "name": "api",
        "at_max": at_max,
        "scaling_active": active,
        "failed_metrics": [failed] if failed else [],
        "current_replicas": 10,
        "max_replicas": 10,
    }


def N(condition: str, status: str = "True") -> dict[str, Any]:
    return {
        "name": "gke-pool-1",
        "problems": [{"type": condition, "status": status, "reason": "x", "message": "y"}],
    }


def ev(**kw: Any) -> Evidence:
    kw.setdefault("incident_start", START)
    return Evidence(**kw)


def ids(e: Evidence, **kw: Any) -> list[str]:
    return [h.entry.id for h in diagnose(e, **kw).hypotheses]


ROLLOUT = {"kind": "rollout", "what": "revision 4 (image api:2.3.1)", "at": at(6)}

# id -> (evidence that must match, look-alike evidence that must not)
CASES: dict[str, tuple[Evidence, Evidence]] = {
    "oom-killed": (
        ev(containers=[C("OOMKilled", 137)]),
        ev(containers=[C("Error", 137)]),
    ),
    "memory-leak": (
        ev(prom={"memory_verdict": "leak suspected"}),
        ev(prom={"memory_verdict": "steady"}),
    ),
    "memory-spike": (
        ev(prom={"memory_verdict": "spike"}),
        ev(prom={"memory_verdict": "leak suspected"}),
    ),
    "exit-137-sigkill": (
        ev(containers=[C("Error", 137)]),
        ev(
            containers=[C("Error", 137)],
            events=[E("Killing", "Container api failed liveness probe, will be restarted")],
        ),
    ),
    "exit-139-segfault": (ev(containers=[C("Error", 139)]), ev(containers=[C("Error", 138)])),
    "exit-143-sigterm": (
        ev(containers=[C("Error", 143)]),
        ev(
            containers=[C("Error", 143)],
            events=[E("Killing", "Container api failed startup probe, will be restarted")],
        ),
    ),
    "exit-1-app-error": (
        ev(containers=[C("Error", 1)]),
        ev(containers=[C("Completed", 0)]),
    ),
    "exit-127-command-not-found": (
        ev(containers=[C("Error", 127)], logs=[L("/bin/sh: 1: gunicorn: not found")]),
        ev(containers=[C("Error", 1)], logs=[L("/bin/sh: 1: gunicorn: not found")]),
    ),
    "start-error-missing-binary": (
        ev(
            containers=[
                C(
                    "StartError",
                    128,
                    "failed to create containerd task: failed to create shim task: OCI runtime "
                    'create failed: runc create failed: unable to start container process: exec: "'
                    '/app/server": stat /app/server: no such file or directory: unknown',
                )
            ]
        ),
        ev(containers=[C("StartError", 128, "failed to create shim task: context canceled")]),
    ),
    "go-panic": (
        ev(logs=[L("panic: runtime error: invalid memory address or nil pointer dereference")]),
        ev(logs=[L('level=info msg="recovered from a panic in handler, continuing"')]),
    ),
    "python-exception": (
        ev(
            logs=[
                L(
                    "Traceback (most recent call last):",
                    '  File "/app/x.py", line 3, in <module>',
                    "ValueError: invalid literal for int() with base 10: '30s'",
                )
            ]
        ),
        ev(logs=[L("ValueError: invalid literal for int() with base 10: '30s' (handled)")]),
    ),
    "java-exception": (
        ev(logs=[L('Exception in thread "main" java.lang.IllegalStateException: no datasource')]),
        ev(logs=[L("WARN handled java.lang.IllegalStateException in request 42, retrying")]),
    ),
    "java-heap-oom": (
        ev(logs=[L('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space')]),
        ev(logs=[L("INFO heap space after GC: 312M of 1024M")]),
    ),
    "node-exception": (
        ev(
            logs=[
                L(
                    "TypeError: Cannot read properties of undefined (reading 'map')",
                    "    at loadFeatures (/app/server.js:88:35)",
                )
            ]
        ),
        ev(logs=[L("TypeError: Cannot read properties of undefined (reading 'map')")]),
    ),
    "rust-panic": (
        ev(
            logs=[
                L(
                    "thread 'main' panicked at src/main.rs:42:10:",
                    "called `Result::unwrap()` on an `Err` value",
                )
            ]
        ),
        ev(logs=[L("INFO worker thread 'main' started at src/main.rs:42:10")]),
    ),
    "config-missing-env": (
        ev(logs=[L('FATAL config: environment variable "PAYMENTS_API_URL" is not set')]),
        ev(logs=[L("INFO environment variable PAYMENTS_API_URL set from ConfigMap")]),
    ),
    "config-bad-flag": (
        ev(logs=[L("flag provided but not defined: -metrics-addr")]),
        ev(logs=[L("INFO flag --metrics-addr defined, listening on :9090")]),
    ),
    "config-unparsable": (
        ev(
            logs=[
                L(
                    'FATAL error loading config file "/etc/app/config.yaml": yaml: line 14: '
                    "mapping values are not allowed in this context"
                )
            ]
        ),
        ev(logs=[L('INFO loaded config file "/etc/app/config.yaml" (14 keys)')]),
    ),
    "image-not-found": (
        ev(
            events=[
                E(
                    "Failed",
                    'Failed to pull image "r.example.com/api:2.4.0": rpc error: code = NotFound '
                    'desc = failed to pull and unpack image "r.example.com/api:2.4.0": failed to '
                    'resolve reference "r.example.com/api:2.4.0": '
                    "r.example.com/api:2.4.0: not found",
                )
            ]
        ),
        ev(events=[E("Pulled", 'Successfully pulled image "r.example.com/api:2.4.0" in 2.1s')]),
    ),
    "image-pull-auth": (
        ev(
            events=[
                E(
                    "Failed",
                    'Failed to pull image "eu.gcr.io/p/api:1": failed to authorize: failed to '
                    "fetch oauth token: unexpected status: 403 Forbidden",
                )
            ]
        ),
        ev(events=[E("Failed", 'Failed to pull image "eu.gcr.io/p/api:1": i/o timeout')]),
    ),
    "image-pull-rate-limit": (
        ev(
            events=[
                E(
                    "Failed",
                    'Failed to pull image "nginx:1.27": 429 Too Many Requests - Server message: '
                    "toomanyrequests: You have reached your pull rate limit.",
                )
            ]
        ),
        ev(events=[E("Failed", 'Failed to pull image "nginx:1.27": manifest unknown')]),
    ),
    "image-pull-backoff": (
        ev(containers=[C(waiting="ImagePullBackOff", message='Back-off pulling image "x:1"')]),
        ev(containers=[C(waiting="CrashLoopBackOff", message="back-off 5m0s")]),
    ),
    "missing-configmap": (
        ev(
            containers=[
                C(waiting="CreateContainerConfigError", message='configmap "app-config" not found')
            ]
        ),
        ev(containers=[C(waiting="CrashLoopBackOff", message='configmap "app-config" not found')]),
    ),
    "missing-secret": (
        ev(containers=[C(waiting="CreateContainerConfigError", message='secret "db" not found')]),
        ev(
            containers=[C(waiting="CreateContainerConfigError", message='configmap "db" not found')]
        ),
    ),
    "missing-config-key": (
        ev(
            containers=[
                C(
                    waiting="CreateContainerConfigError",
                    message="couldn't find key DATABASE_URL in Secret shop/db-creds",
                )
            ]
        ),
        ev(containers=[C(waiting="CreateContainerConfigError", message='secret "x" not found')]),
    ),
    "run-as-non-root": (
        ev(
            containers=[
                C(
                    waiting="CreateContainerConfigError",
                    message="Error: container has runAsNonRoot and image will run as root",
                )
            ]
        ),
        ev(logs=[L("INFO running as non-root user 10001 (runAsNonRoot honoured)")]),
    ),
    "create-config-error": (
        ev(containers=[C(waiting="CreateContainerConfigError", message="something else")]),
        ev(containers=[C(waiting="ContainerCreating", message="")]),
    ),
    "failed-mount-missing-object": (
        ev(
            events=[
                E(
                    "FailedMount",
                    'MountVolume.SetUp failed for volume "tls" : secret "api-tls" not found',
                )
            ]
        ),
        ev(events=[E("SuccessfulMountVolume", 'MountVolume.SetUp succeeded for volume "tls"')]),
    ),
    "failed-mount-multi-attach": (
        ev(
            events=[
                E(
                    "FailedAttachVolume",
                    'Multi-Attach error for volume "pvc-1f2e" Volume is already exclusively '
                    "attached to one node and can't be attached to another",
                )
            ]
        ),
        ev(events=[E("SuccessfulAttachVolume", 'AttachVolume.Attach succeeded for "pvc-1f2e"')]),
    ),
    "failed-mount-timeout": (
        ev(
            events=[
                E(
                    "FailedMount",
                    "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                    "volumes=[data kube-api-access-x]: timed out waiting for the condition",
                )
            ]
        ),
        ev(events=[E("FailedMount", 'MountVolume.SetUp failed for volume "x" : rpc error')]),
    ),
    "readiness-probe-status": (
        ev(
            events=[
                E("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
            ]
        ),
        ev(
            events=[E("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503")]
        ),
    ),
    "readiness-probe-timeout": (
        ev(
            events=[
                E(
                    "Unhealthy",
                    'Readiness probe failed: Get "http://10.4.0.20:8080/healthz": context '
                    "deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                )
            ]
        ),
        ev(
            events=[
                E("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500")
            ]
        ),
    ),
    "liveness-probe-restarts": (
        ev(events=[E("Killing", "Container api failed liveness probe, will be restarted")]),
        ev(events=[E("Killing", "Stopping container api")]),
    ),
    "startup-probe-too-short": (
        ev(events=[E("Killing", "Container api failed startup probe, will be restarted")]),
        ev(events=[E("Started", "Started container api (startup probe succeeded)")]),
    ),
    "unschedulable-resources": (
        ev(
            events=[
                E(
                    "FailedScheduling",
                    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are "
                    "available: 3 No preemption victims found for incoming pod.",
                )
            ]
        ),
        ev(events=[E("Scheduled", "Successfully assigned shop/api-x to gke-pool-1")]),
    ),
    "unschedulable-taints": (
        ev(
            events=[
                E(
                    "FailedScheduling",
                    "0/4 nodes are available: 4 node(s) had untolerated taint {dedicated: gpu}.",
                )
            ]
        ),
        ev(
            events=[
                E(
                    "FailedScheduling",
                    "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
                    "3 Insufficient cpu.",
                )
            ]
        ),
    ),
    "unschedulable-affinity": (
        ev(
            events=[
                E(
                    "FailedScheduling",
                    "0/5 nodes are available: 5 node(s) didn't match Pod's node affinity/selector.",
                )
            ]
        ),
        ev(events=[E("FailedScheduling", "0/5 nodes are available: 5 Insufficient cpu.")]),
    ),
    "unschedulable-pvc": (
        ev(
            events=[
                E(
                    "FailedScheduling",
                    "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                )
            ]
        ),
        ev(events=[E("ProvisioningSucceeded", "Successfully provisioned volume pvc-1 for claim")]),
    ),
    "pvc-provisioning-failed": (
        ev(
            events=[
                E(
                    "ProvisioningFailed",
                    'storageclass.storage.k8s.io "fast-ssd" not found',
                    obj="persistentvolumeclaim/data-uploads",
                )
            ]
        ),
        ev(events=[E("ProvisioningSucceeded", "Successfully provisioned volume pvc-1f2e")]),
    ),
    "sandbox-network-failed": (
        ev(
            events=[
                E(
                    "FailedCreatePodSandBox",
                    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to "
                    'setup network for sandbox "4f1e": plugin type="calico" failed (add): '
                    "error getting ClusterInformation: connection is unauthorized",
                )
            ]
        ),
        ev(events=[E("SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")]),
    ),
    "pod-security-violation": (
        ev(
            events=[
                E(
                    "FailedCreate",
                    'Error creating: pods "api-x" is forbidden: violates PodSecurity '
                    '"restricted:latest": allowPrivilegeEscalation != false (container "api" '
                    "must set securityContext.allowPrivilegeEscalation=false)",
                )
            ]
        ),
        ev(events=[E("FailedCreate", 'Error creating: pods "api-x" is forbidden: exceeded quota')]),
    ),
    "job-backoff-limit": (
        ev(events=[E("BackoffLimitExceeded", "Job has reached the specified backoff limit")]),
        ev(events=[E("Completed", "Job completed")]),
    ),
    "create-container-error": (
        ev(
            containers=[
                C(
                    waiting="CreateContainerError",
                    message="Error: failed to create containerd container: mount: not a directory",
                )
            ]
        ),
        ev(containers=[C(waiting="CreateContainerConfigError", message='secret "x" not found')]),
    ),
    "quota-exceeded": (
        ev(
            events=[
                E(
                    "FailedCreate",
                    'Error creating: pods "w-x" is forbidden: exceeded quota: compute-quota, '
                    "requested: limits.memory=512Mi, used: limits.memory=3840Mi, limited: "
                    "limits.memory=4Gi",
                    obj="replicaset/w-6d4cf",
                )
            ]
        ),
        ev(events=[E("SuccessfulCreate", "Created pod: w-x (quota compute-quota ok)")]),
    ),
    "limitrange-violation": (
        ev(
            events=[
                E(
                    "FailedCreate",
                    'Error creating: pods "i-x" is forbidden: maximum memory usage per Container '
                    "is 1Gi, but limit is 2Gi",
                )
            ]
        ),
        ev(
            events=[E("FailedCreate", 'Error creating: pods "i-x" is forbidden: exceeded quota: q')]
        ),
    ),
    "failed-create-other": (
        ev(
            events=[
                E(
                    "FailedCreate",
                    'Error creating: admission webhook "policy.example.com" denied the request',
                )
            ]
        ),
        ev(events=[E("SuccessfulCreate", "Created pod: w-x")]),
    ),
    "evicted-node-pressure": (
        ev(
            pods=[
                P(
                    "Evicted",
                    "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
                    "87592Ki. Container api was using 1245772Ki, request is 256Mi, has larger "
                    "consumption of memory.",
                )
            ]
        ),
        ev(pods=[P("Evicted", "Pod was rejected: Predicate NodeAffinity failed")]),
    ),
    "evicted-ephemeral-limit": (
        ev(
            pods=[
                P(
                    "Evicted",
                    "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.",
                )
            ]
        ),
        ev(pods=[P("Evicted", "The node was low on resource: ephemeral-storage.")]),
    ),
    "node-not-ready": (ev(nodes=[N("Ready", "Unknown")]), ev(nodes=[N("DiskPressure")])),
    "node-pressure": (ev(nodes=[N("MemoryPressure")]), ev(nodes=[N("Ready", "False")])),
    "upstream-down": (
        ev(
            logs=[
                L(
                    'Get "http://inventory.shop.svc:8080/x": dial tcp 10.8.0.7:8080: '
                    "connect: connection refused"
                )
            ],
            upstreams={
                "inventory.shop.svc": {
                    "target": "service shop/inventory",
                    "state": "scaled-to-zero",
                    "detail": "no pods",
                }
            },
        ),
        ev(
            logs=[
                L(
                    'Get "http://inventory.shop.svc:8080/x": dial tcp 10.8.0.7:8080: '
                    "connect: connection refused"
                )
            ],
            upstreams={"inventory.shop.svc": {"target": "s", "state": "ready", "detail": "3"}},
        ),
    ),
    "dependency-refused": (
        ev(logs=[L("dial tcp 10.8.0.7:5432: connect: connection refused")]),
        ev(logs=[L("INFO connection to 10.8.0.7:5432 established (refused 0 times)")]),
    ),
    "dependency-timeout": (
        ev(logs=[L("dial tcp 10.8.0.9:6379: i/o timeout")]),
        ev(logs=[L("INFO redis timeout set to 5s")]),
    ),
    "dependency-dns": (
        ev(
            logs=[
                L("dial tcp: lookup payments.shop.svc.cluster.local on 10.8.0.10:53: no such host")
            ]
        ),
        ev(logs=[L("INFO lookup payments.shop.svc.cluster.local resolved to 10.8.0.12")]),
    ),
    "tls-expired": (
        ev(
            logs=[
                L(
                    "x509: certificate has expired or is not yet valid: current time "
                    "2026-06-12T09:58:40Z is after 2026-06-11T23:59:59Z"
                )
            ]
        ),
        ev(logs=[L("INFO certificate renewed, expires 2026-09-11T23:59:59Z")]),
    ),
    "tls-unknown-authority": (
        ev(
            logs=[
                L(
                    "tls: failed to verify certificate: "
                    "x509: certificate signed by unknown authority"
                )
            ]
        ),
        ev(logs=[L("INFO loaded 140 certificate authorities from /etc/ssl/certs")]),
    ),
    "read-only-filesystem": (
        ev(logs=[L("OSError: [Errno 30] Read-only file system: '/app/.cache'")]),
        ev(logs=[L("INFO mounting config read-only at /etc/app")]),
    ),
    "permission-denied": (
        ev(logs=[L("nginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)")]),
        ev(logs=[L("WARN user alice: permission denied for /admin (HTTP 403)")]),
    ),
    "migration-failed": (
        ev(
            containers=[C("Error", 1, init=True)],
            logs=[L('ERROR: Migration of schema "public" to version "42" failed!', source="init")],
        ),
        ev(
            containers=[C("Error", 1, init=True)],
            logs=[L("nc: bad address 'db'", source="init")],
        ),
    ),
    "init-container-failing": (
        ev(containers=[C("Error", 1, init=True)]),
        ev(containers=[C("Completed", 0, init=True)]),
    ),
    "rollout-stuck": (
        ev(
            workload={
                "kind": "Deployment",
                "name": "api",
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ],
            }
        ),
        ev(
            workload={
                "kind": "Deployment",
                "name": "api",
                "conditions": [
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                ],
            }
        ),
    ),
    "hpa-at-max": (ev(hpa=H(at_max=True)), ev(hpa=H(at_max=False))),
    "hpa-missing-request": (
        ev(
            hpa=H(
                active=False,
                failed="failed to get cpu utilization: "
                "missing request for cpu in container api of Pod api-x",
            )
        ),
        ev(hpa=H(active=False, failed="unable to fetch metrics from resource metrics API")),
    ),
    "metrics-server-unavailable": (
        ev(hpa=H(active=False, failed="metrics-server is unavailable: APIService not Available")),
        ev(hpa=H(active=False, failed="missing request for cpu")),
    ),
    "hpa-metrics-unavailable": (
        ev(hpa=H(active=False, failed="unable to get metrics for resource cpu")),
        ev(hpa=H(active=True)),
    ),
    "cpu-throttled": (
        ev(prom={"cpu_throttled_ratio": 0.62, "cpu_limit": 2.0}),
        ev(prom={"cpu_throttled_ratio": 0.05}),
    ),
    "bad-rollout": (
        ev(changes=[dict(ROLLOUT)], containers=[C(waiting="CrashLoopBackOff")]),
        ev(
            changes=[{**ROLLOUT, "at": at(60 * 24 * 3)}], containers=[C(waiting="CrashLoopBackOff")]
        ),
    ),
    "deploy-before-errors": (
        ev(changes=[dict(ROLLOUT)]),
        ev(changes=[{**ROLLOUT, "at": at(240)}]),
    ),
    "config-change": (
        ev(changes=[{"kind": "config", "what": "revision 5 changed checksum/config", "at": at(5)}]),
        ev(
            changes=[
                {"kind": "config", "what": "revision 5 changed checksum/config", "at": at(-30)}
            ]
        ),
    ),
    "scaled-down": (
        ev(changes=[{"kind": "scale", "what": "deployment/api scaled down to 1", "at": at(10)}]),
        ev(changes=[{"kind": "scale", "what": "deployment/api scaled down to 1", "at": at(400)}]),
    ),
}


def test_every_catalogue_entry_has_a_case() -> None:
    entries = {e.id for e in cat.default_catalogue().entries}
    assert entries == set(CASES), (entries - set(CASES), set(CASES) - entries)


@pytest.mark.parametrize("entry_id", sorted(CASES))
def test_entry_matches_the_real_message(entry_id: str) -> None:
    found = ids(CASES[entry_id][0])
    assert entry_id in found


@pytest.mark.parametrize("entry_id", sorted(CASES))
def test_entry_does_not_match_the_look_alike(entry_id: str) -> None:
    assert entry_id not in ids(CASES[entry_id][1])


@pytest.mark.parametrize("entry_id", sorted(CASES))
def test_named_cause_leaves_no_placeholder_unfilled(entry_id: str) -> None:
    result = diagnose(CASES[entry_id][0])
    h = next(h for h in result.hypotheses if h.entry.id == entry_id)
    assert "{" not in h.cause and "{" not in h.fix
    assert h.evidence, "a named cause quotes its evidence"


def test_specifics_are_filled_from_the_evidence() -> None:
    r = diagnose(CASES["oom-killed"][0])
    assert r.best is not None and r.best.entry.id == "oom-killed"
    assert "api" in r.best.cause and "512Mi" in r.best.cause
    r = diagnose(CASES["missing-config-key"][0])
    assert r.best is not None and "DATABASE_URL" in r.best.cause and "db-creds" in r.best.cause
    r = diagnose(CASES["quota-exceeded"][0])
    assert r.best is not None and "compute-quota" in r.best.cause and "4Gi" in r.best.cause
    r = diagnose(CASES["upstream-down"][0])
    assert r.best is not None and r.best.entry.id == "upstream-down"
    assert "service shop/inventory" in r.best.cause


def test_the_more_specific_cause_wins_and_the_close_one_is_a_runner_up() -> None:
    e = ev(
        containers=[C("Error", 1, waiting="CrashLoopBackOff")],
        logs=[L('FATAL config: environment variable "DATABASE_URL" is not set')],
        changes=[dict(ROLLOUT)],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "config-missing-env"
    line = r.likely_cause_line()
    assert line.startswith("Likely cause: the environment variable DATABASE_URL is not set")
    assert "began after revision 4 (image api:2.3.1) 6 min before the alert" in line
    assert "high confidence" in line


def test_weak_evidence_says_unknown_and_what_was_checked() -> None:
    r = diagnose(ev(containers=[C("Completed", 0)], events=[E("BackOff", "Back-off")]))
    assert r.best is None
    line = r.likely_cause_line()
    assert line.startswith("Likely cause: unknown — checked 0 pods, 1 events")
    assert r.as_dict()["best"] == "unknown"


def test_a_change_days_old_is_never_the_cause() -> None:
    old = {**ROLLOUT, "at": at(60 * 24 * 3)}
    r = diagnose(ev(changes=[old]))
    assert r.best is None and r.change_context == ""


def test_the_configured_window_caps_change_correlation() -> None:
    e = ev(changes=[{**ROLLOUT, "at": at(8)}])
    assert "deploy-before-errors" in ids(e)
    e.change_window = 5
    assert "deploy-before-errors" not in ids(e)


def test_database_class_gets_facts_and_no_invitation_to_change_it() -> None:
    e = ev(containers=[C("OOMKilled", 137)], changes=[dict(ROLLOUT)], hpa=H(at_max=True))
    r = diagnose(e, database=True)
    assert r.best is not None and r.best.entry.id == "oom-killed"
    assert not any(h.entry.changes_workload for h in r.hypotheses)
    assert "alertloop proposes no change" in r.fix()


def test_a_database_upstream_is_left_to_ops() -> None:
    e = CASES["upstream-down"][0]
    e.upstreams["inventory.shop.svc"]["database"] = True
    r = diagnose(e)
    assert r.best is not None and "database-class workload: ops handle it" in r.fix()
    e.upstreams["inventory.shop.svc"]["database"] = False


def test_quoted_evidence_is_redacted() -> None:
    e = ev(
        logs=[
            L(
                "panic: connect postgres://app:hunter2secretpass@db.shop.svc:5432/orders failed",
            )
        ]
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "go-panic"
    text = " ".join(r.lines()) + r.best.cause
    assert "hunter2secretpass" not in text


def test_fill_alternatives_and_missing() -> None:
    assert fill("{a|b}/{c}", {"b": "x"}) == "x/?"


def test_catalogue_validation_refuses_bad_data() -> None:
    entry = {
        "id": "x",
        "title": "t",
        "family": "f",
        "strength": 60,
        "all": [{"log": {"pattern": "a"}}],
        "cause": "c",
        "fix": "f",
    }
    cat.parse(f"version: 1\nentries: [{entry}]".replace("'", '"'))
    with pytest.raises(ValidationError, match="duplicate catalogue ids"):
        cat.Catalogue.model_validate({"version": 1, "entries": [entry, entry]})
    with pytest.raises(ValidationError, match="bad regex"):
        cat.Catalogue.model_validate(
            {"version": 1, "entries": [{**entry, "all": [{"log": {"pattern": "(a"}}]}]}
        )
    with pytest.raises(ValidationError, match="exactly one kind"):
        cat.Catalogue.model_validate(
            {
                "version": 1,
                "entries": [
                    {**entry, "all": [{"log": {"pattern": "a"}, "event": {"reason": "x"}}]}
                ],
            }
        )
    with pytest.raises(ValidationError):
        cat.Catalogue.model_validate({"version": 1, "entries": [{**entry, "strength": 101}]})
    with pytest.raises(ValidationError):
        cat.Catalogue.model_validate({"version": 1, "entries": [{**entry, "colour": "red"}]})


def test_upstream_hosts_from_logs_and_their_service() -> None:
    logs = [
        {
            "previous": [
                'Get "http://inventory.shop.svc.cluster.local:8080/x": dial tcp 10.8.0.7:8080: '
                "connect: connection refused",
                "dial tcp: lookup payments on 10.8.0.10:53: no such host",
            ]
        }
    ]
    assert hosts_in_logs(logs) == ["inventory.shop.svc.cluster.local", "payments"]
    assert service_of("inventory.shop.svc.cluster.local", "x") == ("inventory", "shop")
    assert service_of("redis", "shop") == ("redis", "shop")
    assert service_of("redis.cache", "shop") == ("redis", "cache")
    assert service_of("api.stripe.com", "shop") is None
    assert service_of("10.8.0.7", "shop") is None


# Other ways the same cause shows: another component's message, another language's spelling.
VARIANTS: list[tuple[str, Evidence, str]] = [
    (
        "image-not-found",
        ev(
            containers=[
                C(
                    waiting="ErrImagePull",
                    message='rpc error: code = NotFound desc = failed to pull and unpack image "'
                    'docker.io/library/foo:1.2": failed to resolve reference "docker.io/library/'
                    'foo:1.2": docker.io/library/foo:1.2: not found',
                )
            ]
        ),
        "foo:1.2",
    ),
    (
        "evicted-node-pressure",
        ev(
            events=[
                E(
                    "Evicted",
                    "The node was low on resource: ephemeral-storage. Threshold quantity: "
                    "10Gi, available: 9Gi. Container api was using 12Gi, request is 0, has "
                    "larger consumption of ephemeral-storage.",
                )
            ]
        ),
        "ephemeral-storage",
    ),
    ("node-not-ready", ev(events=[E("NodeNotReady", "Node is not ready")]), "NotReady"),
    (
        "config-missing-env",
        ev(logs=[L("Error: STRIPE_API_KEY must be set")]),
        "STRIPE_API_KEY",
    ),
    (
        "config-missing-env",
        ev(
            logs=[
                L(
                    "java.lang.IllegalArgumentException: Could not resolve placeholder "
                    "'DB_URL' in value \"${DB_URL}\""
                )
            ]
        ),
        "DB_URL",
    ),
    (
        "config-bad-flag",
        ev(logs=[L('invalid value "abc" for flag -port: parse error')]),
        "port",
    ),
    (
        "config-bad-flag",
        ev(logs=[L("main.py: error: argument --workers: invalid int value: 'four'")]),
        "--workers",
    ),
    (
        "dependency-dns",
        ev(
            logs=[
                L(
                    "urllib3.exceptions.NameResolutionError: <urllib3.connection.HTTPSConnection"
                    " object at 0x7f>: Failed to resolve 'api.partner.example' ([Errno -2] Name "
                    "or service not known)"
                )
            ]
        ),
        "api.partner.example",
    ),
    (
        "dependency-timeout",
        ev(
            logs=[
                L(
                    "requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='api.partner."
                    "example', port=443): Max retries exceeded with url: /v1 (Caused by "
                    "ConnectTimeoutError(<urllib3.connection.HTTPSConnection object>, "
                    "'Connection to api.partner.example timed out. (connect timeout=5)'))"
                )
            ]
        ),
        "api.partner.example",
    ),
    (
        "dependency-refused",
        ev(
            logs=[
                L(
                    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='inventory', "
                    "port=8080): Max retries exceeded with url: /stock (Caused by "
                    "NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to "
                    "establish a new connection: [Errno 111] Connection refused'))"
                )
            ]
        ),
        "inventory:8080",
    ),
]


@pytest.mark.parametrize(("entry_id", "evidence", "specific"), VARIANTS)
def test_variants_name_the_cause_and_its_specific(
    entry_id: str, evidence: Evidence, specific: str
) -> None:
    r = diagnose(evidence)
    assert r.best is not None and r.best.entry.id == entry_id, [h.entry.id for h in r.hypotheses]
    assert specific in r.best.cause


def test_an_entry_needs_evidence() -> None:
    with pytest.raises(ValidationError, match="needs `all` or `any`"):
        cat.Entry.model_validate(
            {"id": "x", "title": "t", "family": "f", "strength": 1, "cause": "c", "fix": "f"}
        )


def test_a_container_that_died_long_before_the_incident_is_not_its_cause() -> None:
    long_ago = {**C("OOMKilled", 137), "finished_at": at(60 * 24 * 7)}
    assert "oom-killed" not in ids(ev(containers=[long_ago]))
    recent = {**C("OOMKilled", 137), "finished_at": at(20)}
    assert "oom-killed" in ids(ev(containers=[recent]))
    still_waiting = {**long_ago, "waiting_reason": "CrashLoopBackOff"}
    assert "oom-killed" in ids(ev(containers=[still_waiting]))

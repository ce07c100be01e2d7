"""Every catalogue entry against a real message (it must match) and a look-alike (it must not),
plus the engine's ranking, timing, unknown and database rules. Pure: no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.investigation import catalogue as cat
from shared.investigation.diagnose import Evidence, diagnose, fill
from shared.investigation.upstreams import host_lines, hosts_in_logs, service_of

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


def H(
    at_max: bool = False,
    active: bool = True,
    failed: str = "",
    *,
    readable: bool | None = None,
    server: str = "available",
    why: str = "",
) -> dict[str, Any]:
    return {
        "name": "api",
        "at_max": at_max,
        "scaling_active": active,
        "failed_metrics": [failed] if failed else [],
        "current_replicas": 10,
        "max_replicas": 10,
        "metrics_readable": (not failed and active) if readable is None else readable,
        "metrics_server": server,
        "metrics_server_why": why or "APIService v1beta1.metrics.k8s.io is Available",
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
    "dotnet-exception": (
        ev(
            logs=[
                L(
                    "Unhandled exception. System.InvalidOperationException: Unable to resolve "
                    "service for type 'Shop.IPriceClient' while attempting to activate "
                    "'Shop.CartService'.",
                    "   at Microsoft.Extensions.DependencyInjection.ServiceLookup.CallSiteFactory",
                )
            ]
        ),
        # a dependency's failure, however unhandled, is the dependency's entry
        ev(
            logs=[
                L(
                    "Unhandled exception. System.Net.Http.HttpRequestException: Connection "
                    "refused (prices.shop.svc:8080)"
                )
            ]
        ),
    ),
    "php-fatal": (
        ev(
            logs=[
                L(
                    'PHP Fatal error:  Uncaught Error: Class "Redis" not found in '
                    "/var/www/src/Cache.php:14"
                )
            ]
        ),
        ev(logs=[L('PHP Warning:  Undefined array key "locale" in /var/www/index.php on line 9')]),
    ),
    "ruby-exception": (
        ev(
            logs=[
                L(
                    "/app/config/initializers/stripe.rb:3:in `<main>': uninitialized constant "
                    "Stripe (NameError)"
                )
            ]
        ),
        ev(
            logs=[
                L(
                    "/usr/local/lib/ruby/3.3.0/net/http.rb:1603:in `initialize': Failed to open "
                    "TCP connection to api.stripe.com:443 (getaddrinfo: Name or service not "
                    "known) (SocketError)"
                )
            ]
        ),
    ),
    "gcp-permission-denied": (
        ev(
            logs=[
                L(
                    "Error 403: Permission 'secretmanager.versions.access' denied on resource "
                    "'projects/acme/secrets/stripe-key/versions/latest' (or it may not exist)."
                )
            ]
        ),
        ev(logs=[L("INFO auth: permission cache refreshed (412 entries)")]),
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
            logs=[
                L(
                    'ERROR: Migration of schema "public" to version "42" failed!',
                    'Message    : ERROR: column "sku" of relation "products" already exists',
                    source="init",
                )
            ],
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
        ev(
            hpa=H(
                active=False,
                failed="failed to get cpu utilization: unable to get metrics for resource cpu",
                server="unavailable",
                why="APIService v1beta1.metrics.k8s.io is not Available: MissingEndpoints",
            )
        ),
        # the HPA shows the metrics it has read: a metrics-server we did not find is contradicted
        ev(
            hpa=H(
                at_max=True,
                readable=True,
                server="absent",
                why="APIService v1beta1.metrics.k8s.io is not registered (metrics-server missing)",
            )
        ),
    ),
    "metrics-server-suspected": (
        ev(hpa={**H(server="absent", why="not registered"), "metrics_readable": None}),
        ev(hpa=H(readable=True, server="absent", why="not registered")),
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
    assert fill("{a|b}/{c}", {"b": "x"}) == "x/"


@pytest.mark.parametrize(
    ("template", "captures", "text"),
    [
        # the parenthesis holding a missing field goes, the rest stays
        ("the probe fails and restarts it ({detail})", {}, "the probe fails and restarts it"),
        ("panics at {where}: {panic}", {"where": "src/a.rs:1:2"}, "panics at src/a.rs:1:2"),
        ("expired (not after {expiry}): refused", {}, "expired: refused"),
        ("crashes with {exception}: {detail}", {"exception": "E"}, "crashes with E"),
        ("pods evicted: node {node} was low", {}, "pods evicted"),
        ("evicted: node {node} low on {r}", {"r": "disk"}, "evicted: node low on disk"),
        ("at {where}: {panic}", {"where": "a.rs:1:2", "panic": "x: y"}, "at a.rs:1:2: x: y"),
        ("all {a} here ({b})", {"a": "x", "b": "y"}, "all x here (y)"),
        # in the first clause only the field goes; the nearest separator bounds a tail clause
        ("node {node} is NotReady: gone", {}, "node is NotReady: gone"),
        ("missing on {r} (principal {p})", {"p": "sa@x"}, "missing (principal sa@x)"),
        ("x: {a} is missing on {r}", {"r": "p1"}, "x: is missing on p1"),
    ],
)
def test_a_clause_whose_field_is_missing_is_dropped_never_a_question_mark(
    template: str, captures: dict[str, str], text: str
) -> None:
    assert fill(template, captures) == text


def test_no_named_cause_prints_a_question_mark_for_a_missing_capture() -> None:
    liveness = ev(events=[E("Killing", "Container api failed liveness probe, will be restarted")])
    rust = ev(logs=[L("thread 'main' panicked at src/main.rs:42:10:")])
    for e in (liveness, rust):
        r = diagnose(e)
        assert r.best is not None and "?" not in r.best.cause and "\x00" not in r.best.cause


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


# ----------------------------------------------------------------- absence is not evidence


def test_an_hpa_reading_its_metrics_vetoes_a_missing_metrics_server() -> None:
    """The HPA's status is the authority: a metrics-server APIService absent from our read
    (not found) never outweighs an HPA with ScalingActive=True and current metrics."""
    details = {
        "hpa": {
            "name": "profile-api",
            "at_max": True,
            "scaling_active": True,
            "failed_metrics": [],
            "current_replicas": 10,
            "max_replicas": 10,
            "current_metrics": [{"name": "cpu", "average_utilization": 168}],
            "conditions": [
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"},
            ],
        },
        "metrics_server_available": False,
        "kubernetes": {
            "metrics_server": "APIService v1beta1.metrics.k8s.io is not registered "
            "(metrics-server missing)"
        },
    }
    r = diagnose(Evidence.from_details(details, START))
    assert r.best is not None and r.best.entry.id == "hpa-at-max"
    assert not {"metrics-server-unavailable", "metrics-server-suspected"} & {
        h.entry.id for h in r.hypotheses
    }


def test_an_hpa_that_cannot_read_metrics_with_metrics_server_missing_names_it() -> None:
    details = {
        "hpa": {
            "name": "web",
            "at_max": False,
            "scaling_active": False,
            "failed_metrics": [
                "the HPA was unable to compute the replica count: failed to get "
                "cpu utilization: unable to get metrics for resource cpu"
            ],
            "current_replicas": 2,
            "max_replicas": 10,
            "current_metrics": [],
            "conditions": [{"type": "ScalingActive", "status": "False"}],
        },
        "metrics_server_available": False,
        "kubernetes": {"metrics_server": "APIService v1beta1.metrics.k8s.io is not registered"},
    }
    r = diagnose(Evidence.from_details(details, START))
    assert r.best is not None and r.best.entry.id == "metrics-server-unavailable"
    assert r.best.confidence == "high"


def test_absence_alone_is_never_named() -> None:
    """No HPA status either way and metrics-server not found: a suspicion, not a cause."""
    details = {
        "hpa": {
            "name": "web",
            "at_max": False,
            "scaling_active": True,
            "failed_metrics": [],
            "current_replicas": 2,
            "max_replicas": 10,
            "current_metrics": [],
            "conditions": [],
        },
        "metrics_server_available": False,
        "kubernetes": {"metrics_server": "metrics.k8s.io is not served (discovery)"},
    }
    r = diagnose(Evidence.from_details(details, START))
    assert r.best is None
    assert "metrics-server-suspected" in [h.entry.id for h in r.hypotheses]


def test_the_hpa_message_naming_the_metrics_api_needs_no_apiservice_read() -> None:
    e = ev(
        hpa=H(
            active=False,
            failed="failed to get cpu utilization: unable to get metrics for resource cpu: "
            "unable to fetch metrics from resource metrics API: the server could not find the "
            "requested resource (get pods.metrics.k8s.io)",
            server="unknown",
        )
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "metrics-server-unavailable"


# ----------------------------------------------------------------- runtimes' spellings

DNS_FORMS = [
    # Elixir (Postgrex/DBConnection over :gen_tcp: the inet error atom after the reason)
    (
        "08:19:00.000 [error] Postgrex.Protocol (#PID<0.2852.0>) failed to connect: ** "
        "(DBConnection.ConnectionError) tcp connect (orders-pg.orders.svc.cluster.local:5432): "
        "non-existing domain - :nxdomain",
        "orders-pg.orders.svc.cluster.local",
    ),
    # Ruby (redis-client, net/http)
    (
        "/usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:128:in "
        "`rescue in connect': getaddrinfo: Name or service not known "
        "(cache-primary.shared.svc.cluster.local:6379) (RedisClient::CannotConnectError)",
        "cache-primary.shared.svc.cluster.local",
    ),
    (
        "Failed to open TCP connection to search.internal:9200 (getaddrinfo: Temporary failure in "
        "name resolution) (SocketError)",
        "search.internal",
    ),
    # .NET
    (
        "System.Net.Http.HttpRequestException: No such host is known. (ledger-db.finance:5432)",
        "ledger-db.finance",
    ),
    (
        "System.Net.Http.HttpRequestException: Name or service not known (rates-api:8080)",
        "rates-api",
    ),
    # Python (redis-py, aiohttp)
    (
        "redis.exceptions.ConnectionError: Error -2 connecting to sessions-redis:6379. Name or "
        "service not known.",
        "sessions-redis",
    ),
    (
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host pricing.shop:443 "
        "ssl:default [Name or service not known]",
        "pricing.shop",
    ),
    # Java, Node, Go, curl/PHP
    (
        "java.net.UnknownHostException: kafka-0.kafka-headless: Name or service not known",
        "kafka-0.kafka-headless",
    ),
    ("Error: getaddrinfo ENOTFOUND mongo-rs0.data.svc", "mongo-rs0.data.svc"),
    ("dial tcp: lookup nats on 10.96.0.10:53: server misbehaving", "nats"),
    ("cURL error 6: Could not resolve host: api.partner.example", "api.partner.example"),
]


@pytest.mark.parametrize(("line", "host"), DNS_FORMS)
def test_dns_failures_of_each_runtime_name_the_host(line: str, host: str) -> None:
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-dns", r.likely_cause_line()
    assert f"the name {host} does not resolve" in r.best.cause


def test_elixir_connect_timeout_names_the_host() -> None:
    line = (
        "[error] Postgrex.Protocol (#PID<0.300.0>) failed to connect: ** "
        "(DBConnection.ConnectionError) tcp connect (10.20.0.3:5432): timeout"
    )
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-timeout", r.likely_cause_line()
    assert "10.20.0.3:5432" in r.best.cause


def test_elixir_connection_look_alikes() -> None:
    # a successful connect and a query timeout name no connection failure
    for line in (
        "[info] tcp connect (ledger-db:5432): ok in 3ms",
        "[error] Postgrex.Protocol (#PID<0.300.0>) disconnected: ** (DBConnection.ConnectionError)"
        " client #PID<0.512.0> timed out because it queued and checked out the connection for "
        "longer than 15000ms",
    ):
        found = set(ids(ev(logs=[L(line)])))
        assert not {"dependency-dns", "dependency-refused", "dependency-timeout"} & found, line


@pytest.mark.parametrize(
    "line",
    [
        "tcp connect (orders-pg:5432): non-existing domain cache flushed",
    ],
)
def test_elixir_dns_look_alike(line: str) -> None:
    assert "dependency-dns" not in ids(ev(logs=[L(line)]))


@pytest.mark.parametrize(
    "line",
    [
        # the exception class in parentheses is not a host
        "ruby_connection.rb:124:in `initialize': getaddrinfo: Name or service not known "
        "(SocketError)",
        "INFO resolved cache-primary.shared.svc.cluster.local to 10.4.0.12 (cache hit)",
        "WARN Could not resolve placeholder in template, using default",
    ],
)
def test_dns_look_alikes_do_not_match(line: str) -> None:
    assert "dependency-dns" not in ids(ev(logs=[L(line)]))


REFUSED_FORMS = [
    (
        "Elixir",
        "[error] Postgrex.Protocol (#PID<0.411.0>) failed to connect: ** "
        "(DBConnection.ConnectionError) tcp connect (ledger-db:5432): connection refused - "
        ":econnrefused",
        "ledger-db",
        "5432",
    ),
    (
        ".NET",
        "System.Net.Http.HttpRequestException: Connection refused (tax-api:8080)",
        "tax-api",
        "8080",
    ),
    (
        "Java Netty",
        "io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection "
        "refused: quotes/10.4.1.7:9090",
        "quotes",
        "9090",
    ),
    (
        "Spring",
        "org.springframework.web.client.ResourceAccessException: I/O error on POST "
        'request for "http://fx-rates:8081/convert": Connection refused',
        "fx-rates",
        "8081",
    ),
    (
        "Ruby",
        "Errno::ECONNREFUSED: Failed to open TCP connection to ledger:3000 (Connection "
        'refused - connect(2) for "ledger" port 3000)',
        "ledger",
        "3000",
    ),
    ("Node", "Error: connect ECONNREFUSED 10.96.44.7:8080", "10.96.44.7", "8080"),
]


@pytest.mark.parametrize(("runtime", "line", "host", "port"), REFUSED_FORMS)
def test_connection_refused_of_each_runtime_names_host_and_port(
    runtime: str, line: str, host: str, port: str
) -> None:
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-refused", runtime
    assert f"{host}:{port}" in r.best.cause


def test_a_dotnet_refusal_to_a_service_without_endpoints_is_upstream_down() -> None:
    e = ev(
        logs=[L("System.Net.Http.HttpRequestException: Connection refused (tax-api:8080)")],
        upstreams={
            "tax-api": {
                "target": "service billing/tax-api",
                "state": "no-endpoints",
                "detail": "0 ready endpoints of 2",
            }
        },
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "upstream-down"
    assert "service billing/tax-api" in r.best.cause
    assert hosts_in_logs([{"current": e.logs[0]["lines"]}]) == ["tax-api"]


def test_an_upstream_we_could_not_read_is_not_down() -> None:
    e = ev(
        logs=[L("System.Net.Http.HttpRequestException: Connection refused (tax-api:8080)")],
        upstreams={"tax-api": {"target": "s", "state": "unknown", "detail": "not read"}},
    )
    assert "upstream-down" not in ids(e)


def test_refused_look_alike_does_not_match() -> None:
    line = "INFO retry policy: Connection refused (will retry in 5s)"
    assert "dependency-refused" not in ids(ev(logs=[L(line)]))


MIGRATION_ERRORS = [
    (
        "Rails",
        'PG::DuplicateColumn: ERROR:  column "sku_normalized" of relation "products" '
        "already exists",
        'column "sku_normalized" of relation "products" already exists',
    ),
    (
        "Rails MySQL",
        "Mysql2::Error: Duplicate column name 'discount_code'",
        "Duplicate column name 'discount_code'",
    ),
    (
        "Flyway",
        'Message    : ERROR: relation "invoice_lines" does not exist',
        'relation "invoice_lines" does not exist',
    ),
    (
        "Liquibase",
        "Reason: liquibase.exception.DatabaseException: ERROR: relation "
        '"orders_status_idx" already exists [Failed SQL: (0) CREATE INDEX orders_status_idx]',
        'relation "orders_status_idx" already exists',
    ),
    (
        "Alembic",
        "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) table "
        '"carts" does not exist',
        'table "carts" does not exist',
    ),
    (
        "golang-migrate",
        'error: migration failed: column "email" of relation "users" contains '
        "null values in line 0: ALTER TABLE users ALTER COLUMN email SET NOT NULL",
        'column "email" of relation "users" contains null values',
    ),
    (
        "SQLite",
        "sqlite3.OperationalError: duplicate column name: nickname",
        "duplicate column name: nickname",
    ),
]


@pytest.mark.parametrize(("tool", "line", "specific"), MIGRATION_ERRORS)
def test_a_failing_migration_names_the_object_at_fault(tool: str, line: str, specific: str) -> None:
    e = ev(
        containers=[C("Error", 1, init=True)],
        logs=[L("== 20261203 AddThings: migrating ==", line, source="init")],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "migration-failed", tool
    assert specific in r.best.cause, (tool, r.best.cause)


def test_an_alembic_traceback_with_no_failed_line_is_a_failing_migration() -> None:
    e = ev(
        containers=[C("Error", 1, init=True)],
        logs=[
            L(
                "INFO  [alembic.runtime.migration] Running upgrade 3a1f -> 4b2c, cart index",
                "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "
                '"carts" does not exist',
                source="init",
            )
        ],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "migration-failed"
    assert 'relation "carts" does not exist' in r.best.cause


def test_an_init_container_not_running_migrations_is_not_a_migration() -> None:
    e = ev(
        containers=[C("Error", 1, init=True)],
        logs=[L('psql: error: relation "carts" does not exist', source="init")],
    )
    assert "migration-failed" not in ids(e)


def test_a_migration_without_a_database_error_line_still_names_the_failure() -> None:
    e = ev(
        containers=[C("Error", 1, init=True)],
        logs=[L("INFO table products exists", "Migration 42 failed: lock timeout", source="init")],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "migration-failed"
    assert "Migration 42 failed: lock timeout" in r.best.cause


# ----------------------------------------------------------------- the time rule


def test_a_pod_evicted_days_before_the_incident_is_history_not_its_cause() -> None:
    msg = (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 88412Ki. "
        "Container api was using 1873204Ki, request is 1Gi, has larger consumption of memory."
    )
    old = {**P("Evicted", msg), "ended_at": at(60 * 48)}
    r = diagnose(ev(pods=[old]))
    assert r.best is None, r.likely_cause_line()
    history = r.lines()[-1]
    assert history.startswith("Earlier history (before this incident, not its cause): pod ")
    assert "(2 days before the alert)" in history
    recent = {**P("Evicted", msg), "ended_at": at(10)}
    r = diagnose(ev(pods=[recent]))
    assert r.best is not None and r.best.entry.id == "evicted-node-pressure"
    assert not r.history, "evidence a named cause quotes is not history"


def test_a_pod_still_pending_is_current_whatever_its_age() -> None:
    pending = {
        "name": "api-7c9f-x2x4k",
        "unschedulable": True,
        "scheduling_message": "0/3 nodes are available: 3 Insufficient memory.",
        "ended_at": None,
    }
    e = ev(
        pods=[pending],
        events=[
            {
                **E("FailedScheduling", "0/3 nodes are available: 3 Insufficient memory."),
                "last_seen": at(0.5),  # first seen hours ago, still repeated: count keeps rising
            }
        ],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "unschedulable-resources"


def test_an_event_last_seen_over_an_hour_before_the_incident_is_history() -> None:
    old = {**E("Killing", "Stopping container api", type_="Normal"), "last_seen": at(61)}
    quota = {
        **E(
            "FailedCreate",
            'Error creating: pods "api-x" is forbidden: exceeded quota: compute-quota, '
            "requested: limits.memory=4Gi, used: limits.memory=14Gi, limited: limits.memory=16Gi",
            obj="replicaset/api-7c9f",
        ),
        "last_seen": at(75),
    }
    r = diagnose(ev(events=[old, quota]))
    assert "quota-exceeded" not in [h.entry.id for h in r.hypotheses]
    assert any("75 min before the alert" in h for h in r.history)
    quota["last_seen"] = at(50)
    assert diagnose(ev(events=[quota])).best is not None


READINESS = 'Readiness probe failed: Get "http://10.4.0.20:8080/healthz": context deadline exceeded'


@pytest.mark.parametrize(
    ("minutes_before", "named"), [(52, False), (16, False), (5, True), (-2, True)]
)
def test_a_readiness_failure_counts_only_while_it_goes_on(
    minutes_before: float, named: bool
) -> None:
    blip = {**E("Unhealthy", READINESS), "count": 1, "last_seen": at(minutes_before)}
    r = diagnose(ev(events=[blip]))
    assert (r.best is not None and r.best.entry.id == "readiness-probe-timeout") is named
    if not named:
        assert r.best is None and "Readiness probe failed" in r.lines()[-1]


def test_a_container_that_stopped_over_an_hour_before_is_history() -> None:
    oom = {**C("OOMKilled", 137), "finished_at": at(90)}
    r = diagnose(ev(containers=[oom]))
    assert r.best is None and "(90 min before the alert)" in r.lines()[-1]
    oom["finished_at"] = at(45)
    assert diagnose(ev(containers=[oom])).best is not None


def test_a_container_terminated_now_is_as_old_as_its_end() -> None:
    """An evicted pod's container (state.terminated now, no lastState) carries its finishedAt."""
    details = {
        "pods": [
            {
                "name": "api-x",
                "containers": [
                    {
                        "name": "api",
                        "restart_count": 0,
                        "terminated_reason": "OOMKilled",
                        "terminated_exit_code": 137,
                        "terminated_finished_at": at(60 * 30),
                    }
                ],
            }
        ]
    }
    r = diagnose(Evidence.from_details(details, START))
    assert r.best is None and "(30 h before the alert)" in r.lines()[-1]


def test_timestamped_log_lines_older_than_the_incident_are_history() -> None:
    stamp = (START - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    old = L(
        f"{stamp} ERROR boot failed",
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "goroutine 1 [running]:",
        source="current",
    )
    r = diagnose(ev(logs=[old]))
    assert r.best is None, r.likely_cause_line()
    assert "(3 h before the alert)" in r.lines()[-1]
    # Ruby's Logger layout, minutes before: current
    recent = (START - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    line = f"E, [{recent} #1] ERROR -- : dial tcp 10.8.0.7:5432: connect: connection refused"
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-refused"
    # a time without a zone may be local: 3 h is within a zone offset, 2 days is not
    for hours, stale in ((3, False), (48, True)):
        local = (START - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S,%f")
        r = diagnose(
            ev(logs=[L(f"{local} ERROR dial tcp 10.8.0.7:5432: connect: connection refused")])
        )
        assert (r.best is None) is stale, (hours, r.likely_cause_line())
    # a date inside the message is not the line's time
    line = "Error: certificate has expired, notAfter 2026-05-01T23:59:59Z (CERT_HAS_EXPIRED)"
    assert diagnose(ev(logs=[L(line)])).best is not None
    # no timestamp at all: nothing says it is old
    r = diagnose(ev(logs=[L("dial tcp 10.8.0.7:5432: connect: connection refused")]))
    assert r.best is not None


def test_from_details_reads_when_a_finished_pod_ended() -> None:
    from shared.k8s.reads import pod_summary

    raw = {
        "metadata": {"name": "api-x", "creationTimestamp": at(60 * 80)},
        "spec": {"nodeName": "n1", "containers": [{"name": "api"}]},
        "status": {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory. ",
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": at(60 * 49)},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": at(60 * 80)},
            ],
            "containerStatuses": [
                {
                    "name": "api",
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "ContainerStatusUnknown",
                            "finishedAt": at(60 * 48),
                        }
                    },
                }
            ],
        },
    }
    summary = pod_summary(raw)
    assert summary["ended_at"] == at(60 * 48)
    assert summary["containers"][0]["terminated_finished_at"] == at(60 * 48)
    running = {**raw, "status": {**raw["status"], "phase": "Running"}}
    assert pod_summary(running)["ended_at"] is None


# ----------------------------------------------------------------- specific before generic


SPRING_START_FAILURE = [
    "2026-06-12T09:58:10.296+00:00 ERROR 1 --- [api] [main] o.s.boot.SpringApplication"
    "               : Application run failed",
    "",
    "org.springframework.beans.factory.UnsatisfiedDependencyException: Error creating bean with "
    "name 'pointsController': Unsatisfied dependency expressed through constructor parameter 0",
    "\tat org.springframework.beans.factory.support.ConstructorResolver.createArgumentArray("
    "ConstructorResolver.java:795)",
    "Caused by: org.springframework.beans.factory.BeanCreationException: Error creating bean "
    "with name 'tierCalculator': Failed to instantiate",
    "\t... 21 common frames omitted",
    "Caused by: java.lang.IllegalArgumentException: tier thresholds must be increasing",
    "\tat com.example.tier.TierCalculator.<init>(TierCalculator.java:41)",
    "\t... 23 common frames omitted",
]


def test_a_named_exception_outranks_the_rollout_that_brought_it() -> None:
    e = ev(
        containers=[C("Error", 1, waiting="CrashLoopBackOff")],
        logs=[L(*SPRING_START_FAILURE)],
        changes=[dict(ROLLOUT)],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "java-exception", r.likely_cause_line()
    line = r.likely_cause_line()
    assert "java.lang.IllegalArgumentException: tier thresholds must be increasing" in line
    assert "began after revision 4 (image api:2.3.1) 6 min before the alert" in line
    assert "bad-rollout" in ids(e), "the rollout is still a hypothesis, ranked below"


def test_a_generic_entry_is_named_when_nothing_specific_is() -> None:
    e = ev(containers=[C("Error", 1, waiting="CrashLoopBackOff")], changes=[dict(ROLLOUT)])
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "bad-rollout"


def test_a_refused_dependency_outranks_exit_code_1() -> None:
    e = ev(
        containers=[C("Error", 1, waiting="CrashLoopBackOff")],
        logs=[
            L(
                "Connection refused - connect(2) for 10.20.0.4:6379 (RedisClient::"
                "CannotConnectError)"
            )
        ],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "dependency-refused"
    assert "10.20.0.4:6379" in r.best.cause


def test_a_readiness_probe_failing_because_of_a_dependency_names_the_dependency() -> None:
    e = ev(
        events=[{**E("Unhealthy", READINESS), "last_seen": at(1)}],
        logs=[L("ERROR health: redis: dial tcp 10.8.0.9:6379: i/o timeout", source="current")],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "dependency-timeout", r.likely_cause_line()
    assert "10.8.0.9:6379" in r.best.cause


def test_an_upstream_down_explains_the_refusals_without_a_log_matcher_of_its_own() -> None:
    """upstream-down takes the host from shared.investigation.upstreams (which kept the line)."""
    line = "Error connecting to Redis on sessions-redis:6379 (Errno::ECONNREFUSED)"
    e = ev(
        logs=[L(line)],
        upstreams={
            "sessions-redis": {
                "target": "service shop/sessions-redis",
                "state": "crash-looping",
                "detail": "0 ready endpoints, its 1 pods are in CrashLoopBackOff",
                "line": line,
            }
        },
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "upstream-down"
    assert r.best.evidence[0] == f"log: {line}"
    assert hosts_in_logs([{"previous": [line]}]) == ["sessions-redis"]


OPENSEARCH_REFUSED = [
    "WARNING:opensearch:GET http://opensearch.search.svc.cluster.local:9200/products/_search "
    "[status:N/A request:0.002s]",
    "Traceback (most recent call last):",
    '  File "/usr/local/lib/python3.11/site-packages/urllib3/connection.py", line 198, in '
    "_new_conn",
    "    sock = connection.create_connection(",
    "ConnectionRefusedError: [Errno 111] Connection refused",
]


def test_a_failure_naming_no_host_is_about_the_request_logged_just_before_it() -> None:
    # opensearch-py logs the request, then urllib3's traceback names no host
    found = host_lines([{"current": OPENSEARCH_REFUSED}])
    assert list(found) == ["opensearch.search.svc.cluster.local"]
    assert found["opensearch.search.svc.cluster.local"].startswith(
        "ConnectionRefusedError: [Errno 111] Connection refused (after: WARNING:opensearch:GET"
    )


def test_an_ip_failure_is_also_about_the_name_on_its_own_line() -> None:
    # NestJS microservices (amqplib): the IP it dialled, then the URL it was given
    line = (
        "[Nest] 1  - 11/08/2026, 7:02:01 AM   ERROR [Server] Error: connect ECONNREFUSED "
        "10.12.44.17:5672 (amqp://rabbitmq.messaging.svc.cluster.local:5672/notify)"
    )
    assert hosts_in_logs([{"current": [line]}]) == [
        "10.12.44.17",
        "rabbitmq.messaging.svc.cluster.local",
    ]


def test_request_context_look_alikes() -> None:
    far = [OPENSEARCH_REFUSED[0], *["  frame"] * 25, OPENSEARCH_REFUSED[-1]]
    assert hosts_in_logs([{"current": far}]) == []  # too far back to be the same request
    after = [OPENSEARCH_REFUSED[-1], OPENSEARCH_REFUSED[0]]
    assert hosts_in_logs([{"current": after}]) == []  # a later request is another one
    local = ["GET http://localhost:9200/_search", OPENSEARCH_REFUSED[-1]]
    assert hosts_in_logs([{"current": local}]) == []  # localhost has no Service
    by_ip = ["GET http://10.12.0.5:9200/_search", OPENSEARCH_REFUSED[-1]]
    assert hosts_in_logs([{"current": by_ip}]) == []  # nor has a bare IP a name
    fine = ["GET http://opensearch.search.svc:9200/_search 200", "INFO refused 0 requests"]
    assert hosts_in_logs([{"current": fine}]) == []  # no failure, no host
    # a line that names its host wins over one that only follows a request to it
    named = "Failed to connect to opensearch port 9200 after 0 ms: Connection refused"
    found = host_lines(
        [{"current": [named, "GET http://opensearch:9200/x", "Errno::ECONNREFUSED"]}]
    )
    assert found == {"opensearch": named}


# ----------------------------------------------------------------- the JVM's root cause


def test_the_jvm_entry_names_the_root_caused_by_and_its_message() -> None:
    r = diagnose(ev(logs=[L(*SPRING_START_FAILURE)]))
    assert r.best is not None and r.best.entry.id == "java-exception"
    assert r.best.captures["exception"] == "java.lang.IllegalArgumentException"
    assert r.best.captures["detail"] == "tier thresholds must be increasing"


def test_a_spring_failure_analyzer_report_names_the_exception() -> None:
    r = diagnose(
        ev(
            logs=[
                L(
                    "***************************",
                    "APPLICATION FAILED TO START",
                    "***************************",
                    "Caused by: java.lang.IllegalStateException: No datasource url configured",
                )
            ]
        )
    )
    assert r.best is not None and r.best.entry.id == "java-exception"
    assert "IllegalStateException" in r.best.cause


def test_a_one_line_json_stack_trace_names_its_last_caused_by() -> None:
    line = (
        '{"level":"ERROR","message":"Application run failed","stack_trace":"org.springframework.'
        "beans.factory.BeanCreationException: Error creating bean\\n\\tat x.y(Z.java:1)\\nCaused"
        ' by: java.lang.NumberFormatException: For input string: \\"30s\\"\\n\\tat x(Y.java:2)'
        '"}'
    )
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "java-exception"
    assert r.best.captures["exception"] == "java.lang.NumberFormatException"


def test_a_handled_java_exception_in_a_running_app_is_not_a_crash() -> None:
    line = "WARN c.e.Api : retrying: Caused by: java.lang.IllegalStateException: pool busy"
    assert "java-exception" not in ids(ev(logs=[L(line, source="current")]))


def test_a_jvm_failing_to_connect_is_the_dependency_not_an_exception() -> None:
    lines = [
        "ERROR o.s.boot.SpringApplication : Application run failed",
        "Caused by: org.postgresql.util.PSQLException: Connection to ledger-db:5432 refused. "
        "Check that the hostname and port are correct and that the postmaster is accepting "
        "TCP/IP connections.",
        "Caused by: java.net.ConnectException: Connection refused",
    ]
    r = diagnose(ev(logs=[L(*lines)]))
    assert r.best is not None and r.best.entry.id == "dependency-refused", r.likely_cause_line()
    assert "ledger-db:5432" in r.best.cause


# ----------------------------------------------------------------- more clients' spellings

MORE_REFUSED = [
    (
        "redis-client",
        "Connection refused - connect(2) for 10.20.0.4:6379 (RedisClient::CannotConnectError)",
        "10.20.0.4:6379",
    ),
    (
        "redis-rb",
        "Error connecting to Redis on 10.20.0.4:6379 (Errno::ECONNREFUSED)",
        "10.20.0.4:6379",
    ),
    (
        "redis-py",
        "redis.exceptions.ConnectionError: Error 111 connecting to cache:6379. Connection refused.",
        "cache:6379",
    ),
    (
        "psycopg",
        'psycopg.OperationalError: connection to server at "pg.internal" (10.0.0.1), '
        "port 5432 failed: Connection refused",
        "pg.internal:5432",
    ),
    (
        "Go",
        "failed to connect: dial tcp 10.0.0.1:5432: connect: connection refused",
        "10.0.0.1:5432",
    ),
    ("Node", "Error: connect ECONNREFUSED 10.0.0.1:6379", "10.0.0.1:6379"),
    (
        "PgJDBC",
        "org.postgresql.util.PSQLException: Connection to db:5432 refused. Check that "
        "the hostname and port are correct",
        "db:5432",
    ),
    (
        "asyncio",
        "OSError: Multiple exceptions: [Errno 111] Connect call failed ('10.0.0.5', "
        "5432), [Errno 99] Cannot assign requested address",
        "10.0.0.5:5432",
    ),
    (
        "curl",
        "curl: (7) Failed to connect to api.internal port 8080 after 0 ms: Connection refused",
        "api.internal:8080",
    ),
    (
        "pymongo",
        "pymongo.errors.ServerSelectionTimeoutError: mongo-0:27017: [Errno 111] Connection refused",
        "mongo-0:27017",
    ),
    (
        "kombu",
        "consumer: Cannot connect to amqp://guest:**@rabbitmq:5672//: [Errno 111] "
        "Connection refused.",
        "rabbitmq:5672",
    ),
    (
        "nginx",
        "2026/06/12 09:58:00 [error] 22#22: *9 connect() failed (111: Connection refused)"
        ' while connecting to upstream, client: 10.1.0.3, server: _, request: "GET / HTTP/1.1", '
        'upstream: "http://10.4.0.7:8080/", host: "shop"',
        "10.4.0.7:8080",
    ),
]


@pytest.mark.parametrize(("client", "line", "endpoint"), MORE_REFUSED)
def test_more_clients_refused_name_the_endpoint(client: str, line: str, endpoint: str) -> None:
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-refused", client
    assert f"connections to {endpoint} are refused" in r.best.cause, (client, r.best.cause)


@pytest.mark.parametrize(
    "line",
    [
        "ConnectionRefusedError: [Errno 111] Connection refused",
        "java.net.ConnectException: Connection refused",
        "SQLSTATE[HY000] [2002] Connection refused",
    ],
)
def test_a_refusal_naming_no_host_is_still_named(line: str) -> None:
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-refused"
    assert "a dependency (the log line names no host)" in r.best.cause
    assert "{" not in r.best.fix


MORE_TIMEOUTS = [
    ("Go", "dial tcp 10.0.0.1:5432: connect: connection timed out", "10.0.0.1:5432"),
    (
        "psycopg",
        'connection to server at "pg" (10.0.0.1), port 5432 failed: Connection timed out',
        "pg:5432",
    ),
    ("Node", "Error: connect ETIMEDOUT 10.0.0.1:443", "10.0.0.1:443"),
    ("redis-py", "Error 110 connecting to cache:6379. Connection timed out.", "cache:6379"),
    (
        "Netty",
        "io.netty.channel.ConnectTimeoutException: connection timed out: quotes/10.4.1.7:9090",
        "quotes:9090",
    ),
    (
        "Ruby",
        "Failed to open TCP connection to api.partner.example:443 (execution expired)",
        "api.partner.example:443",
    ),
    ("redis-client", "Timed out connecting to Redis on 10.20.0.4:6379", "10.20.0.4:6379"),
    (
        "curl",
        "curl: (28) Failed to connect to api.internal port 443 after 130001 ms: Timeout "
        "was reached",
        "api.internal:443",
    ),
]


@pytest.mark.parametrize(("client", "line", "endpoint"), MORE_TIMEOUTS)
def test_more_clients_timeouts_name_the_endpoint(client: str, line: str, endpoint: str) -> None:
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-timeout", client
    assert f"connections to {endpoint} time out" in r.best.cause, (client, r.best.cause)


@pytest.mark.parametrize(
    "line",
    [
        "INFO connect timeout is 5s, read timeout 30s",
        "DEBUG ETIMEDOUT retries left: 3",
        "INFO Timed out waiting for leader election, retrying",
    ],
)
def test_timeout_look_alikes_do_not_match(line: str) -> None:
    assert "dependency-timeout" not in ids(ev(logs=[L(line)]))


def test_psycopg3_dns_failure_names_the_host() -> None:
    line = (
        "psycopg.OperationalError: failed to resolve host 'ledger-db': [Errno -2] Name or "
        "service not known"
    )
    r = diagnose(ev(logs=[L(line)]))
    assert r.best is not None and r.best.entry.id == "dependency-dns"
    assert "ledger-db" in r.best.cause


def test_fill_takes_a_quoted_default() -> None:
    assert fill("to {endpoint|'a dependency'}", {}) == "to a dependency"
    assert fill("to {endpoint|'a dependency'}", {"endpoint": "db:5432"}) == "to db:5432"


def test_a_stronger_generic_entry_still_ranks_below_a_named_specific_cause() -> None:
    """init-container-failing (80) is a symptom; the refused database in its log (74) is the
    cause."""
    e = ev(
        containers=[C("Error", 1, init=True)],
        logs=[L("psql: error: dial tcp 10.0.0.1:5432: connect: connection refused", source="init")],
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "dependency-refused", r.likely_cause_line()
    assert r.hypotheses[1].entry.id == "init-container-failing"


def test_a_long_one_line_stack_trace_keeps_its_root_cause() -> None:
    from shared.k8s.reads import MAX_LOG_LINE, clip_log_line

    frames = "\\n\\tat com.example.Frame.call(Frame.java:1)" * 30
    line = (
        '{"message":"Application run failed","stack_trace":"org.springframework.beans.'
        "BeanCreationException: Error creating bean"
        + frames
        + "\\nCaused by: java.lang.IllegalStateException: bad tiers"
        + frames
        + '"}'
    )
    clipped = clip_log_line(line)
    assert len(clipped) <= MAX_LOG_LINE
    assert clipped.startswith('{"message":"Application run failed"')
    assert "Caused by: java.lang.IllegalStateException: bad tiers" in clipped
    assert clip_log_line("short line") == "short line"
    plain = "x" * (MAX_LOG_LINE + 50)
    assert clip_log_line(plain) == plain[: MAX_LOG_LINE - 1] + "…"


def test_pods_of_another_workload_matching_the_selector_are_not_its_evidence() -> None:
    from shared.investigation.k8s_evidence import _owned_by

    def pod(kind: str | None, name: str = "") -> dict[str, Any]:
        refs = [{"kind": kind, "name": name, "controller": True}] if kind else []
        return {"metadata": {"name": "p", "ownerReferences": refs}}

    assert _owned_by(pod("ReplicaSet", "reports-api-7c9f8d"), "Deployment", "reports-api")
    assert not _owned_by(pod("Job", "reports-api-backfill-1"), "Deployment", "reports-api")
    assert not _owned_by(pod("ReplicaSet", "billing-5d8f"), "Deployment", "reports-api")
    assert _owned_by(pod("StatefulSet", "db"), "StatefulSet", "db")
    assert not _owned_by(pod("StatefulSet", "db-replica"), "StatefulSet", "db")
    assert _owned_by(pod(None), "Deployment", "reports-api"), "no owner: nothing says not ours"
    assert _owned_by(pod("Job", "x"), "Service", "reports-api"), "a Service's pods are all kept"


# ---------------------------------------------------------------- fix round 4 (holdout3 classes)


def _running(restarts: int = 0) -> dict[str, Any]:
    """The app container running and ready (a handled exception's pod)."""
    return {**C(reason="", exit_code=None, restarts=restarts), "ready": restarts == 0}


# A client exception naming a connect timeout / refusal / DNS / TLS failure: the dependency's
# cause (with its host) whatever the runtime, never "the application crashes with …".
DEPENDENCY_EXCEPTIONS = [
    (
        "requests ConnectTimeout",
        [
            "Traceback (most recent call last):",
            '  File "/app/relay/delivery.py", line 44, in deliver',
            "requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='hooks.partner.io', "
            "port=443): Max retries exceeded with url: /v1/events (Caused by "
            "ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x7f3a>, "
            "'Connection to hooks.partner.io timed out. (connect timeout=5)'))",
        ],
        "dependency-timeout",
        "hooks.partner.io",
    ),
    (
        "urllib3 ConnectTimeoutError alone",
        [
            "Traceback (most recent call last):",
            '  File "/app/x.py", line 3, in <module>',
            "urllib3.exceptions.ConnectTimeoutError: (<urllib3.connection.HTTPSConnection "
            "object at 0x7f>, 'Connection to api.billing.example timed out. (connect timeout=3)')",
        ],
        "dependency-timeout",
        "api.billing.example",
    ),
    (
        "requests NewConnectionError refused",
        [
            "Traceback (most recent call last):",
            '  File "/app/x.py", line 3, in <module>',
            "requests.exceptions.ConnectionError: HTTPConnectionPool(host='search.shop.svc', "
            "port=9200): Max retries exceeded with url: / (Caused by NewConnectionError('<urllib3"
            ".connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: "
            "[Errno 111] Connection refused'))",
        ],
        "dependency-refused",
        "search.shop.svc",
    ),
    (
        "urllib3 2 NameResolutionError",
        [
            "Traceback (most recent call last):",
            '  File "/app/x.py", line 3, in <module>',
            "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.stripe.invalid', "
            "port=443): Max retries exceeded with url: /v1 (Caused by NameResolutionError("
            '"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve '
            "'api.stripe.invalid' ([Errno -2] Name or service not known)\"))",
        ],
        "dependency-dns",
        "api.stripe.invalid",
    ),
    (
        "aiohttp connect timeout",
        [
            "Traceback (most recent call last):",
            '  File "/app/x.py", line 3, in <module>',
            "aiohttp.client_exceptions.ServerTimeoutError: Connection timeout to host "
            "https://geo.partner.net/v2/lookup",
        ],
        "dependency-timeout",
        "geo.partner.net",
    ),
    (
        "Node undici fetch",
        [
            "TypeError: fetch failed",
            "    at node:internal/deps/undici/undici:12502:13",
            "  [cause]: ConnectTimeoutError: Connect Timeout Error (attempted address: "
            "push.vendor.com:443, timeout: 10000ms)",
        ],
        "dependency-timeout",
        "push.vendor.com",
    ),
    (
        "Apache HttpClient",
        [
            "Caused by: org.apache.http.conn.ConnectTimeoutException: Connect to "
            "ledger.bank.example:443 [ledger.bank.example/10.2.3.4] failed: connect timed out",
        ],
        "dependency-timeout",
        "ledger.bank.example",
    ),
    (
        "OkHttp",
        [
            "java.net.SocketTimeoutException: failed to connect to maps.vendor.io/34.1.2.3 "
            "(port 443) from /10.8.0.12 (port 41822) after 10000ms",
        ],
        "dependency-timeout",
        "maps.vendor.io",
    ),
]


@pytest.mark.parametrize(("client", "lines", "entry_id", "host"), DEPENDENCY_EXCEPTIONS)
def test_an_exception_naming_a_connection_failure_is_the_dependency(
    client: str, lines: list[str], entry_id: str, host: str
) -> None:
    for logs in ([L(*lines)], [L(*lines, source="current")]):
        r = diagnose(ev(logs=logs, containers=[_running()]))
        assert r.best is not None and r.best.entry.id == entry_id, (client, r.lines())
        assert host in r.best.cause
        assert "crashes" not in r.best.cause


def test_a_handled_exception_in_a_healthy_pod_is_said_handled_and_weaker() -> None:
    lines = [
        "[2026-06-12 09:58:00,680] ERROR app.views: export failed",
        "Traceback (most recent call last):",
        '  File "/app/export.py", line 12, in run',
        "ValueError: invalid literal for int() with base 10: 'n/a'",
    ]
    handled = diagnose(ev(logs=[L(*lines, source="current")], containers=[_running()]))
    best = handled.best
    assert best is not None and best.entry.id == "python-exception"
    assert "crashes" not in best.cause and "handled" in best.cause
    assert best.strength < cat.HIGH and best.confidence == "medium"
    # the same traceback in the log of a container that restarts is a crash: a fact, but as a
    # root cause medium (the exception does not say why), and stronger than the handled one
    crashed = diagnose(ev(logs=[L(*lines, source="current")], containers=[_running(restarts=4)]))
    assert crashed.best is not None and "crashes with ValueError" in crashed.best.cause
    assert crashed.best.confidence == "medium" and crashed.best.strength > best.strength
    previous = diagnose(ev(logs=[L(*lines)], containers=[_running()]))
    assert previous.best is not None and "crashes with ValueError" in previous.best.cause


# The final exception line of a traceback under a framework's own log lines.
PYTHON_SHAPES = [
    (
        "celery, tail cut the header off",
        [
            '  File "/app/invoices/pdf/render.py", line 4, in <module>',
            "    from weasyprint import CSS, HTML",
            "ModuleNotFoundError: No module named 'weasyprint'",
        ],
        "ModuleNotFoundError",
        "weasyprint",
    ),
    (
        "celery unrecoverable",
        [
            "[2026-06-12 09:59:01,100: CRITICAL/MainProcess] Unrecoverable error: "
            "ImportError(\"cannot import name 'Sequence' from 'collections'\")",
            "Traceback (most recent call last):",
        ],
        "ImportError",
        "Sequence",
    ),
    (
        "gunicorn worker boot",
        [
            "[2026-06-12 09:59:00 +0000] [7] [ERROR] Exception in worker process",
            "Traceback (most recent call last):",
            '  File "/usr/local/lib/python3.12/site-packages/gunicorn/arbiter.py", line 609',
            "django.core.exceptions.ImproperlyConfigured: SECRET_KEY setting must not be empty.",
            "[2026-06-12 09:59:00 +0000] [7] [INFO] Worker exiting (pid: 7)",
        ],
        "django.core.exceptions.ImproperlyConfigured",
        "SECRET_KEY setting",
    ),
    (
        "chained, during handling",
        [
            "Traceback (most recent call last):",
            '  File "/app/a.py", line 3, in <module>',
            "KeyError: 'x'",
            "During handling of the above exception, another exception occurred:",
            "Traceback (most recent call last):",
            '  File "/app/a.py", line 5, in <module>',
            "RuntimeError: feature flags unreadable",
        ],
        "RuntimeError",
        "feature flags unreadable",
    ),
    (
        "structlog JSON field",
        [
            '{"event": "worker crashed", "level": "critical", "exception": "Traceback (most '
            'recent call last):\\n  File \\"/app/w.py\\", line 9, in main\\nsqlalchemy.exc.'
            'ProgrammingError: (psycopg.errors.UndefinedTable) relation \\"jobs\\" does not '
            'exist\\n"}',
        ],
        "sqlalchemy.exc.ProgrammingError",
        "UndefinedTable",
    ),
]


@pytest.mark.parametrize(("shape", "lines", "exception", "detail"), PYTHON_SHAPES)
def test_python_traceback_final_line_in_framework_logs(
    shape: str, lines: list[str], exception: str, detail: str
) -> None:
    r = diagnose(ev(logs=[L(*lines)], containers=[C()], changes=[ROLLOUT]))
    assert r.best is not None and r.best.entry.id == "python-exception", (shape, r.lines())
    assert r.best.captures["exception"] == exception
    assert detail in r.best.cause


def test_python_look_alikes_are_not_a_traceback() -> None:
    # a warning's file:line prefix, and an exception name in a message without a traceback
    lines = [
        "/usr/local/lib/python3.11/site-packages/celery/platforms.py:829: SecurityWarning: "
        "You're running the worker with superuser privileges",
        "ERROR app: ValueError: bad input from client 10.0.0.4",
    ]
    assert "python-exception" not in ids(ev(logs=[L(*lines)]))


NODE_SHAPES = [
    (
        "NestJS DI",
        [
            "[Nest] 1  - 06/12/2026, 9:58:32 AM   ERROR [ExceptionHandler] Nest can't resolve "
            "dependencies of the MailerService (ConfigService, ?). Please make sure that the "
            'argument "SMTP_TRANSPORT" at index [1] is available in the MailModule context.',
            "Error: Nest can't resolve dependencies of the MailerService (ConfigService, ?). "
            'Please make sure that the argument "SMTP_TRANSPORT" at index [1] is available in '
            "the MailModule context.",
            "    at Injector.lookupComponentInParentModules (/app/node_modules/@nestjs/core/"
            "injector/injector.js:262:19)",
        ],
        "MailerService",
    ),
    (
        "ESM module not found",
        [
            "node:internal/modules/esm/resolve:838",
            "  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);",
            "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'pino-pretty' imported from "
            "/app/dist/log.js",
            "    at packageResolve (node:internal/modules/esm/resolve:838:9)",
        ],
        "pino-pretty",
    ),
    (
        "unhandled rejection",
        [
            "node:internal/process/promises:289",
            "            triggerUncaughtException(err, true /* fromPromise */);",
            "[UnhandledPromiseRejection: This error originated either by throwing inside of an "
            "async function without a catch block, or by rejecting a promise which was not "
            'handled with .catch(). The promise rejected with the reason "queue name missing".] '
            "{",
        ],
        "queue name missing",
    ),
    (
        "ts-node compile error",
        [
            "TSError: \u2a2f Unable to compile TypeScript:",
            "src/routes/orders.ts(42,17): error TS2339: Property 'totl' does not exist on type "
            "'Order'.",
        ],
        "totl",
    ),
    (
        "express listen",
        [
            "Error: listen EADDRINUSE: address already in use :::3000",
            "    at Server.setupListenHandle [as _listen2] (node:net:1872:16)",
        ],
        "EADDRINUSE",
    ),
]


@pytest.mark.parametrize(("shape", "lines", "specific"), NODE_SHAPES)
def test_node_errors_of_each_shape_are_named(shape: str, lines: list[str], specific: str) -> None:
    r = diagnose(ev(logs=[L(*lines)], containers=[C()], changes=[ROLLOUT]))
    assert r.best is not None and r.best.entry.id == "node-exception", (shape, r.lines())
    assert specific in r.best.cause


def test_node_look_alikes() -> None:
    # an error line with no stack, a refused connection (the dependency's), a Java frame
    assert "node-exception" not in ids(ev(logs=[L("Error: something odd, retrying")]))
    refused = ev(
        logs=[
            L(
                "Error: connect ECONNREFUSED 10.4.0.9:6379",
                "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)",
            )
        ]
    )
    assert ids(refused)[0] == "dependency-refused"


TLS_FORMS = [
    (
        "Java PKIX validity",
        [
            "Caused by: sun.security.validator.ValidatorException: PKIX path validation failed: "
            "java.security.cert.CertPathValidatorException: validity check failed",
            "Caused by: java.security.cert.CertificateExpiredException: NotAfter: Sun Jun 11 "
            "23:59:59 UTC 2026",
        ],
        "tls-expired",
        "Jun 11 23:59:59 UTC 2026",
    ),
    (
        "Python ssl",
        [
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
            "failed: certificate has expired (_ssl.c:1006)"
        ],
        "tls-expired",
        "expired",
    ),
    ("Node", ["Error: certificate has expired", "  code: 'CERT_HAS_EXPIRED'"], "tls-expired", ""),
    (
        "curl",
        ["curl: (60) SSL certificate problem: certificate has expired"],
        "tls-expired",
        "",
    ),
    (
        ".NET",
        [
            "System.Security.Authentication.AuthenticationException: The remote certificate is "
            "invalid because of errors in the certificate chain: NotTimeValid"
        ],
        "tls-expired",
        "",
    ),
    (
        "Java unknown authority",
        [
            "Caused by: sun.security.provider.certpath.SunCertPathBuilderException: unable to "
            "find valid certification path to requested target"
        ],
        "tls-unknown-authority",
        "",
    ),
    (
        "Node leaf",
        [
            "Error: unable to verify the first certificate",
            "  code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'",
        ],
        "tls-unknown-authority",
        "",
    ),
    (
        # Ruby's OpenSSL binding puts the verify reason in parentheses (ruby/openssl ssl.c)
        "Ruby unknown authority",
        [
            "SSL_connect returned=1 errno=0 peeraddr=203.0.113.9:443 state=error: certificate "
            "verify failed (unable to get local issuer certificate) (OpenSSL::SSL::SSLError)"
        ],
        "tls-unknown-authority",
        "",
    ),
    (
        "Ruby expired",
        [
            "SSL_connect returned=1 errno=0 peeraddr=198.51.100.4:443 state=error: certificate "
            "verify failed (certificate has expired) (OpenSSL::SSL::SSLError)"
        ],
        "tls-expired",
        "",
    ),
    (
        ".NET untrusted root",
        [
            "The remote certificate is invalid because of errors in the certificate chain: "
            "UntrustedRoot"
        ],
        "tls-unknown-authority",
        "",
    ),
]


@pytest.mark.parametrize(("runtime", "lines", "entry_id", "specific"), TLS_FORMS)
def test_tls_failures_of_each_runtime(
    runtime: str, lines: list[str], entry_id: str, specific: str
) -> None:
    r = diagnose(ev(logs=[L(*lines, source="current")], containers=[_running()]))
    assert r.best is not None and r.best.entry.id == entry_id, (runtime, r.lines())
    assert specific in r.best.cause and "?" not in r.best.cause


def test_tls_look_alikes() -> None:
    renewed = ev(logs=[L("INFO cert-manager: certificate will expire in 29 days, renewing")])
    assert not {"tls-expired", "tls-unknown-authority"} & set(ids(renewed))
    # a verify mode being configured is not a verification failure
    configured = ev(logs=[L("INFO ssl: certificate verify failed checks enabled (VERIFY_PEER)")])
    assert not {"tls-expired", "tls-unknown-authority"} & set(ids(configured))


def test_the_rust_panic_message_on_the_next_line_is_captured() -> None:
    r = diagnose(
        ev(
            logs=[
                L(
                    "thread 'main' panicked at src/style/loader.rs:112:38:",
                    'called `Result::unwrap()` on an `Err` value: Error("unknown variant")',
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
                )
            ]
        )
    )
    assert r.best is not None and r.best.entry.id == "rust-panic"
    assert r.best.cause.startswith("the application panics at src/style/loader.rs:112:38: called")
    old = diagnose(ev(logs=[L("thread 'main' panicked at 'index out of bounds', src/a.rs:3:5")]))
    assert old.best is not None and "src/a.rs:3:5: index out of bounds" in old.best.cause


def test_the_liveness_cause_names_the_probe_detail_not_the_kill() -> None:
    r = diagnose(
        ev(
            events=[
                E("Killing", "Container api failed liveness probe, will be restarted"),
                E(
                    "Unhealthy",
                    'Liveness probe failed: Get "http://10.4.0.7:8080/healthz": context deadline '
                    "exceeded (Client.Timeout exceeded while awaiting headers)",
                ),
            ]
        )
    )
    assert r.best is not None and r.best.entry.id == "liveness-probe-restarts"
    assert "/healthz" in r.best.cause and "context deadline exceeded" in r.best.cause


GO_SHAPES = [
    ("panic: assignment to entry in nil map", "goroutine 1 [running]:", "nil map"),
    ("fatal error: concurrent map writes", "goroutine 41 [running]:", "concurrent map writes"),
]


@pytest.mark.parametrize(("first", "second", "specific"), GO_SHAPES)
def test_go_panics_and_fatal_errors(first: str, second: str, specific: str) -> None:
    r = diagnose(ev(logs=[L(first, second)]))
    assert r.best is not None and r.best.entry.id == "go-panic" and specific in r.best.cause


def test_a_recovered_go_http_panic_in_a_healthy_pod_is_not_a_crash() -> None:
    line = (
        "2026/06/12 09:58:00 http: panic serving 10.4.0.1:51234: runtime error: index out of "
        "range [3] with length 3"
    )
    r = diagnose(ev(logs=[L(line, source="current")], containers=[_running()]))
    assert r.best is not None and r.best.entry.id == "go-panic"
    assert "recovered" in r.best.cause and r.best.confidence != "high"


GRPC_ENVOY = [
    (
        'details = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.4.7.12:50051:'
        ' Failed to connect to remote host: Connection refused"',
        "dependency-refused",
        "10.4.7.12:50051",
    ),
    (
        'details = "failed to connect to all addresses; last error: UNAVAILABLE: '
        'ipv4:10.4.7.12:50051: Failed to connect to remote host: Timeout occurred: FD Shutdown"',
        "dependency-timeout",
        "10.4.7.12:50051",
    ),
    (
        'details = "DNS resolution failed for ledger.payments.svc:50051: C-ares status is not '
        'ARES_SUCCESS qtype=A name=ledger.payments.svc is_balancer=0: Domain name not found"',
        "dependency-dns",
        "ledger.payments.svc",
    ),
    (
        '[2026-06-12T09:58:41.001Z] "POST /v1/reserve HTTP/1.1" 503 UF upstream connect error or '
        "disconnect/reset before headers. reset reason: connection failure, transport failure "
        'reason: delayed connect error: 111 "-" outbound|8080||stock.shop.svc.cluster.local',
        "dependency-refused",
        "stock.shop.svc.cluster.local",
    ),
]


@pytest.mark.parametrize(("line", "entry_id", "specific"), GRPC_ENVOY)
def test_grpc_and_envoy_name_the_target(line: str, entry_id: str, specific: str) -> None:
    r = diagnose(ev(logs=[L(line, source="current")], containers=[_running()]))
    assert r.best is not None and r.best.entry.id == entry_id, r.lines()
    assert specific in r.best.cause


def test_otel_export_noise_names_no_dependency() -> None:
    line = (
        "2026-06-12T09:58:50Z WARNING opentelemetry.exporter.otlp.proto.grpc.exporter: Transient "
        "error StatusCode.UNAVAILABLE encountered while exporting metrics to "
        "otel-collector.observability.svc.cluster.local:4317, retrying in 2s."
    )
    assert ids(ev(logs=[L(line, source="current")], containers=[_running()])) == []


GCP_DENIED = [
    (
        "Workload Identity",
        "google.auth.exceptions.RefreshError: ('Unable to acquire impersonated credentials', "
        '\'{"error": {"code": 403, "message": "Permission '
        "\\'iam.serviceAccounts.getAccessToken\\' denied on resource (or it may not exist).\", "
        '"status": "PERMISSION_DENIED"}}\')',
        "iam.serviceAccounts.getAccessToken",
    ),
    (
        "Cloud SQL Auth Proxy",
        "2026/06/12 09:58:40 [shop:europe-west1:orders] failed to connect to instance: failed to "
        'get instance: Refresh error: failed to get instance metadata (connection name = "shop:'
        'europe-west1:orders"): googleapi: Error 403: boss::NOT_AUTHORIZED: Not authorized to '
        "access resource. Possibly missing permission cloudsql.instances.get on resource "
        "instances/orders., forbidden",
        "cloudsql.instances.get",
    ),
    (
        "GCS",
        "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/download/"
        "storage/v1/b/acme-models/o/model.bin?alt=media: exporter@acme-prod.iam.gserviceaccount"
        ".com does not have storage.objects.get access to the Google Cloud Storage object.",
        "storage.objects.get",
    ),
]


@pytest.mark.parametrize(("api", "line", "permission"), GCP_DENIED)
def test_a_google_api_refusing_the_identity_names_the_permission(
    api: str, line: str, permission: str
) -> None:
    r = diagnose(ev(logs=[L(line)], containers=[C()]))
    assert r.best is not None and r.best.entry.id == "gcp-permission-denied", (api, r.lines())
    assert permission in r.best.cause and "?" not in r.best.cause


def test_a_permission_word_in_an_app_message_is_not_iam() -> None:
    line = "WARN orders: user 8812 lacks permission orders.refund (403 returned to client)"
    assert "gcp-permission-denied" not in ids(ev(logs=[L(line, source="current")]))


# Fix round 5: a language exception defers to the specific cause its own text states; warnings
# and defaulted settings are no cause; a language crash alone is medium confidence.
DEFERS = [
    (
        [
            "Unhandled exception. System.UnauthorizedAccessException: Access to the path "
            "'/var/lib/keys' is denied.",
            " ---> System.IO.IOException: Permission denied",
        ],
        "permission-denied",
        "/var/lib/keys",
    ),
    (
        [
            "/app/boot.rb:3:in `mkdir': Permission denied @ dir_s_mkdir - /srv/cache "
            "(Errno::EACCES)",
        ],
        "permission-denied",
        "/srv/cache",
    ),
    (
        [
            "/usr/local/bundle/gems/railties-7.1.3.4/lib/rails/application/configuration.rb:510:"
            "in `rescue in database_configuration': YAML syntax error occurred while parsing "
            "/rails/config/database.yml. Tabs are not allowed. (RuntimeError)",
            "\tfrom /rails/config/environment.rb:5:in `<main>'",
            "/usr/local/lib/ruby/3.3.0/psych/parser.rb:62:in `_native_parse': (<unknown>): found "
            "character that cannot start any token (Psych::SyntaxError)",
        ],
        "config-unparsable",
        "config/database.yml",
    ),
    (
        [
            "Traceback (most recent call last):",
            '  File "/app/main.py", line 9, in <module>',
            "yaml.scanner.ScannerError: mapping values are not allowed here",
            '  in "/etc/app/config.yaml", line 3, column 8',
        ],
        "config-unparsable",
        "/etc/app/config.yaml",
    ),
]


@pytest.mark.parametrize(("lines", "entry_id", "specific"), DEFERS)
def test_a_language_exception_defers_to_the_cause_its_text_states(
    lines: list[str], entry_id: str, specific: str
) -> None:
    r = diagnose(ev(logs=[L(*lines)], containers=[C("Error", 1)]))
    assert r.best is not None and r.best.entry.id == entry_id, r.lines()
    assert specific in r.best.cause


def test_a_retry_warning_records_before_a_panic_does_not_take_its_place() -> None:
    lines = [
        'time=2026-06-12T09:58:00Z level=WARN msg="db not reachable, retrying" '
        'err="dial tcp 10.0.0.5:5432: connect: connection refused"',
        'time=2026-06-12T09:58:01Z level=INFO msg="connected"',
        "panic: runtime error: invalid memory address or nil pointer dereference",
    ]
    r = diagnose(ev(logs=[L(*lines)], containers=[C("Error", 2)]))
    assert r.best is not None and r.best.entry.id == "go-panic", r.lines()
    assert r.best.confidence == "medium"  # the panic is a fact; it does not say why


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"warn","ts":"2026-06-12T09:58:00Z","msg":"SYNC_INTERVAL not set, using default"}',
        "W1207 09:58:00.000000       1 main.go:61] CACHE_DIR is not set",
        'time=2026-06-12T09:58:00Z level=warn msg="REDIS_URL is not set"',
        "W, [2026-06-12T09:58:00.000 #1]  WARN -- : SMTP_HOST is not set",
        "[WARN] FEATURE_FLAGS is not set",
        "WARNING:root:LOG_FORMAT not set",
        "2026-06-12 09:58:00 ERROR TIMEOUT_MS not set, falling back to 30s",
        '{"severity":"INFO","message":"missing environment variable: TRACE_RATIO"}',
    ],
)
def test_a_warning_or_a_defaulted_setting_is_no_missing_variable(line: str) -> None:
    r = diagnose(ev(logs=[L(line)], containers=[C("Error", 1)]))
    assert r.best is None or r.best.entry.id != "config-missing-env", r.lines()


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"error","ts":"2026-06-12T09:58:00Z","msg":"DATABASE_URL is not set"}',
        "E1207 09:58:00.000000       1 main.go:61] DATABASE_URL is not set",
        "DATABASE_URL is not set",
        "KeyError: 'WARN'",  # a level word quoted in an error is data, not the line's level
    ],
)
def test_a_missing_variable_at_error_level_is_named(line: str) -> None:
    r = diagnose(ev(logs=[L(line)], containers=[C("Error", 1)]))
    assert r.best is not None and r.best.entry.id == "config-missing-env", r.lines()


@pytest.mark.parametrize(
    "line",
    [
        "KeyError: 'payout_account'",  # a dict key in the data, not os.environ
        "ERROR env lookup: environment variable database_host is not set in the row",
        "ValueError: missing required variable: tenantId",
    ],
)
def test_a_lower_case_key_is_data_not_an_environment_variable(line: str) -> None:
    # environment variable names are upper case (POSIX: "uppercase letters, digits and the
    # underscore"); the entry's case-insensitive wording must not lend that to its capture
    r = diagnose(ev(logs=[L(line)], containers=[C("Error", 1)]))
    assert r.best is None or r.best.entry.id != "config-missing-env", r.lines()


def test_a_dependency_failure_logged_as_a_retry_warning_still_counts() -> None:
    line = (
        "2026-06-12T09:58:00.127Z pid=1 tid=2lqf WARN: Net::OpenTimeout: Failed to open TCP "
        "connection to api.carrier.io:443 (execution expired)"
    )
    r = diagnose(ev(logs=[L(line, source="current")], containers=[_running()]))
    assert r.best is not None and r.best.entry.id == "dependency-timeout", r.lines()


# Fix round 6: a sidecar's log (a Cloud SQL proxy, an Envoy) is read beside the app's.
def S(*lines: str, container: str = "cloud-sql-proxy") -> dict[str, Any]:
    return {
        "pod": "api-7c9f-x2x4k",
        "container": container,
        "source": "current",
        "lines": list(lines),
    }


PROXY_403 = (
    '{"severity":"ERROR","message":"[acme:europe-west1:orders-pg] failed to connect to instance: '
    "Error 403: Permission 'cloudsql.instances.get' denied on resource "
    "'projects/acme/instances/orders-pg' (or it may not exist)., forbidden\"}"
)


def test_a_sidecar_cause_explains_an_app_failing_toward_localhost() -> None:
    # the app's refused call to 127.0.0.1 (74) is the proxy's failure (72): the proxy's is named
    app = L(
        'ERROR sqlalchemy: connection to server at "127.0.0.1", port 5432 failed: '
        "Connection refused",
        source="current",
    )
    proxy = S(
        "2026/12/07 06:00:01 failed to get instance metadata: Get "
        '"https://sqladmin.googleapis.com/sql/v1beta4/projects/acme/instances/orders-pg/'
        'connectSettings": dial tcp 199.36.153.8:443: i/o timeout'
    )
    e = ev(logs=[app, proxy], sidecars={("api-7c9f-x2x4k", "cloud-sql-proxy")})
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "dependency-timeout", r.lines()
    assert r.best.sidecar and "sqladmin.googleapis.com" in r.best.cause
    # the same log from the app's own container: its refused call ranks first (no sidecar)
    assert ids(ev(logs=[app, proxy]))[0] == "dependency-refused"


def test_a_sidecar_403_is_named_over_a_handled_app_error() -> None:
    e = ev(
        logs=[
            L("psycopg2.OperationalError: server closed the connection unexpectedly"),
            S(PROXY_403),
        ],
        sidecars={("api-7c9f-x2x4k", "cloud-sql-proxy")},
    )
    r = diagnose(e)
    assert r.best is not None and r.best.entry.id == "gcp-permission-denied", r.lines()
    assert "cloudsql.instances.get" in r.best.cause


def test_the_apps_own_specific_cause_wins_over_envoy_noise() -> None:
    envoy = S(
        '[2026-12-07T06:00:00.000Z] "GET / HTTP/1.1" 503 UF upstream_reset_before_response_'
        "started{connection_failure,TLS_error:_268435581:SSL_routines:OPENSSL_internal:"
        "CERTIFICATE_VERIFY_FAILED} x509: certificate signed by unknown authority",
        container="istio-proxy",
    )
    app = L("ERROR orders: dial tcp 10.4.0.9:8080: connect: connection refused", source="current")
    r = diagnose(ev(logs=[app, envoy], sidecars={("api-7c9f-x2x4k", "istio-proxy")}))
    assert r.best is not None and r.best.entry.id == "dependency-refused", r.lines()
    assert not r.best.sidecar
    assert "tls-unknown-authority" in [h.entry.id for h in r.hypotheses]  # a runner-up


def test_sidecar_logs_are_marked_from_the_investigation_details() -> None:
    details = {
        "logs": [
            {"pod": "p", "container": "app", "current": ["x"]},
            {"pod": "p", "container": "cloud-sql-proxy", "sidecar": True, "current": ["y"]},
        ]
    }
    e = Evidence.from_details(details, START)
    assert e.sidecars == {("p", "cloud-sql-proxy")}
    assert [x["container"] for x in e.logs] == ["app", "cloud-sql-proxy"]

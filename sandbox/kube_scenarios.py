"""Scenarios for the sandbox Kubernetes API server: realistic object shapes, relative to now.

Each scenario is a function returning a `Scenario` (objects + pod logs); `build(name)` looks one
up. The builders (`deployment`, `replicaset_for`, `pod_for`, `event`, `hpa`, ...) are public so
tests can compose their own.

Scenarios (namespace "shop" unless said):
  healthy             web: 3 ready pods, old deploy, HPA with room, metrics-server available
  crashloop           api: CrashLoopBackOff, 7 restarts, previous log with a stack trace and
                      leaked secrets (to prove redaction), BackOff warning events
  oomkilled           cart: pod restarted after OOMKilled (exit 137)
  recent-deploy       checkout: revision 4 (v1.5.0) rolled out 8 minutes ago, revisions 2-3 older
  hpa-max             search: HPA at its maximum, ScalingLimited=True (TooManyReplicas)
  no-metrics-server   web: HPA failing to fetch metrics, APIService v1beta1.metrics.k8s.io absent
  metrics-server-down as no-metrics-server but the APIService exists with Available=False
  database            data/postgres StatefulSet: postgres-0 not ready (readiness probe failing)
  service             frontend Service selecting the web pods (service -> selector resolution)
  demo                `make run`'s cluster, loaded from sandbox/demo/dump.yaml (+ dump.logs.yaml):
                      checkout (HighErrorRate, recent deploy), payments (ErrorBudgetExhausted,
                      HPA), cart (HighMemoryUsage, growing memory), data/postgres, and the
                      database-like Deployments shop/postgres (PVC postgres-data) and
                      shop/redis (one replica, no HPA) that remediation must refuse
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.kube.dump import load_dump
from sandbox.kube.resources import REVISION_ANNOTATION
from sandbox.kube.scenario import Scenario
from sandbox.kube.store import object_uid as _uid
from sandbox.kube.store import template_hash

NS = "shop"
# `make run`'s demo cluster, a dump in the format `make run SCENARIO=` reads (logs beside it).
DEMO_DUMP = Path(__file__).resolve().parent / "demo" / "dump.yaml"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(now: datetime, minutes: float) -> str:
    return iso(now - timedelta(minutes=minutes))


def _hash_suffix(text: str, n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def namespace(name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def container(
    name: str,
    image: str,
    *,
    cpu_request: str = "250m",
    cpu_limit: str = "1",
    mem_request: str = "256Mi",
    mem_limit: str = "512Mi",
    port: int = 8080,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": cpu_request, "memory": mem_request},
            "limits": {"cpu": cpu_limit, "memory": mem_limit},
        },
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def deployment(
    ns: str,
    name: str,
    image: str,
    *,
    created: str,
    replicas: int = 2,
    revision: int = 1,
    labels: dict[str, str] | None = None,
    mem_limit: str = "512Mi",
) -> dict[str, Any]:
    match = {"app": name}
    pod_labels = {"app": name, "app.kubernetes.io/name": name, **(labels or {})}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("deployments", ns, name),
            "generation": revision,
            "creationTimestamp": created,
            "labels": {"app": name, "app.kubernetes.io/name": name},
            "annotations": {REVISION_ANNOTATION: str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [container(name, image, mem_limit=mem_limit)],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": revision,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": created,
                    "lastTransitionTime": created,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{name}" has successfully progressed.',
                    "lastUpdateTime": created,
                    "lastTransitionTime": created,
                },
            ],
        },
    }


def replicaset_for(
    deploy: dict[str, Any],
    revision: int,
    *,
    created: str,
    replicas: int,
    image: str | None = None,
) -> dict[str, Any]:
    """A ReplicaSet owned by `deploy` for one revision (image overrides the template's)."""
    template = copy.deepcopy(deploy["spec"]["template"])
    if image:
        template["spec"]["containers"][0]["image"] = image
    phash = _hash_suffix(template_hash(template), 10)
    template["metadata"]["labels"]["pod-template-hash"] = phash
    name = f"{deploy['metadata']['name']}-{phash}"
    ns = deploy["metadata"]["namespace"]
    selector = copy.deepcopy(deploy["spec"]["selector"])
    selector["matchLabels"]["pod-template-hash"] = phash
    return {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("replicasets", ns, name),
            "creationTimestamp": created,
            "generation": 1,
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION_ANNOTATION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(deploy["spec"]["replicas"]),
                "deployment.kubernetes.io/max-replicas": str(deploy["spec"]["replicas"] + 1),
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deploy["metadata"]["name"],
                    "uid": deploy["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
        "status": {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "observedGeneration": 1,
        },
    }


def container_status(
    name: str,
    image: str,
    *,
    started: str,
    ready: bool = True,
    restarts: int = 0,
    waiting: tuple[str, str] | None = None,
    last_terminated: dict[str, Any] | None = None,
) -> dict[str, Any]:
    state: dict[str, Any]
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    else:
        state = {"running": {"startedAt": started}}
    return {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": f"containerd://{hashlib.sha256((name + started).encode()).hexdigest()}",
        "ready": ready,
        "started": not waiting,
        "restartCount": restarts,
        "state": state,
        "lastState": {"terminated": last_terminated} if last_terminated else {},
    }


def terminated(reason: str, exit_code: int, finished: str, started: str) -> dict[str, Any]:
    return {
        "reason": reason,
        "exitCode": exit_code,
        "startedAt": started,
        "finishedAt": finished,
        "containerID": f"containerd://{hashlib.sha256((reason + finished).encode()).hexdigest()}",
    }


def pod_for(
    rs: dict[str, Any],
    *,
    now: datetime,
    index: int = 0,
    ready: bool = True,
    restarts: int = 0,
    waiting: tuple[str, str] | None = None,
    last_terminated: dict[str, Any] | None = None,
    phase: str = "Running",
    owner_kind: str = "ReplicaSet",
    name: str | None = None,
) -> dict[str, Any]:
    """A pod created from a ReplicaSet's (or StatefulSet's) template."""
    ns = rs["metadata"]["namespace"]
    template = rs["spec"]["template"]
    pod_name = (
        name or f"{rs['metadata']['name']}-{_hash_suffix(rs['metadata']['name'] + str(index))}"
    )
    created = rs["metadata"]["creationTimestamp"]
    spec = copy.deepcopy(template["spec"])
    spec["nodeName"] = f"gke-shop-pool-{index % 3}"
    spec["serviceAccountName"] = "default"
    c0 = spec["containers"][0]
    started = ago(now, 3) if restarts else created
    cond_ready = "True" if ready else "False"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": pod_name,
            "namespace": ns,
            "uid": _uid("pods", ns, pod_name),
            "creationTimestamp": created,
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner_kind,
                    "name": rs["metadata"]["name"],
                    "uid": rs["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
        "status": {
            "phase": phase,
            "hostIP": f"10.128.0.{10 + index}",
            "podIP": f"10.4.{index}.{20 + index}",
            "startTime": created,
            "qosClass": "Burstable",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": created},
                {"type": "Ready", "status": cond_ready, "lastTransitionTime": started},
                {"type": "ContainersReady", "status": cond_ready, "lastTransitionTime": started},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
            ],
            "containerStatuses": [
                container_status(
                    c0["name"],
                    c0["image"],
                    started=started,
                    ready=ready,
                    restarts=restarts,
                    waiting=waiting,
                    last_terminated=last_terminated,
                )
            ],
        },
    }


def event(
    obj: dict[str, Any],
    reason: str,
    message: str,
    *,
    now: datetime,
    minutes_ago: float = 1,
    count: int = 1,
    type_: str = "Warning",
    component: str = "kubelet",
    field_path: str = "",
) -> dict[str, Any]:
    meta = obj["metadata"]
    name = f"{meta['name']}.{_hash_suffix(reason + message, 8)}"
    involved: dict[str, Any] = {
        "kind": obj["kind"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": obj["apiVersion"],
    }
    if field_path:
        involved["fieldPath"] = field_path
    last = ago(now, minutes_ago)
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": meta["namespace"], "creationTimestamp": last},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": ago(now, minutes_ago + 10 * max(count - 1, 0)),
        "lastTimestamp": last,
        "count": count,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": "",
    }


def service(ns: str, name: str, selector: dict[str, str], *, created: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("services", ns, name),
            "creationTimestamp": created,
            "labels": {"app": name},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "clusterIP": "10.8.0.42",
            "clusterIPs": ["10.8.0.42"],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def hpa(
    ns: str,
    name: str,
    *,
    created: str,
    target_kind: str = "Deployment",
    target: str | None = None,
    min_replicas: int = 2,
    max_replicas: int = 10,
    current: int = 2,
    desired: int = 2,
    cpu_utilization: int | None = 45,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    metrics = [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    current_metrics = (
        [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": cpu_utilization, "averageValue": "350m"},
                },
            }
        ]
        if cpu_utilization is not None
        else []
    )
    default_conditions = [
        _cond(
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size",
            created,
        ),
        _cond(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from cpu resource "
            "utilization (percentage of request)",
            created,
        ),
        _cond(
            "ScalingLimited",
            "False",
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
            created,
        ),
    ]
    return {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("horizontalpodautoscalers", ns, name),
            "creationTimestamp": created,
            "generation": 1,
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": target_kind,
                "name": target or name,
            },
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": metrics,
        },
        "status": {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": current_metrics,
            "conditions": conditions if conditions is not None else default_conditions,
        },
    }


def _cond(type_: str, status: str, reason: str, message: str, when: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": when,
    }


def metrics_apiservice(available: bool, *, now: datetime) -> dict[str, Any]:
    when = ago(now, 600)
    cond = (
        _cond("Available", "True", "Passed", "all checks passed", when)
        if available
        else _cond(
            "Available",
            "False",
            "MissingEndpoints",
            'endpoints for service/metrics-server in "kube-system" have no addresses '
            'with port name "https"',
            ago(now, 45),
        )
    )
    return {
        "kind": "APIService",
        "apiVersion": "apiregistration.k8s.io/v1",
        "metadata": {
            "name": "v1beta1.metrics.k8s.io",
            "uid": _uid("apiservices", "", "v1beta1.metrics.k8s.io"),
            "creationTimestamp": when,
            "labels": {"k8s-app": "metrics-server"},
        },
        "spec": {
            "service": {"namespace": "kube-system", "name": "metrics-server", "port": 443},
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
        "status": {"conditions": [cond]},
    }


def statefulset(
    ns: str, name: str, image: str, *, created: str, replicas: int = 1, ready: int = 1
) -> dict[str, Any]:
    labels = {"app": name, "app.kubernetes.io/name": name}
    c = container(name, image, mem_limit="2Gi", port=5432)
    c["readinessProbe"] = {
        "exec": {"command": ["pg_isready", "-U", "postgres"]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 6,
    }
    return {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("statefulsets", ns, name),
            "creationTimestamp": created,
            "generation": 1,
            "labels": labels,
        },
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [c]}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
            "currentRevision": f"{name}-6d4b8c7f9",
            "updateRevision": f"{name}-6d4b8c7f9",
            "observedGeneration": 1,
        },
    }


# --------------------------------------------------------------------------- app helper


def add_app(
    sc: Scenario,
    name: str,
    revisions: list[tuple[str, float]],
    *,
    now: datetime,
    ns: str = NS,
    replicas: int = 2,
    pod_kwargs: list[dict[str, Any]] | None = None,
    mem_limit: str = "512Mi",
    customize: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A deployment with one ReplicaSet per (image, minutes ago) revision, oldest first.

    Pods belong to the newest ReplicaSet; `pod_kwargs` gives per-pod `pod_for` arguments;
    `customize` changes the deployment (its pod template too) before the ReplicaSets are made.
    Returns (deployment, newest ReplicaSet, pods).
    """
    image, _ = revisions[-1]
    first_created = ago(now, revisions[0][1] + 60)
    dep = deployment(
        ns,
        name,
        image,
        created=first_created,
        replicas=replicas,
        revision=len(revisions),
        mem_limit=mem_limit,
    )
    if customize is not None:
        customize(dep)
    rs_list = []
    for i, (img, minutes) in enumerate(revisions, start=1):
        newest = i == len(revisions)
        rs_list.append(
            replicaset_for(
                dep, i, created=ago(now, minutes), replicas=replicas if newest else 0, image=img
            )
        )
    newest_rs = rs_list[-1]
    kwargs_list = pod_kwargs or [{} for _ in range(replicas)]
    pods = [pod_for(newest_rs, now=now, index=i, **kw) for i, kw in enumerate(kwargs_list)]
    ready = sum(1 for p in pods if p["status"]["containerStatuses"][0]["ready"])
    dep["status"].update(readyReplicas=ready, availableReplicas=ready)
    if ready < replicas:
        dep["status"]["unavailableReplicas"] = replicas - ready
        dep["status"]["conditions"][0].update(
            status="False",
            reason="MinimumReplicasUnavailable",
            message="Deployment does not have minimum availability.",
        )
    if not any(
        ns_obj["metadata"]["name"] == ns for ns_obj in sc.objects if ns_obj["kind"] == "Namespace"
    ):
        sc.add(namespace(ns))
    sc.add(dep, *rs_list, *pods)
    for p in pods:
        sc.log(ns, p["metadata"]["name"], name, _serving_log(name, now))
    return dep, newest_rs, pods


def _serving_log(app: str, now: datetime) -> list[str]:
    lines = []
    for i in range(60):
        t = iso(now - timedelta(seconds=(60 - i) * 5))
        lines.append(f"{t} INFO  {app} GET /healthz 200 1ms")
        if i % 10 == 3:
            lines.append(f"{t} INFO  {app} POST /api/v1/orders 201 42ms user_id=1042")
    return lines


CRASH_PREVIOUS_LOG = [
    "2024-06-12T10:01:02Z INFO  starting api v2.3.1 (commit 4f2a9c1)",
    "2024-06-12T10:01:02Z INFO  loading config from /etc/api/config.yaml",
    "2024-06-12T10:01:02Z DEBUG connecting with DATABASE_URL=postgres://api:Sup3rS3cret!@db.shop.svc:5432/orders",
    "2024-06-12T10:01:02Z DEBUG outbound headers: Authorization: Bearer "
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcGkiLCJpYXQiOjE3MTgxODU2NjJ9."
    "Xq3b7n8d2k4v9m1p0s5t6u7w8y9z0a1b2c3d4e5f6g7",
    "2024-06-12T10:01:03Z DEBUG stripe client ready api_key=sk_live_51HcYvLKs9aF2bQ7xZt3mN8pR4wE6",
    "2024-06-12T10:01:03Z ERROR unhandled exception in main",
    "Traceback (most recent call last):",
    '  File "/app/api/main.py", line 88, in <module>',
    "    app = create_app(settings)",
    '  File "/app/api/app.py", line 41, in create_app',
    "    pool = Pool(settings.database_url, min_size=5)",
    '  File "/usr/local/lib/python3.12/site-packages/asyncpg/pool.py", line 403, in __init__',
    "    raise exceptions.InterfaceError('pool connection failed')",
    "asyncpg.exceptions.ConnectionDoesNotExistError: connection was closed in the middle of "
    "operation",
]

CRASH_SECRETS = (
    "Sup3rS3cret!",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "sk_live_51HcYvLKs9aF2bQ7xZt3mN8pR4wE6",
)


# --------------------------------------------------------------------------- scenarios


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def healthy(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("healthy", description="web: healthy, old deploy, HPA with room")
    add_app(
        sc,
        "web",
        [
            ("registry.example.com/shop/web:1.8.0", 9000),
            ("registry.example.com/shop/web:1.9.0", 4000),
        ],
        now=n,
        replicas=3,
    )
    sc.add(
        hpa(NS, "web", created=ago(n, 9000), min_replicas=3, max_replicas=10, current=3, desired=3)
    )
    sc.add(metrics_apiservice(True, now=n))
    return sc


def crashloop(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("crashloop", description="api: CrashLoopBackOff")
    crash = {
        "ready": False,
        "restarts": 7,
        "waiting": ("CrashLoopBackOff", "back-off 5m0s restarting failed container=api pod=api"),
        "last_terminated": terminated("Error", 1, ago(n, 2), ago(n, 2.1)),
    }
    dep, _rs, pods = add_app(
        sc,
        "api",
        [
            ("registry.example.com/shop/api:2.3.0", 3000),
            ("registry.example.com/shop/api:2.3.1", 240),
        ],
        now=n,
        replicas=2,
        pod_kwargs=[crash, crash],
    )
    for p in pods:
        sc.log(NS, p["metadata"]["name"], "api", CRASH_PREVIOUS_LOG, previous=True)
        sc.log(NS, p["metadata"]["name"], "api", CRASH_PREVIOUS_LOG[:3])
        sc.add(
            event(
                p,
                "BackOff",
                "Back-off restarting failed container api in pod "
                f"{p['metadata']['name']}_shop({p['metadata']['uid']})",
                now=n,
                minutes_ago=0.5,
                count=31,
                field_path="spec.containers{api}",
            ),
            event(
                p,
                "Pulled",
                'Container image "registry.example.com/shop/api:2.3.1" already present on machine',
                now=n,
                minutes_ago=2,
                count=8,
                type_="Normal",
                field_path="spec.containers{api}",
            ),
        )
    sc.add(
        event(
            dep,
            "ScalingReplicaSet",
            "Scaled up replica set api to 2",
            now=n,
            minutes_ago=240,
            type_="Normal",
            component="deployment-controller",
        )
    )
    sc.add(metrics_apiservice(True, now=n))
    return sc


def oomkilled(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("oomkilled", description="cart: OOMKilled")
    oom = {
        "ready": True,
        "restarts": 3,
        "last_terminated": terminated("OOMKilled", 137, ago(n, 4), ago(n, 50)),
    }
    _dep, _rs, pods = add_app(
        sc,
        "cart",
        [("registry.example.com/shop/cart:3.1.0", 20000)],
        now=n,
        replicas=2,
        pod_kwargs=[oom, {}],
    )
    sc.log(
        NS,
        pods[0]["metadata"]["name"],
        "cart",
        [
            "2024-06-12T09:12:00Z INFO  cart cache size=181230 entries",
            "2024-06-12T09:13:00Z WARN  cart cache size=198004 entries, heap 497Mi",
        ],
        previous=True,
    )
    sc.add(
        event(
            pods[0],
            "BackOff",
            "Back-off restarting failed container cart",
            now=n,
            minutes_ago=4,
            count=2,
            field_path="spec.containers{cart}",
        )
    )
    sc.add(metrics_apiservice(True, now=n))
    return sc


def recent_deploy(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("recent-deploy", description="checkout: revision 4 rolled out 8 minutes ago")
    add_app(
        sc,
        "checkout",
        [
            ("registry.example.com/shop/checkout:1.4.0", 20000),
            ("registry.example.com/shop/checkout:1.4.1", 9000),
            ("registry.example.com/shop/checkout:1.4.2", 2900),
            ("registry.example.com/shop/checkout:1.5.0", 8),
        ],
        now=n,
        replicas=3,
        pod_kwargs=[
            {},
            {},
            {"restarts": 1, "last_terminated": terminated("Error", 1, ago(n, 5), ago(n, 7))},
        ],
    )
    sc.add(metrics_apiservice(True, now=n))
    return sc


def hpa_max(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("hpa-max", description="search: HPA at max")
    add_app(sc, "search", [("registry.example.com/shop/search:5.0.2", 7000)], now=n, replicas=5)
    conditions = [
        _cond(
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size",
            ago(n, 30),
        ),
        _cond(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from cpu resource "
            "utilization (percentage of request)",
            ago(n, 7000),
        ),
        _cond(
            "ScalingLimited",
            "True",
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
            ago(n, 25),
        ),
    ]
    sc.add(
        hpa(
            NS,
            "search",
            created=ago(n, 7000),
            min_replicas=2,
            max_replicas=5,
            current=5,
            desired=5,
            cpu_utilization=138,
            conditions=conditions,
        )
    )
    sc.add(metrics_apiservice(True, now=n))
    return sc


def _hpa_no_metrics(n: datetime) -> dict[str, Any]:
    conditions = [
        _cond(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            ago(n, 60),
        ),
        _cond(
            "ScalingActive",
            "False",
            "FailedGetResourceMetric",
            "the HPA was unable to compute the replica count: failed to get cpu utilization: "
            "unable to get metrics for resource cpu: unable to fetch metrics from resource "
            "metrics API: the server could not find the requested resource "
            "(get pods.metrics.k8s.io)",
            ago(n, 45),
        ),
    ]
    return hpa(
        NS,
        "web",
        created=ago(n, 9000),
        min_replicas=2,
        max_replicas=10,
        current=2,
        desired=2,
        cpu_utilization=None,
        conditions=conditions,
    )


def no_metrics_server(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("no-metrics-server", description="web: HPA blind, metrics-server absent")
    _dep, _rs, _pods = add_app(
        sc, "web", [("registry.example.com/shop/web:1.9.0", 4000)], now=n, replicas=2
    )
    h = _hpa_no_metrics(n)
    sc.add(
        h,
        event(
            h,
            "FailedGetResourceMetric",
            "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics "
            "returned from resource metrics API",
            now=n,
            minutes_ago=1,
            count=180,
            component="horizontal-pod-autoscaler",
        ),
    )
    return sc


def metrics_server_down(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = no_metrics_server(n)
    sc.name = "metrics-server-down"
    sc.add(metrics_apiservice(False, now=n))
    return sc


def database(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = Scenario("database", description="data/postgres not ready")
    ns = "data"
    sts = statefulset(ns, "postgres", "postgres:16.3", created=ago(n, 50000), replicas=1, ready=0)
    pod = pod_for(
        sts,
        now=n,
        index=0,
        ready=False,
        restarts=0,
        owner_kind="StatefulSet",
        name="postgres-0",
    )
    pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = "postgres-0"
    svc = service(ns, "postgres", {"app": "postgres"}, created=ago(n, 50000))
    svc["spec"]["ports"] = [{"name": "pg", "port": 5432, "targetPort": 5432, "protocol": "TCP"}]
    sc.add(namespace(ns), sts, pod, svc)
    sc.add(
        event(
            pod,
            "Unhealthy",
            "Readiness probe failed: /var/run/postgresql:5432 - no response",
            now=n,
            minutes_ago=0.3,
            count=42,
            field_path="spec.containers{postgres}",
        )
    )
    sc.log(
        ns,
        "postgres-0",
        "postgres",
        [
            "2024-06-12 10:00:01.123 UTC [1] LOG:  database system is ready to accept connections",
            "2024-06-12 10:20:14.551 UTC [1] LOG:  checkpoints are occurring too frequently "
            "(9 seconds apart)",
            "2024-06-12 10:21:02.004 UTC [88] FATAL:  sorry, too many clients already",
            "2024-06-12 10:21:03.117 UTC [89] FATAL:  "
            'password authentication failed for user "app"',
        ],
    )
    return sc


def with_service(now: datetime | None = None) -> Scenario:
    n = _now(now)
    sc = healthy(n)
    sc.name = "service"
    sc.add(service(NS, "frontend", {"app": "web"}, created=ago(n, 9000)))
    sc.add(service(NS, "orphan", {"app": "nothing-here"}, created=ago(n, 9000)))
    return sc


def demo(now: datetime | None = None) -> Scenario:
    """`make run`'s cluster: data, not code (sandbox/demo/dump.yaml and its logs), replayed as
    of `now` like any annotated dump."""
    sc = load_dump(DEMO_DUMP, now=now)
    sc.name, sc.description = "demo", "checkout / payments / cart in shop, postgres in data"
    sc.notes.clear()  # "pod logs from …": ours, not a user's dump
    return sc


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "healthy": healthy,
    "crashloop": crashloop,
    "oomkilled": oomkilled,
    "recent-deploy": recent_deploy,
    "hpa-max": hpa_max,
    "no-metrics-server": no_metrics_server,
    "metrics-server-down": metrics_server_down,
    "database": database,
    "service": with_service,
    "demo": demo,
}


def build(name: str, now: datetime | None = None) -> Scenario:
    from sandbox.kube_remediation_scenarios import remediation  # it builds on this module

    known = {**SCENARIOS, "remediation": remediation}
    try:
        factory = known[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(known)}") from None
    return factory(now)

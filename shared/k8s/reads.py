"""Reads used by investigation (and reusable by remediation): pods, events, logs, rollout
history, HPAs, metrics-server. Pure summarisers (`pod_summary`, `hpa_summary`,
`recent_deploy`) are separate from the calls so they can be unit tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sApiError, K8sError, K8sForbidden, K8sNotFound
from shared.workload.resolve import WorkloadRef, controller_of, list_pods

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
METRICS_APISERVICE = "v1beta1.metrics.k8s.io"
MAX_MESSAGE = 300
MAX_LOG_LINE = 400
MAX_EVENT_MESSAGE = 1000  # image-pull messages carry the registry's answer at their end


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_log_line(line: str, limit: int = MAX_LOG_LINE) -> str:
    """A log line within `limit`. A one-line stack trace (JSON loggers put the whole trace in
    one field) keeps its head and its root cause, the last "Caused by:", which the plain head
    would cut off."""
    if len(line) <= limit:
        return line
    root = line.rfind("Caused by: ")
    head = limit // 2
    if root > head:
        return line[:head] + " … " + _clip(line[root:], limit - head - 3)
    return _clip(line, limit)


# --------------------------------------------------------------------------- pods


def container_summary(cs: dict[str, Any]) -> dict[str, Any]:
    state = cs.get("state") or {}
    waiting = state.get("waiting") or {}
    term_now = state.get("terminated") or {}
    last = (cs.get("lastState") or {}).get("terminated") or {}
    out: dict[str, Any] = {
        "name": cs.get("name", ""),
        "image": cs.get("image", ""),
        "ready": bool(cs.get("ready")),
        "restart_count": int(cs.get("restartCount") or 0),
        "state": "waiting" if waiting else "terminated" if term_now else "running",
        "waiting_reason": waiting.get("reason"),
        "waiting_message": _clip(str(waiting.get("message") or ""), MAX_MESSAGE) or None,
        "last_termination": None,
    }
    if term_now:
        out["terminated_reason"] = term_now.get("reason")
        out["terminated_exit_code"] = term_now.get("exitCode")
        out["terminated_message"] = _clip(str(term_now.get("message") or ""), MAX_MESSAGE) or None
        out["terminated_finished_at"] = iso(parse_time(term_now.get("finishedAt")))
    if last:
        out["last_termination"] = {
            "reason": last.get("reason"),
            "exit_code": last.get("exitCode"),
            "finished_at": iso(parse_time(last.get("finishedAt"))),
            "started_at": iso(parse_time(last.get("startedAt"))),
        }
        if last.get("message"):  # the runtime's reason (StartError: the exec that failed)
            out["last_termination"]["message"] = _clip(str(last["message"]), MAX_MESSAGE)
    return out


def _spec_resources(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per container name: its limits and requests (quantities as written)."""
    out: dict[str, dict[str, Any]] = {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        out[str(c.get("name", ""))] = {
            "limits": dict(res.get("limits") or {}),
            "requests": dict(res.get("requests") or {}),
        }
    return out


def pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as investigation sees it. A pod whose JSON is not shaped as expected (an API
    server newer or odder than us) is evidence, never a failed read: its summary says
    "status unreadable" and why."""
    try:
        return _pod_summary(pod)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        meta = pod.get("metadata") if isinstance(pod, dict) else None
        name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
        return {
            "name": name,
            "phase": "Unknown",
            "ready": False,
            "restarts": 0,
            "node": None,
            "reason": None,
            "containers": [],
            "created": None,
            "unreadable": f"pod {name or '?'}: status unreadable ({type(exc).__name__}: "
            f"{_clip(str(exc), MAX_MESSAGE)})",
        }


def _pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    spec = pod.get("spec") or {}
    containers = [container_summary(c) for c in status.get("containerStatuses") or []]
    init = [container_summary(c) for c in status.get("initContainerStatuses") or []]
    resources = _spec_resources(spec)
    for c in containers + init:
        c["resources"] = resources.get(c["name"], {"limits": {}, "requests": {}})
    # a native sidecar: an init container with restartPolicy: Always (Kubernetes 1.28+, KEP-753)
    native = {
        c.get("name")
        for c in spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    for c in init:
        if c["name"] in native:
            c["sidecar"] = True
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    scheduled: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    return {
        "name": meta.get("name", ""),
        "phase": status.get("phase", "Unknown"),
        "ready": conditions.get("Ready") == "True",
        "restarts": sum(c["restart_count"] for c in containers),
        "node": spec.get("nodeName"),
        "reason": status.get("reason"),
        "message": _clip(str(status.get("message") or ""), MAX_MESSAGE) or None,
        "unschedulable": scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable",
        "scheduling_message": _clip(str(scheduled.get("message") or ""), MAX_MESSAGE) or None,
        "containers": containers,
        "init_containers": init,
        "claims": [
            str((v.get("persistentVolumeClaim") or {}).get("claimName"))
            for v in spec.get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")
        ],
        "created": iso(parse_time(meta.get("creationTimestamp"))),
        "ended_at": _ended_at(status),
    }


def _ended_at(status: dict[str, Any]) -> str | None:
    """When a finished pod (Failed/Succeeded: evicted, completed) ended: the latest of its
    conditions' lastTransitionTime and its containers' finishedAt. None for a pod still live
    (Pending, Running): its state is current, whatever its age."""
    if status.get("phase") not in ("Failed", "Succeeded"):
        return None
    times = [parse_time(c.get("lastTransitionTime")) for c in status.get("conditions") or []]
    for cs in status.get("containerStatuses") or []:
        ended = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        times.append(parse_time(ended))
    known = [t for t in times if t is not None]
    return iso(max(known)) if known else None


def pod_severity(summary: dict[str, Any]) -> int:
    """Higher is worse: used to pick which pods' logs to read."""
    score = 0 if summary["ready"] else 10
    for c in summary["containers"] + summary.get("init_containers", []):
        if c["waiting_reason"] in (
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
            "CreateContainerConfigError",
            "RunContainerError",
        ):
            score += 20
        if c["last_termination"]:
            score += 5
        score += min(c["restart_count"], 10)
    if summary["phase"] not in ("Running", "Succeeded"):
        score += 5
    return score


# --------------------------------------------------------------------------- events


def event_summary(ev: dict[str, Any], max_message: int = MAX_MESSAGE) -> dict[str, Any]:
    involved = ev.get("involvedObject") or {}
    last = (
        parse_time(ev.get("lastTimestamp"))
        or parse_time(ev.get("eventTime"))
        or parse_time((ev.get("series") or {}).get("lastObservedTime"))
        or parse_time((ev.get("metadata") or {}).get("creationTimestamp"))
    )
    return {
        "type": ev.get("type", ""),
        "reason": ev.get("reason", ""),
        "object": f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        "message": _clip(str(ev.get("message") or ""), max_message),
        "count": int(ev.get("count") or (ev.get("series") or {}).get("count") or 1),
        "last_seen": iso(last),
    }


def _events_of(
    clients: KubeClients,
    namespace: str,
    names: list[str],
    extra_selector: str,
    since: datetime,
    max_message: int,
) -> list[dict[str, Any]]:
    """Event summaries for the named objects (one field-selected list each), newest first."""
    out: list[dict[str, Any]] = []
    for name in names:
        selector = f"involvedObject.name={name}{extra_selector}"
        data = clients.call(
            "list",
            "events",
            namespace,
            lambda sel=selector, **kw: clients.core.list_namespaced_event(
                namespace, field_selector=sel, **kw
            ),
        )
        for ev in data.get("items") or []:
            summary = event_summary(ev, max_message)
            seen = parse_time(summary["last_seen"])
            if seen is None or seen >= since:
                out.append(summary)
    out.sort(key=lambda e: e["last_seen"] or "", reverse=True)
    return out


def warning_events(
    clients: KubeClients,
    namespace: str,
    names: list[str],
    *,
    window_minutes: float,
    now: datetime | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Warning events for the named objects, newest first, within the window."""
    since = (now or datetime.now(UTC)) - timedelta(minutes=window_minutes)
    return _events_of(clients, namespace, names, ",type=Warning", since, MAX_MESSAGE)[:limit]


def object_events(
    clients: KubeClients,
    namespace: str,
    names: list[str],
    *,
    window_minutes: float,
    now: datetime | None = None,
    limit: int = 60,
) -> list[dict[str, Any]]:
    """Events of every type (Normal ones say what changed: scaling, rollouts) for the named
    objects, newest first, within the window; each summary carries its `type`."""
    since = (now or datetime.now(UTC)) - timedelta(minutes=window_minutes)
    unique = list(dict.fromkeys(names))
    return _events_of(clients, namespace, unique, "", since, MAX_EVENT_MESSAGE)[:limit]


# --------------------------------------------------------------------------- diagnosis reads


def get_service(clients: KubeClients, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get",
        "services",
        namespace,
        lambda **kw: clients.core.read_namespaced_service(name, namespace, **kw),
    )
    return result


def endpoint_slices(clients: KubeClients, namespace: str, service: str) -> list[dict[str, Any]]:
    """The EndpointSlices of a Service (label kubernetes.io/service-name)."""
    from kubernetes import client as k8s_client

    api = k8s_client.DiscoveryV1Api(clients.api_client)
    data = clients.call(
        "list",
        "endpointslices",
        namespace,
        lambda **kw: api.list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service}", **kw
        ),
    )
    return list(data.get("items") or [])


def ready_endpoints(slices: list[dict[str, Any]]) -> tuple[int, int]:
    """(ready, total) endpoints over a Service's slices (`ready` unset counts as ready: the
    EndpointSlice API says consumers should treat an unknown state as ready)."""
    ready = total = 0
    for sl in slices:
        for ep in sl.get("endpoints") or []:
            total += 1
            if (ep.get("conditions") or {}).get("ready", True) is not False:
                ready += 1
    return ready, total


# The pods a label selector selects: one implementation, the workload resolver's.
list_pods_selected = list_pods


def pods_at_ip(clients: KubeClients, ip: str) -> list[dict[str, Any]]:
    """The pods, in any namespace, whose IP is `ip` (the API server indexes status.podIP as a
    pod field selector: kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/).
    Host-network pods share their node's IP, so they are left out: the IP is not theirs alone."""
    data = clients.call(
        "list",
        "pods",
        None,
        lambda **kw: clients.core.list_pod_for_all_namespaces(
            field_selector=f"status.podIP={ip}", **kw
        ),
    )
    items = data.get("items") or []
    return [p for p in items if not (p.get("spec") or {}).get("hostNetwork")]


def services_at_ip(clients: KubeClients, ip: str) -> list[dict[str, Any]]:
    """The Services, in any namespace, whose ClusterIP is `ip`. Services index no field but
    their name and namespace (kubernetes.io/docs/concepts/overview/working-with-objects/
    field-selectors/), so all are listed and matched here."""
    data = clients.call(
        "list",
        "services",
        None,
        lambda **kw: clients.core.list_service_for_all_namespaces(**kw),
    )
    return [
        s
        for s in data.get("items") or []
        if ip
        in {
            (s.get("spec") or {}).get("clusterIP"),
            *((s.get("spec") or {}).get("clusterIPs") or []),
        }
    ]


def get_node(clients: KubeClients, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get", "nodes", None, lambda **kw: clients.core.read_node(name, **kw)
    )
    return result


def node_summary(node: dict[str, Any]) -> dict[str, Any]:
    """A node's problems: conditions that are not as they should be, taints, unschedulable."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    bad = []
    for c in status.get("conditions") or []:
        healthy = "True" if c.get("type") == "Ready" else "False"
        if c.get("status") != healthy:
            bad.append(
                {
                    "type": c.get("type", ""),
                    "status": c.get("status", ""),
                    "reason": c.get("reason", ""),
                    "message": _clip(str(c.get("message") or ""), MAX_MESSAGE),
                }
            )
    return {
        "name": (node.get("metadata") or {}).get("name", ""),
        "unschedulable": bool(spec.get("unschedulable")),
        "taints": [
            f"{t.get('key')}{'=' + str(t['value']) if t.get('value') else ''}:{t.get('effect')}"
            for t in spec.get("taints") or []
        ],
        "problems": bad,
    }


def resource_quotas(clients: KubeClients, namespace: str) -> list[dict[str, Any]]:
    """The namespace's quotas: name, hard and used per resource."""
    data = clients.call(
        "list",
        "resourcequotas",
        namespace,
        lambda **kw: clients.core.list_namespaced_resource_quota(namespace, **kw),
    )
    out = []
    for q in data.get("items") or []:
        status = q.get("status") or {}
        out.append(
            {
                "name": (q.get("metadata") or {}).get("name", ""),
                "hard": dict(status.get("hard") or (q.get("spec") or {}).get("hard") or {}),
                "used": dict(status.get("used") or {}),
            }
        )
    return out


# --------------------------------------------------------------------------- logs


def pod_log(
    clients: KubeClients,
    namespace: str,
    pod: str,
    container: str,
    *,
    tail_lines: int,
    previous: bool = False,
) -> list[str]:
    """The last log lines of a container (unredacted: redact before storing them anywhere)."""
    text = clients.call(
        "get",
        "pods/log",
        namespace,
        lambda **kw: clients.core.read_namespaced_pod_log(
            pod, namespace, container=container, tail_lines=tail_lines, previous=previous, **kw
        ),
        raw=True,
    )
    lines = str(text or "").splitlines()[-tail_lines:]
    return [clip_log_line(line) for line in lines]


# --------------------------------------------------------------------------- rollouts


@dataclass(frozen=True)
class Revision:
    revision: int
    name: str
    created: datetime | None
    images: list[str]
    replicas: int
    # The pod template's annotations (e.g. checksum/config): metadata only, never content.
    template_annotations: dict[str, str] = field(default_factory=dict)
    config_refs: list[str] = field(default_factory=list)  # "ConfigMap/name", "Secret/name"

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "replicaset": self.name,
            "created": iso(self.created),
            "images": self.images,
            "replicas": self.replicas,
            "template_annotations": self.template_annotations,
            "config_refs": self.config_refs,
        }


def config_refs(template: dict[str, Any]) -> list[str]:
    """The ConfigMaps and Secrets a pod template names (volumes, envFrom, env): names only."""
    spec = template.get("spec") or {}
    refs: set[str] = set()
    for v in spec.get("volumes") or []:
        if (v.get("configMap") or {}).get("name"):
            refs.add(f"ConfigMap/{v['configMap']['name']}")
        if (v.get("secret") or {}).get("secretName"):
            refs.add(f"Secret/{v['secret']['secretName']}")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for ef in c.get("envFrom") or []:
            if (ef.get("configMapRef") or {}).get("name"):
                refs.add(f"ConfigMap/{ef['configMapRef']['name']}")
            if (ef.get("secretRef") or {}).get("name"):
                refs.add(f"Secret/{ef['secretRef']['name']}")
        for e in c.get("env") or []:
            src = e.get("valueFrom") or {}
            if (src.get("configMapKeyRef") or {}).get("name"):
                refs.add(f"ConfigMap/{src['configMapKeyRef']['name']}")
            if (src.get("secretKeyRef") or {}).get("name"):
                refs.add(f"Secret/{src['secretKeyRef']['name']}")
    return sorted(refs)


def _images(template: dict[str, Any]) -> list[str]:
    return [str(c.get("image", "")) for c in (template.get("spec") or {}).get("containers") or []]


def rollout_history(
    clients: KubeClients, deployment: dict[str, Any], selector: str
) -> list[Revision]:
    """Revisions of a deployment from its ReplicaSets, oldest first."""
    meta = deployment.get("metadata") or {}
    namespace, uid = meta.get("namespace", ""), meta.get("uid")
    data = clients.call(
        "list",
        "replicasets",
        namespace,
        lambda **kw: clients.apps.list_namespaced_replica_set(
            namespace, label_selector=selector, **kw
        ),
    )
    revisions = []
    for rs in data.get("items") or []:
        owner = controller_of(rs)
        if not owner or (uid and owner.get("uid") != uid) or owner.get("name") != meta.get("name"):
            continue
        rmeta = rs.get("metadata") or {}
        try:
            number = int((rmeta.get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
        except ValueError:
            number = 0
        revisions.append(
            Revision(
                revision=number,
                name=rmeta.get("name", ""),
                created=parse_time(rmeta.get("creationTimestamp")),
                images=_images((rs.get("spec") or {}).get("template") or {}),
                replicas=int((rs.get("spec") or {}).get("replicas") or 0),
                template_annotations={
                    str(k): str(v)
                    for k, v in (
                        (((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
                            "annotations"
                        )
                        or {}
                    ).items()
                },
                config_refs=config_refs((rs.get("spec") or {}).get("template") or {}),
            )
        )
    revisions.sort(key=lambda r: r.revision)
    return revisions


def recent_deploy(
    history: list[Revision], window_minutes: float, now: datetime | None = None
) -> dict[str, Any] | None:
    """The `recent_deploy` detail: newest revision, its predecessor, and whether it is recent."""
    if not history:
        return None
    newest = history[-1]
    previous = history[-2] if len(history) > 1 else None
    now = now or datetime.now(UTC)
    age = (now - newest.created).total_seconds() / 60 if newest.created else None
    return {
        "recent": age is not None and age <= window_minutes,
        "revision": newest.revision,
        "previous_revision": previous.revision if previous else None,
        "created": iso(newest.created),
        "age_minutes": round(age, 1) if age is not None else None,
        "window_minutes": window_minutes,
        "images": newest.images,
        "previous_images": previous.images if previous else [],
        "replicaset": newest.name,
        "previous_replicaset": previous.name if previous else None,
    }


# --------------------------------------------------------------------------- HPA


def list_hpas(clients: KubeClients, namespace: str) -> list[dict[str, Any]]:
    data = clients.call(
        "list",
        "horizontalpodautoscalers",
        namespace,
        lambda **kw: clients.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace, **kw),
    )
    return list(data.get("items") or [])


def get_hpa(clients: KubeClients, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get",
        "horizontalpodautoscalers",
        namespace,
        lambda **kw: clients.autoscaling.read_namespaced_horizontal_pod_autoscaler(
            name, namespace, **kw
        ),
    )
    return result


def find_hpa(clients: KubeClients, workload: WorkloadRef) -> dict[str, Any] | None:
    """The HPA whose scaleTargetRef is the workload, if any."""
    for item in list_hpas(clients, workload.namespace):
        ref = (item.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == workload.kind and ref.get("name") == workload.name:
            return item
    return None


def hpa_summary(hpa: dict[str, Any]) -> dict[str, Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    current = int(status.get("currentReplicas") or 0)
    desired = int(status.get("desiredReplicas") or 0)
    min_r = int(spec.get("minReplicas") or 1)
    max_r = int(spec.get("maxReplicas") or 0)
    conditions = [
        {
            "type": c.get("type", ""),
            "status": c.get("status", ""),
            "reason": c.get("reason", ""),
            "message": _clip(str(c.get("message") or ""), MAX_MESSAGE),
        }
        for c in status.get("conditions") or []
    ]
    limited = any(
        c["type"] == "ScalingLimited" and c["status"] == "True" and c["reason"] == "TooManyReplicas"
        for c in conditions
    )
    failed_metrics = [
        c["message"] for c in conditions if c["type"] == "ScalingActive" and c["status"] == "False"
    ]
    metrics = []
    for m in status.get("currentMetrics") or []:
        res = m.get("resource") or {}
        cur = res.get("current") or {}
        if res:
            metrics.append(
                {
                    "name": res.get("name"),
                    "average_utilization": cur.get("averageUtilization"),
                    "average_value": cur.get("averageValue"),
                }
            )
    return {
        "name": (hpa.get("metadata") or {}).get("name", ""),
        "current_replicas": current,
        "desired_replicas": desired,
        "min_replicas": min_r,
        "max_replicas": max_r,
        "at_max": (max_r > 0 and current >= max_r) or limited,
        "scaling_limited": limited,
        "scaling_active": not failed_metrics,
        "failed_metrics": failed_metrics,
        "current_metrics": metrics,
        "conditions": conditions,
    }


# --------------------------------------------------------------------------- metrics-server


def metrics_server_status(clients: KubeClients) -> tuple[bool | None, str]:
    """(available, why): from the APIService, else discovery; None when neither can be read."""
    try:
        svc = clients.call(
            "get",
            "apiservices",
            None,
            lambda **kw: clients.apiregistration.read_api_service(METRICS_APISERVICE, **kw),
        )
    except K8sNotFound:
        return False, f"APIService {METRICS_APISERVICE} is not registered (metrics-server missing)"
    except (K8sForbidden, K8sApiError):
        return _metrics_from_discovery(clients)
    for cond in (svc.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            if cond.get("status") == "True":
                return True, f"APIService {METRICS_APISERVICE} is Available"
            return False, (
                f"APIService {METRICS_APISERVICE} is not Available: "
                f"{cond.get('reason', '')} {_clip(str(cond.get('message') or ''), MAX_MESSAGE)}"
            ).strip()
    return False, f"APIService {METRICS_APISERVICE} reports no Available condition"


def _metrics_from_discovery(clients: KubeClients) -> tuple[bool | None, str]:
    try:
        groups = clients.call("get", "apis", None, lambda **kw: clients.apis.get_api_versions(**kw))
    except K8sError as exc:
        return None, f"cannot tell whether metrics-server is available: {exc.message}"
    names = {g.get("name") for g in groups.get("groups") or []}
    if "metrics.k8s.io" in names:
        return True, "metrics.k8s.io is served (discovery)"
    return False, "metrics.k8s.io is not served (discovery): metrics-server missing"


# --------------------------------------------------------------------------- for remediation


def get_deployment(clients: KubeClients, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get",
        "deployments",
        namespace,
        lambda **kw: clients.apps.read_namespaced_deployment(name, namespace, **kw),
    )
    return result


def get_deployment_scale(clients: KubeClients, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = clients.call(
        "get",
        "deployments/scale",
        namespace,
        lambda **kw: clients.apps.read_namespaced_deployment_scale(name, namespace, **kw),
    )
    return result


def pods_of(clients: KubeClients, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods a workload's selector matches (empty without a selector: never everything)."""
    from shared.workload.resolve import selector_string

    meta = workload.get("metadata") or {}
    namespace = str(meta.get("namespace", ""))
    selector = selector_string((workload.get("spec") or {}).get("selector"))
    if not selector or not namespace:
        return []
    data = clients.call(
        "list",
        "pods",
        namespace,
        lambda **kw: clients.core.list_namespaced_pod(namespace, label_selector=selector, **kw),
    )
    return list(data.get("items") or [])

"""Kubernetes evidence for an alert: workload, pods, warning events, logs, rollout, HPA,
metrics-server. Never raises for expected failures: they become `status`/`errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from shared.investigation import diagnosis_reads
from shared.k8s import reads
from shared.k8s.client import ClientFactory, KubeClients, load_clients
from shared.k8s.errors import (
    K8sConfigError,
    K8sError,
    K8sNotConfigured,
    K8sTimeout,
    K8sUnreachable,
)
from shared.k8s.settings import HOW_TO_CONFIGURE, K8sSettings, k8s_settings
from shared.model import Alert
from shared.untrusted import redact, redact_lines
from shared.workload.resolve import (
    Resolution,
    WorkloadRef,
    controller_of,
    list_pods,
    resolve_workload,
)

PartStatus = Literal["ok", "skipped", "error"]
MAX_LOG_PODS = 2
# With no troubled pod (an error-rate or latency alert), any replica may hold the errors and a
# replica's log may be empty (just started, quiet): try this many until MAX_LOG_PODS have lines.
MAX_HEALTHY_LOG_PODS = 4
MAX_EVENT_PODS = 5
_ERROR_LINE = re.compile(
    r"(?i)\b(error|exception|fatal|panic|traceback|killed|refused|timeout|failed)\b"
)


@dataclass
class K8sEvidence:
    status: PartStatus
    lines: list[str] = field(default_factory=list)  # summary lines, most important first
    errors: list[str] = field(default_factory=list)
    workload: WorkloadRef | None = None
    resolution: Resolution | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)  # pod summaries
    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    recent_deploy: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    hpa: dict[str, Any] | None = None
    metrics_server_available: bool | None = None
    metrics_server_reason: str = ""
    sandbox: bool = False
    source: str = ""
    workload_status: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, Any] = field(default_factory=dict)  # diagnosis_reads.collect
    fatal: str = ""  # why collection stopped early

    def details(self) -> dict[str, Any]:
        res = self.resolution
        return {
            "workload": self.workload.as_dict() if self.workload else None,
            "recent_deploy": self.recent_deploy,
            "hpa": self.hpa,
            "metrics_server_available": self.metrics_server_available,
            "sandbox": self.sandbox,
            "kubernetes": {
                "status": self.status,
                "source": self.source,
                "errors": self.errors,
                "metrics_server": self.metrics_server_reason,
                "workload_status": self.workload_status,
                "resolution": {
                    "via": res.via,
                    "tried": res.tried,
                    "problems": res.problems,
                    "selector": res.selector,
                }
                if res
                else None,
            },
            "pods": self.pods,
            "events": self.events,
            "logs": self.logs,
            "rollout_history": self.history,
            "diagnosis_evidence": self.diagnosis,
        }


class _Abort(Exception):
    """Stop collecting: the API is unreachable/slow, further calls would only wait again."""


def _guard(ev: K8sEvidence, what: str, exc: K8sError) -> None:
    ev.errors.append(f"{what}: {exc}")
    if isinstance(exc, K8sTimeout | K8sUnreachable):
        ev.fatal = str(exc)
        raise _Abort from exc


def collect(
    alert: Alert,
    factory: ClientFactory | None = None,
    settings: K8sSettings | None = None,
    now: datetime | None = None,
) -> K8sEvidence:
    """Everything the cluster can tell about the alert's workload."""
    now = now or datetime.now(UTC)
    try:
        s = settings or k8s_settings()
    except ValueError as exc:
        return K8sEvidence(
            status="error", lines=[f"Kubernetes: bad setting: {exc}"], errors=[str(exc)]
        )
    try:
        clients = factory() if factory else load_clients(s)
    except K8sNotConfigured:
        return K8sEvidence(
            status="skipped", lines=[f"Kubernetes: not configured; {HOW_TO_CONFIGURE}."]
        )
    except K8sConfigError as exc:
        return K8sEvidence(status="error", lines=[f"Kubernetes: {exc}"], errors=[str(exc)])
    s = clients.settings if factory else s
    ev = K8sEvidence(status="ok", source=clients.source)
    try:
        _collect(ev, clients, alert, s, now)
    except _Abort:
        pass
    finally:
        clients.close()
    if ev.errors:
        ev.status = "error"
        if ev.fatal:
            ev.lines.insert(0, f"Kubernetes API failed: {ev.fatal}")
        else:
            ev.lines.append("Kubernetes API errors: " + "; ".join(ev.errors[:3]))
    return ev


def _collect(
    ev: K8sEvidence, clients: KubeClients, alert: Alert, s: K8sSettings, now: datetime
) -> None:
    try:
        ev.sandbox = clients.is_sandbox()
    except K8sError as exc:
        _guard(ev, "reading /version", exc)
    try:
        res = resolve_workload(clients, alert.labels, s.default_namespace)
    except K8sError as exc:
        _guard(ev, "resolving the workload", exc)
        ev.fatal = ev.fatal or str(exc)
        ev.lines.insert(0, f"Kubernetes: cannot resolve the workload: {exc}")
        return
    ev.resolution = res
    ev.workload = res.workload
    if res.workload is None:
        ev.lines.append("Kubernetes: " + res.explain_unresolved() + ".")
        return
    wl = res.workload
    _workload_status(ev, res)
    _pods(ev, clients, res, s)
    _logs(ev, clients, res, s)
    history: list[reads.Revision] = []
    if wl.kind == "Deployment" and res.obj is not None:
        try:
            history = reads.rollout_history(clients, res.obj, res.selector)
            ev.history = [r.as_dict() for r in history[-5:]]
            ev.recent_deploy = reads.recent_deploy(history, s.recent_deploy_minutes, now)
        except K8sError as exc:
            _guard(ev, "reading rollout history", exc)
    hpa_name = ""
    try:
        hpa = reads.find_hpa(clients, wl)
        if hpa is not None:
            ev.hpa = reads.hpa_summary(hpa)
            hpa_name = ev.hpa["name"]
    except K8sError as exc:
        _guard(ev, "reading HPAs", exc)
    try:
        available, why = reads.metrics_server_status(clients)
        ev.metrics_server_available, ev.metrics_server_reason = available, why
    except K8sError as exc:
        _guard(ev, "checking metrics-server", exc)
    _events(ev, clients, res, s, now, hpa_name)
    ev.diagnosis = diagnosis_reads.collect(ev, clients, res, s, now, history)
    _lines(ev)


def _workload_status(ev: K8sEvidence, res: Resolution) -> None:
    obj = res.obj or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    if res.workload and res.workload.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        ev.workload_status = {
            "replicas": spec.get("replicas"),
            "ready_replicas": int(status.get("readyReplicas") or 0),
            "updated_replicas": int(status.get("updatedReplicas") or 0),
            "available_replicas": int(status.get("availableReplicas") or 0),
        }
        if res.workload.kind == "StatefulSet":
            ev.workload_status["current_revision"] = status.get("currentRevision")
            ev.workload_status["update_revision"] = status.get("updateRevision")
    elif res.workload and res.workload.kind == "DaemonSet":
        ev.workload_status = {
            "desired": status.get("desiredNumberScheduled"),
            "ready": status.get("numberReady"),
        }


def _pods(ev: K8sEvidence, clients: KubeClients, res: Resolution, s: K8sSettings) -> None:
    pods = res.pods
    if pods is None and res.selector and res.workload:
        try:
            pods = list_pods(clients, res.workload.namespace, res.selector)
        except K8sError as exc:
            _guard(ev, "listing pods", exc)
            pods = []
        others = [p for p in pods if not _owned_by(p, res.workload.kind, res.workload.name)]
        if others:
            # An overlapping selector (a Job's or a sibling's pods with the same labels): their
            # crashes are another workload's, never this one's evidence.
            pods = [p for p in pods if p not in others]
            owners = sorted({_owner_name(p) for p in others})
            ev.lines.append(
                f"{len(others)} pods matching the selector belong to {', '.join(owners)}: left out"
            )
    summaries = [reads.pod_summary(p) for p in pods or []]
    # An object we cannot read is evidence, not an API error (a real API server may send
    # fields our summariser does not expect); the investigation goes on with the others.
    ev.lines.extend(p["unreadable"] for p in summaries if p.get("unreadable"))
    summaries.sort(key=reads.pod_severity, reverse=True)
    ev.pods = summaries[: s.max_pods]
    if len(summaries) > s.max_pods:
        ev.workload_status["pods_total"] = len(summaries)
    for p in ev.pods:
        for c in p["containers"] + p.get("init_containers", []):
            if c["waiting_message"]:
                c["waiting_message"] = redact(c["waiting_message"])
            if c.get("terminated_message"):
                c["terminated_message"] = redact(c["terminated_message"])
            if (c["last_termination"] or {}).get("message"):
                c["last_termination"]["message"] = redact(c["last_termination"]["message"])
        for key in ("message", "scheduling_message"):
            if p.get(key):
                p[key] = redact(p[key])


def _owned_by(pod: dict[str, Any], kind: str, name: str) -> bool:
    """False only when the pod's controller is known to be another workload; a pod without an
    owner reference is kept (nothing says it is not ours)."""
    owner = controller_of(pod)
    if owner is None or kind not in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return True
    o_kind, o_name = str(owner.get("kind", "")), str(owner.get("name", ""))
    if kind == "Deployment":  # through its ReplicaSets, named <deployment>-<pod-template-hash>
        return o_kind == "ReplicaSet" and o_name.startswith(f"{name}-")
    return o_kind == kind and o_name == name


def _owner_name(pod: dict[str, Any]) -> str:
    owner = controller_of(pod) or {}
    return f"{str(owner.get('kind', '')).lower()}/{owner.get('name', '')}"


def _pick_container(pod: dict[str, Any], hint: str) -> dict[str, Any] | None:
    containers = pod["containers"]
    if not containers:
        return None
    for c in containers:
        if c["name"] == hint:
            return dict(c)
    return dict(max(containers, key=lambda c: (c["restart_count"], not c["ready"])))


def _has_lines(entry: dict[str, Any]) -> bool:
    return any(line.strip() for line in [*entry.get("current", []), *entry.get("previous", [])])


def _logs(ev: K8sEvidence, clients: KubeClients, res: Resolution, s: K8sSettings) -> None:
    if not res.workload:
        return
    ns = res.workload.namespace
    troubled = [p for p in ev.pods if reads.pod_severity(p) > 0][:MAX_LOG_PODS]
    # the troubled pods first; when none of them has a log with lines (an evicted pod's log is
    # gone), the other replicas: the errors are then in a live replica's log
    others = [p for p in ev.pods if p not in troubled][:MAX_HEALTHY_LOG_PODS]
    for pod in troubled + others:
        with_lines = [e for e in ev.logs if _has_lines(e)]
        if len(with_lines) >= MAX_LOG_PODS or (
            pod in others and any(e["pod"] in {t["name"] for t in troubled} for e in with_lines)
        ):
            break
        c = _pick_container(pod, res.container)
        if c is None:
            continue
        entry: dict[str, Any] = {"pod": pod["name"], "container": c["name"]}
        try:
            entry["current"] = redact_lines(
                reads.pod_log(clients, ns, pod["name"], c["name"], tail_lines=s.log_tail_lines)
            )
        except K8sError as exc:
            if getattr(exc, "status", None) not in (400, 404):  # not started (yet): no log
                _guard(ev, f"reading the log of {pod['name']}", exc)
            entry["current"] = []
        if c["restart_count"] > 0 or c["last_termination"]:
            try:
                entry["previous"] = redact_lines(
                    reads.pod_log(
                        clients,
                        ns,
                        pod["name"],
                        c["name"],
                        tail_lines=s.log_tail_lines,
                        previous=True,
                    )
                )
            except K8sError as exc:
                if getattr(exc, "status", None) in (400, 404):
                    entry["previous"] = []  # no previous container (yet)
                else:
                    _guard(ev, f"reading the previous log of {pod['name']}", exc)
        ev.logs.append(entry)


def _events(
    ev: K8sEvidence,
    clients: KubeClients,
    res: Resolution,
    s: K8sSettings,
    now: datetime,
    hpa_name: str,
) -> None:
    assert res.workload is not None
    names = [res.workload.name] + [p["name"] for p in ev.pods[:MAX_EVENT_PODS]]
    if hpa_name and hpa_name not in names:
        names.append(hpa_name)
    try:
        events = reads.warning_events(
            clients,
            res.workload.namespace,
            names,
            window_minutes=s.event_window_minutes,
            now=now,
        )
    except K8sError as exc:
        _guard(ev, "listing events", exc)
        return
    for e in events:
        e["message"] = redact(e["message"])
    ev.events = events


def _short_time(value: str | None) -> str:
    if not value:
        return "?"
    return value.replace("T", " ").replace("Z", " UTC")


def last_error_line(lines: list[str]) -> str:
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line.strip()
    return ""


def _lines(ev: K8sEvidence) -> None:
    wl = ev.workload
    assert wl is not None
    total = len(ev.pods)
    ready = sum(1 for p in ev.pods if p["ready"])
    restarts = sum(p["restarts"] for p in ev.pods)
    head = f"{wl.kind.lower()}/{wl.name} in {wl.namespace}"
    if total:
        head += f": {ready}/{total} pods ready, {restarts} restarts"
    elif wl.kind not in ("Pod",):
        head += ": no pods found"
    ev.lines.append(head)
    reported: set[str] = set()
    for p in ev.pods:
        for c in p["containers"]:
            key_parts = []
            if c["waiting_reason"]:
                key_parts.append(
                    f"{c['waiting_reason']} ({c['restart_count']} restarts)"
                    if c["restart_count"]
                    else c["waiting_reason"]
                )
            lt = c["last_termination"]
            if lt and lt.get("reason"):
                key_parts.append(
                    f"last terminated {lt['reason']} (exit code {lt.get('exit_code')}) "
                    f"at {_short_time(lt.get('finished_at'))}"
                )
            if not key_parts:
                continue
            text = "; ".join(key_parts)
            sig = f"{c['waiting_reason']}|{(lt or {}).get('reason')}"
            if sig in reported:
                continue
            reported.add(sig)
            ev.lines.append(f"pod {p['name']} container {c['name']}: {text}")
    rd = ev.recent_deploy
    if rd:
        images = ", ".join(rd["images"])
        if rd["recent"]:
            prev_images = ", ".join(rd["previous_images"])
            prev = (
                f"; previous revision {rd['previous_revision']} ({prev_images})"
                if rd["previous_revision"] is not None
                else ""
            )
            ev.lines.append(
                f"Recent deploy: revision {rd['revision']} ({images}) rolled out "
                f"{rd['age_minutes']:g} min ago{prev}"
            )
        else:
            ev.lines.append(
                f"Last deploy: revision {rd['revision']} ({images}) at {_short_time(rd['created'])}"
            )
    h = ev.hpa
    if h:
        state = "AT MAXIMUM" if h["at_max"] else "within range"
        text = (
            f"HPA {h['name']}: {h['current_replicas']} replicas (desired "
            f"{h['desired_replicas']}, min {h['min_replicas']}, max {h['max_replicas']}), {state}"
        )
        limited = [
            c for c in h["conditions"] if c["type"] == "ScalingLimited" and c["status"] == "True"
        ]
        if limited:
            text += f"; ScalingLimited: {limited[0]['reason']}"
        if h["failed_metrics"]:
            text += f"; cannot read metrics: {h['failed_metrics'][0][:160]}"
        ev.lines.append(text)
    if ev.metrics_server_available is False and h:
        # The HPA's status is the authority: one that reads its metrics contradicts the absence.
        shown = h["scaling_active"] is False or not (h["current_metrics"] or h["conditions"])
        ev.lines.append(
            f"metrics-server unavailable ({ev.metrics_server_reason}): "
            "HPAs on cpu/memory cannot scale"
            if shown
            else f"metrics-server not found ({ev.metrics_server_reason}), but HPA {h['name']} "
            "reads its metrics"
        )
    if ev.events:
        top = ev.events[:3]
        ev.lines.append(
            "Warning events: "
            + "; ".join(f"{e['reason']} x{e['count']} on {e['object']}" for e in top)
        )
    for entry in ev.logs:
        source = entry.get("previous") or entry.get("current") or []
        if source and (line := last_error_line(source)):
            which = "previous container" if entry.get("previous") else "log"
            ev.lines.append(f"{entry['pod']} {which}: {line[:200]}")
            break

"""The reads the diagnosis needs beyond the basic evidence (shared.investigation.k8s_evidence),
all read-only: every event of the workload, its ReplicaSets, pods and claims (Normal ones tell
what changed), init-container logs, the workload's conditions, the nodes of troubled pods, the
in-cluster state of the upstreams its logs name (Service, EndpointSlices, pods), the namespace's
quotas when a FailedCreate names one, and the changes (rollout, configuration checksums, scaling)
— never a Secret or ConfigMap, only the metadata that references them.

A refused or missing read is a note, not an error: the diagnosis works with what it has.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.investigation.noted_reads import StopReading, noted
from shared.investigation.upstreams import read_upstreams
from shared.k8s import reads
from shared.untrusted import redact, redact_lines

if TYPE_CHECKING:
    from shared.investigation.k8s_evidence import K8sEvidence
    from shared.k8s.client import KubeClients
    from shared.k8s.settings import K8sSettings
    from shared.workload.resolve import Resolution

MAX_NODES = 2
MAX_INIT_LOG_PODS = 2
MAX_SIDECAR_LOG_PODS = 2
MAX_SIDECARS = 3  # per pod
_CONFIG_ANNOTATION = re.compile(r"(?i)checksum|config|secret")
_SCALED_DOWN = re.compile(r"Scaled down replica set (?P<rs>\S+) (?:to|from \d+ to) (?P<to>\d+)")
_RESCALE = re.compile(r"New size: (?P<to>\d+); reason: (?P<why>.+)")


_Stop = StopReading
_read = noted


def collect(
    ev: K8sEvidence,
    clients: KubeClients,
    res: Resolution,
    s: K8sSettings,
    now: datetime,
    history: list[reads.Revision],
) -> dict[str, Any]:
    diag: dict[str, Any] = {"notes": []}
    with contextlib.suppress(_Stop):  # the API is unreachable or slow: keep what we have
        _collect(diag, ev, clients, res, s, now, history)
    return diag


def _collect(
    diag: dict[str, Any],
    ev: K8sEvidence,
    clients: KubeClients,
    res: Resolution,
    s: K8sSettings,
    now: datetime,
    history: list[reads.Revision],
) -> None:
    assert res.workload is not None
    ns = res.workload.namespace
    obj = res.obj or {}
    diag["workload"] = {
        "kind": res.workload.kind,
        "name": res.workload.name,
        "conditions": [
            {k: c.get(k, "") for k in ("type", "status", "reason", "message")}
            for c in (obj.get("status") or {}).get("conditions") or []
        ],
    }
    names = [res.workload.name] + [r.name for r in history[-3:]]
    names += [p["name"] for p in ev.pods[:5]]
    names += [c for p in ev.pods[:5] for c in p.get("claims") or []]
    if ev.hpa:
        names.append(ev.hpa["name"])
    events = _read(
        diag,
        "listing events",
        reads.object_events,
        clients,
        ns,
        names,
        window_minutes=s.event_window_minutes,
        now=now,
    )
    events = events or []
    for e in events:
        e["message"] = redact(e["message"])
    diag["events"] = events
    _init_logs(diag, ev, clients, ns, s)
    _sidecar_logs(diag, ev, clients, ns, s)
    diag["changes"] = _changes(history, events)
    diag["nodes"] = _nodes(diag, ev, clients)
    if any(e["reason"] == "FailedCreate" and "quota" in e["message"] for e in events):
        diag["quotas"] = _read(diag, "listing resourcequotas", reads.resource_quotas, clients, ns)
    diag["upstreams"] = read_upstreams(diag, ev.logs, clients, ns)


def _init_logs(
    diag: dict[str, Any], ev: K8sEvidence, clients: KubeClients, ns: str, s: K8sSettings
) -> None:
    done = 0
    for p in ev.pods:
        failing = [
            c
            for c in p.get("init_containers") or []
            if c["waiting_reason"] or (c["last_termination"] or {}).get("exit_code")
        ]
        if not failing or done >= MAX_INIT_LOG_PODS:
            continue
        c = failing[0]
        previous = c["restart_count"] > 0
        lines = _read(
            diag,
            f"reading the init log of {p['name']}",
            reads.pod_log,
            clients,
            ns,
            p["name"],
            c["name"],
            tail_lines=s.log_tail_lines,
            previous=previous,
        )
        if lines is None and previous:
            lines = _read(
                diag,
                f"reading the init log of {p['name']}",
                reads.pod_log,
                clients,
                ns,
                p["name"],
                c["name"],
                tail_lines=s.log_tail_lines,
            )
        ev.logs.append(
            {
                "pod": p["name"],
                "container": c["name"],
                "init_container": c["name"],
                "init": redact_lines(lines or []),
            }
        )
        done += 1


def _sidecar_logs(
    diag: dict[str, Any], ev: K8sEvidence, clients: KubeClients, ns: str, s: K8sSettings
) -> None:
    """Every other container of the pods whose app log was read: sidecars (a Cloud SQL proxy,
    an Envoy) and native sidecars (init containers with restartPolicy: Always). A proxy's log
    may state the cause ("403 … cloudsql.instances.get") the app only sees as a failed call to
    localhost."""
    read = {(e["pod"], e["container"]) for e in ev.logs}
    app_pods = list(dict.fromkeys(e["pod"] for e in ev.logs if not e.get("init_container")))
    for p in [p for p in ev.pods if p["name"] in app_pods][:MAX_SIDECAR_LOG_PODS]:
        others = [
            c
            for c in p["containers"]
            + [c for c in p.get("init_containers") or [] if c.get("sidecar")]
            if (p["name"], c["name"]) not in read
        ]
        for c in others[:MAX_SIDECARS]:
            entry: dict[str, Any] = {"pod": p["name"], "container": c["name"], "sidecar": True}
            what = f"reading the log of {p['name']}/{c['name']}"
            entry["current"] = redact_lines(
                _read(
                    diag,
                    what,
                    reads.pod_log,
                    clients,
                    ns,
                    p["name"],
                    c["name"],
                    tail_lines=s.log_tail_lines,
                )
                or []
            )
            if c["restart_count"] > 0:
                entry["previous"] = redact_lines(
                    _read(
                        diag,
                        what,
                        reads.pod_log,
                        clients,
                        ns,
                        p["name"],
                        c["name"],
                        tail_lines=s.log_tail_lines,
                        previous=True,
                    )
                    or []
                )
            ev.logs.append(entry)


def _changes(history: list[reads.Revision], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rollouts, configuration changes (pod-template annotations such as checksum/config, and the
    ConfigMaps/Secrets the template names — metadata, never content) and scale-downs."""
    out: list[dict[str, Any]] = []
    if len(history) >= 2:
        new, old = history[-1], history[-2]
        images = [i for i in new.images if i not in old.images]
        what = f"revision {new.revision}"
        if images:
            what += f" (image {', '.join(i.rsplit('/', 1)[-1] for i in images)})"
        changed_keys = sorted(
            k
            for k in set(new.template_annotations) | set(old.template_annotations)
            if _CONFIG_ANNOTATION.search(k)
            and new.template_annotations.get(k) != old.template_annotations.get(k)
        )
        refs = sorted(set(new.config_refs) ^ set(old.config_refs))
        if images or not (changed_keys or refs):
            out.append(
                {
                    "kind": "rollout",
                    "what": what,
                    "at": reads.iso(new.created),
                    "fields": {"revision": new.revision, "previous_revision": old.revision},
                }
            )
        if changed_keys or refs:
            named = ", ".join(changed_keys + refs)
            refs_now = ", ".join(new.config_refs)
            out.append(
                {
                    "kind": "config",
                    "what": f"revision {new.revision} changed {named}"
                    + (f" (uses {refs_now})" if refs_now else ""),
                    "at": reads.iso(new.created),
                    "fields": {"revision": new.revision, "config": named},
                }
            )
    for e in events:
        m = _SCALED_DOWN.search(e["message"]) if e["reason"] == "ScalingReplicaSet" else None
        current = history[-1].name if history else ""
        if m and m.group("rs") == current:
            out.append(
                {
                    "kind": "scale",
                    "what": f"{e['object']} scaled down to {m.group('to')} replicas",
                    "at": e["last_seen"],
                    "fields": {"replicas": m.group("to")},
                }
            )
        r = _RESCALE.search(e["message"]) if e["reason"] == "SuccessfulRescale" else None
        if r and "below target" in r.group("why"):
            out.append(
                {
                    "kind": "scale",
                    "what": f"{e['object']} scaled down to {r.group('to')} replicas "
                    f"({r.group('why')[:80]})",
                    "at": e["last_seen"],
                    "fields": {"replicas": r.group("to")},
                }
            )
    return out


def _nodes(diag: dict[str, Any], ev: K8sEvidence, clients: KubeClients) -> list[dict[str, Any]]:
    troubled = [p for p in ev.pods if reads.pod_severity(p) > 0 and p.get("node")]
    out = []
    for name in list(dict.fromkeys(p["node"] for p in troubled))[:MAX_NODES]:
        node = _read(diag, f"reading node {name}", reads.get_node, clients, name)
        if node is not None:
            out.append(reads.node_summary(node))
    return out

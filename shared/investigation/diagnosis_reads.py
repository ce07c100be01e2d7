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

from shared.investigation.catalogue import default_catalogue
from shared.k8s import reads
from shared.k8s.errors import K8sError, K8sNotFound, K8sTimeout, K8sUnreachable
from shared.untrusted import redact, redact_lines

if TYPE_CHECKING:
    from shared.investigation.k8s_evidence import K8sEvidence
    from shared.k8s.client import KubeClients
    from shared.k8s.settings import K8sSettings
    from shared.workload.resolve import Resolution

MAX_UPSTREAMS = 3
MAX_NODES = 2
MAX_INIT_LOG_PODS = 2
MAX_SIDECAR_LOG_PODS = 2
MAX_SIDECARS = 3  # per pod
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_CONFIG_ANNOTATION = re.compile(r"(?i)checksum|config|secret")
_SCALED_DOWN = re.compile(r"Scaled down replica set (?P<rs>\S+) (?:to|from \d+ to) (?P<to>\d+)")
_RESCALE = re.compile(r"New size: (?P<to>\d+); reason: (?P<why>.+)")


class _Stop(Exception):
    pass


def _read(diag: dict[str, Any], what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except (K8sTimeout, K8sUnreachable) as exc:
        diag["notes"].append(f"{what}: {exc}")
        raise _Stop from exc
    except K8sNotFound:
        return None  # gone (a deleted node, a pod not started): nothing to say
    except K8sError as exc:
        diag["notes"].append(f"{what}: {exc}")
        return None


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
    diag["upstreams"] = _upstreams(diag, ev, clients, ns)


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


def _host_patterns() -> list[re.Pattern[str]]:
    out = []
    for entry in default_catalogue().entries:
        for m in [*entry.all, *entry.any]:
            if m.log is not None and "?P<host" in m.log.pattern:
                out.append(re.compile(m.log.pattern))
    return out


def hosts_in_logs(logs: list[dict[str, Any]]) -> list[str]:
    """Host names the logs fail to reach (from the catalogue's dependency patterns)."""
    return list(host_lines(logs))


def host_lines(logs: list[dict[str, Any]]) -> dict[str, str]:
    """Each host the logs fail to reach, with the (last) line that says so."""
    found: dict[str, str] = {}
    patterns = _host_patterns()
    for entry in logs:
        for source in ("previous", "current", "init"):
            for line in entry.get(source) or []:
                for rx in patterns:
                    m = rx.search(line)
                    if not m:
                        continue
                    for k, v in m.groupdict().items():
                        if k.startswith("host") and v:
                            found[v] = line
    return found


def service_of(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) for an in-cluster host name: `svc`, `svc.ns`, `svc.ns.svc[.cluster
    .local]`; None for anything else (an external host, an IP)."""
    host = host.lower().rstrip(".")
    for suffix in (".svc.cluster.local", ".svc"):
        if host.endswith(suffix):
            host = host[: -len(suffix)]
            break
    else:
        if host.count(".") > 1:
            return None
    parts = host.split(".")
    if not all(_DNS_LABEL.match(p) for p in parts) or parts[0].isdigit():
        return None
    if len(parts) == 1:
        return parts[0], namespace
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def _upstreams(
    diag: dict[str, Any], ev: K8sEvidence, clients: KubeClients, ns: str
) -> dict[str, dict[str, Any]]:
    from shared.remediation.workload_safety import classify
    from shared.workload.resolve import selector_string

    out: dict[str, dict[str, Any]] = {}
    lines = host_lines(ev.logs)
    # only in-cluster names are looked up (an IP or an external host has no Service to read)
    for host in [h for h in lines if service_of(h, ns) is not None][:MAX_UPSTREAMS]:
        svc_ns = service_of(host, ns)
        if svc_ns is None:
            continue
        name, where = svc_ns
        target = f"service {where}/{name}"
        try:
            svc = reads.get_service(clients, where, name)
        except (K8sTimeout, K8sUnreachable) as exc:
            diag["notes"].append(f"reading {target}: {exc}")
            raise _Stop from exc
        except K8sNotFound:
            out[host] = {"target": target, "state": "not-found", "detail": "no such Service"}
            continue
        except K8sError as exc:
            diag["notes"].append(f"reading {target}: {exc}")
            continue
        slices = _read(diag, f"endpoints of {target}", reads.endpoint_slices, clients, where, name)
        selector = selector_string({"matchLabels": (svc.get("spec") or {}).get("selector") or {}})
        listed = (
            _read(diag, f"pods of {target}", reads.list_pods_selected, clients, where, selector)
            if selector
            else None
        )
        pods = listed or []
        ready_eps, total_eps = reads.ready_endpoints(slices or [])
        summaries = [reads.pod_summary(p) for p in pods]
        ready_pods = sum(1 for p in summaries if p["ready"])
        crashing = [
            c["waiting_reason"]
            for p in summaries
            for c in p["containers"]
            if c["waiting_reason"] in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
        ]
        ready = ready_eps if slices else ready_pods
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            state, detail = "external", "an ExternalName Service (outside the cluster)"
        elif ready:
            state, detail = "ready", f"{ready} ready endpoints"
        elif listed is None and slices is None:
            # Neither read answered: an unread Service is not a down one (absence is no evidence).
            state, detail = "unknown", "its endpoints and pods could not be read"
        elif listed is None:
            state, detail = "no-endpoints", f"0 ready endpoints of {total_eps}"
        elif not pods:
            state, detail = "scaled-to-zero", "no pods match its selector (scaled to zero?)"
        elif crashing:
            state = "crash-looping"
            detail = f"0 ready endpoints, its {len(pods)} pods are in {crashing[0]}"
        else:
            state = "no-endpoints"
            detail = f"0 ready endpoints of {total_eps or len(pods)}"
        database = bool(pods) and classify(pods[0], pods=pods).data_class
        out[host] = {
            "target": target,
            "state": state,
            "detail": detail,
            "database": database,
            "line": redact(lines[host])[:300],
        }
    return out

"""The in-cluster dependencies a workload's logs fail to reach, and their state.

A host comes from the catalogue's dependency patterns (`dial tcp orders-db:5432: connect:
connection refused` names it). Clients do not always name it on the failing line:
- an exception that names no host (`ConnectionRefusedError: [Errno 111]`) is about the URL
  the same request logged just before it (`GET http://opensearch.search.svc:9200/…`);
- a line that names an IP often carries the name it dialled too (`ECONNREFUSED
  10.12.44.17:5672 (amqp://rabbitmq.messaging.svc.cluster.local:5672)`);
- an IP alone may be a pod's (a headless Service, a broker advertising its pod IP): the pod
  at that IP is looked up in any namespace; else the Service whose ClusterIP it is (Node
  clients print the address they resolved the name to).
Only reads, never a Secret: Services, EndpointSlices, pods.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import TYPE_CHECKING, Any

from shared.investigation.catalogue import default_catalogue
from shared.investigation.noted_reads import StopReading, noted
from shared.k8s import reads
from shared.k8s.errors import K8sError, K8sNotFound, K8sTimeout, K8sUnreachable
from shared.untrusted import redact
from shared.workload.resolve import controller_of

if TYPE_CHECKING:
    from shared.k8s.client import KubeClients

MAX_UPSTREAMS = 3
MAX_POD_IPS = 2  # private IPs looked up as a pod's, then as a Service's ClusterIP
# how far back from a failure that names no host the request's own log line is looked for
# (a Python traceback through urllib3 puts a dozen lines between them)
CONTEXT_LINES = 20
# the connection failures whose host a nearby line may name (not DNS: it names the host)
_CONNECT_FAILURES = ("dependency-refused", "dependency-timeout")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_URL_HOST = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@\s/]*@)?(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"
)
_STATE_OF_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]:
    """(patterns that capture a host, connection failures that capture none)."""
    named, bare = [], []
    for entry in default_catalogue().entries:
        for m in [*entry.all, *entry.any]:
            if m.log is None:
                continue
            if "?P<host" in m.log.pattern:
                named.append(re.compile(m.log.pattern))
            elif entry.id in _CONNECT_FAILURES:
                bare.append(re.compile(m.log.pattern))
    return tuple(named), tuple(bare)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _url_name(line: str) -> str:
    """The last host name (not an IP, not localhost) a URL on the line names, or ""."""
    names = [
        m.group("host")
        for m in _URL_HOST.finditer(line)
        if not is_ip(m.group("host")) and m.group("host").lower() != "localhost"
    ]
    return names[-1] if names else ""


def host_lines(logs: list[dict[str, Any]]) -> dict[str, str]:
    """Each host the logs fail to reach, with the (last) line that says so; a host found from the
    request logged before a failure gets both lines, unless a line names it directly."""
    named, bare = _patterns()
    found: dict[str, str] = {}
    direct: set[str] = set()
    for entry in logs:
        for source in ("previous", "current", "init"):
            lines = entry.get(source) or []
            for i, line in enumerate(lines):
                hosts = [
                    v
                    for rx in named
                    if (m := rx.search(line))
                    for k, v in m.groupdict().items()
                    if k.startswith("host") and v
                ]
                for host in hosts:
                    found[host] = line
                if any(not is_ip(h) for h in hosts):
                    direct.update(hosts)
                    continue  # the line names what it dialled
                if not hosts and not any(rx.search(line) for rx in bare):
                    continue
                # an IP or no host at all: the name on the same line, else the request's URL
                # logged just before (the nearest one)
                if name := _url_name(line):
                    found[name] = line
                    direct.add(name)
                    continue
                before = lines[max(0, i - CONTEXT_LINES) : i]
                request = next((b for b in reversed(before) if _url_name(b)), "")
                name = _url_name(request)
                if name and name not in direct:
                    found[name] = f"{line.strip()} (after: {request.strip()})"
    return found


def hosts_in_logs(logs: list[dict[str, Any]]) -> list[str]:
    """Hosts the logs fail to reach (from the catalogue's dependency patterns)."""
    return list(host_lines(logs))


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


def _in_cluster_ip(host: str) -> bool:
    """A private address a pod could have (RFC 1918, RFC 6598 shared space, ULA): never
    loopback or link-local (the node's or the metadata server's)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not (ip.is_global or ip.is_loopback or ip.is_link_local or ip.is_multicast)


def read_upstreams(
    diag: dict[str, Any], logs: list[dict[str, Any]], clients: KubeClients, ns: str
) -> dict[str, dict[str, Any]]:
    lines = host_lines(logs)
    out: dict[str, dict[str, Any]] = {}
    for host in [h for h in lines if service_of(h, ns) is not None][:MAX_UPSTREAMS]:
        state = _service_state(diag, clients, host, ns)
        if state is not None:
            out[host] = {**state, "line": redact(lines[host])[:300]}
    # an IP whose own line also named the host was looked up by that name already
    named_lines = {lines[h] for h in lines if service_of(h, ns) is not None}
    for ip in [h for h in lines if _in_cluster_ip(h) and lines[h] not in named_lines][:MAX_POD_IPS]:
        state = _pod_ip_state(diag, clients, ip) or _cluster_ip_state(diag, clients, ip)
        if state is not None:
            out[ip] = {**state, "line": redact(lines[ip])[:300]}
    return out


def _cluster_ip_state(diag: dict[str, Any], clients: KubeClients, ip: str) -> dict[str, Any] | None:
    """The Service whose ClusterIP is `ip` (a client given the IP, or one that logs the address
    it resolved the Service name to): that Service's state, as if the log had named it."""
    services = noted(diag, f"the Service at {ip}", reads.services_at_ip, clients, ip)
    if not services:
        return None
    md = services[0].get("metadata") or {}
    name, where = str(md.get("name") or ""), str(md.get("namespace") or "")
    return _service_state(diag, clients, f"{name}.{where}", where)


def _service_state(
    diag: dict[str, Any], clients: KubeClients, host: str, ns: str
) -> dict[str, Any] | None:
    from shared.remediation.workload_safety import classify
    from shared.workload.resolve import selector_string

    svc_ns = service_of(host, ns)
    assert svc_ns is not None
    name, where = svc_ns
    target = f"service {where}/{name}"
    try:
        svc = reads.get_service(clients, where, name)
    except (K8sTimeout, K8sUnreachable) as exc:
        diag["notes"].append(f"reading {target}: {exc}")
        raise StopReading from exc
    except K8sNotFound:
        return {"target": target, "state": "not-found", "detail": "no such Service"}
    except K8sError as exc:
        diag["notes"].append(f"reading {target}: {exc}")
        return None
    slices = noted(diag, f"endpoints of {target}", reads.endpoint_slices, clients, where, name)
    selector = selector_string({"matchLabels": (svc.get("spec") or {}).get("selector") or {}})
    listed = (
        noted(diag, f"pods of {target}", reads.list_pods_selected, clients, where, selector)
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
        if c["waiting_reason"] in _STATE_OF_WAITING
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
    return {"target": target, "state": state, "detail": detail, "database": database}


def _pod_ip_state(diag: dict[str, Any], clients: KubeClients, ip: str) -> dict[str, Any] | None:
    """The pod that has `ip`, in any namespace: its own state (a client that dials a pod IP
    depends on that pod, not on its siblings). None when no pod has it (a ClusterIP, a node,
    something outside the cluster): nothing is said about it."""
    from shared.remediation.workload_safety import classify

    pods = noted(diag, f"the pod at {ip}", reads.pods_at_ip, clients, ip)
    if not pods:
        return None
    pod = pods[0]
    md = pod.get("metadata") or {}
    owner = controller_of(pod) or {}
    target = f"pod {md.get('namespace')}/{md.get('name')}"
    kind, name = str(owner.get("kind") or ""), str(owner.get("name") or "")
    pod_hash = str((md.get("labels") or {}).get("pod-template-hash") or "")
    if kind == "ReplicaSet" and pod_hash and name.endswith(f"-{pod_hash}"):
        # the Deployment controller names its ReplicaSets <deployment>-<pod-template-hash>
        kind, name = "Deployment", name.removesuffix(f"-{pod_hash}")
    if kind:
        target += f" of {kind.lower()}/{name}"
    summary = reads.pod_summary(pod)
    waiting = [c["waiting_reason"] for c in summary["containers"]]
    waiting = [w for w in waiting if w in _STATE_OF_WAITING]
    if summary.get("ready"):
        state, detail = "ready", f"{ip} is ready"
    elif waiting:
        state, detail = "crash-looping", f"the pod at {ip} is in {waiting[0]}"
    else:
        state, detail = "no-endpoints", f"the pod at {ip} is not ready"
    database = classify(pod, pods=[pod]).data_class
    return {"target": target, "state": state, "detail": detail, "database": database}

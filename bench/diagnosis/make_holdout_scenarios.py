# ruff: noqa: E501  (log lines and component messages are data: kept verbatim on one line)
"""Writes the HOLDOUT diagnosis scenarios (bench/diagnosis/holdout/<id>/).

Written for issue #19 by someone who has not read the catalogue (shared/investigation/) nor the
dev scenarios' dumps/logs: incidents as they happen in real clusters, with the messages real
components print. The files under holdout/ are what the benchmark reads; this script only keeps
the objects consistent (uids, owner references, pod-template hashes, timestamps).

    .venv/bin/python -m bench.diagnosis.make_holdout_scenarios
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "holdout"
ALNUM = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------- helpers


def golog(t, level, msg, caller="main.go:1", **kv):
    """A zap-style JSON log line."""
    fields = "".join(
        f',"{k}":{v}' if isinstance(v, int) else f',"{k}":"{v}"' for k, v in kv.items()
    )
    return f'{{"level":"{level}","ts":"{t}","caller":"{caller}","msg":"{msg}"{fields}}}'


def h(seed: str, n: int = 64, alphabet: str = "0123456789abcdef") -> str:
    out, i = "", 0
    while len(out) < n:
        d = hashlib.sha256(f"{seed}/{i}".encode()).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in d)
        i += 1
    return out[:n]


def uid(seed: str) -> str:
    return str(uuid.UUID(h("uid:" + seed, 32)))


def T(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def at(base: datetime, minutes: float = 0, seconds: float = 0, days: float = 0) -> str:
    t = base + timedelta(days=days, minutes=minutes, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def res(cpu_req=None, mem_req=None, cpu_lim=None, mem_lim=None, extra=None) -> dict:
    r: dict[str, dict] = {}
    if cpu_req or mem_req:
        r["requests"] = {k: v for k, v in (("cpu", cpu_req), ("memory", mem_req)) if v}
    if cpu_lim or mem_lim:
        r["limits"] = {k: v for k, v in (("cpu", cpu_lim), ("memory", mem_lim)) if v}
    for sect, vals in (extra or {}).items():
        r.setdefault(sect, {}).update(vals)
    return r


def http_probe(path, port, period=10, timeout=1, failure=3, initial=0):
    p = {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failure,
    }
    if initial:
        p["initialDelaySeconds"] = initial
    return p


def container(
    name,
    image,
    *,
    port=None,
    resources=None,
    env=None,
    args=None,
    command=None,
    liveness=None,
    readiness=None,
    startup=None,
    mounts=None,
    env_from=None,
    security=None,
):
    c: dict[str, Any] = {"name": name, "image": image}
    if command:
        c["command"] = command
    if args:
        c["args"] = args
    if env:
        c["env"] = env
    if env_from:
        c["envFrom"] = env_from
    if port:
        c["ports"] = [{"containerPort": port, "name": "http", "protocol": "TCP"}]
    c["resources"] = resources or {}
    if liveness:
        c["livenessProbe"] = liveness
    if readiness:
        c["readinessProbe"] = readiness
    if startup:
        c["startupProbe"] = startup
    if security:
        c["securityContext"] = security
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["imagePullPolicy"] = "IfNotPresent"
    c["volumeMounts"] = list(mounts or [])
    return c


def pod_template(
    app,
    containers,
    *,
    init=None,
    volumes=None,
    extra_labels=None,
    annotations=None,
    node_selector=None,
    sa="default",
    tolerations=None,
    security=None,
    grace=30,
):
    labels = {"app": app, **(extra_labels or {})}
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": security or {},
        "serviceAccountName": sa,
        "terminationGracePeriodSeconds": grace,
    }
    if init:
        spec["initContainers"] = init
    if volumes:
        spec["volumes"] = volumes
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    meta: dict[str, Any] = {"labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


def template_hash(app: str, revision: int) -> str:
    return h(f"pth:{app}:{revision}", 10, ALNUM)[: 9 + (revision % 2)]


class Scenario:
    def __init__(self, sid: str, start: str, now: str | None = None):
        self.sid = sid
        self.start = T(start)
        self.now = T(now) if now else self.start
        self.items: list[dict] = []
        self.logs: dict[str, str] = {}
        self.alert: dict = {}
        self.expected: dict = {}
        self.series: str | None = None
        self._rv = 1000 + int(h("rv" + sid, 6, "0123456789"))

    # ------------------------------------------------------------ objects
    def rv(self) -> str:
        self._rv += 7
        return str(self._rv)

    def namespace(self, name, days_old=300, labels=None):
        self.items.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": uid(self.sid + "ns" + name),
                    "creationTimestamp": at(self.start, days=-days_old),
                    "resourceVersion": self.rv(),
                    "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )

    def node(
        self,
        name,
        *,
        cpu="4",
        mem="16Gi",
        alloc_cpu="3920m",
        alloc_mem="15214976Ki",
        labels=None,
        taints=None,
        ready=True,
        unschedulable=False,
        conditions=None,
        days_old=40,
        ip="10.0.0.1",
        kubelet="v1.30.5",
        provider=None,
        ready_reason=None,
        ready_message=None,
        ready_since=None,
        eph="100Gi",
    ):
        hb = at(self.now, seconds=-23)
        trans = at(self.start, days=-days_old)
        conds = {
            "MemoryPressure": (
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            "PIDPressure": (
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
        }
        if not ready:
            conds = {
                k: ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
                for k in conds
            }
        if ready_reason:
            conds["Ready"] = (conds["Ready"][0], ready_reason, ready_message)
        conds.update(conditions or {})
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "uid": uid(self.sid + "node" + name),
                "creationTimestamp": at(self.start, days=-days_old),
                "resourceVersion": self.rv(),
                "labels": {
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    **(labels or {}),
                },
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {},
            "status": {
                "addresses": [
                    {"address": ip, "type": "InternalIP"},
                    {"address": name, "type": "Hostname"},
                ],
                "allocatable": {
                    "cpu": alloc_cpu,
                    "ephemeral-storage": "95551679124",
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": alloc_mem,
                    "pods": "110",
                },
                "capacity": {
                    "cpu": cpu,
                    "ephemeral-storage": eph,
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": mem,
                    "pods": "110",
                },
                "conditions": [
                    {
                        "type": t,
                        "status": s,
                        "reason": r,
                        "message": m,
                        "lastHeartbeatTime": hb if ready else (ready_since or trans),
                        "lastTransitionTime": (ready_since or trans)
                        if (t == "Ready" or not ready)
                        else trans,
                    }
                    for t, (s, r, m) in conds.items()
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "containerRuntimeVersion": "containerd://1.7.22",
                    "kernelVersion": "6.1.109",
                    "kubeProxyVersion": kubelet,
                    "kubeletVersion": kubelet,
                    "operatingSystem": "linux",
                    "osImage": "Ubuntu 22.04.5 LTS",
                },
            },
        }
        if provider:
            node["spec"]["providerID"] = provider
        if taints:
            node["spec"]["taints"] = taints
        if unschedulable:
            node["spec"]["unschedulable"] = True
        self.items.append(node)
        return node

    def deployment(
        self,
        ns,
        name,
        template,
        *,
        replicas,
        revision,
        created_days=200,
        status=None,
        conditions=None,
        strategy=None,
        progress_deadline=600,
        annotations=None,
        generation=None,
        labels=None,
    ):
        d_uid = uid(self.sid + "deploy" + ns + name)
        ann = {"deployment.kubernetes.io/revision": str(revision), **(annotations or {})}
        gen = generation or revision + 3
        st = {
            "observedGeneration": gen,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        st.update(status or {})
        st = {k: v for k, v in st.items() if v not in (0, None) or k == "observedGeneration"}
        st["conditions"] = conditions or []
        dep = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": d_uid,
                "generation": gen,
                "creationTimestamp": at(self.start, days=-created_days),
                "resourceVersion": self.rv(),
                "annotations": ann,
                "labels": {"app": name, **(labels or {})},
            },
            "spec": {
                "replicas": replicas,
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": progress_deadline,
                "selector": {"matchLabels": {"app": template["metadata"]["labels"]["app"]}},
                "strategy": strategy
                or {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "template": template,
            },
            "status": st,
        }
        self.items.append(dep)
        return dep

    @staticmethod
    def cond(type_, status, reason, message, update, transition=None):
        return {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastUpdateTime": update,
            "lastTransitionTime": transition or update,
        }

    def replicaset(self, dep, revision, template, *, created, replicas, ready=None, available=None):
        ns, dname = dep["metadata"]["namespace"], dep["metadata"]["name"]
        ph = template_hash(dname, revision)
        name = f"{dname}-{ph}"
        import copy

        tpl = copy.deepcopy(template)
        tpl["metadata"]["labels"]["pod-template-hash"] = ph
        ready = replicas if ready is None else ready
        available = ready if available is None else available
        st = {
            "observedGeneration": 2 if replicas else 3,
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
        }
        st = {k: v for k, v in st.items() if v or k in ("observedGeneration", "replicas")}
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": uid(self.sid + "rs" + name),
                "generation": st["observedGeneration"],
                "creationTimestamp": created,
                "resourceVersion": self.rv(),
                "labels": {**tpl["metadata"]["labels"]},
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                    "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                    "deployment.kubernetes.io/revision": str(revision),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": dname,
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {
                    "matchLabels": {
                        "app": tpl["metadata"]["labels"]["app"],
                        "pod-template-hash": ph,
                    }
                },
                "template": tpl,
            },
            "status": st,
        }
        self.items.append(rs)
        return rs

    def statefulset(
        self,
        ns,
        name,
        template,
        *,
        replicas,
        ready,
        created_days=300,
        claim=None,
        revision_hash=None,
    ):
        ss_uid = uid(self.sid + "sts" + ns + name)
        rev = f"{name}-{revision_hash or h('crh' + name, 10, ALNUM)}"
        template["metadata"]["labels"]["app"] = template["metadata"]["labels"].get("app", name)
        sts = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": ss_uid,
                "generation": 4,
                "creationTimestamp": at(self.start, days=-created_days),
                "resourceVersion": self.rv(),
                "labels": {"app": name},
            },
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "podManagementPolicy": "OrderedReady",
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": template["metadata"]["labels"]["app"]}},
                "template": template,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Retain",
                    "whenScaled": "Retain",
                },
            },
            "status": {
                "observedGeneration": 4,
                "replicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "currentRevision": rev,
                "updateRevision": rev,
                "collisionCount": 0,
            },
        }
        if claim:
            sts["spec"]["volumeClaimTemplates"] = [claim]
        if not ready:
            del sts["status"]["readyReplicas"]
            del sts["status"]["availableReplicas"]
        self.items.append(sts)
        return sts, rev

    def pod(
        self,
        owner,
        suffix,
        *,
        node,
        ip,
        created,
        statuses,
        phase="Running",
        ready=None,
        init_statuses=None,
        scheduled=True,
        sched_message=None,
        reason=None,
        message=None,
        name=None,
        extra_conditions=None,
        labels=None,
        started=None,
        initialized=True,
        qos="Burstable",
        host_ip=None,
    ):
        import copy

        ns = owner["metadata"]["namespace"]
        tpl = copy.deepcopy(owner["spec"]["template"])
        pname = name or f"{owner['metadata']['name']}-{suffix}"
        if ready is None:
            ready = all(s.get("ready") for s in statuses)
        p_uid = uid(self.sid + "pod" + pname)
        spec = tpl["spec"]
        if scheduled:
            spec["nodeName"] = node
        spec.setdefault("tolerations", [])
        spec["tolerations"] = spec["tolerations"] + [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ]
        spec["enableServiceLinks"] = True
        spec["preemptionPolicy"] = "PreemptLowerPriority"
        spec["priority"] = 0
        token_vol = f"kube-api-access-{h('tok' + pname, 5, ALNUM)}"
        spec.setdefault("volumes", [])
        spec["volumes"] = spec["volumes"] + [
            {
                "name": token_vol,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                "name": "kube-root-ca.crt",
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        ]
        for c in spec["containers"] + spec.get("initContainers", []):
            c["volumeMounts"] = [
                *c.get("volumeMounts", []),
                {
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": token_vol,
                    "readOnly": True,
                },
            ]
        started = started or at(T(created), seconds=2)
        conds = []
        if scheduled:
            conds.append(
                {
                    "type": "PodReadyToStartContainers",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": at(T(created), seconds=3),
                }
            )
            conds.append(
                {
                    "type": "Initialized",
                    "status": "True" if initialized else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": at(T(created), seconds=1),
                    **(
                        {}
                        if initialized
                        else {
                            "reason": "ContainersNotInitialized",
                            "message": "containers with incomplete status: [{}]".format(
                                " ".join(
                                    s["name"] for s in init_statuses or [] if not s.get("ready")
                                )
                            ),
                        }
                    ),
                }
            )
            notready = [s["name"] for s in statuses if not s.get("ready")]
            for t in ("Ready", "ContainersReady"):
                c = {
                    "type": t,
                    "status": "True" if ready else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": at(T(created), seconds=40),
                }
                if not ready:
                    c["reason"] = "ContainersNotReady"
                    c["message"] = f"containers with unready status: [{' '.join(notready)}]"
                conds.append(c)
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": created,
                }
            )
        else:
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": created,
                    "reason": "Unschedulable",
                    "message": sched_message,
                }
            )
        conds += extra_conditions or []
        status: dict[str, Any] = {"phase": phase, "conditions": conds, "qosClass": qos}
        if scheduled:
            status.update(
                {
                    "hostIP": host_ip or "10.0.0.1",
                    "hostIPs": [{"ip": host_ip or "10.0.0.1"}],
                    "startTime": created,
                }
            )
            if ip:
                status.update({"podIP": ip, "podIPs": [{"ip": ip}]})
            status["containerStatuses"] = statuses
            if init_statuses:
                status["initContainerStatuses"] = init_statuses
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        owner_kind = owner["kind"]
        meta = {
            "name": pname,
            "namespace": ns,
            "uid": p_uid,
            "creationTimestamp": created,
            "resourceVersion": self.rv(),
            "labels": {**tpl["metadata"]["labels"], **(labels or {})},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner_kind,
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if owner_kind == "ReplicaSet":
            meta["generateName"] = owner["metadata"]["name"] + "-"
        if tpl["metadata"].get("annotations"):
            meta["annotations"] = tpl["metadata"]["annotations"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}
        self.items.append(pod)
        return pod

    def event(
        self,
        obj,
        reason,
        message,
        *,
        type_="Normal",
        count=1,
        first,
        last=None,
        component="kubelet",
        host=None,
        field_path=None,
        kind=None,
    ):
        meta = obj["metadata"]
        ns = meta.get("namespace", "default")
        name = meta["name"]
        ename = f"{name}.{h('ev' + name + reason + message + first, 16, '0123456789abcdef')}"
        inv = {
            "apiVersion": obj["apiVersion"],
            "kind": kind or obj["kind"],
            "name": name,
            "namespace": ns,
            "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion", "1"),
        }
        if field_path:
            inv["fieldPath"] = field_path
        if obj["kind"] == "Node":
            inv = {"kind": "Node", "name": name, "uid": name, "apiVersion": "v1"}
        src = {"component": component}
        if host:
            src["host"] = host
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": ename,
                "namespace": ns,
                "uid": uid(self.sid + ename),
                "creationTimestamp": first,
                "resourceVersion": self.rv(),
            },
            "involvedObject": inv,
            "reason": reason,
            "message": message,
            "type": type_,
            "count": count,
            "firstTimestamp": first,
            "lastTimestamp": last or first,
            "source": src,
            "reportingComponent": component if component != "kubelet" else "kubelet",
            "reportingInstance": host or "",
            "eventTime": None,
        }
        self.items.append(ev)
        return ev

    def service(
        self,
        ns,
        name,
        *,
        port=80,
        target="http",
        selector=None,
        cluster_ip="10.96.0.10",
        days=200,
        ports=None,
    ):
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": uid(self.sid + "svc" + ns + name),
                "creationTimestamp": at(self.start, days=-days),
                "resourceVersion": self.rv(),
                "labels": {"app": name},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": cluster_ip,
                "clusterIPs": [cluster_ip],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None",
                "ports": ports
                or [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target}],
                "selector": selector or {"app": name},
            },
            "status": {"loadBalancer": {}},
        }
        self.items.append(svc)
        return svc

    def endpointslice(self, svc, pods, port, port_name="http"):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        sname = f"{name}-{h('eps' + name, 5, ALNUM)}"
        eps = []
        for p in pods:
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"]
            )
            terminating = False
            eps.append(
                {
                    "addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": ready, "serving": ready, "terminating": terminating},
                    "nodeName": p["spec"]["nodeName"],
                    "targetRef": {
                        "kind": "Pod",
                        "name": p["metadata"]["name"],
                        "namespace": ns,
                        "uid": p["metadata"]["uid"],
                    },
                }
            )
        es = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": sname,
                "namespace": ns,
                "uid": uid(self.sid + "eps" + sname),
                "generateName": name + "-",
                "creationTimestamp": svc["metadata"]["creationTimestamp"],
                "resourceVersion": self.rv(),
                "labels": {
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    "kubernetes.io/service-name": name,
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": name,
                        "uid": svc["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": eps or None,
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        }
        if not eps:
            del es["endpoints"]
        self.items.append(es)
        return es

    def add(self, obj):
        obj["metadata"].setdefault("resourceVersion", self.rv())
        self.items.append(obj)
        return obj

    # ------------------------------------------------------------ output
    def write(self):
        d = OUT / self.sid
        d.mkdir(parents=True, exist_ok=True)
        dump = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": self.items,
        }
        (d / "dump.yaml").write_text(
            yaml.dump(dump, Dumper=D, sort_keys=False, width=10000, allow_unicode=True)
        )
        (d / "logs.yaml").write_text(
            yaml.dump(self.logs, Dumper=D, sort_keys=False, width=10000, allow_unicode=True)
            if self.logs
            else "{}\n"
        )
        alert = {
            "alertname": self.alert["alertname"],
            "labels": self.alert["labels"],
            "startsAt": at(self.start),
            "now": at(self.now),
        }
        (d / "alert.yaml").write_text(yaml.dump(alert, Dumper=D, sort_keys=False, width=10000))
        (d / "expected.yaml").write_text(
            yaml.dump(self.expected, Dumper=D, sort_keys=False, width=10000)
        )
        if self.series:
            (d / "series.om").write_text(self.series)


class D(yaml.SafeDumper):
    pass


def _str(dumper, data):
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


D.add_representer(str, _str)


def cid(seed: str) -> str:
    return "containerd://" + h("cid" + seed, 64)


def digest(seed: str) -> str:
    return "sha256:" + h("img" + seed, 64)


def running(name, image, *, started, restarts=0, ready=True, last=None, seed=""):
    s = {
        "name": name,
        "image": image,
        "imageID": image.split(":")[0] + "@" + digest(image),
        "containerID": cid(seed + name + started),
        "ready": ready,
        "restartCount": restarts,
        "started": True,
        "state": {"running": {"startedAt": started}},
        "lastState": last or {},
    }
    return s


def waiting(name, image, *, reason, message=None, restarts=0, last=None, seed="", pulled=True):
    w = {"reason": reason}
    if message:
        w["message"] = message
    s = {
        "name": name,
        "image": image,
        "ready": False,
        "restartCount": restarts,
        "started": False,
        "state": {"waiting": w},
        "lastState": last or {},
    }
    if pulled:
        s["imageID"] = image.split(":")[0] + "@" + digest(image)
    else:
        s["imageID"] = ""
    if last:
        s["containerID"] = last["terminated"]["containerID"]
    return s


def terminated(name, image, *, reason, code, started, finished, seed="", message=None):
    t = {
        "containerID": cid(seed + name + started),
        "exitCode": code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": finished,
    }
    if message:
        t["message"] = message
    return {"terminated": t}


def backoff_msg(container_name, pod, delay="5m0s"):
    return (
        f"back-off {delay} restarting failed container={container_name} "
        f"pod={pod['metadata']['name'] if isinstance(pod, dict) else pod}"
    )


def pod_uid(s: Scenario, pname: str) -> str:
    return uid(s.sid + "pod" + pname)


def crashloop_msg(s: Scenario, ns: str, pname: str, cname: str, delay: str = "5m0s") -> str:
    return (
        f"back-off {delay} restarting failed container={cname} "
        f"pod={pname}_{ns}({pod_uid(s, pname)})"
    )


def ok_deploy_conditions(s: Scenario, rs_name: str, since: str, progress: str) -> list:
    return [
        Scenario.cond(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            since,
        ),
        Scenario.cond(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            progress,
        ),
    ]


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


# --------------------------------------------------------------------------- 1 OOMKilled (Go)


@scenario
def ledger_oomkilled():
    s = Scenario("ledger-api-oomkilled", "2026-11-18T14:22:00Z", "2026-11-18T14:25:30Z")
    st = s.start
    ns, app = "payments", "ledger-api"
    s.namespace(ns, labels={"team": "payments"})
    img = "ghcr.io/acme-fin/ledger-api:1.42.3"
    old_img = "ghcr.io/acme-fin/ledger-api:1.42.2"
    env = [
        {"name": "GOMAXPROCS", "value": "2"},
        {"name": "LEDGER_BATCH_SIZE", "value": "250000"},
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "ledger-db", "key": "url"}},
        },
    ]
    tpl = pod_template(
        app,
        [
            container(
                app,
                img,
                port=8080,
                env=env,
                args=["serve", "--reconcile-interval=5m"],
                resources=res("500m", "256Mi", "2", "512Mi"),
                liveness=http_probe("/livez", "http", period=10, timeout=2),
                readiness=http_probe("/readyz", "http", period=5, timeout=2),
            )
        ],
        annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
    )
    rs_created = at(st, days=-4, minutes=-311)
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=3,
        revision=14,
        created_days=412,
        status={"readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 14)}" has successfully progressed.',
                at(st, days=-4, minutes=-309),
                at(st, days=-4, minutes=-311),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-4),
            ),
        ],
    )
    import copy

    old_tpl = copy.deepcopy(tpl)
    old_tpl["spec"]["containers"][0]["image"] = old_img
    s.replicaset(dep, 13, old_tpl, created=at(st, days=-19), replicas=0)
    rs = s.replicaset(dep, 14, tpl, created=rs_created, replicas=3, ready=1)
    nodes = [
        "ip-10-20-33-141.eu-central-1.compute.internal",
        "ip-10-20-47-18.eu-central-1.compute.internal",
        "ip-10-20-52-230.eu-central-1.compute.internal",
    ]
    specs = [
        ("k8x2q", 7, "crash", nodes[0], "10.20.33.77"),
        ("w5mzt", 6, "running-restarted", nodes[1], "10.20.47.203"),
        ("b9hvd", 0, "ok", nodes[2], "10.20.52.12"),
    ]
    pods = []
    for suffix, restarts, kind, node, ip in specs:
        pname = f"{rs['metadata']['name']}-{suffix}"
        created = at(st, days=-4, minutes=-310)
        if kind == "crash":
            last = terminated(
                app,
                img,
                reason="OOMKilled",
                code=137,
                started=at(st, minutes=-1, seconds=-52),
                finished=at(st, minutes=0, seconds=41),
                seed=pname,
            )
            cs = [
                waiting(
                    app,
                    img,
                    reason="CrashLoopBackOff",
                    message=crashloop_msg(s, ns, pname, app),
                    restarts=restarts,
                    last=last,
                )
            ]
        elif kind == "running-restarted":
            last = terminated(
                app,
                img,
                reason="OOMKilled",
                code=137,
                started=at(st, minutes=-6, seconds=-10),
                finished=at(st, minutes=-2, seconds=-3),
                seed=pname,
            )
            cs = [
                running(
                    app,
                    img,
                    started=at(st, minutes=2, seconds=55),
                    restarts=restarts,
                    ready=False,
                    last=last,
                    seed=pname,
                )
            ]
        else:
            cs = [running(app, img, started=at(st, days=-4, minutes=-309), seed=pname)]
        p = s.pod(
            rs,
            suffix,
            node=node,
            ip=ip,
            created=created,
            statuses=cs,
            host_ip=ip.rsplit(".", 1)[0] + ".5",
        )
        pods.append(p)
        if kind != "ok":
            lastrun = (
                at(st, minutes=-1, seconds=-52)
                if kind == "crash"
                else at(st, minutes=2, seconds=55)
            )
            s.event(
                p,
                "Pulled",
                f'Container image "{img}" already present on machine',
                count=restarts,
                first=at(st, minutes=-38),
                last=lastrun,
                host=node,
                field_path=f"spec.containers{{{app}}}",
            )
            s.event(
                p,
                "Created",
                f"Created container {app}",
                count=restarts,
                first=at(st, minutes=-38),
                last=lastrun,
                host=node,
                field_path=f"spec.containers{{{app}}}",
            )
            s.event(
                p,
                "Started",
                f"Started container {app}",
                count=restarts,
                first=at(st, minutes=-38),
                last=lastrun,
                host=node,
                field_path=f"spec.containers{{{app}}}",
            )
            s.event(
                p,
                "BackOff",
                f"Back-off restarting failed container {app} in pod {pname}_{ns}({p['metadata']['uid']})",
                type_="Warning",
                count=restarts * 4 + 3,
                first=at(st, minutes=-31),
                last=at(st, minutes=3, seconds=12),
                host=node,
                field_path=f"spec.containers{{{app}}}",
            )
    # unrelated, harmless warning on the healthy replica (resolv.conf has too many nameservers)
    s.event(
        pods[2],
        "DNSConfigForming",
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.100.0.10 169.254.169.253 10.20.0.2",
        type_="Warning",
        count=3,
        first=at(st, minutes=-50),
        last=at(st, minutes=-12),
        host=nodes[2],
    )
    prev = [
        golog(
            "2026-11-18T14:20:08.114Z",
            "info",
            "starting ledger-api",
            caller="cmd/ledger/main.go:61",
            version="1.42.3",
            commit="9e1c0f4",
        ),
        golog(
            "2026-11-18T14:20:08.120Z",
            "info",
            "connected to database",
            caller="store/pg.go:44",
            pool_max=20,
        ),
        golog("2026-11-18T14:20:08.356Z", "info", "http server listening", addr=":8080"),
        golog(
            "2026-11-18T14:21:02.007Z",
            "info",
            "reconcile run started",
            caller="reconcile/run.go:112",
            run_id="rr-88213",
            window="2026-11-17",
        ),
        golog(
            "2026-11-18T14:21:09.845Z",
            "warn",
            "slow query",
            caller="store/pg.go:203",
            query="select_pending_entries",
            duration_ms=2841,
        ),
        golog(
            "2026-11-18T14:21:51.302Z",
            "info",
            "loaded pending entries",
            caller="reconcile/batch.go:88",
            count=184223,
        ),
        golog(
            "2026-11-18T14:22:31.771Z",
            "info",
            "loaded pending entries",
            caller="reconcile/batch.go:88",
            count=368446,
        ),
    ]
    s.logs[f"{ns}/{pods[0]['metadata']['name']}/{app}/previous"] = "\n".join(prev) + "\n"
    s.logs[f"{ns}/{pods[1]['metadata']['name']}/{app}"] = (
        "\n".join(
            [
                golog(
                    "2026-11-18T14:24:55.610Z",
                    "info",
                    "starting ledger-api",
                    caller="cmd/ledger/main.go:61",
                    version="1.42.3",
                    commit="9e1c0f4",
                ),
                golog(
                    "2026-11-18T14:24:55.618Z",
                    "info",
                    "connected to database",
                    caller="store/pg.go:44",
                    pool_max=20,
                ),
                golog("2026-11-18T14:24:55.801Z", "info", "http server listening", addr=":8080"),
                golog(
                    "2026-11-18T14:25:02.003Z",
                    "info",
                    "reconcile run started",
                    caller="reconcile/run.go:112",
                    run_id="rr-88221",
                    window="2026-11-17",
                ),
            ]
        )
        + "\n"
    )
    s.logs[f"{ns}/{pods[2]['metadata']['name']}/{app}"] = (
        "\n".join(
            [
                golog(
                    "2026-11-18T14:24:10.482Z",
                    "info",
                    "GET /v1/accounts/acc_7Hq2/balance",
                    status=200,
                    duration_ms=12,
                ),
                golog(
                    "2026-11-18T14:24:12.910Z",
                    "info",
                    "GET /v1/accounts/acc_91Xz/balance",
                    status=200,
                    duration_ms=9,
                ),
                golog(
                    "2026-11-18T14:25:01.002Z",
                    "info",
                    "reconcile run skipped: lease held by another replica",
                ),
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {
            "namespace": ns,
            "pod": pods[0]["metadata"]["name"],
            "container": app,
            "deployment": app,
            "severity": "warning",
        },
    }
    s.expected = {
        "cause": "oom-killed",
        "specifics": [app, "512Mi"],
        "note": "reconcile batch loads ~370k entries into memory and hits the 512Mi limit (OOMKilled, exit 137); the deploy 4 days ago is a red herring",
    }
    return s


def crash_events(s, p, cname, img, node, restarts, first, last_start, backoff_last):
    ns, pname = p["metadata"]["namespace"], p["metadata"]["name"]
    fp = f"spec.containers{{{cname}}}"
    if restarts and not any(c["name"] == cname for c in p["spec"]["containers"]):
        fp = f"spec.initContainers{{{cname}}}"
    s.event(
        p,
        "Scheduled",
        f"Successfully assigned {ns}/{pname} to {node}",
        first=first,
        component="default-scheduler",
    )
    s.event(
        p,
        "Pulling",
        f'Pulling image "{img}"',
        first=at(T(first), seconds=1),
        host=node,
        field_path=fp,
    )
    s.event(
        p,
        "Pulled",
        f'Successfully pulled image "{img}" in 3.412s (3.412s including waiting). Image size: 48213377 bytes.',
        first=at(T(first), seconds=5),
        host=node,
        field_path=fp,
    )
    s.event(
        p,
        "Pulled",
        f'Container image "{img}" already present on machine',
        count=restarts,
        first=at(T(first), seconds=40),
        last=last_start,
        host=node,
        field_path=fp,
    )
    s.event(
        p,
        "Created",
        f"Created container {cname}",
        count=restarts + 1,
        first=at(T(first), seconds=5),
        last=last_start,
        host=node,
        field_path=fp,
    )
    s.event(
        p,
        "Started",
        f"Started container {cname}",
        count=restarts + 1,
        first=at(T(first), seconds=6),
        last=last_start,
        host=node,
        field_path=fp,
    )
    s.event(
        p,
        "BackOff",
        f"Back-off restarting failed container {cname} in pod {pname}_{ns}({p['metadata']['uid']})",
        type_="Warning",
        count=restarts * 5 + 2,
        first=at(T(first), seconds=50),
        last=backoff_last,
        host=node,
        field_path=fp,
    )


# --------------------------------------------------------------------------- 2 image tag not found


@scenario
def indexer_tag_not_found():

    s = Scenario("search-indexer-tag-missing", "2026-11-19T09:41:00Z", "2026-11-19T09:44:10Z")
    st = s.start
    ns, app = "search", "search-indexer"
    s.namespace(ns)
    reg = "europe-west4-docker.pkg.dev/acme-prod-7731/search/indexer"
    old_img, new_img = f"{reg}:v2.14.0", f"{reg}:v2.14.1"

    def tpl_for(img):
        return pod_template(
            app,
            [
                container(
                    "indexer",
                    img,
                    port=8080,
                    resources=res("1", "2Gi", None, "3Gi"),
                    env=[
                        {"name": "OPENSEARCH_URL", "value": "https://opensearch.search.svc:9200"},
                        {
                            "name": "KAFKA_BROKERS",
                            "value": "kafka-0.kafka-headless.streaming.svc:9092",
                        },
                    ],
                    readiness=http_probe("/health/ready", "http", period=10, timeout=3),
                )
            ],
        )

    new_tpl, old_tpl = tpl_for(new_img), tpl_for(old_img)
    rollout = at(st, minutes=-17, seconds=-20)
    dep = s.deployment(
        ns,
        app,
        new_tpl,
        replicas=3,
        revision=23,
        created_days=288,
        status={
            "replicas": 4,
            "updatedReplicas": 1,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "unavailableReplicas": 1,
        },
        conditions=[
            Scenario.cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                at(st, days=-6),
            ),
            Scenario.cond(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{app}-{template_hash(app, 23)}" has timed out progressing.',
                at(T(rollout), minutes=10),
                at(T(rollout), minutes=10),
            ),
        ],
    )
    old_rs = s.replicaset(dep, 22, old_tpl, created=at(st, days=-6, minutes=-95), replicas=3)
    new_rs = s.replicaset(dep, 23, new_tpl, created=rollout, replicas=1, ready=0)
    nodes = [
        "gke-prod-ew4-general-5d3e9a1c-7q2m",
        "gke-prod-ew4-general-5d3e9a1c-lx8v",
        "gke-prod-ew4-general-9b0f4e27-c4nd",
    ]
    for i, suffix in enumerate(["r7t2p", "mv4xq", "zc9kd"]):
        pname = f"{old_rs['metadata']['name']}-{suffix}"
        s.pod(
            old_rs,
            suffix,
            node=nodes[i],
            ip=f"10.52.{i + 1}.{31 + 7 * i}",
            created=at(st, days=-6, minutes=-94),
            statuses=[
                running("indexer", old_img, started=at(st, days=-6, minutes=-93), seed=pname)
            ],
            host_ip=f"10.164.0.{21 + i}",
        )
    pname = f"{new_rs['metadata']['name']}-6hwsb"
    ref = new_img
    msg = (
        f'Failed to pull image "{ref}": rpc error: code = NotFound desc = failed to pull and unpack image '
        f'"{ref}": failed to resolve reference "{ref}": {ref}: not found'
    )
    p = s.pod(
        new_rs,
        "6hwsb",
        node=nodes[2],
        ip="10.52.3.58",
        created=rollout,
        statuses=[
            waiting(
                "indexer",
                new_img,
                reason="ImagePullBackOff",
                message=f'Back-off pulling image "{ref}"',
                pulled=False,
            )
        ],
        phase="Pending",
        host_ip="10.164.0.23",
    )
    fp = "spec.containers{indexer}"
    s.event(
        p,
        "Scheduled",
        f"Successfully assigned {ns}/{pname} to {nodes[2]}",
        first=rollout,
        component="default-scheduler",
    )
    s.event(
        p,
        "Pulling",
        f'Pulling image "{ref}"',
        count=8,
        first=at(T(rollout), seconds=1),
        last=at(st, minutes=-1, seconds=-4),
        host=nodes[2],
        field_path=fp,
    )
    s.event(
        p,
        "Failed",
        msg,
        type_="Warning",
        count=8,
        first=at(T(rollout), seconds=2),
        last=at(st, minutes=-1, seconds=-3),
        host=nodes[2],
        field_path=fp,
    )
    s.event(
        p,
        "Failed",
        "Error: ErrImagePull",
        type_="Warning",
        count=8,
        first=at(T(rollout), seconds=2),
        last=at(st, minutes=-1, seconds=-3),
        host=nodes[2],
        field_path=fp,
    )
    s.event(
        p,
        "BackOff",
        f'Back-off pulling image "{ref}"',
        count=74,
        first=at(T(rollout), seconds=3),
        last=at(st, minutes=3, seconds=2),
        host=nodes[2],
        field_path=fp,
    )
    s.event(
        p,
        "Failed",
        "Error: ImagePullBackOff",
        type_="Warning",
        count=74,
        first=at(T(rollout), seconds=3),
        last=at(st, minutes=3, seconds=2),
        host=nodes[2],
        field_path=fp,
    )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs['metadata']['name']} to 1",
        first=rollout,
        component="deployment-controller",
    )
    s.event(
        new_rs,
        "SuccessfulCreate",
        f"Created pod: {pname}",
        first=rollout,
        component="replicaset-controller",
    )
    s.logs[f"{ns}/{old_rs['metadata']['name']}-r7t2p/indexer"] = (
        "\n".join(
            [
                "2026-11-19T09:42:58.114Z INFO  [consumer] committed offsets partition=3 offset=91822713",
                "2026-11-19T09:43:01.530Z INFO  [bulk] indexed 500 docs into products-v37 in 212ms",
                "2026-11-19T09:43:03.002Z WARN  [bulk] 2 docs rejected (version_conflict_engine_exception), will retry",
                "2026-11-19T09:43:04.871Z INFO  [bulk] indexed 500 docs into products-v37 in 198ms",
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "KubeDeploymentRolloutStuck",
        "labels": {"namespace": ns, "deployment": app, "severity": "warning"},
        "annotations": {
            "description": f"Rollout of deployment {ns}/{app} is not progressing for longer than 15 minutes."
        },
    }
    s.expected = {
        "cause": "image-not-found",
        "specifics": ["indexer:v2.14.1"],
        "note": "release tag v2.14.1 was never pushed to Artifact Registry; new pod in ImagePullBackOff (NotFound), old ReplicaSet still serving",
    }
    return s


# --------------------------------------------------------------------------- 3 secret key missing


@scenario
def notifier_secret_key():
    s = Scenario("notifier-secret-key-renamed", "2026-11-20T03:12:00Z", "2026-11-20T03:15:00Z")
    st = s.start
    ns, app = "comms", "notifier"
    s.namespace(ns)
    img = "registry.gitlab.com/acme/platform/notifier:4.8.0"
    env = [
        {"name": "SMTP_HOST", "value": "email-smtp.eu-west-1.amazonaws.com"},
        {
            "name": "SMTP_USERNAME",
            "valueFrom": {"secretKeyRef": {"name": "smtp-credentials", "key": "username"}},
        },
        {
            "name": "SMTP_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "smtp-credentials", "key": "smtp-password"}},
        },
        {"name": "NODE_ENV", "value": "production"},
    ]
    tpl = pod_template(
        app,
        [
            container(
                app,
                img,
                port=3000,
                env=env,
                resources=res("100m", "192Mi", None, "384Mi"),
                readiness=http_probe("/ready", "http", period=10),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=2,
        revision=9,
        created_days=530,
        status={"readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 9)}" has successfully progressed.',
                at(st, days=-23),
                at(st, days=-23),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-13),
            ),
        ],
    )
    rs = s.replicaset(dep, 9, tpl, created=at(st, days=-23, minutes=-2), replicas=2, ready=0)
    nodes = ["aks-apps-31415926-vmss00000c", "aks-apps-31415926-vmss00000d"]
    msg = f"couldn't find key smtp-password in Secret {ns}/smtp-credentials"
    for i, suffix in enumerate(["q2n8x", "j7fkw"]):
        created = at(st, minutes=-14 + i, seconds=12)
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=f"10.244.{12 + i}.{40 + i * 9}",
            created=created,
            statuses=[
                waiting(app, img, reason="CreateContainerConfigError", message=msg, pulled=False)
            ],
            phase="Pending",
            host_ip=f"10.240.0.{14 + i}",
        )
        fp = f"spec.containers{{{app}}}"
        s.event(
            p,
            "Scheduled",
            f"Successfully assigned {ns}/{p['metadata']['name']} to {nodes[i]}",
            first=created,
            component="default-scheduler",
        )
        s.event(
            p,
            "Pulled",
            f'Container image "{img}" already present on machine',
            count=66 - 4 * i,
            first=at(T(created), seconds=2),
            last=at(st, minutes=2, seconds=41),
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "Failed",
            f"Error: {msg}",
            type_="Warning",
            count=66 - 4 * i,
            first=at(T(created), seconds=2),
            last=at(st, minutes=2, seconds=41),
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            rs,
            "SuccessfulCreate",
            f"Created pod: {p['metadata']['name']}",
            first=created,
            component="replicaset-controller",
        )
    # the pods were recreated by a node-pool image upgrade (drain), nothing changed in the deployment
    for i, n in enumerate(nodes):
        s.node(
            n,
            cpu="8",
            mem="32863332Ki",
            alloc_cpu="7820m",
            alloc_mem="28304996Ki",
            days_old=0.02,
            ip=f"10.240.0.{14 + i}",
            labels={
                "agentpool": "apps",
                "kubernetes.azure.com/agentpool": "apps",
                "node.kubernetes.io/instance-type": "Standard_D8s_v5",
            },
            provider=f"azure:///subscriptions/4c2b1a9e-0000-0000-0000-000000000000/resourceGroups/mc_prod/providers/Microsoft.Compute/virtualMachineScaleSets/aks-apps-31415926-vmss/virtualMachines/{12 + i}",
        )
    s.alert = {
        "alertname": "KubeDeploymentReplicasMismatch",
        "labels": {"namespace": ns, "deployment": app, "severity": "critical"},
    }
    s.expected = {
        "cause": "missing-config-key",
        "specifics": ["smtp-password", "smtp-credentials"],
        "note": "Secret smtp-credentials no longer has key smtp-password (re-created with 'password' at rotation); pods recreated by a node-pool upgrade cannot start",
    }
    return s


# --------------------------------------------------------------------------- 4 missing env (Python)


@scenario
def orders_worker_env():

    s = Scenario("orders-worker-missing-env", "2026-11-21T11:05:00Z", "2026-11-21T11:08:00Z")
    st = s.start
    ns, app = "orders", "orders-worker"
    s.namespace(ns)
    old_img, new_img = (
        "quay.io/acme/orders-worker:2026.11.3",
        "quay.io/acme/orders-worker:2026.11.4",
    )
    base_env = [
        {"name": "LOG_LEVEL", "value": "INFO"},
        {
            "name": "ORDERS_DB_DSN",
            "valueFrom": {"secretKeyRef": {"name": "orders-db", "key": "dsn"}},
        },
    ]
    old_c = container(
        "worker",
        old_img,
        command=["orders-worker"],
        args=["--concurrency=8"],
        env=[*base_env, {"name": "QUEUE_URL", "value": "amqp://orders:5672/orders"}],
        resources=res("250m", "256Mi", None, "512Mi"),
    )
    new_c = container(
        "worker",
        new_img,
        command=["orders-worker"],
        args=["--concurrency=8"],
        env=[*base_env, {"name": "QUEUE_URL", "value": "amqp://orders:5672/orders"}],
        resources=res("250m", "256Mi", None, "512Mi"),
    )
    old_tpl, new_tpl = (
        pod_template(app, [old_c], sa="orders-worker"),
        pod_template(app, [new_c], sa="orders-worker"),
    )
    rollout = at(st, minutes=-9)
    dep = s.deployment(
        ns,
        app,
        new_tpl,
        replicas=2,
        revision=31,
        created_days=170,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        status={
            "replicas": 3,
            "updatedReplicas": 1,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "unavailableReplicas": 1,
        },
        conditions=[
            Scenario.cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                at(st, days=-2),
            ),
            Scenario.cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{app}-{template_hash(app, 31)}" is progressing.',
                rollout,
                rollout,
            ),
        ],
    )
    old_rs = s.replicaset(dep, 30, old_tpl, created=at(st, days=-2, minutes=-40), replicas=2)
    new_rs = s.replicaset(dep, 31, new_tpl, created=rollout, replicas=1, ready=0)
    nodes = [
        "ip-172-31-14-201.us-east-2.compute.internal",
        "ip-172-31-29-87.us-east-2.compute.internal",
    ]
    for i, suffix in enumerate(["t8wl2", "hz5c6"]):
        pname = f"{old_rs['metadata']['name']}-{suffix}"
        p = s.pod(
            old_rs,
            suffix,
            node=nodes[i],
            ip=f"172.31.{14 + 15 * i}.{120 + i}",
            created=at(st, days=-2, minutes=-39),
            statuses=[running("worker", old_img, started=at(st, days=-2, minutes=-38), seed=pname)],
            host_ip=f"172.31.{14 + 15 * i}.{201 - 114 * i}",
        )
        s.logs[f"{ns}/{pname}/worker"] = (
            "\n".join(
                [
                    f"2026-11-21 11:0{6 + i}:1{i}.204 INFO [orders_worker.consumer] ack order_id=ord_8842{i}1 status=fulfilled",
                    f"2026-11-21 11:0{6 + i}:1{i}.871 INFO [orders_worker.consumer] ack order_id=ord_8842{i}4 status=fulfilled",
                    f"2026-11-21 11:0{6 + i}:2{i}.013 WARNING [pika.adapters.utils.io_services_utils] Socket closed when connection was open",
                    f"2026-11-21 11:0{6 + i}:2{i}.115 INFO [orders_worker.consumer] reconnected to amqp://orders:5672/orders",
                ]
            )
            + "\n"
        )
    pname = f"{new_rs['metadata']['name']}-5vn2r"
    last_start = at(st, minutes=1, seconds=46)
    last = terminated(
        "worker",
        new_img,
        reason="Error",
        code=1,
        started=last_start,
        finished=at(st, minutes=1, seconds=48),
        seed=pname,
    )
    p = s.pod(
        new_rs,
        "5vn2r",
        node=nodes[1],
        ip="172.31.29.140",
        created=rollout,
        statuses=[
            waiting(
                "worker",
                new_img,
                reason="CrashLoopBackOff",
                message=crashloop_msg(s, ns, pname, "worker"),
                restarts=6,
                last=last,
            )
        ],
        host_ip="172.31.29.87",
    )
    crash_events(
        s, p, "worker", new_img, nodes[1], 6, rollout, last_start, at(st, minutes=2, seconds=58)
    )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs['metadata']['name']} to 1",
        first=rollout,
        component="deployment-controller",
    )
    s.event(
        new_rs,
        "SuccessfulCreate",
        f"Created pod: {pname}",
        first=rollout,
        component="replicaset-controller",
    )
    s.logs[
        f"{ns}/{pname}/worker/previous"
    ] = """2026-11-21 11:06:46.512 INFO [orders_worker] orders-worker 2026.11.4 starting (python 3.12.7)
Traceback (most recent call last):
  File "/usr/local/bin/orders-worker", line 8, in <module>
    sys.exit(main())
             ^^^^^^
  File "/app/orders_worker/__main__.py", line 22, in main
    settings = Settings.from_env()
               ^^^^^^^^^^^^^^^^^^^
  File "/app/orders_worker/settings.py", line 41, in from_env
    queue_url=os.environ["ORDERS_QUEUE_URL"],
              ~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^
  File "<frozen os>", line 714, in __getitem__
KeyError: 'ORDERS_QUEUE_URL'
"""
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {"namespace": ns, "pod": pname, "container": "worker", "severity": "warning"},
    }
    s.expected = {
        "cause": "config-missing-env",
        "specifics": ["ORDERS_QUEUE_URL"],
        "note": "2026.11.4 reads ORDERS_QUEUE_URL (renamed from QUEUE_URL) but the manifest still sets QUEUE_URL",
    }
    return s


# --------------------------------------------------------------------------- 5 Insufficient memory


@scenario
def report_builder_memory():
    s = Scenario(
        "report-builder-insufficient-memory", "2026-11-30T23:48:00Z", "2026-11-30T23:51:00Z"
    )
    st = s.start
    ns, app = "analytics", "report-builder"
    s.namespace(ns)
    img = "harbor.corp.acme.internal/analytics/report-builder:5.2.0"
    tpl = pod_template(
        app,
        [
            container(
                "builder",
                img,
                port=8000,
                resources=res("2", "10Gi", "4", "10Gi"),
                env=[
                    {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75"},
                    {"name": "REPORT_PERIOD", "value": "monthly"},
                ],
                readiness=http_probe("/actuator/health/readiness", "http", period=10, timeout=3),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=6,
        revision=12,
        created_days=610,
        generation=19,
        status={
            "observedGeneration": 19,
            "replicas": 6,
            "updatedReplicas": 6,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "unavailableReplicas": 3,
        },
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 12)}" has successfully progressed.',
                at(st, days=-13),
                at(st, days=-13),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-13),
            ),
        ],
    )
    rs = s.replicaset(dep, 12, tpl, created=at(st, days=-13, minutes=-4), replicas=6, ready=3)
    cps = [f"k8s-cp-0{i}" for i in (1, 2, 3)]
    workers = [f"k8s-worker-0{i}" for i in (1, 2, 3)]
    for i, n in enumerate(cps):
        s.node(
            n,
            cpu="4",
            mem="8148284Ki",
            alloc_cpu="4",
            alloc_mem="8045884Ki",
            ip=f"192.168.40.{11 + i}",
            labels={"node-role.kubernetes.io/control-plane": ""},
            days_old=700,
            kubelet="v1.29.9",
            taints=[{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}],
        )
    for i, n in enumerate(workers):
        s.node(
            n,
            cpu="16",
            mem="32817448Ki",
            alloc_cpu="16",
            alloc_mem="32715048Ki",
            ip=f"192.168.40.{21 + i}",
            labels={
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/zone": f"rack-{i + 1}",
            },
            days_old=700,
            kubelet="v1.29.9",
        )
    sched = (
        "0/6 nodes are available: 3 Insufficient memory, 3 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/6 nodes are available: "
        "3 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
    )
    names = []
    for i, suffix in enumerate(["4fjqz", "p8c2m", "vk7xd"]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        s.pod(
            rs,
            suffix,
            node=workers[i],
            ip=f"10.233.{64 + i}.{17 + i}",
            created=at(st, days=-13, minutes=-3),
            statuses=[running("builder", img, started=at(st, days=-13, minutes=-2), seed=pname)],
            host_ip=f"192.168.40.{21 + i}",
        )
        names.append(pname)
    scale_at = at(st, minutes=-14, seconds=-6)
    for suffix in ["2bn9w", "lx6ht", "s9rgk"]:
        p = s.pod(
            rs,
            suffix,
            node=None,
            ip=None,
            created=scale_at,
            statuses=[],
            phase="Pending",
            scheduled=False,
            sched_message=sched,
        )
        s.event(
            p,
            "FailedScheduling",
            sched,
            type_="Warning",
            count=1,
            first=at(st, minutes=-9, seconds=-2),
            component="default-scheduler",
        )
        s.event(
            rs,
            "SuccessfulCreate",
            f"Created pod: {p['metadata']['name']}",
            first=scale_at,
            component="replicaset-controller",
        )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {rs['metadata']['name']} to 6 from 3",
        first=scale_at,
        component="deployment-controller",
    )
    s.logs[f"{ns}/{names[0]}/builder"] = (
        "\n".join(
            [
                "2026-11-30 23:49:02.118  INFO 1 --- [   scheduling-1] c.a.r.job.MonthlyRollupJob    : month-end rollup: 212/980 tenants done",
                "2026-11-30 23:49:40.551  WARN 1 --- [   scheduling-1] c.a.r.job.MonthlyRollupJob    : tenant t-4471 has 0 invoices for period 2026-11, skipping",
                "2026-11-30 23:50:11.004  INFO 1 --- [   scheduling-1] c.a.r.job.MonthlyRollupJob    : month-end rollup: 247/980 tenants done",
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "KubeDeploymentReplicasMismatch",
        "labels": {"namespace": ns, "deployment": app, "severity": "warning"},
    }
    s.expected = {
        "cause": "unschedulable-resources",
        "specifics": ["memory"],
        "note": "scaled 3 -> 6 for month-end; each replica requests 10Gi and the three 32Gi workers are full (control-plane nodes tainted)",
    }
    return s


# --------------------------------------------------------------------------- 6 quota exceeded on HPA scale-up


@scenario
def gateway_quota():
    s = Scenario("edge-gateway-quota-exceeded", "2026-12-01T18:31:00Z", "2026-12-01T18:34:00Z")
    st = s.start
    ns, app = "edge", "api-gateway"
    s.namespace(ns, labels={"team": "edge"})
    img = "envoyproxy/envoy:v1.31.3"
    tpl = pod_template(
        app,
        [
            container(
                "envoy",
                img,
                port=8080,
                args=["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                resources=res("1", "512Mi", "2", "1Gi"),
                readiness=http_probe("/ready", 9901, period=5, timeout=1),
                mounts=[{"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": True}],
            )
        ],
        volumes=[
            {"name": "envoy-config", "configMap": {"name": "api-gateway-envoy", "defaultMode": 420}}
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=9,
        revision=27,
        created_days=390,
        generation=88,
        status={
            "observedGeneration": 88,
            "replicas": 6,
            "updatedReplicas": 6,
            "readyReplicas": 6,
            "availableReplicas": 6,
            "unavailableReplicas": 3,
        },
        conditions=[
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-6),
            ),
            Scenario.cond(
                "ReplicaFailure",
                "True",
                "FailedCreate",
                f'pods "{app}-{template_hash(app, 27)}-8mfxq" is forbidden: exceeded quota: edge-compute, requested: limits.cpu=2, used: limits.cpu=12, limited: limits.cpu=12',
                at(st, minutes=-7),
            ),
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 27)}" has successfully progressed.',
                at(st, days=-8),
                at(st, days=-8),
            ),
        ],
    )
    rs = s.replicaset(dep, 27, tpl, created=at(st, days=-8, minutes=-20), replicas=9, ready=6)
    rs["status"]["replicas"] = 6
    rs["status"]["fullyLabeledReplicas"] = 6
    rs["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "lastTransitionTime": at(st, minutes=-7),
            "message": f'pods "{rs["metadata"]["name"]}-8mfxq" is forbidden: exceeded quota: edge-compute, requested: limits.cpu=2, used: limits.cpu=12, limited: limits.cpu=12',
        }
    ]
    nodes = [
        "ip-10-40-1-12.ec2.internal",
        "ip-10-40-2-77.ec2.internal",
        "ip-10-40-3-150.ec2.internal",
    ]
    pods = []
    for i, suffix in enumerate(["c5zq7", "gk2tn", "m8vfr", "wq4jd", "x2hpb", "9sdnl"]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        pods.append(
            s.pod(
                rs,
                suffix,
                node=nodes[i % 3],
                ip=f"10.40.{i % 3 + 1}.{100 + i}",
                created=at(st, days=-2 if i < 3 else -0.2),
                statuses=[
                    running(
                        "envoy",
                        img,
                        started=at(st, days=-2 if i < 3 else -0.2, seconds=4),
                        seed=pname,
                    )
                ],
                host_ip=f"10.40.{i % 3 + 1}.{12 + 65 * (i % 3)}",
            )
        )
    msg = (
        f'Error creating: pods "{rs["metadata"]["name"]}-8mfxq" is forbidden: exceeded quota: edge-compute, '
        "requested: limits.cpu=2, used: limits.cpu=12, limited: limits.cpu=12"
    )
    s.event(
        rs,
        "FailedCreate",
        msg,
        type_="Warning",
        count=17,
        first=at(st, minutes=-7),
        last=at(st, minutes=2, seconds=31),
        component="replicaset-controller",
    )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {rs['metadata']['name']} to 9 from 6",
        first=at(st, minutes=-7),
        component="deployment-controller",
    )
    hpa = s.add(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": app,
                "namespace": ns,
                "uid": uid(s.sid + "hpa"),
                "creationTimestamp": at(st, days=-300),
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": 4,
                "maxReplicas": 16,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 60},
                        },
                    }
                ],
            },
            "status": {
                "currentReplicas": 6,
                "desiredReplicas": 9,
                "lastScaleTime": at(st, minutes=-7),
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "current": {"averageUtilization": 91, "averageValue": "912m"},
                        },
                    }
                ],
                "conditions": [
                    {
                        "type": "AbleToScale",
                        "status": "True",
                        "reason": "ReadyForNewScale",
                        "lastTransitionTime": at(st, minutes=-2),
                        "message": "recommended size matches current size",
                    },
                    {
                        "type": "ScalingActive",
                        "status": "True",
                        "reason": "ValidMetricFound",
                        "lastTransitionTime": at(st, days=-30),
                        "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
                    },
                    {
                        "type": "ScalingLimited",
                        "status": "False",
                        "reason": "DesiredWithinRange",
                        "lastTransitionTime": at(st, days=-1),
                        "message": "the desired count is within the acceptable range",
                    },
                ],
            },
        }
    )
    s.event(
        hpa,
        "SuccessfulRescale",
        "New size: 9; reason: cpu resource utilization (percentage of request) above target",
        first=at(st, minutes=-7),
        component="horizontal-pod-autoscaler",
    )
    s.add(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {
                "name": "edge-compute",
                "namespace": ns,
                "uid": uid(s.sid + "quota"),
                "creationTimestamp": at(st, days=-200),
            },
            "spec": {
                "hard": {
                    "limits.cpu": "12",
                    "limits.memory": "24Gi",
                    "requests.cpu": "8",
                    "requests.memory": "16Gi",
                    "pods": "30",
                }
            },
            "status": {
                "hard": {
                    "limits.cpu": "12",
                    "limits.memory": "24Gi",
                    "requests.cpu": "8",
                    "requests.memory": "16Gi",
                    "pods": "30",
                },
                "used": {
                    "limits.cpu": "12",
                    "limits.memory": "6Gi",
                    "requests.cpu": "6",
                    "requests.memory": "3Gi",
                    "pods": "6",
                },
            },
        }
    )
    svc = s.service(ns, app, port=80, target="http", cluster_ip="172.20.118.40")
    s.endpointslice(svc, pods, 8080)
    s.logs[f"{ns}/{pods[0]['metadata']['name']}/envoy"] = (
        "\n".join(
            [
                "[2026-12-01 18:29:14.310][1][warning][config] [source/extensions/config_subscription/grpc/grpc_stream.h:193] StreamAggregatedResources gRPC config stream to xds_cluster closed since 41s ago: 14, upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                "[2026-12-01 18:29:15.002][1][warning][main] [source/server/server.cc:936] there is no configured limit to the number of allowed active downstream connections. Configure a limit in `envoy.resource_monitors.downstream_connections` resource monitor.",
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "KubeHpaReplicasMismatch",
        "labels": {
            "namespace": ns,
            "horizontalpodautoscaler": app,
            "deployment": app,
            "severity": "warning",
        },
        "annotations": {
            "description": f"HPA {ns}/{app} has not matched the desired number of replicas for longer than 15 minutes."
        },
    }
    s.expected = {
        "cause": "quota-exceeded",
        "specifics": ["edge-compute", "limits.cpu"],
        "note": "HPA wants 9 replicas; ResourceQuota edge-compute (limits.cpu=12) is used up by 6 x 2 CPU, so the ReplicaSet cannot create pods",
    }
    return s


# --------------------------------------------------------------------------- 7 DNS: Redis service renamed (Ruby/Sidekiq)


@scenario
def sidekiq_redis_dns():
    s = Scenario("storefront-sidekiq-redis-dns", "2026-12-02T07:04:00Z", "2026-12-02T07:07:30Z")
    st = s.start
    ns, app = "storefront", "storefront-sidekiq"
    s.namespace(ns)
    s.namespace("cache")
    img = "ghcr.io/acme-shop/storefront:2026-11-28.2"
    redis_url = "redis://redis-master.cache.svc.cluster.local:6379/2"
    tpl = pod_template(
        app,
        [
            container(
                "sidekiq",
                img,
                command=["bundle", "exec", "sidekiq"],
                args=["-C", "config/sidekiq.yml"],
                env=[
                    {"name": "RAILS_ENV", "value": "production"},
                    {"name": "REDIS_URL", "value": redis_url},
                    {
                        "name": "DATABASE_URL",
                        "valueFrom": {"secretKeyRef": {"name": "storefront-db", "key": "url"}},
                    },
                ],
                resources=res("500m", "768Mi", None, "1536Mi"),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=2,
        revision=41,
        created_days=820,
        status={"readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 41)}" has successfully progressed.',
                at(st, days=-4),
                at(st, days=-4),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-2, seconds=-10),
            ),
        ],
    )
    rs = s.replicaset(dep, 41, tpl, created=at(st, days=-4, minutes=-12), replicas=2, ready=0)
    nodes = ["gke-shop-prod-default-pool-2c7e1b90-5m1k", "gke-shop-prod-default-pool-2c7e1b90-tn8w"]
    pnames = []
    for i, suffix in enumerate(["n4kvc", "7pdxz"]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        pnames.append(pname)
        last_start = at(st, minutes=1, seconds=7 + 20 * i)
        last = terminated(
            "sidekiq",
            img,
            reason="Error",
            code=1,
            started=last_start,
            finished=at(T(last_start), seconds=9),
            seed=pname,
        )
        created = at(st, minutes=-2, seconds=-10 + 20 * i)
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=f"10.8.{3 + i}.{27 + i * 40}",
            created=created,
            statuses=[
                waiting(
                    "sidekiq",
                    img,
                    reason="CrashLoopBackOff",
                    message=crashloop_msg(s, ns, pname, "sidekiq", "2m40s"),
                    restarts=4,
                    last=last,
                )
            ],
            host_ip=f"10.132.0.{7 + i}",
        )
        fp = "spec.containers{sidekiq}"
        s.event(
            p,
            "Scheduled",
            f"Successfully assigned {ns}/{pname} to {nodes[i]}",
            first=created,
            component="default-scheduler",
        )
        s.event(
            p,
            "Pulled",
            f'Container image "{img}" already present on machine',
            count=4,
            first=at(T(created), seconds=1),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "Created",
            "Created container sidekiq",
            count=4,
            first=at(T(created), seconds=1),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "Started",
            "Started container sidekiq",
            count=4,
            first=at(T(created), seconds=1),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "BackOff",
            f"Back-off restarting failed container sidekiq in pod {pname}_{ns}({p['metadata']['uid']})",
            type_="Warning",
            count=9 - i,
            first=at(T(created), seconds=12),
            last=at(st, minutes=3, seconds=15),
            host=nodes[i],
            field_path=fp,
        )
    s.logs[
        f"{ns}/{pnames[0]}/sidekiq/previous"
    ] = f"""2026-12-02T07:05:09.903Z pid=1 tid=2mh5 INFO: Booting Sidekiq 7.3.2 with Sidekiq::RedisConnection::RedisClientAdapter options {{url: "{redis_url}"}}
2026-12-02T07:05:11.117Z pid=1 tid=2mh5 WARN: [rack-attack] no cache store configured, throttling disabled
2026-12-02T07:05:11.204Z pid=1 tid=2mh5 INFO: Sidekiq 7.3.2 connecting to Redis with options {{size: 10, pool_name: "internal", url: "{redis_url}"}}
bundler: failed to load command: sidekiq (/usr/local/bundle/bin/sidekiq)
/usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:128:in `rescue in connect': getaddrinfo: Name or service not known (redis-master.cache.svc.cluster.local:6379) (RedisClient::CannotConnectError)
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:123:in `connect'
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:52:in `initialize'
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client.rb:756:in `new'
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client.rb:756:in `block in connect'
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/middlewares.rb:12:in `connect'
	from /usr/local/bundle/gems/sidekiq-7.3.2/lib/sidekiq/cli.rb:79:in `run'
	from /usr/local/bundle/gems/sidekiq-7.3.2/bin/sidekiq:31:in `<top (required)>'
/usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:124:in `initialize': getaddrinfo: Name or service not known (SocketError)
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:124:in `new'
	from /usr/local/bundle/gems/redis-client-0.22.2/lib/redis_client/ruby_connection.rb:124:in `connect'
"""
    # the cache namespace: the Redis chart was replaced by Valkey 10 minutes before; its Service has a new name
    vimg = "docker.io/bitnami/valkey:8.0.1-debian-12-r1"
    vtpl = pod_template(
        "valkey",
        [
            container(
                "valkey",
                vimg,
                port=6379,
                resources=res("250m", "1Gi", None, "2Gi"),
                readiness={
                    "exec": {"command": ["sh", "-c", "/health/ping_readiness_local.sh 1"]},
                    "periodSeconds": 5,
                    "timeoutSeconds": 2,
                    "failureThreshold": 5,
                    "successThreshold": 1,
                },
            )
        ],
        extra_labels={"app.kubernetes.io/name": "valkey", "app.kubernetes.io/component": "primary"},
    )
    sts, crh = s.statefulset(
        "cache", "valkey-primary", vtpl, replicas=1, ready=1, created_days=0.008
    )
    vp = s.pod(
        sts,
        "0",
        name="valkey-primary-0",
        node=nodes[1],
        ip="10.8.4.191",
        created=at(st, minutes=-11),
        statuses=[running("valkey", vimg, started=at(st, minutes=-11, seconds=9), seed="valkey")],
        labels={
            "controller-revision-hash": crh,
            "statefulset.kubernetes.io/pod-name": "valkey-primary-0",
        },
        host_ip="10.132.0.8",
    )
    vsvc = s.service(
        "cache",
        "valkey-primary",
        port=6379,
        target="http",
        cluster_ip="10.12.40.217",
        days=0.008,
        ports=[{"name": "tcp-redis", "port": 6379, "protocol": "TCP", "targetPort": 6379}],
    )
    s.endpointslice(vsvc, [vp], 6379, port_name="tcp-redis")
    s.logs[
        "cache/valkey-primary-0/valkey"
    ] = """1:C 02 Dec 2026 06:53:09.512 * oO0OoO0OoO0Oo Valkey is starting oO0OoO0OoO0Oo
1:C 02 Dec 2026 06:53:09.512 * Valkey version=8.0.1, bits=64, commit=00000000, modified=0, pid=1, just started
1:M 02 Dec 2026 06:53:09.514 * Server initialized
1:M 02 Dec 2026 06:53:09.514 * Ready to accept connections tcp
"""
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {
            "namespace": ns,
            "pod": pnames[0],
            "container": "sidekiq",
            "severity": "warning",
        },
    }
    s.expected = {
        "cause": "dependency-dns",
        "specifics": ["redis-master.cache.svc.cluster.local"],
        "note": "the cache namespace moved from the Redis chart to Valkey (Service valkey-primary) 11 min before; sidekiq pods recreated by a GKE node auto-upgrade boot with REDIS_URL=redis-master..., which no longer resolves",
    }
    return s


# --------------------------------------------------------------------------- 8 upstream has no ready endpoints (.NET caller)


@scenario
def billing_tax_down():
    s = Scenario("billing-tax-service-down", "2026-12-03T15:20:00Z", "2026-12-03T15:23:00Z")
    st = s.start
    ns = "finance"
    s.namespace(ns)
    bimg = "acmefin.azurecr.io/billing-api:8.3.1"
    btpl = pod_template(
        "billing-api",
        [
            container(
                "billing-api",
                bimg,
                port=8080,
                resources=res("250m", "384Mi", None, "768Mi"),
                env=[
                    {"name": "ASPNETCORE_URLS", "value": "http://+:8080"},
                    {"name": "TaxService__BaseUrl", "value": "http://tax-service:8080"},
                ],
                readiness=http_probe("/healthz/ready", "http"),
                liveness=http_probe("/healthz/live", "http"),
            )
        ],
    )
    bdep = s.deployment(
        ns,
        "billing-api",
        btpl,
        replicas=3,
        revision=66,
        created_days=700,
        conditions=ok_deploy_conditions(
            s, f"billing-api-{template_hash('billing-api', 66)}", at(st, days=-9), at(st, days=-9)
        ),
    )
    brs = s.replicaset(bdep, 66, btpl, created=at(st, days=-9, minutes=-3), replicas=3)
    nodes = [
        "aks-system-18273645-vmss000003",
        "aks-system-18273645-vmss000004",
        "aks-system-18273645-vmss000005",
    ]
    bpods = []
    for i, suffix in enumerate(["xq8lz", "bfd4n", "7mwkc"]):
        pname = f"{brs['metadata']['name']}-{suffix}"
        bpods.append(
            s.pod(
                brs,
                suffix,
                node=nodes[i],
                ip=f"10.244.{i}.{33 + i}",
                created=at(st, days=-9, minutes=-2),
                statuses=[
                    running(
                        "billing-api",
                        bimg,
                        started=at(st, days=-9, minutes=-2, seconds=3),
                        seed=pname,
                    )
                ],
                host_ip=f"10.224.0.{4 + i}",
            )
        )
    bsvc = s.service(ns, "billing-api", port=80, target="http", cluster_ip="10.0.141.22")
    s.endpointslice(bsvc, bpods, 8080)
    # tax-service: its pods are Running but have not been Ready for ~25 minutes
    timg = "acmefin.azurecr.io/tax-service:3.9.0"
    ttpl = pod_template(
        "tax-service",
        [
            container(
                "tax-service",
                timg,
                port=8080,
                resources=res("500m", "1Gi", None, "1536Mi"),
                readiness=http_probe(
                    "/actuator/health/readiness", "http", period=10, timeout=2, failure=3
                ),
                liveness=http_probe(
                    "/actuator/health/liveness", "http", period=20, timeout=2, failure=6
                ),
            )
        ],
    )
    tdep = s.deployment(
        ns,
        "tax-service",
        ttpl,
        replicas=2,
        revision=12,
        created_days=650,
        status={"readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "tax-service-{template_hash("tax-service", 12)}" has successfully progressed.',
                at(st, days=-35),
                at(st, days=-35),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-24),
            ),
        ],
    )
    trs = s.replicaset(tdep, 12, ttpl, created=at(st, days=-35), replicas=2, ready=0)
    tpods = []
    for i, suffix in enumerate(["d2kfp", "s8ntx"]):
        pname = f"{trs['metadata']['name']}-{suffix}"
        p = s.pod(
            trs,
            suffix,
            node=nodes[i + 1],
            ip=f"10.244.{i + 1}.{70 + i}",
            created=at(st, days=-11),
            statuses=[
                running(
                    "tax-service",
                    timg,
                    started=at(st, days=-11, seconds=4),
                    ready=False,
                    seed=pname,
                )
            ],
            ready=False,
            host_ip=f"10.224.0.{5 + i}",
        )
        tpods.append(p)
        s.event(
            p,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            type_="Warning",
            count=148 - 3 * i,
            first=at(st, minutes=-25),
            last=at(st, minutes=2, seconds=50 - i * 7),
            host=nodes[i + 1],
            field_path="spec.containers{tax-service}",
        )
    tsvc = s.service(ns, "tax-service", port=8080, target="http", cluster_ip="10.0.77.195")
    s.endpointslice(tsvc, tpods, 8080)
    s.logs[
        f"{ns}/{tpods[0]['metadata']['name']}/tax-service"
    ] = """2026-12-03T15:21:40.118Z  WARN 1 --- [tax-service] [nio-8080-exec-4] o.s.b.a.jdbc.DataSourceHealthIndicator   : DataSource health check failed
2026-12-03T15:21:40.119Z  WARN 1 --- [tax-service] [nio-8080-exec-4] o.s.b.a.health.HealthEndpointSupport     : Health contributor db (db) took 2003ms to respond
2026-12-03T15:21:50.120Z  WARN 1 --- [tax-service] [nio-8080-exec-6] o.s.b.a.jdbc.DataSourceHealthIndicator   : DataSource health check failed
2026-12-03T15:21:50.121Z ERROR 1 --- [tax-service] [nio-8080-exec-6] com.zaxxer.hikari.pool.HikariPool        : HikariPool-1 - Exception during pool initialization.
"""
    exc = """fail: Acme.Billing.Invoices.InvoiceService[0]
      Tax calculation failed for invoice INV-2026-118842, returning 502
      System.Net.Http.HttpRequestException: Connection refused (tax-service:8080)
       ---> System.Net.Sockets.SocketException (111): Connection refused
         at System.Net.Sockets.Socket.AwaitableSocketAsyncEventArgs.ThrowException(SocketError error, CancellationToken cancellationToken)
         at System.Net.Sockets.Socket.AwaitableSocketAsyncEventArgs.System.Threading.Tasks.Sources.IValueTaskSource.GetResult(Int16 token)
         at System.Net.Sockets.Socket.<ConnectAsync>g__WaitForConnectWithCancellation|285_0(AwaitableSocketAsyncEventArgs saea, ValueTask connectTask, CancellationToken cancellationToken)
         at System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync(String host, Int32 port, HttpRequestMessage initialRequest, Boolean async, CancellationToken cancellationToken)
         --- End of inner exception stack trace ---
         at System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync(String host, Int32 port, HttpRequestMessage initialRequest, Boolean async, CancellationToken cancellationToken)
         at System.Net.Http.HttpConnectionPool.ConnectAsync(HttpRequestMessage request, Boolean async, CancellationToken cancellationToken)
         at Acme.Billing.Tax.TaxClient.QuoteAsync(Invoice invoice, CancellationToken ct) in /src/Billing.Api/Tax/TaxClient.cs:line 58
         at Acme.Billing.Invoices.InvoiceService.FinalizeAsync(Guid invoiceId, CancellationToken ct) in /src/Billing.Api/Invoices/InvoiceService.cs:line 131"""
    s.logs[f"{ns}/{bpods[0]['metadata']['name']}/billing-api"] = (
        "\n".join(
            [
                "info: Microsoft.AspNetCore.Hosting.Diagnostics[2]",
                "      Request finished HTTP/1.1 GET http://10.244.0.33:8080/healthz/ready - 200 null text/plain 0.8114ms",
                exc,
                "info: Microsoft.AspNetCore.Hosting.Diagnostics[2]",
                "      Request finished HTTP/1.1 POST http://billing-api/api/invoices/8c1f.../finalize - 502 null application/problem+json 4.2209ms",
                "warn: Microsoft.EntityFrameworkCore.Query[20504]",
                "      Compiling a query which loads related collections for more than one collection navigation, either via 'Include' or through projection, but no 'QuerySplittingBehavior' has been configured.",
                exc.replace("INV-2026-118842", "INV-2026-118845"),
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "BillingApiHighErrorRate",
        "labels": {
            "namespace": ns,
            "service": "billing-api",
            "deployment": "billing-api",
            "severity": "critical",
        },
        "annotations": {"summary": "billing-api 5xx ratio above 5% for 5m"},
    }
    s.expected = {
        "cause": "upstream-down",
        "specifics": ["tax-service"],
        "note": "billing-api is healthy; its dependency tax-service has 0/2 ready endpoints (readiness 503, its database check fails), so calls get connection refused",
    }
    return s


# --------------------------------------------------------------------------- 9 Rails migration in an init container


@scenario
def catalog_migration():
    s = Scenario(
        "catalog-api-migration-duplicate-column", "2026-12-04T10:15:00Z", "2026-12-04T10:18:00Z"
    )
    st = s.start
    ns, app = "catalog", "catalog-api"
    s.namespace(ns)
    old_img, new_img = (
        "registry.acme.dev/catalog/catalog-api:r1187",
        "registry.acme.dev/catalog/catalog-api:r1193",
    )

    def tpl_for(img):
        env = [
            {"name": "RAILS_ENV", "value": "production"},
            {"name": "RAILS_LOG_TO_STDOUT", "value": "1"},
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": "catalog-db", "key": "url"}},
            },
        ]
        return pod_template(
            app,
            [
                container(
                    "web",
                    img,
                    port=3000,
                    command=["bundle", "exec", "puma"],
                    args=["-C", "config/puma.rb"],
                    env=env,
                    resources=res("500m", "1Gi", None, "1536Mi"),
                    readiness=http_probe("/up", "http", period=5, timeout=2),
                )
            ],
            init=[
                container(
                    "db-migrate",
                    img,
                    command=["bundle", "exec", "rails", "db:migrate"],
                    env=env,
                    resources=res("200m", "512Mi", None, "1Gi"),
                )
            ],
        )

    new_tpl, old_tpl = tpl_for(new_img), tpl_for(old_img)
    rollout = at(st, minutes=-8, seconds=-30)
    dep = s.deployment(
        ns,
        app,
        new_tpl,
        replicas=4,
        revision=118,
        created_days=900,
        status={
            "replicas": 5,
            "updatedReplicas": 2,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "unavailableReplicas": 2,
        },
        conditions=[
            Scenario.cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                at(st, days=-1),
            ),
            Scenario.cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{app}-{template_hash(app, 118)}" is progressing.',
                rollout,
                rollout,
            ),
        ],
    )
    old_rs = s.replicaset(dep, 117, old_tpl, created=at(st, days=-1, minutes=-200), replicas=3)
    new_rs = s.replicaset(dep, 118, new_tpl, created=rollout, replicas=2, ready=0)
    nodes = [
        "ip-10-1-101-18.ap-southeast-2.compute.internal",
        "ip-10-1-102-44.ap-southeast-2.compute.internal",
        "ip-10-1-103-9.ap-southeast-2.compute.internal",
    ]
    for i, suffix in enumerate(["k2m7v", "q5xtr", "fw9bd"]):
        pname = f"{old_rs['metadata']['name']}-{suffix}"
        s.pod(
            old_rs,
            suffix,
            node=nodes[i],
            ip=f"10.1.10{i + 1}.{150 + i}",
            created=at(st, days=-1, minutes=-199),
            statuses=[running("web", old_img, started=at(st, days=-1, minutes=-198), seed=pname)],
            init_statuses=[
                {
                    "name": "db-migrate",
                    "image": old_img,
                    "imageID": old_img.split(":")[0] + "@" + digest(old_img),
                    "containerID": cid(pname + "init"),
                    "ready": True,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "containerID": cid(pname + "init"),
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": at(st, days=-1, minutes=-199, seconds=3),
                            "finishedAt": at(st, days=-1, minutes=-198, seconds=-20),
                        }
                    },
                    "lastState": {},
                }
            ],
            host_ip=f"10.1.10{i + 1}.{18 + i}",
        )
    pnames = []
    for i, suffix in enumerate(["zr4hc", "8nlqg"]):
        pname = f"{new_rs['metadata']['name']}-{suffix}"
        pnames.append(pname)
        restarts = 5 - i
        last_start = at(st, minutes=-1, seconds=10 * i)
        init = {
            "name": "db-migrate",
            "image": new_img,
            "imageID": new_img.split(":")[0] + "@" + digest(new_img),
            "containerID": cid(pname + "mig" + last_start),
            "ready": False,
            "restartCount": restarts,
            "started": False,
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": crashloop_msg(s, ns, pname, "db-migrate", "2m40s"),
                }
            },
            "lastState": {
                "terminated": {
                    "containerID": cid(pname + "mig" + last_start),
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": last_start,
                    "finishedAt": at(T(last_start), seconds=14),
                }
            },
        }
        p = s.pod(
            new_rs,
            suffix,
            node=nodes[i + 1],
            ip=f"10.1.10{i + 2}.{200 + i}",
            created=at(T(rollout), seconds=i),
            phase="Pending",
            initialized=False,
            init_statuses=[init],
            statuses=[
                {
                    "name": "web",
                    "image": new_img,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"waiting": {"reason": "PodInitializing"}},
                    "lastState": {},
                }
            ],
            host_ip=f"10.1.10{i + 2}.{44 - 35 * i}",
        )
        crash_events(
            s,
            p,
            "db-migrate",
            new_img,
            nodes[i + 1],
            restarts,
            at(T(rollout), seconds=i),
            last_start,
            at(st, minutes=2, seconds=40),
        )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs['metadata']['name']} to 1",
        first=rollout,
        component="deployment-controller",
    )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled down replica set {old_rs['metadata']['name']} to 3 from 4",
        first=rollout,
        component="deployment-controller",
    )
    s.event(
        dep,
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs['metadata']['name']} to 2 from 1",
        first=rollout,
        component="deployment-controller",
    )
    s.logs[
        f"{ns}/{pnames[0]}/db-migrate/previous"
    ] = """I, [2026-12-04T10:13:52.611402 #1]  INFO -- : Migrating to AddSkuNormalizedToProducts (20261203161522)
== 20261203161522 AddSkuNormalizedToProducts: migrating =======================
-- add_column(:products, :sku_normalized, :string)
bin/rails aborted!
StandardError: An error has occurred, this and all later migrations canceled: (StandardError)

PG::DuplicateColumn: ERROR:  column "sku_normalized" of relation "products" already exists
/app/db/migrate/20261203161522_add_sku_normalized_to_products.rb:3:in `change'

Caused by:
ActiveRecord::StatementInvalid: PG::DuplicateColumn: ERROR:  column "sku_normalized" of relation "products" already exists (ActiveRecord::StatementInvalid)
/app/db/migrate/20261203161522_add_sku_normalized_to_products.rb:3:in `change'

Caused by:
PG::DuplicateColumn: ERROR:  column "sku_normalized" of relation "products" already exists (PG::DuplicateColumn)
/app/db/migrate/20261203161522_add_sku_normalized_to_products.rb:3:in `change'
Tasks: TOP => db:migrate
(See full trace by running task with --trace)
"""
    s.logs[
        f"{ns}/{old_rs['metadata']['name']}-k2m7v/web"
    ] = """I, [2026-12-04T10:16:01.882013 #14]  INFO -- : [7f2d8c1a-5b0e-4a55-9d1c-0e4f6b3a2c91] Started GET "/v2/products?category=outdoor&page=3" for 10.1.0.14 at 2026-12-04 10:16:01 +0000
I, [2026-12-04T10:16:01.934507 #14]  INFO -- : [7f2d8c1a-5b0e-4a55-9d1c-0e4f6b3a2c91] Completed 200 OK in 52ms (Views: 21.3ms | ActiveRecord: 24.8ms | Allocations: 18822)
W, [2026-12-04T10:16:07.100931 #14]  WARN -- : Rack::Timeout is disabled in production
"""
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {
            "namespace": ns,
            "pod": pnames[0],
            "container": "db-migrate",
            "severity": "warning",
        },
    }
    s.expected = {
        "cause": "migration-failed",
        "specifics": ["db-migrate", "sku_normalized"],
        "note": "release r1193's migration adds products.sku_normalized, which a hotfix already added by hand; init container fails, new pods never start",
    }
    return s


# --------------------------------------------------------------------------- 10 liveness probe timeouts (Node.js)


@scenario
def web_liveness():
    s = Scenario("storefront-web-liveness-timeout", "2026-12-05T19:40:00Z", "2026-12-05T19:43:00Z")
    st = s.start
    ns, app = "frontend", "storefront-web"
    s.namespace(ns)
    img = "ghcr.io/acme-shop/storefront-web:14.7.2"
    tpl = pod_template(
        app,
        [
            container(
                "web",
                img,
                port=3000,
                command=["node", "server.js"],
                env=[
                    {"name": "NODE_ENV", "value": "production"},
                    {"name": "PORT", "value": "3000"},
                    {
                        "name": "API_BASE_URL",
                        "value": "http://storefront-api.storefront.svc.cluster.local",
                    },
                ],
                resources=res("500m", "512Mi", "1", "1Gi"),
                liveness=http_probe(
                    "/api/healthz", "http", period=10, timeout=1, failure=3, initial=10
                ),
                readiness=http_probe("/api/healthz", "http", period=5, timeout=1, failure=2),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=4,
        revision=203,
        created_days=480,
        status={"readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 203)}" has successfully progressed.',
                at(st, days=-2),
                at(st, days=-2),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-5),
            ),
        ],
    )
    rs = s.replicaset(dep, 203, tpl, created=at(st, days=-2, minutes=-30), replicas=4, ready=2)
    nodes = [
        "worker-pool-a-7f8d9",
        "worker-pool-a-k2q4n",
        "worker-pool-b-x9c3m",
        "worker-pool-b-p5t6w",
    ]
    pnames = []
    for i, suffix in enumerate(["dn4xk", "tv8mr", "2wqhj", "lc7zf"]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        pnames.append(pname)
        ip = f"10.42.{i + 1}.{17 + i * 3}"
        restarts = [9, 7, 1, 0][i]
        fp = "spec.containers{web}"
        if restarts:
            last_start = at(st, minutes=-3 + i, seconds=-30)
            last = terminated(
                "web",
                img,
                reason="Error",
                code=137,
                started=at(st, minutes=-9 + i),
                finished=at(T(last_start), seconds=-40),
                seed=pname,
            )
            cs = [
                running(
                    "web",
                    img,
                    started=last_start,
                    restarts=restarts,
                    ready=i >= 2,
                    last=last,
                    seed=pname,
                )
            ]
        else:
            cs = [running("web", img, started=at(st, days=-2, minutes=-29), seed=pname)]
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=ip,
            created=at(st, days=-2, minutes=-29),
            statuses=cs,
            host_ip=f"10.0.{i // 2}.{40 + i}",
        )
        if restarts:
            s.event(
                p,
                "Unhealthy",
                f'Liveness probe failed: Get "http://{ip}:3000/api/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
                type_="Warning",
                count=restarts * 3 + 2,
                first=at(st, minutes=-34),
                last=at(st, minutes=2, seconds=31 - i),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Unhealthy",
                f'Readiness probe failed: Get "http://{ip}:3000/api/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
                type_="Warning",
                count=restarts * 6 + 4,
                first=at(st, minutes=-34),
                last=at(st, minutes=2, seconds=44 - i),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Killing",
                "Container web failed liveness probe, will be restarted",
                count=restarts,
                first=at(st, minutes=-33),
                last=at(T(last_start), seconds=-70),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Pulled",
                f'Container image "{img}" already present on machine',
                count=restarts,
                first=at(st, minutes=-33),
                last=last_start,
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Created",
                "Created container web",
                count=restarts,
                first=at(st, minutes=-33),
                last=last_start,
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Started",
                "Started container web",
                count=restarts,
                first=at(st, minutes=-33),
                last=last_start,
                host=nodes[i],
                field_path=fp,
            )
    s.logs[f"{ns}/{pnames[0]}/web/previous"] = """  ▲ Next.js 14.2.18
  - Local:        http://storefront-web-7d9c-dn4xk:3000
  - Network:      http://10.42.1.17:3000

 ✓ Starting...
 ✓ Ready in 388ms
{"level":30,"time":1796499275221,"pid":1,"msg":"GET /p/trail-runner-gtx 200 1843ms"}
{"level":40,"time":1796499279910,"pid":1,"msg":"renderToHTML slow: /c/outdoor?sort=price took 6120ms"}
{"level":30,"time":1796499281004,"pid":1,"msg":"GET /c/outdoor?sort=price 200 6204ms"}
{"level":40,"time":1796499291552,"pid":1,"msg":"renderToHTML slow: /c/outdoor?sort=price&page=2 took 9840ms"}
"""
    s.logs[f"{ns}/{pnames[0]}/web/previous"] = s.logs[f"{ns}/{pnames[0]}/web/previous"].replace(
        "storefront-web-7d9c-dn4xk", pnames[0]
    )
    s.logs[
        f"{ns}/{pnames[3]}/web"
    ] = """{"level":30,"time":1796499751002,"pid":1,"msg":"GET /p/city-commuter-2 200 142ms"}
{"level":30,"time":1796499752410,"pid":1,"msg":"GET /api/healthz 200 1ms"}
(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland alternative instead.
"""
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {"namespace": ns, "pod": pnames[0], "container": "web", "severity": "warning"},
    }
    s.expected = {
        "cause": "liveness-probe-restarts",
        "specifics": ["/api/healthz"],
        "note": "slow server-side renders block the event loop; the 1s liveness probe on /api/healthz times out and the kubelet kills the container (137)",
    }
    return s


# --------------------------------------------------------------------------- 11 evicted: ephemeral-storage limit (Python)


@scenario
def exporter_ephemeral():
    s = Scenario("csv-exporter-ephemeral-evicted", "2026-12-06T02:10:00Z", "2026-12-06T02:13:00Z")
    st = s.start
    ns, app = "data", "csv-exporter"
    s.namespace(ns)
    img = "us-docker.pkg.dev/acme-data/tools/csv-exporter:0.19.2"
    tpl = pod_template(
        app,
        [
            container(
                "exporter",
                img,
                command=["python", "-m", "csv_exporter"],
                args=["--tmp-dir", "/scratch"],
                resources=res(
                    "500m",
                    "512Mi",
                    None,
                    "1Gi",
                    extra={
                        "requests": {"ephemeral-storage": "1Gi"},
                        "limits": {"ephemeral-storage": "2Gi"},
                    },
                ),
                mounts=[{"name": "scratch", "mountPath": "/scratch"}],
            )
        ],
        volumes=[{"name": "scratch", "emptyDir": {}}],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=1,
        revision=7,
        created_days=95,
        conditions=ok_deploy_conditions(
            s, f"{app}-{template_hash(app, 7)}", at(st, minutes=-1), at(st, days=-16)
        ),
    )
    rs = s.replicaset(dep, 7, tpl, created=at(st, days=-16), replicas=1)
    nodes = ["gke-data-prod-batch-8e1d2c3b-w2lq", "gke-data-prod-batch-8e1d2c3b-96fz"]
    msg = "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. "
    evicted = []
    for i, (suffix, created, evict_at) in enumerate(
        [
            ("h7c2x", at(st, minutes=-58), at(st, minutes=-31)),
            ("b4mqn", at(st, minutes=-31, seconds=1), at(st, minutes=-1, seconds=-40)),
        ]
    ):
        pname = f"{rs['metadata']['name']}-{suffix}"
        term = {
            "terminated": {
                "containerID": cid(pname),
                "exitCode": 137,
                "reason": "Error",
                "startedAt": at(T(created), seconds=4),
                "finishedAt": at(T(evict_at), seconds=31),
            }
        }
        cs = [
            {
                "name": "exporter",
                "image": img,
                "imageID": img.split(":")[0] + "@" + digest(img),
                "containerID": cid(pname),
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": term,
                "lastState": {},
            }
        ]
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=None,
            created=created,
            statuses=cs,
            phase="Failed",
            ready=False,
            reason="Evicted",
            message=msg,
            host_ip=f"10.128.0.{31 + i}",
            extra_conditions=[
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "TerminationByKubelet",
                    "message": msg,
                    "lastProbeTime": None,
                    "lastTransitionTime": evict_at,
                }
            ],
        )
        evicted.append(p)
        s.event(p, "Evicted", msg, type_="Warning", first=evict_at, host=nodes[i])
        s.event(
            p,
            "Killing",
            "Stopping container exporter",
            first=evict_at,
            host=nodes[i],
            field_path="spec.containers{exporter}",
        )
        s.event(
            rs,
            "SuccessfulCreate",
            f"Created pod: {pname}",
            first=created,
            component="replicaset-controller",
        )
        s.logs[
            f"{ns}/{pname}/exporter"
        ] = f"""{at(T(created), seconds=5)} INFO csv_exporter: export run started: tables=orders,order_lines,refunds since=2026-12-05
{at(T(created), seconds=9)} INFO csv_exporter.sink: staging to /scratch/run-{h(pname, 8)}/ (gzip=off)
{at(T(created), minutes=4)} INFO csv_exporter: orders: 1,204,118 rows written (412.6 MiB)
{at(T(created), minutes=9)} WARNING urllib3.connectionpool: Connection pool is full, discarding connection: storage.googleapis.com. Connection pool size: 10
{at(T(created), minutes=16)} INFO csv_exporter: order_lines: 4,881,302 rows written (1.31 GiB)
"""
    newp_name = f"{rs['metadata']['name']}-x8tkd"
    s.pod(
        rs,
        "x8tkd",
        node=nodes[0],
        ip="10.96.2.44",
        created=at(st, minutes=-1, seconds=-39),
        statuses=[
            running("exporter", img, started=at(st, minutes=-1, seconds=-35), seed=newp_name)
        ],
        host_ip="10.128.0.31",
    )
    s.event(
        rs,
        "SuccessfulCreate",
        f"Created pod: {newp_name}",
        first=at(st, minutes=-1, seconds=-39),
        component="replicaset-controller",
    )
    s.logs[
        f"{ns}/{newp_name}/exporter"
    ] = f"""{at(st, minutes=-1, seconds=-30)} INFO csv_exporter: export run started: tables=orders,order_lines,refunds since=2026-12-05
{at(st, minutes=-1, seconds=-26)} INFO csv_exporter.sink: staging to /scratch/run-{h(newp_name, 8)}/ (gzip=off)
"""
    s.alert = {
        "alertname": "KubePodEvicted",
        "labels": {
            "namespace": ns,
            "pod": evicted[1]["metadata"]["name"],
            "reason": "Evicted",
            "severity": "warning",
        },
        "annotations": {"summary": "Pod was evicted by the kubelet"},
    }
    s.expected = {
        "cause": "evicted-ephemeral-limit",
        "specifics": ["2Gi"],
        "note": "the export stages uncompressed CSVs in an emptyDir; past the 2Gi ephemeral-storage limit the kubelet evicts the pod (twice in 30 min)",
    }
    return s


# --------------------------------------------------------------------------- 12 HPA at max (alert on the Service)


@scenario
def profile_hpa_max():
    s = Scenario("profile-api-hpa-maxed", "2026-12-06T12:02:00Z", "2026-12-06T12:05:00Z")
    st = s.start
    ns, app = "accounts", "profile-api"
    s.namespace(ns)
    img = "registry.acme.io/accounts/profile-api:3.22.0"
    tpl = pod_template(
        app,
        [
            container(
                app,
                img,
                port=8080,
                resources=res("500m", "256Mi", None, "512Mi"),
                env=[{"name": "GOMEMLIMIT", "value": "450MiB"}],
                readiness=http_probe("/readyz", "http", period=5, timeout=1),
                liveness=http_probe("/livez", "http"),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=10,
        revision=58,
        created_days=340,
        generation=410,
        conditions=ok_deploy_conditions(
            s, f"{app}-{template_hash(app, 58)}", at(st, days=-5), at(st, days=-5)
        ),
    )
    rs = s.replicaset(dep, 58, tpl, created=at(st, days=-5, minutes=-8), replicas=10)
    nodes = [
        f"ip-10-60-{z}-{n}.us-west-2.compute.internal"
        for z, n in ((11, 40), (12, 71), (13, 9), (11, 222))
    ]
    pods = []
    for i in range(10):
        suffix = h(f"{app}{i}", 5, ALNUM)
        pname = f"{rs['metadata']['name']}-{suffix}"
        created = at(st, days=-5) if i < 4 else at(st, minutes=-40 + 3 * i)
        pods.append(
            s.pod(
                rs,
                suffix,
                node=nodes[i % 4],
                ip=f"10.60.{11 + i % 3}.{100 + 11 * i}",
                created=created,
                statuses=[running(app, img, started=at(T(created), seconds=5), seed=pname)],
                host_ip=f"10.60.{11 + i % 3}.{40 + i % 4}",
            )
        )
    hpa = s.add(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": app,
                "namespace": ns,
                "uid": uid(s.sid + "hpa"),
                "creationTimestamp": at(st, days=-330),
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": 3,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
            "status": {
                "currentReplicas": 10,
                "desiredReplicas": 10,
                "lastScaleTime": at(st, minutes=-13),
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "current": {"averageUtilization": 168, "averageValue": "841m"},
                        },
                    }
                ],
                "conditions": [
                    {
                        "type": "AbleToScale",
                        "status": "True",
                        "reason": "ReadyForNewScale",
                        "lastTransitionTime": at(st, minutes=-8),
                        "message": "recommended size matches current size",
                    },
                    {
                        "type": "ScalingActive",
                        "status": "True",
                        "reason": "ValidMetricFound",
                        "lastTransitionTime": at(st, days=-60),
                        "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
                    },
                    {
                        "type": "ScalingLimited",
                        "status": "True",
                        "reason": "TooManyReplicas",
                        "lastTransitionTime": at(st, minutes=-13),
                        "message": "the desired replica count is more than the maximum replica count",
                    },
                ],
            },
        }
    )
    for n, when in ((6, -28), (8, -22), (10, -13)):
        s.event(
            hpa,
            "SuccessfulRescale",
            f"New size: {n}; reason: cpu resource utilization (percentage of request) above target",
            first=at(st, minutes=when),
            component="horizontal-pod-autoscaler",
        )
    svc = s.service(ns, app, port=80, target="http", cluster_ip="172.20.9.133")
    s.endpointslice(svc, pods, 8080)
    s.logs[f"{ns}/{pods[0]['metadata']['name']}/{app}"] = (
        "\n".join(
            [
                golog(
                    "2026-12-06T12:03:11.402Z",
                    "info",
                    "request",
                    caller="httpx/log.go:31",
                    method="GET",
                    path="/v2/profiles/u_81hQ2",
                    status=200,
                    duration_ms=388,
                ),
                golog(
                    "2026-12-06T12:03:11.520Z",
                    "info",
                    "request",
                    caller="httpx/log.go:31",
                    method="GET",
                    path="/v2/profiles/u_0Pz7k",
                    status=200,
                    duration_ms=412,
                ),
                golog(
                    "2026-12-06T12:03:12.003Z",
                    "warn",
                    "handler slow",
                    caller="httpx/log.go:44",
                    path="/v2/profiles/u_5xW1e/avatar",
                    duration_ms=1904,
                ),
                golog(
                    "2026-12-06T12:03:12.410Z",
                    "info",
                    "request",
                    caller="httpx/log.go:31",
                    method="PATCH",
                    path="/v2/profiles/u_81hQ2",
                    status=200,
                    duration_ms=455,
                ),
            ]
        )
        + "\n"
    )
    s.alert = {
        "alertname": "ProfileApiLatencyHigh",
        "labels": {"namespace": ns, "service": app, "severity": "warning"},
        "annotations": {"summary": "profile-api p99 latency above 750ms for 10m"},
    }
    s.expected = {
        "cause": "hpa-at-max",
        "specifics": ["profile-api"],
        "note": "traffic surge: HPA profile-api at maxReplicas 10 with CPU at 168% of request (target 70%), ScalingLimited TooManyReplicas",
    }
    return s


# --------------------------------------------------------------------------- 13 nothing explains it (unknown)


@scenario
def ingest_unknown():
    s = Scenario("ingest-gateway-latency-unknown", "2026-12-06T21:37:00Z", "2026-12-06T21:40:00Z")
    st = s.start
    ns, app = "telemetry", "ingest-gateway"
    s.namespace(ns)
    img = "ghcr.io/acme-obs/ingest-gateway:0.31.4"
    tpl = pod_template(
        app,
        [
            container(
                "gateway",
                img,
                port=4318,
                resources=res("1", "1Gi", None, "2Gi"),
                args=[
                    "--kafka.brokers=kafka-bootstrap.streaming.svc:9092",
                    "--kafka.topic=otlp-spans",
                ],
                readiness=http_probe("/healthz", "http", period=10, timeout=2),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=4,
        revision=19,
        created_days=250,
        conditions=ok_deploy_conditions(
            s, f"{app}-{template_hash(app, 19)}", at(st, days=-3), at(st, days=-3)
        ),
    )
    import copy

    old_tpl = copy.deepcopy(tpl)
    old_tpl["spec"]["containers"][0]["image"] = "ghcr.io/acme-obs/ingest-gateway:0.31.3"
    s.replicaset(dep, 18, old_tpl, created=at(st, days=-24), replicas=0)
    rs = s.replicaset(dep, 19, tpl, created=at(st, days=-3, minutes=-2), replicas=4)
    nodes = ["node-ams3-obs-01", "node-ams3-obs-02", "node-ams3-obs-03"]
    pods = []
    for i in range(4):
        suffix = h(f"{app}{i}", 5, ALNUM)
        pname = f"{rs['metadata']['name']}-{suffix}"
        pods.append(
            s.pod(
                rs,
                suffix,
                node=nodes[i % 3],
                ip=f"10.244.{5 + i}.{22 + i}",
                created=at(st, days=-3, minutes=-1),
                statuses=[
                    running("gateway", img, started=at(st, days=-3, seconds=-50), seed=pname)
                ],
                host_ip=f"10.110.0.{5 + i % 3}",
            )
        )
    s.event(
        pods[1],
        "DNSConfigForming",
        "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: telemetry.svc.cluster.local svc.cluster.local cluster.local ams3.internal corp.acme.internal acme.internal",
        type_="Warning",
        count=211,
        first=at(st, days=-3),
        last=at(st, minutes=1, seconds=12),
        host=nodes[1],
    )
    svc = s.service(ns, app, port=4318, target="http", cluster_ip="10.245.31.8")
    s.endpointslice(svc, pods, 4318)
    for i, p in enumerate(pods[:2]):
        s.logs[f"{ns}/{p['metadata']['name']}/gateway"] = (
            "\n".join(
                [
                    f'time=2026-12-06T21:38:{10 + i:02d}.118Z level=INFO msg="batch flushed" topic=otlp-spans records=4096 bytes=3811022 took=41ms',
                    f'time=2026-12-06T21:38:{11 + i:02d}.004Z level=INFO msg="batch flushed" topic=otlp-spans records=4096 bytes=3790113 took=44ms',
                    f'time=2026-12-06T21:38:{12 + i:02d}.951Z level=INFO msg="batch flushed" topic=otlp-spans records=4096 bytes=3802540 took=39ms',
                    f'time=2026-12-06T21:38:{14 + i:02d}.377Z level=WARN msg="client sent deprecated OTLP/JSON field" field=instrumentationLibrarySpans service=legacy-cron',
                    f'time=2026-12-06T21:38:{15 + i:02d}.202Z level=INFO msg="batch flushed" topic=otlp-spans records=4096 bytes=3799870 took=42ms',
                ]
            )
            + "\n"
        )
    s.alert = {
        "alertname": "IngestGatewayP99LatencyHigh",
        "labels": {"namespace": ns, "service": app, "severity": "warning"},
        "annotations": {"summary": "OTLP ingest p99 above 2s for 10m"},
    }
    s.expected = {
        "cause": "unknown",
        "specifics": [],
        "note": "4/4 pods ready, no restarts, last deploy 3 days ago, Kafka flushes fast, only a chronic DNSConfigForming warning: nothing in the cluster evidence explains the latency",
    }
    return s


# --------------------------------------------------------------------------- 14 Rust panic (poison message)


@scenario
def thumbnailer_rust_panic():
    s = Scenario("thumbnailer-rust-panic", "2026-12-06T16:05:00Z", "2026-12-06T16:08:00Z")
    st = s.start
    ns, app = "media", "thumbnailer"
    s.namespace(ns)
    img = "ghcr.io/acme-media/thumbnailer:1.8.0"
    tpl = pod_template(
        app,
        [
            container(
                app,
                img,
                resources=res("1", "512Mi", "2", "1Gi"),
                env=[
                    {"name": "RUST_LOG", "value": "info,aws_config=warn"},
                    {
                        "name": "QUEUE_URL",
                        "value": "https://sqs.eu-west-1.amazonaws.com/112233445566/thumbnail-jobs",
                    },
                ],
            )
        ],
        sa="thumbnailer",
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=3,
        revision=16,
        created_days=410,
        status={"readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 2},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 16)}" has successfully progressed.',
                at(st, days=-12),
                at(st, days=-12),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-2),
            ),
        ],
    )
    rs = s.replicaset(dep, 16, tpl, created=at(st, days=-12, minutes=-1), replicas=3, ready=1)
    nodes = [
        "ip-10-9-1-23.eu-west-1.compute.internal",
        "ip-10-9-2-148.eu-west-1.compute.internal",
        "ip-10-9-3-61.eu-west-1.compute.internal",
    ]
    pnames = []
    for i, (suffix, restarts) in enumerate([("m2t8c", 4), ("9fqwz", 3), ("kd5nh", 2)]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        pnames.append(pname)
        last_start = at(st, minutes=-1 + i, seconds=20 * i)
        last = terminated(
            app,
            img,
            reason="Error",
            code=101,
            started=last_start,
            finished=at(T(last_start), seconds=6),
            seed=pname,
        )
        if i < 2:
            cs = [
                waiting(
                    app,
                    img,
                    reason="CrashLoopBackOff",
                    message=crashloop_msg(s, ns, pname, app, "40s"),
                    restarts=restarts,
                    last=last,
                )
            ]
        else:
            cs = [
                running(
                    app,
                    img,
                    started=at(st, minutes=2, seconds=51),
                    restarts=restarts,
                    last=last,
                    seed=pname,
                )
            ]
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=f"10.9.{i + 1}.{200 + i}",
            created=at(st, days=-12),
            statuses=cs,
            ready=i == 2,
            host_ip=f"10.9.{i + 1}.{[23, 148, 61][i]}",
        )
        fp = f"spec.containers{{{app}}}"
        s.event(
            p,
            "Pulled",
            f'Container image "{img}" already present on machine',
            count=restarts,
            first=at(st, minutes=-6),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "Created",
            f"Created container {app}",
            count=restarts,
            first=at(st, minutes=-6),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "Started",
            f"Started container {app}",
            count=restarts,
            first=at(st, minutes=-6),
            last=last_start,
            host=nodes[i],
            field_path=fp,
        )
        s.event(
            p,
            "BackOff",
            f"Back-off restarting failed container {app} in pod {pname}_{ns}({p['metadata']['uid']})",
            type_="Warning",
            count=3 * restarts,
            first=at(st, minutes=-5, seconds=-40),
            last=at(st, minutes=2, seconds=40),
            host=nodes[i],
            field_path=fp,
        )
        t0 = T(last_start)
        s.logs[f"{ns}/{pname}/{app}/previous"] = (
            f"{at(t0, seconds=1)[:-1]}.042183Z  INFO thumbnailer: starting thumbnailer 1.8.0 workers=1\n"
            f"{at(t0, seconds=1)[:-1]}.311907Z  INFO thumbnailer::queue: polling https://sqs.eu-west-1.amazonaws.com/112233445566/thumbnail-jobs\n"
            f"{at(t0, seconds=2)[:-1]}.120554Z  INFO thumbnailer::job: processing job job_id=7f3c21d0-b5a1-4e0f-8d2e-5a9c1b7e0f44 source=s3://acme-media-uploads/2026/12/06/IMG_4411.webp\n"
            f"{at(t0, seconds=2)[:-1]}.130002Z  WARN thumbnailer::codec: webp: VP8X chunk declares 0 frames, attempting to decode anyway\n"
            "thread 'main' panicked at src/codec/webp.rs:118:37:\n"
            "index out of bounds: the len is 0 but the index is 0\n"
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
        )
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {"namespace": ns, "pod": pnames[0], "container": app, "severity": "warning"},
    }
    s.expected = {
        "cause": "rust-panic",
        "specifics": ["src/codec/webp.rs"],
        "note": "a malformed WebP upload (0 frames) panics the worker on an out-of-bounds index; the message returns to the queue and crashes every replica in turn",
    }
    return s


# --------------------------------------------------------------------------- 15 Multi-Attach after a node failure (StatefulSet)


@scenario
def inventory_multi_attach():
    s = Scenario("inventory-db-multi-attach", "2026-12-06T08:26:00Z", "2026-12-06T08:29:00Z")
    st = s.start
    ns, app = "inventory", "inventory-db"
    s.namespace(ns)
    img = "docker.io/library/postgres:16.4"
    pv = "pvc-5b0e3c1a-8d2f-4c61-9b7e-2a1f0c9d4e63"
    tpl = pod_template(
        app,
        [
            container(
                "postgres",
                img,
                port=5432,
                resources=res("1", "4Gi", None, "4Gi"),
                env=[
                    {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                    {
                        "name": "POSTGRES_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "inventory-db", "key": "password"}},
                    },
                ],
                readiness={
                    "exec": {"command": ["pg_isready", "-U", "postgres"]},
                    "periodSeconds": 10,
                    "timeoutSeconds": 5,
                    "failureThreshold": 3,
                    "successThreshold": 1,
                },
                mounts=[{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
            )
        ],
    )
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "resources": {"requests": {"storage": "100Gi"}},
            "volumeMode": "Filesystem",
        },
    }
    tpl["spec"]["volumes"] = []
    sts, crh = s.statefulset(ns, app, tpl, replicas=1, ready=0, claim=claim, created_days=512)
    old_node, new_node = (
        "ip-10-30-2-118.eu-west-3.compute.internal",
        "ip-10-30-2-201.eu-west-3.compute.internal",
    )
    import copy

    ptpl = copy.deepcopy(sts)
    ptpl["spec"]["template"]["spec"]["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-inventory-db-0"}}
    ]
    created = at(st, minutes=-6, seconds=-12)
    p = s.pod(
        ptpl,
        "0",
        name=f"{app}-0",
        node=new_node,
        ip=None,
        created=created,
        phase="Pending",
        statuses=[
            {
                "name": "postgres",
                "image": img,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
            }
        ],
        labels={
            "controller-revision-hash": crh,
            "statefulset.kubernetes.io/pod-name": f"{app}-0",
            "apps.kubernetes.io/pod-index": "0",
        },
        host_ip="10.30.2.201",
    )
    for c in p["status"]["conditions"]:
        if c["type"] == "PodReadyToStartContainers":
            c["status"] = "False"
    s.event(
        p,
        "Scheduled",
        f"Successfully assigned {ns}/{app}-0 to {new_node}",
        first=created,
        component="default-scheduler",
    )
    s.event(
        p,
        "FailedAttachVolume",
        f'Multi-Attach error for volume "{pv}" Volume is already exclusively attached to one node and can\'t be attached to another',
        type_="Warning",
        first=at(T(created), seconds=1),
        component="attachdetach-controller",
    )
    s.event(
        p,
        "FailedMount",
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data], failed to process volumes=[]: timed out waiting for the condition",
        type_="Warning",
        count=3,
        first=at(T(created), minutes=2, seconds=2),
        last=at(st, minutes=2, seconds=20),
        host=new_node,
    )
    s.add(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": "data-inventory-db-0",
                "namespace": ns,
                "uid": uid(s.sid + "pvc"),
                "creationTimestamp": at(st, days=-512),
                "labels": {"app": app},
                "annotations": {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                    "volume.kubernetes.io/selected-node": "ip-10-30-1-77.eu-west-3.compute.internal",
                    "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                },
                "finalizers": ["kubernetes.io/pvc-protection"],
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "100Gi"}},
                "storageClassName": "gp3",
                "volumeMode": "Filesystem",
                "volumeName": pv,
            },
            "status": {
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "100Gi"},
                "phase": "Bound",
            },
        }
    )
    s.node(
        old_node,
        cpu="8",
        mem="32386544Ki",
        alloc_cpu="7910m",
        alloc_mem="31369712Ki",
        ip="10.30.2.118",
        ready=False,
        ready_since=at(st, minutes=-7),
        days_old=61,
        unschedulable=False,
        labels={
            "topology.kubernetes.io/zone": "eu-west-3b",
            "node.kubernetes.io/instance-type": "r6i.xlarge",
            "eks.amazonaws.com/nodegroup": "stateful",
        },
        taints=[
            {
                "effect": "NoSchedule",
                "key": "node.kubernetes.io/unreachable",
                "timeAdded": at(st, minutes=-7),
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "timeAdded": at(st, minutes=-6, seconds=-40),
            },
        ],
        provider="aws:///eu-west-3b/i-0a8d1f7e3c2b94411",
    )
    s.node(
        new_node,
        cpu="8",
        mem="32386544Ki",
        alloc_cpu="7910m",
        alloc_mem="31369712Ki",
        ip="10.30.2.201",
        days_old=9,
        labels={
            "topology.kubernetes.io/zone": "eu-west-3b",
            "node.kubernetes.io/instance-type": "r6i.xlarge",
            "eks.amazonaws.com/nodegroup": "stateful",
        },
        provider="aws:///eu-west-3b/i-0f55c2e81a9d07b3e",
    )
    oldn = next(o for o in s.items if o["kind"] == "Node" and o["metadata"]["name"] == old_node)
    s.event(
        oldn,
        "NodeNotReady",
        f"Node {old_node} status is now: NodeNotReady",
        first=at(st, minutes=-7),
        component="node-controller",
    )
    oldp = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{app}-0", "namespace": ns, "uid": uid(s.sid + "oldpod")},
    }
    s.event(
        oldp,
        "TaintManagerEviction",
        f"Marking for deletion Pod {ns}/{app}-0",
        first=at(st, minutes=-6, seconds=-40),
        component="taint-eviction-controller",
    )
    s.event(
        sts,
        "SuccessfulCreate",
        f"create Pod {app}-0 in StatefulSet {app} successful",
        first=created,
        component="statefulset-controller",
    )
    s.alert = {
        "alertname": "KubeStatefulSetReplicasMismatch",
        "labels": {"namespace": ns, "statefulset": app, "severity": "critical"},
    }
    s.expected = {
        "cause": "failed-mount-multi-attach",
        "specifics": [pv],
        "note": "node ip-10-30-2-118 went NotReady and inventory-db-0 was force-deleted; the new pod cannot attach its EBS volume, still attached to the lost node (Multi-Attach)",
    }
    return s


# --------------------------------------------------------------------------- 16 Java heap exhausted (ExitOnOutOfMemoryError)


@scenario
def pricing_java_heap():
    s = Scenario("pricing-engine-java-heap", "2026-12-06T13:50:00Z", "2026-12-06T13:53:00Z")
    st = s.start
    ns, app = "pricing", "pricing-engine"
    s.namespace(ns)
    img = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pricing-engine:2026.49.1"
    tpl = pod_template(
        app,
        [
            container(
                "app",
                img,
                port=8080,
                resources=res("1", "2Gi", None, "2Gi"),
                env=[
                    {
                        "name": "JAVA_TOOL_OPTIONS",
                        "value": "-Xms512m -Xmx1g -XX:+ExitOnOutOfMemoryError",
                    },
                    {"name": "SPRING_PROFILES_ACTIVE", "value": "prod"},
                ],
                readiness=http_probe("/actuator/health/readiness", "http", period=10, timeout=3),
                liveness=http_probe(
                    "/actuator/health/liveness", "http", period=15, timeout=3, initial=60
                ),
            )
        ],
    )
    dep = s.deployment(
        ns,
        app,
        tpl,
        replicas=3,
        revision=44,
        created_days=600,
        status={"readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1},
        conditions=[
            Scenario.cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{app}-{template_hash(app, 44)}" has successfully progressed.',
                at(st, days=-6),
                at(st, days=-6),
            ),
            Scenario.cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                at(st, minutes=-3, seconds=-20),
            ),
        ],
    )
    rs = s.replicaset(dep, 44, tpl, created=at(st, days=-6, minutes=-3), replicas=3, ready=2)
    nodes = [
        "ip-10-2-10-5.ec2.internal",
        "ip-10-2-11-91.ec2.internal",
        "ip-10-2-12-140.ec2.internal",
    ]
    pnames = []
    for i, (suffix, restarts) in enumerate([("rj8c4", 5), ("w2xzp", 3), ("6gtbm", 0)]):
        pname = f"{rs['metadata']['name']}-{suffix}"
        pnames.append(pname)
        if restarts:
            last_start = at(st, minutes=-4 + i, seconds=-10)
            last = terminated(
                "app",
                img,
                reason="Error",
                code=3,
                started=last_start,
                finished=at(T(last_start), minutes=3, seconds=20 - 40 * i),
                seed=pname,
            )
            if i == 0:
                cs = [
                    waiting(
                        "app",
                        img,
                        reason="CrashLoopBackOff",
                        message=crashloop_msg(s, ns, pname, "app", "2m40s"),
                        restarts=restarts,
                        last=last,
                    )
                ]
            else:
                cs = [
                    running(
                        "app",
                        img,
                        started=at(st, minutes=1, seconds=30),
                        restarts=restarts,
                        last=last,
                        seed=pname,
                    )
                ]
        else:
            cs = [running("app", img, started=at(st, days=-6, minutes=-2), seed=pname)]
        p = s.pod(
            rs,
            suffix,
            node=nodes[i],
            ip=f"10.2.{10 + i}.{77 + i}",
            created=at(st, days=-6, minutes=-2),
            statuses=cs,
            host_ip=f"10.2.{10 + i}.{[5, 91, 140][i]}",
        )
        if restarts:
            fp = "spec.containers{app}"
            s.event(
                p,
                "Pulled",
                f'Container image "{img}" already present on machine',
                count=restarts,
                first=at(st, minutes=-40),
                last=last_start if i == 0 else at(st, minutes=1, seconds=30),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Started",
                "Started container app",
                count=restarts,
                first=at(st, minutes=-40),
                last=last_start if i == 0 else at(st, minutes=1, seconds=30),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "BackOff",
                f"Back-off restarting failed container app in pod {pname}_{ns}({p['metadata']['uid']})",
                type_="Warning",
                count=restarts * 2,
                first=at(st, minutes=-30),
                last=at(st, minutes=2, seconds=5),
                host=nodes[i],
                field_path=fp,
            )
            s.event(
                p,
                "Unhealthy",
                f'Readiness probe failed: Get "http://10.2.{10 + i}.{77 + i}:8080/actuator/health/readiness": dial tcp 10.2.{10 + i}.{77 + i}:8080: connect: connection refused',
                type_="Warning",
                count=restarts * 4,
                first=at(st, minutes=-40),
                last=at(st, minutes=1, seconds=38),
                host=nodes[i],
                field_path=fp,
            )
    s.logs[
        f"{ns}/{pnames[0]}/app/previous"
    ] = """Picked up JAVA_TOOL_OPTIONS: -Xms512m -Xmx1g -XX:+ExitOnOutOfMemoryError

  .   ____          _            __ _ _
 /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\
( ( )\\___ | '_ | '_| | '_ \\/ _` | \\ \\ \\ \\
 \\\\/  ___)| |_)| | | | | || (_| |  ) ) ) )
  '  |____| .__|_| |_|_| |_\\__, | / / / /
 =========|_|==============|___/=/_/_/_/

 :: Spring Boot ::                (v3.3.5)

2026-12-06T13:46:04.331Z  INFO 1 --- [pricing-engine] [           main] c.a.pricing.PricingEngineApplication     : Started PricingEngineApplication in 14.882 seconds (process running for 16.201)
2026-12-06T13:47:15.902Z  INFO 1 --- [pricing-engine] [   scheduling-1] c.a.pricing.catalog.PriceBookLoader      : Reloading price books for 4,812 SKUs x 37 regions
2026-12-06T13:48:40.117Z  WARN 1 --- [pricing-engine] [   scheduling-1] c.a.pricing.catalog.PriceBookLoader      : Price book eu-central-promo-bf2026 has 1,912,004 override rows (expected < 50,000)
2026-12-06T13:49:10.005Z  WARN 1 --- [pricing-engine] [nio-8080-exec-9] o.s.web.servlet.PageNotFound             : No mapping for GET /favicon.ico
Terminating due to java.lang.OutOfMemoryError: Java heap space
"""
    s.alert = {
        "alertname": "KubePodCrashLooping",
        "labels": {"namespace": ns, "pod": pnames[0], "container": "app", "severity": "warning"},
    }
    s.expected = {
        "cause": "java-heap-oom",
        "specifics": ["Java heap space"],
        "note": "a Black Friday promo price book with 1.9M override rows exhausts the 1g heap (-Xmx1g, limit 2Gi, so no OOMKill); ExitOnOutOfMemoryError exits with 3",
    }
    return s


# --------------------------------------------------------------------------- 17 errors right after a deploy (healthy pods)


@scenario
def query_api_deploy():

    s = Scenario("query-api-errors-after-deploy", "2026-12-06T17:12:00Z", "2026-12-06T17:15:00Z")
    st = s.start
    ns, app = "search", "query-api"
    s.namespace(ns)
    old_img, new_img = (
        "ghcr.io/acme-search/query-api:v5.11.0",
        "ghcr.io/acme-search/query-api:v5.12.0",
    )

    def tpl_for(img):
        return pod_template(
            app,
            [
                container(
                    "api",
                    img,
                    port=8080,
                    resources=res("500m", "512Mi", None, "1Gi"),
                    env=[{"name": "ES_URL", "value": "https://es-search-es-http.search.svc:9200"}],
                    readiness=http_probe("/healthz", "http", period=5, timeout=1),
                )
            ],
        )

    new_tpl, old_tpl = tpl_for(new_img), tpl_for(old_img)
    rollout = at(st, minutes=-7, seconds=-40)
    dep = s.deployment(
        ns,
        app,
        new_tpl,
        replicas=4,
        revision=57,
        created_days=510,
        conditions=ok_deploy_conditions(
            s, f"{app}-{template_hash(app, 57)}", at(st, days=-20), at(st, minutes=-6, seconds=-10)
        ),
    )
    old_rs = s.replicaset(dep, 56, old_tpl, created=at(st, days=-8), replicas=0)
    new_rs = s.replicaset(dep, 57, new_tpl, created=rollout, replicas=4)
    nodes = [
        "gke-search-prod-n2-4c1d7a2e-b9qs",
        "gke-search-prod-n2-4c1d7a2e-hh2x",
        "gke-search-prod-n2-4c1d7a2e-r0m7",
    ]
    pods = []
    for i in range(4):
        suffix = h(f"{app}{i}", 5, ALNUM)
        pname = f"{new_rs['metadata']['name']}-{suffix}"
        created = at(T(rollout), seconds=25 * i)
        pods.append(
            s.pod(
                new_rs,
                suffix,
                node=nodes[i % 3],
                ip=f"10.72.{i % 3}.{61 + i}",
                created=created,
                statuses=[running("api", new_img, started=at(T(created), seconds=3), seed=pname)],
                host_ip=f"10.150.0.{12 + i % 3}",
            )
        )
    for n_new, n_old, sec in ((1, 3, 0), (2, 2, 25), (3, 1, 50), (4, 0, 75)):
        s.event(
            dep,
            "ScalingReplicaSet",
            f"Scaled up replica set {new_rs['metadata']['name']} to {n_new} from {n_new - 1}"
            if n_new > 1
            else f"Scaled up replica set {new_rs['metadata']['name']} to 1",
            first=at(T(rollout), seconds=sec),
            component="deployment-controller",
        )
        s.event(
            dep,
            "ScalingReplicaSet",
            f"Scaled down replica set {old_rs['metadata']['name']} to {n_old} from {n_old + 1}",
            first=at(T(rollout), seconds=sec + 12),
            component="deployment-controller",
        )
    svc = s.service(ns, app, port=80, target="http", cluster_ip="10.76.4.19")
    s.endpointslice(svc, pods, 8080)
    for i, p in enumerate(pods[:2]):
        s.logs[f"{ns}/{p['metadata']['name']}/api"] = (
            "\n".join(
                [
                    f'time=2026-12-06T17:13:0{i}.114Z level=INFO msg="http request" method=GET path=/v2/search status=200 dur=38ms q_len=12',
                    f'time=2026-12-06T17:13:0{i + 1}.503Z level=ERROR msg="search failed" path=/v2/search status=500 err="elastic: Error 400 (Bad Request): No mapping found for [published_at] in order to sort on [type=query_shard_exception]"',
                    f'time=2026-12-06T17:13:0{i + 2}.017Z level=INFO msg="http request" method=GET path=/v2/suggest status=200 dur=9ms',
                    f'time=2026-12-06T17:13:0{i + 3}.771Z level=ERROR msg="search failed" path=/v2/search status=500 err="elastic: Error 400 (Bad Request): No mapping found for [published_at] in order to sort on [type=query_shard_exception]"',
                    f'time=2026-12-06T17:13:0{i + 4}.090Z level=WARN msg="slow upstream" upstream=es-search-es-http dur=812ms',
                ]
            )
            + "\n"
        )
    s.alert = {
        "alertname": "QueryApiHigh5xxRate",
        "labels": {"namespace": ns, "service": app, "deployment": app, "severity": "critical"},
        "annotations": {"summary": "query-api 5xx above 2% for 5m"},
    }
    s.expected = {
        "cause": "deploy-before-errors",
        "specifics": ["query-api"],
        "note": "v5.12.0 rolled out 8 minutes before: all new pods Ready, but /v2/search now sorts on published_at, which the live index has no mapping for",
    }
    return s


if __name__ == "__main__":
    import shutil

    if OUT.exists():
        for d in OUT.iterdir():
            if d.is_dir():
                shutil.rmtree(d)
    for fn in SCENARIOS:
        fn().write()
    print(f"wrote {len(SCENARIOS)} scenarios to {OUT}")

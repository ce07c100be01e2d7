"""Issue #10's invariants, searched for counterexamples by hypothesis: generated workloads
(kind, images, labels, volumes, owners, annotations, HPA or not), alerts (any type of the policy,
aliases, unknown), interleavings (remediate, resolve, flap, redelivery, take over) and injected
faults (a response lost after the server applied the patch, 409 conflicts), run through the real
remediation code against the sandbox Kubernetes API. Each property runs its full example count
on the in-memory ledger (the same ledger code over shared.ledger.memory) and a tenth of them (at
least a floor) on the Firestore emulator, with the same checks.

For every example:
  1. no write reaches a database-class workload (judged by an oracle written here, from the
     generated objects, independently of the classifier);
  2. no write happens for a run that was resolved or taken over in the ledger first;
  3. no more writes per incident and target than the policy's max_attempts, no replica count
     above its ceiling;
  4. every write the API server applied is covered by exactly one write audit record, settled as
     "applied" or "unknown" (never "not_applied", never left "in_progress"), and no audit claims
     "applied" without a write the server applied;

Issue #20 adds worlds where the action does not help (the alert keeps firing, due outcome checks
are swept), where the next alert names a pod (new names after every restart) under a new
fingerprint (a new incident: a flap past every window), and where a person resumes a brake:
  5. at most max_attempts automatic writes per workload, whatever incidents and labels;
  6. no automatic write while the workload's brake is tripped (until a resume);
  7. exactly one recorded outcome per write that may have happened.
     "applied" without a write the server applied;
  8. no write that an owner reverts (issue #20): on a workload Argo CD, Flux or Config Sync
     manages, nothing but a restart; on a KEDA workload never the HPA (its ScaledObject, unless
     the ScaledObject itself comes from Git). Look-alike markers and Helm change nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.kube_api import Fault, KubeApiServer, Scenario
from sandbox.kube_scenarios import add_app, hpa, namespace, statefulset
from sandbox.procs import wait_until
from shared import envvars
from shared.ledger import Ledger, NewRun
from shared.ledger.memory import MemoryFirestore
from shared.ledger.outcomes import brake_id
from shared.model import utcnow
from shared.outcomes.sweep import Probes, sweep_outcomes
from shared.remediation import remediate
from shared.run import Run
from tests.conftest import reset_settings
from tests.seed import intake, make_alert

pytestmark = pytest.mark.integration

NS = "prop"
EXAMPLES = envvars.integer("ALERTLOOP_PROPERTY_EXAMPLES")
HOLDDOWN = timedelta(minutes=30)

# The oracle's database products: a container whose image repository's last path component is
# one of these (any registry, tag or digest) makes a data pod.
DATA_PRODUCTS = (
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongo",
    "mongodb",
    "redis",
    "valkey",
    "cassandra",
    "elasticsearch",
    "opensearch",
    "kafka",
    "zookeeper",
    "etcd",
    "clickhouse-server",
    "cockroach",
    "rabbitmq",
    "nats",
    "memcached",
)
# Data images whose names carry version / OS / distribution suffixes, and Raft stores (issue 21).
SUFFIXED_DATA = (
    "postgresql-15-c9s",
    "postgresql-12-centos7",
    "postgres-16-jammy",
    "crunchy-postgres-gis",
    "memgraph-platform",
    "redis-7-el9",
    "vault",
    "consul",
)
APP_IMAGES = (
    "api",
    "web",
    "checkout",
    "nginx",
    "worker",
    "postgres-exporter",
    "my-redis-client",
    "vault-k8s",
    "nginx-122-c9s",
)
# Volumes (issue 21): whether each outlives the pod is part of the generated case, not derived
# from the classifier: (volume source, data?).
VOLUMES: tuple[tuple[dict[str, Any], bool], ...] = (
    ({"csi": {"driver": "nfs.csi.k8s.io", "volumeAttributes": {"share": "/orders"}}}, True),
    ({"csi": {"driver": "gcsfuse.csi.storage.gke.io"}}, True),
    ({"csi": {"driver": "file.csi.azure.com"}}, True),
    ({"csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True}}, False),
    ({"csi": {"driver": "csi.cert-manager.io", "readOnly": True}}, False),
    ({"hostPath": {"path": "/dev/disk/by-id/google-data", "type": "BlockDevice"}}, True),
    ({"hostPath": {"path": "/dev/nvme1n1"}}, True),
    ({"hostPath": {"path": "/dev/fuse", "type": "CharDevice"}}, False),
    (
        {"ephemeral": {"volumeClaimTemplate": {"spec": {"volumeName": "pv-data"}}}},
        True,
    ),
    ({"ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}}, False),
    ({"emptyDir": {}}, False),
)
REGISTRIES = ("", "docker.io/", "docker.io/library/", "ghcr.io/acme/", "localhost:5000/team/")
TAGS = (":1.2.3", ":latest", "@sha256:" + "ab" * 32, ":16-alpine", "")
DATA_COMPONENTS = ("database", "db", "cache", "queue", "storage")
# Who owns the workload's desired state; "lookalike" carries markers that must not count.
OWNERS = ("none",) * 4 + (
    "argocd",
    "flux",
    "config_sync",
    "helm",
    "keda",
    "keda_gitops",
    "lookalike",
)
GITOPS_OWNERS = ("argocd", "flux", "config_sync")

POLICY = {
    "alerts": {
        "HighCPUUsage": {
            "stages": ["investigate", "remediate"],
            "remediation": "scale",
            "guardrails": {"cooldown_minutes": 0, "max_attempts": 2, "replica_ceiling": 6},
            # The brake before the cap: one scale that did not help stops the second.
            "verification": {"brake_after": 1},
            "aliases": ["CPUThrottlingHigh", "KubeHpaMaxedOut", "ContainerCPUHigh"],
        },
        "ApplicationDown": {
            "stages": ["investigate", "remediate"],
            "remediation": "restart",
            "guardrails": {"cooldown_minutes": 0, "max_attempts": 1},
            "aliases": ["KubePodCrashLooping", "TargetDown"],
        },
    },
    # Every example's own brakes are checked; the fleet brake would stop the examples after it.
    "outcomes": {"fleet_brake": {"min_outcomes": 1000000}},
}
ALERTS = (
    "HighCPUUsage",
    "ContainerCPUHigh",
    "HighMemoryUsage",
    "ApplicationDown",
    "KubePodCrashLooping",
    "HighErrorRate",
    "DatabaseDown",
    "PostgresqlDown",
    "ErrorBudgetExhausted",
    "SomethingElse",
)


@dataclass
class Spec:
    kind: str
    images: list[str]
    init_image: str | None
    pvc: bool
    component: str | None
    operator_owned: bool
    annotation: str | None
    hpa: str  # none | below | at_max
    replicas: int
    volume: int = -1  # an index into VOLUMES, or -1 for none
    owner: str = "none"

    @property
    def keda(self) -> bool:
        return self.owner.startswith("keda")

    @property
    def data_class(self) -> bool:
        """The oracle: what must never be written, from the objects alone."""

        def product(image: str) -> str:
            repo = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
            return repo

        images = [*self.images, *([self.init_image] if self.init_image else [])]
        return (
            self.kind == "StatefulSet"
            or self.pvc
            or self.operator_owned
            or self.component in DATA_COMPONENTS
            or any(product(i) in DATA_PRODUCTS + SUFFIXED_DATA for i in images)
            or (self.volume >= 0 and VOLUMES[self.volume][1])
        )


images = st.builds(
    lambda reg, name, tag: f"{reg}{name}{tag}",
    st.sampled_from(REGISTRIES),
    st.sampled_from(DATA_PRODUCTS + SUFFIXED_DATA + APP_IMAGES + APP_IMAGES),
    st.sampled_from(TAGS),
)
specs = st.builds(
    Spec,
    kind=st.sampled_from(("Deployment",) * 5 + ("StatefulSet",)),
    images=st.lists(images, min_size=1, max_size=2),
    init_image=st.none() | images,
    pvc=st.booleans(),
    component=st.none() | st.sampled_from((*DATA_COMPONENTS, "web", "api")),
    operator_owned=st.booleans(),
    annotation=st.sampled_from((None, None, "enabled", "disabled", "legacy-false", "bogus")),
    hpa=st.sampled_from(("none", "below", "at_max")),
    replicas=st.integers(1, 5),
    volume=st.integers(-1, len(VOLUMES) - 1),
    owner=st.sampled_from(OWNERS),
)
Event = tuple[str, str]  # (what, fault)
events = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "remediate",
                "remediate",
                "resolve",
                "flap",
                "redeliver",
                "takeover",
                "new_pod",
                "sweep",
                "resume",
            )
        ),
        # "changes" (issue 21) is rare: it costs a held pod list and a re-decision.
        st.sampled_from(("none",) * 4 + ("lost_response",) * 2 + ("conflict",) * 2 + ("changes",)),
    ),
    min_size=1,
    max_size=5,
)


@dataclass
class World:
    kube: KubeApiServer
    ledger: Ledger
    applied: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def kube_env(tmp_path_factory: pytest.TempPathFactory):
    """One sandbox API server and environment for both ledgers (KUBECONFIG is process-wide)."""
    mp = pytest.MonkeyPatch()
    sc = Scenario("property").add(namespace(NS))
    with KubeApiServer(sc, controller_delay=0.05) as kube:
        policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
        policy.write_text(yaml.safe_dump(POLICY))
        for key, value in {
            "GOOGLE_CLOUD_PROJECT": "alertloop-test",
            "ALERTLOOP_COLLECTION_PREFIX": f"prop{uuid.uuid4().hex[:6]}-",
            "KUBECONFIG": kube.kubeconfig_path,
            "ALERTLOOP_REMEDIATE_NAMESPACES": NS,
            "ALERTLOOP_REMEDIATE_VERIFY_SECONDS": "0",
            "ALERTLOOP_VERIFY_AFTER_SECONDS": "0",
            "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR": "1000000",
            "ALERTLOOP_K8S_TIMEOUT_SECONDS": "0.25",
            "ALERTLOOP_POLICY_FILE": str(policy),
            "ALERTLOOP_LOG_LEVEL": "WARNING",
            "ALERTLOOP_ROLLBACK_VERIFY_SECONDS": "0",
        }.items():
            mp.setenv(key, value)
        for name in ("KUBE_CONFIG_DATA", "ALERTLOOP_DRY_RUN", "PROMETHEUS_URL"):
            mp.delenv(name, raising=False)
        reset_settings()
        try:
            yield kube
        finally:
            mp.undo()
            reset_settings()


@pytest.fixture(scope="module")
def world(kube_env: KubeApiServer) -> World:
    """The full search runs on the in-memory ledger: the same ledger code, its storage in
    memory (shared.ledger.memory, held to Firestore's behaviour by test_ledger_contract.py).
    Every stage gets this ledger passed in; a write audited elsewhere would fail check 4."""
    return World(kube_env, Ledger(client=MemoryFirestore()))


def on_emulator(examples: int, floor: int) -> int:
    """How many of a property's examples also run on the emulator."""
    return min(examples, max(floor, examples // 10))


def build(spec: Spec, name: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    sc = Scenario("x")
    if spec.kind == "StatefulSet":
        sc.add(
            statefulset(NS, name, spec.images[0], created=now.isoformat(), replicas=spec.replicas)
        )
        return sc.objects
    dep, _rs, pods = add_app(
        sc, name, [(spec.images[0], 30)], now=now, ns=NS, replicas=spec.replicas
    )
    for obj in (dep, *pods):
        pod_spec = obj["spec"]["template"]["spec"] if obj is dep else obj["spec"]
        extra = [{"name": f"c{i}", "image": img} for i, img in enumerate(spec.images[1:], 1)]
        pod_spec["containers"].extend(extra)
        if spec.init_image:
            pod_spec["initContainers"] = [{"name": "init", "image": spec.init_image}]
        vols = pod_spec.setdefault("volumes", [])
        if spec.pvc:
            vols.append({"name": "data", "persistentVolumeClaim": {"claimName": name}})
        if spec.volume >= 0:
            vols.append({"name": "extra", **VOLUMES[spec.volume][0]})
    if spec.component:
        dep["metadata"]["labels"]["app.kubernetes.io/component"] = spec.component
    if spec.operator_owned:
        dep["metadata"]["ownerReferences"] = [
            {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": name, "uid": "u"}
        ]
    notes = dep["metadata"].setdefault("annotations", {})
    if spec.annotation == "legacy-false":
        notes["alertloop.io/remediate"] = "false"
    elif spec.annotation:
        notes["alertloop.io/remediation"] = spec.annotation
    _mark_owner(dep, spec.owner, name)
    hpa_state = "at_max" if spec.keda and spec.hpa == "none" else spec.hpa
    if hpa_state != "none":
        at_max = hpa_state == "at_max"
        the_hpa = hpa(
            NS,
            name,
            created=now.isoformat(),
            target=name,
            min_replicas=1,
            max_replicas=spec.replicas,
            current=spec.replicas,
            desired=spec.replicas + (2 if at_max else 0),
        )
        sc.add(the_hpa)
        if spec.owner in GITOPS_OWNERS:
            _mark_owner(the_hpa, spec.owner, name)  # the HPA comes from the same Git source
        if spec.keda:
            the_hpa["metadata"]["ownerReferences"] = [
                {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": name, "uid": "k"}
            ]
            so = {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": name, "namespace": NS, "labels": {}},
                "spec": {"scaleTargetRef": {"name": name}, "maxReplicaCount": spec.replicas},
            }
            if spec.owner == "keda_gitops":
                _mark_owner(so, "flux", name)
            sc.add(so)
    return sc.objects


def _mark_owner(obj: dict[str, Any], owner: str, name: str) -> None:
    """The markers each owner leaves on what it manages (shared.k8s.owners names the docs)."""
    labels = obj["metadata"].setdefault("labels", {})
    notes = obj["metadata"].setdefault("annotations", {})
    kind, group = obj["kind"], obj["apiVersion"].rpartition("/")[0]
    if owner == "argocd":
        notes["argocd.argoproj.io/tracking-id"] = f"app-{name}:{group}/{kind}:{NS}/{name}"
    elif owner == "flux":
        labels["kustomize.toolkit.fluxcd.io/name"] = "apps"
        labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
    elif owner == "config_sync":
        notes["configmanagement.gke.io/managed"] = "enabled"
        notes["configsync.gke.io/resource-id"] = f"{group}_{kind.lower()}_{NS}_{name}"
    elif owner == "helm":
        labels["app.kubernetes.io/managed-by"] = "Helm"
        notes["meta.helm.sh/release-name"] = name
    elif owner == "lookalike":
        notes["argocd.argoproj.io/tracking-id"] = f"app:{group}/{kind}:{NS}/someone-else"
        notes["kustomize.toolkit.fluxcd.io/name"] = "apps"  # Flux's marker is a label
        notes["configmanagement.gke.io/managed"] = "disabled"
        notes["configsync.gke.io/resource-id"] = f"{group}_{kind.lower()}_{NS}_{name}"


def the_policy() -> Any:
    from shared.config import settings
    from shared.policy import cached_policy

    return cached_policy(settings().policy_file)


def start_run(
    world: World, alert_name: str, name: str, fingerprint: str, kind: str, pod: str = ""
) -> Run:
    """`pod`: the alert names a pod (kube-prometheus style), not the workload."""
    alert = make_alert(
        alert_name,
        labels={"namespace": NS, **({"pod": pod} if pod else {kind.lower(): name})},
        fingerprint=fingerprint,
        starts_at=utcnow() - timedelta(seconds=30),
    )
    alert_type, _ = the_policy().resolve(alert_name)
    msg = intake(alert)
    new = NewRun(alert_type=alert_type, plan=["investigate", "remediate"], dry_run=False)
    # No investigation finding: remediation resolves the workload from the labels itself.
    world.ledger.dispatch_alert(msg, new, HOLDDOWN)
    run = world.ledger.load_run(msg.run_id)
    assert run is not None
    return run


WRITE_ACTIONS = ("restart", "scale_deployment", "raise_hpa_max", "raise_keda_max")


class NoBus:
    """The sweep's notify publishes: no Slack in this search (the ledger records the lines)."""

    def publish(self, _message: Any) -> None:
        return None


class ChangeAfterRead:
    """Adds a claim to the deployment right after remediation read it (the read's record
    appears), while the pod list that follows is held back by a delay fault."""

    def __init__(self, kube: KubeApiServer, name: str) -> None:
        self.kube, self.name = kube, name
        self.start_at = kube.request_count()  # only newer requests are looked at
        self.changed_at: float | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> bool:
        path = f"/deployments/{self.name}"
        return any(
            r.method == "GET" and r.path.endswith(path)
            for r in self.kube.requests_since(self.start_at)
        )

    def _run(self) -> None:
        read = threading.Event()

        def ready() -> bool:
            if self._read():
                read.set()
            return read.is_set() or self.done.is_set()

        wait_until(ready, 3600, "the read to react to", interval=0.01)
        if read.is_set():
            self.kube.mutate("deployments", NS, self.name, _add_claim)
            self.changed_at = time.time()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def _add_claim(dep: dict[str, Any]) -> None:
    vols = dep["spec"]["template"]["spec"].setdefault("volumes", [])
    vols.append({"name": "late", "persistentVolumeClaim": {"claimName": "late-claim"}})


def applied_patches(kube: KubeApiServer, name: str) -> int:
    return len(
        [
            r
            for r in kube.requests_matching("PATCH")
            if f"/{name}" in r.path and 200 <= r.status < 300
        ]
    )


def settle_in_flight(kube: KubeApiServer) -> None:
    """Wait for delayed (lost-response) requests to reach the server's request log."""
    wait_until(lambda: not kube.in_flight(), 10, "delayed requests answered", interval=0.01)


# The whole search is one test: its time grows with the examples (~0.16 s each on 2 cores).
@pytest.mark.timeout(max(300, int(EXAMPLES * 0.5)))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(spec=specs, alert_name=st.sampled_from(ALERTS), steps=events)
def test_no_unsafe_write_whatever_happens(world: World, spec: Spec, alert_name: str, steps) -> None:
    check_world(world, spec, alert_name, steps)


# Owner-managed worlds where a write is otherwise allowed (app images, opted in, CPU or down
# alerts): in the general search above they are a fraction of a percent of the examples.
owned_specs = st.builds(
    Spec,
    kind=st.just("Deployment"),
    images=st.lists(st.sampled_from(("api:1", "web:2", "ghcr.io/acme/worker:3")), min_size=1),
    init_image=st.none(),
    pvc=st.just(False),
    component=st.sampled_from((None, "web")),
    operator_owned=st.just(False),
    annotation=st.sampled_from((None, "enabled")),
    hpa=st.sampled_from(("none", "below", "at_max")),
    replicas=st.integers(1, 5),
    owner=st.sampled_from(OWNERS[4:]),
)
# Owned worlds act (restart, scale, raise) far more often than the general ones: ~1 s each.
OWNED_EXAMPLES = max(40, EXAMPLES // 40)


@pytest.mark.timeout(max(300, OWNED_EXAMPLES * 4))
@settings(
    max_examples=OWNED_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    spec=owned_specs,
    alert_name=st.sampled_from(("HighCPUUsage", "KubeHpaMaxedOut", "ApplicationDown")),
    steps=events,
)
def test_no_write_an_owner_reverts(world: World, spec: Spec, alert_name: str, steps) -> None:
    check_world(world, spec, alert_name, steps)


def check_world(world: World, spec: Spec, alert_name: str, steps: list[Event]) -> None:
    kube, ledger = world.kube, world.ledger
    name = "w" + uuid.uuid4().hex[:10]
    for obj in build(spec, name):
        kube.put_object(obj)
    fingerprint = uuid.uuid4().hex[:16]
    run = start_run(world, alert_name, name, fingerprint, spec.kind)
    writes_while_closed = 0
    writes_while_braked = 0
    kind = "statefulset" if spec.kind == "StatefulSet" else "deployment"
    bids = [brake_id("", f"{kind}:{NS}:{name}", a) for a in WRITE_ACTIONS]
    for what, fault in steps:
        if what == "resolve":
            gone = run.alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
            ledger.dispatch_alert(intake(gone), NewRun(run.alert_type, [], False), HOLDDOWN)
        elif what == "flap":
            run = start_run(world, alert_name, name, fingerprint, spec.kind)
        elif what == "takeover":
            ledger.update_incident(run.incident_id, {"hands_off": {"by": "U1", "at": utcnow()}})
        elif what == "new_pod":
            # The alert on the next pod, under its own fingerprint: a new incident.
            pods = [
                p for p in kube.state.list("pods", NS) if p["metadata"]["name"].startswith(name)
            ]
            pod = pods[-1]["metadata"]["name"] if pods else f"{name}-gone"
            run = start_run(world, alert_name, name, uuid.uuid4().hex[:16], spec.kind, pod=pod)
        elif what == "sweep":
            # The action did not help: the alert is still firing when its check comes due.
            sweep_outcomes(ledger, NoBus(), the_policy(), Probes(), utcnow())
        elif what == "resume":
            for bid in bids:
                ledger.resume_brake(bid, {"by": "U1"}, {"action": "resume_brake"})
        else:
            if fault == "lost_response":
                # Half the time the server applies before the client gives up, half after.
                late = "delay_after" if len(steps) % 2 else "delay"
                kube.add_fault(Fault(late, verb="patch", name=name, seconds=0.4, times=1))
            elif fault == "conflict":
                kube.add_fault(Fault("conflict", verb="patch", name=name, times=1))
            changer = None
            if fault == "changes" and spec.kind == "Deployment":
                # The workload turns data-class after it was classified (its read done, the
                # pod list slow): no write may land on it after that (issue 21).
                kube.add_fault(Fault("delay", resource="pods", verb="list", seconds=0.1, times=1))
                changer = ChangeAfterRead(kube, name)
                changer.start()
            doc = ledger.get_run(run.run_id) or {}
            inc = ledger.get_incident(run.incident_id) or {}
            closed = doc.get("status") == "resolved" or bool(inc.get("hands_off"))
            braked = any((ledger.get_brake(b) or {}).get("tripped") for b in bids)
            before = applied_patches(kube, name)
            remediate(run, ledger=ledger)  # the run as the stage loaded it: possibly stale by now
            settle_in_flight(kube)
            if changer is not None:
                changer.stop()
                changed_at = changer.changed_at
                if changed_at is not None:
                    late = [
                        r
                        for r in kube.requests_since(changer.start_at)
                        if r.method == "PATCH"
                        and f"/{name}" in r.path
                        and 200 <= r.status < 300
                        and r.time > changed_at
                    ]
                    assert late == [], f"a write landed after the workload changed: {spec}"
            if closed:
                writes_while_closed += applied_patches(kube, name) - before
            if braked:
                writes_while_braked += applied_patches(kube, name) - before
            kube.clear_faults()
    settle_in_flight(kube)
    applied = applied_patches(kube, name)
    audits = ledger.writes_to(f"{kind}/{NS}/{name}")

    # 1. the workload decides: no write to a database-class workload, whatever the alert
    if spec.data_class:
        assert applied == 0, f"{applied} write(s) to a data-class workload {spec}"
        assert not [r for r in kube.requests_matching("PATCH") if f"/{name}" in r.path]
    # 2. the ledger decides: nothing written for a resolved or taken-over run
    assert writes_while_closed == 0
    # 3. caps per incident and target; the replica ceiling
    _, entry = the_policy().resolve(alert_name)
    per_incident: dict[str, int] = {}
    for a in audits:
        if a.get("outcome") in ("applied", "unknown"):
            per_incident[a["incident_id"]] = per_incident.get(a["incident_id"], 0) + 1
    assert all(n <= entry.guardrails.max_attempts for n in per_incident.values()), per_incident
    # 5. … and per workload, whatever incidents, pod names and flaps the alerts came with
    assert sum(per_incident.values()) <= entry.guardrails.max_attempts, per_incident
    # 6. the brake holds until a resume
    assert writes_while_braked == 0
    # 7. exactly one outcome per write that may have happened (ids derive from the audit id)
    sweep_outcomes(ledger, NoBus(), the_policy(), Probes(), utcnow())
    for a in audits:
        if a.get("outcome") in ("applied", "unknown"):
            recorded = ledger.get_outcome(a["id"]) or {}
            assert recorded.get("status") == "done" and recorded.get("outcome"), (a, recorded)
    live = kube.get_object("deployments", NS, name)
    if live is not None and spec.kind == "Deployment":
        assert int(live["spec"]["replicas"]) <= max(entry.guardrails.replica_ceiling, spec.replicas)
    # 4. every applied write audited once, settled, and never claimed without happening
    assert all(a.get("outcome") in ("applied", "not_applied", "unknown") for a in audits), audits
    covering = [a for a in audits if a.get("outcome") in ("applied", "unknown")]
    assert applied <= len(covering), (applied, audits)
    assert len([a for a in audits if a.get("outcome") == "applied"]) <= applied, (applied, audits)
    # 8. no write that an owner reverts
    done = [r for r in kube.requests_matching("PATCH") if f"/{name}" in r.path and r.status < 300]
    if spec.owner in GITOPS_OWNERS:
        assert all(_is_restart(r.path, r.body, name) for r in done), [r.path for r in done]
    if spec.keda and spec.kind == "Deployment":
        assert not [r for r in done if "/horizontalpodautoscalers/" in r.path]
        so = kube.get_object("scaledobjects", NS, name)
        assert so is not None
        assert so["spec"]["maxReplicaCount"] <= max(entry.guardrails.replica_ceiling, spec.replicas)
        if spec.owner == "keda_gitops":
            assert not [r for r in done if "/scaledobjects/" in r.path]


def _is_restart(path: str, body: Any, name: str) -> bool:
    """A rollout restart: the pod-template annotation on the Deployment, nothing else."""
    if not path.endswith(f"/deployments/{name}") or not isinstance(body, dict):
        return False
    template = ((body.get("spec") or {}).get("template") or {}).get("metadata") or {}
    # Our write's marker (issue 21) rides along on the template; nothing else may.
    return set(body.get("spec") or {}) == {"template"} and set(
        template.get("annotations") or {}
    ) - {"alertloop.io/write-id"} == {"kubectl.kubernetes.io/restartedAt"}


# ---------------------------------------------------------------- rollbacks (issue 21)


@dataclass
class OldRevision:
    """The template a rollback would write: revision 1 of a Deployment whose live revision 2
    is a stateless app."""

    image: str
    volume: int  # an index into VOLUMES, or -1
    config_only: bool  # the old template differs from the live one by an env value only
    changes_after_approval: bool  # a claim is added to the old ReplicaSet after approval
    fault: str  # none | lost_response (500 from a proxy: the PATCH never arrived) | delay_after

    @property
    def data_class(self) -> bool:
        repo = self.image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        return (
            (not self.config_only and repo in DATA_PRODUCTS + SUFFIXED_DATA)
            or (self.volume >= 0 and VOLUMES[self.volume][1])
            or self.changes_after_approval
        )


LIVE_IMAGE = "registry.example.com/prop/api:2"
old_revisions = st.builds(
    OldRevision,
    image=images,
    volume=st.integers(-1, len(VOLUMES) - 1),
    config_only=st.booleans(),
    changes_after_approval=st.booleans(),
    fault=st.sampled_from(("none", "none", "lost_response", "delay_after")),
)


def approve_rollback(world: World, run: Run, name: str, old_rs: str, old_image: str) -> str:
    """An approved proposal to roll the deployment back from revision 2 to 1, as remediation
    records it and the worker leaves it (written here: a config-only rollback keeps the
    images, which the planner does not propose by itself)."""
    from shared.audit import Recorder
    from shared.remediation.decide import Target

    target = Target("Deployment", NS, name)
    recorder = Recorder(world.ledger, "alertloop-remediate", run.run_id, run.alert_type)
    aid, _, _ = recorder.propose(
        action="rollback",
        target={**target.as_dict(), "cluster": run.cluster},
        target_str=str(target),
        details={
            "from_revision": 2,
            "to_revision": 1,
            "to_replicaset": old_rs,
            "to_images": [old_image],
            "from_images": [LIVE_IMAGE],
        },
        ttl=timedelta(minutes=60),
    )
    world.ledger.set_approval(
        aid, {"status": "approved", "approved_by": "UAPPROVER", "approved_at": utcnow()}
    )
    return aid


ROLLBACK_EXAMPLES = max(20, EXAMPLES // 40)


@pytest.mark.timeout(max(300, int(EXAMPLES * 0.5)))
@settings(
    max_examples=ROLLBACK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(old=old_revisions)
def test_no_rollback_writes_an_unsafe_template_or_settles_wrong(
    world: World, old: OldRevision
) -> None:
    check_rollback(world, old)


def check_rollback(world: World, old: OldRevision) -> None:
    """Classify what is written: a rollback to an old template that is data class (by its
    image, its volumes, or a claim added to its ReplicaSet after the approval) is never sent;
    a lost response is never settled "applied" unless the server applied the PATCH."""
    from shared.rollback import rollback

    kube, ledger = world.kube, world.ledger
    name = "r" + uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    sc = Scenario("x")
    old_image = LIVE_IMAGE if old.config_only else old.image
    add_app(sc, name, [(old_image, 600), (LIVE_IMAGE, 5)], now=now, ns=NS)
    old_rs = ""
    for obj in sc.objects:
        if (
            obj["kind"] == "ReplicaSet"
            and obj["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == "1"
        ):
            spec = obj["spec"]["template"]["spec"]
            if old.config_only:
                spec["containers"][0]["env"] = [{"name": "MODE", "value": "old"}]
            if old.volume >= 0:
                spec["volumes"] = [{"name": "extra", **VOLUMES[old.volume][0]}]
            old_rs = obj["metadata"]["name"]
        kube.put_object(obj)
    run = start_run(world, "HighErrorRate", name, uuid.uuid4().hex[:16], "Deployment")
    aid = approve_rollback(world, run, name, old_rs, old_image)
    if old.changes_after_approval:
        kube.mutate(
            "replicasets",
            NS,
            old_rs,
            lambda rs: (
                rs["spec"]["template"]["spec"]
                .setdefault("volumes", [])
                .append({"name": "late", "persistentVolumeClaim": {"claimName": "late"}})
            ),
        )
    if old.fault == "lost_response":
        kube.add_fault(Fault("error", verb="patch", name=name, times=1))
    elif old.fault == "delay_after":
        kube.add_fault(Fault("delay_after", verb="patch", name=name, seconds=0.4, times=1))
    rollback(run.model_copy(update={"approval_id": aid}), ledger=ledger, sleep=lambda _s: None)
    settle_in_flight(kube)
    kube.clear_faults()
    applied = applied_patches(kube, name)
    audits = ledger.writes_to(f"deployment/{NS}/{name}")
    if old.data_class:
        assert [r for r in kube.requests_matching("PATCH") if f"/{name}" in r.path] == [], old
    claimed = [a for a in audits if a.get("outcome") == "applied"]
    assert len(claimed) <= applied, (old, audits)
    assert all(a.get("outcome") != "in_progress" for a in audits), audits


# ---------------------------------------------------------------- secrets (issue 21)

_CYRILLIC = str.maketrans({"a": "\u0430", "o": "\u043e", "e": "\u0435", "p": "\u0440"})
_FULLWIDTH = {
    c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
}


def _encoded(form: str, key: str, secret: str) -> str:
    """One secret in one of the forms that leaked before issue 21."""
    from urllib.parse import quote

    if form == "url":
        return "GET /cb?x=" + quote(f"{key}={secret}", safe="")
    if form == "double_url":
        return "redirect=" + quote(quote(f"{key}={secret}", safe=""), safe="")
    if form == "html":
        return f"{key}&#61;{secret} in the form"
    if form == "cyrillic_key":
        return f"{key.translate(_CYRILLIC)}={secret}"
    if form == "fullwidth_key":
        return "".join(_FULLWIDTH.get(c, c) for c in key) + f"\uff1d{secret}"
    if form == "yaml_block":
        return f"config:\n  {key}: |\n    {secret}\n  region: eu"
    if form == "next_line":
        return f"DB {key}:\n  {secret}\nconnecting"
    if form == "prose":
        return f"the {key} is {secret}, keep it safe"
    if form == "pem":
        return f"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n{secret}\n-----END PRIVATE KEY-----\nok"
    assert form == "slack_wrapped"
    return f"token xoxb-1234567890-\n{secret}"


@settings(max_examples=max(50, EXAMPLES // 10), deadline=None, derandomize=True)
@given(
    form=st.sampled_from(
        (
            "url",
            "double_url",
            "html",
            "cyrillic_key",
            "fullwidth_key",
            "yaml_block",
            "next_line",
            "prose",
            "pem",
            "slack_wrapped",
        )
    ),
    key=st.sampled_from(("password", "api_key", "token", "secret", "db_password")),
    secret=st.from_regex(r"[A-Za-z]{3,10}[0-9]{2,6}[A-Za-z0-9]{3,12}", fullmatch=True),
)
def test_no_encoded_or_multi_line_secret_survives_redaction(
    form: str, key: str, secret: str
) -> None:
    from shared.untrusted import redact

    text = _encoded(form, key, secret)
    out = redact(text)
    assert secret not in out, (form, text, out)
    assert redact(out) == out

"""Issue #10's invariants, searched for counterexamples by hypothesis: generated workloads
(kind, images, labels, volumes, owners, annotations, HPA or not), alerts (any type of the policy,
aliases, unknown), interleavings (remediate, resolve, flap, redelivery, take over) and injected
faults (a response lost after the server applied the patch, 409 conflicts), run through the real
remediation code against the sandbox Kubernetes API and the Firestore emulator.

For every example:
  1. no write reaches a database-class workload (judged by an oracle written here, from the
     generated objects, independently of the classifier);
  2. no write happens for a run that was resolved or taken over in the ledger first;
  3. no more writes per incident and target than the policy's max_attempts, no replica count
     above its ceiling;
  4. every write the API server applied is covered by exactly one write audit record, settled as
     "applied" or "unknown" (never "not_applied", never left "in_progress"), and no audit claims
     "applied" without a write the server applied;
  5. no write that an owner reverts (issue #20): on a workload Argo CD, Flux or Config Sync
     manages, nothing but a restart; on a KEDA workload never the HPA (its ScaledObject, unless
     the ScaledObject itself comes from Git). Look-alike markers and Helm change nothing.
"""

from __future__ import annotations

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
from shared import envvars
from shared.envelope import utcnow
from shared.ledger import Ledger, NewRun
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
APP_IMAGES = ("api", "web", "checkout", "nginx", "worker", "postgres-exporter", "my-redis-client")
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
            "aliases": ["CPUThrottlingHigh", "KubeHpaMaxedOut", "ContainerCPUHigh"],
        },
        "ApplicationDown": {
            "stages": ["investigate", "remediate"],
            "remediation": "restart",
            "guardrails": {"cooldown_minutes": 0, "max_attempts": 1},
            "aliases": ["KubePodCrashLooping", "TargetDown"],
        },
    }
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
            or any(product(i) in DATA_PRODUCTS for i in images)
        )


images = st.builds(
    lambda reg, name, tag: f"{reg}{name}{tag}",
    st.sampled_from(REGISTRIES),
    st.sampled_from(DATA_PRODUCTS + APP_IMAGES + APP_IMAGES),
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
    owner=st.sampled_from(OWNERS),
)
Event = tuple[str, str]  # (what, fault)
events = st.lists(
    st.tuples(
        st.sampled_from(("remediate", "remediate", "resolve", "flap", "redeliver", "takeover")),
        st.sampled_from(("none", "none", "lost_response", "conflict")),
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
def world(emulators, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    sc = Scenario("property").add(namespace(NS))
    with KubeApiServer(sc, controller_delay=0.05) as kube:
        policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
        policy.write_text(yaml.safe_dump(POLICY))
        for key, value in {
            **emulators.env(),
            "GOOGLE_CLOUD_PROJECT": "alertloop-test",
            "ALERTLOOP_COLLECTION_PREFIX": f"prop{uuid.uuid4().hex[:6]}-",
            "KUBECONFIG": kube.kubeconfig_path,
            "ALERTLOOP_REMEDIATE_NAMESPACES": NS,
            "ALERTLOOP_REMEDIATE_VERIFY_SECONDS": "0",
            "ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR": "1000000",
            "ALERTLOOP_K8S_TIMEOUT_SECONDS": "0.25",
            "ALERTLOOP_POLICY_FILE": str(policy),
            "ALERTLOOP_LOG_LEVEL": "WARNING",
        }.items():
            mp.setenv(key, value)
        for name in ("KUBE_CONFIG_DATA", "ALERTLOOP_DRY_RUN", "PROMETHEUS_URL"):
            mp.delenv(name, raising=False)
        reset_settings()
        try:
            yield World(kube, Ledger())
        finally:
            mp.undo()
            reset_settings()


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
        if spec.pvc:
            pod_spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]
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


def start_run(world: World, alert_name: str, name: str, fingerprint: str, kind: str) -> Run:
    alert = make_alert(
        alert_name,
        labels={"namespace": NS, kind.lower(): name},
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
    deadline = time.monotonic() + 3
    while kube.in_flight() and time.monotonic() < deadline:
        time.sleep(0.01)


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
    for what, fault in steps:
        if what == "resolve":
            gone = run.alert.model_copy(update={"status": "resolved", "ends_at": utcnow()})
            ledger.dispatch_alert(intake(gone), NewRun(run.alert_type, [], False), HOLDDOWN)
        elif what == "flap":
            run = start_run(world, alert_name, name, fingerprint, spec.kind)
        elif what == "takeover":
            ledger.update_incident(run.incident_id, {"hands_off": {"by": "U1", "at": utcnow()}})
        else:
            if fault == "lost_response":
                # Half the time the server applies before the client gives up, half after.
                late = "delay_after" if len(steps) % 2 else "delay"
                kube.add_fault(Fault(late, verb="patch", name=name, seconds=0.4, times=1))
            elif fault == "conflict":
                kube.add_fault(Fault("conflict", verb="patch", name=name, times=1))
            doc = ledger.get_run(run.run_id) or {}
            inc = ledger.get_incident(run.incident_id) or {}
            closed = doc.get("status") == "resolved" or bool(inc.get("hands_off"))
            before = applied_patches(kube, name)
            remediate(run)  # the run as the stage loaded it: possibly stale by now
            settle_in_flight(kube)
            if closed:
                writes_while_closed += applied_patches(kube, name) - before
            kube.clear_faults()
    settle_in_flight(kube)
    applied = applied_patches(kube, name)
    kind = "statefulset" if spec.kind == "StatefulSet" else "deployment"
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
    live = kube.get_object("deployments", NS, name)
    if live is not None and spec.kind == "Deployment":
        assert int(live["spec"]["replicas"]) <= max(entry.guardrails.replica_ceiling, spec.replicas)
    # 4. every applied write audited once, settled, and never claimed without happening
    assert all(a.get("outcome") in ("applied", "not_applied", "unknown") for a in audits), audits
    covering = [a for a in audits if a.get("outcome") in ("applied", "unknown")]
    assert applied <= len(covering), (applied, audits)
    assert len([a for a in audits if a.get("outcome") == "applied"]) <= applied, (applied, audits)
    # 5. no write that an owner reverts
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
    return set(body.get("spec") or {}) == {"template"} and set(
        template.get("annotations") or {}
    ) == {"kubectl.kubernetes.io/restartedAt"}

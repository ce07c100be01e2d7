"""The deployable units, in one table: Terraform and the local stack are both checked against it.

`FUNCTIONS` is the source of truth for what gets deployed. `terraform/locals.tf` holds the same
table in HCL (`local.functions`); `tests/unit/test_terraform.py` fails when the two disagree, so
adding a function is one row here plus one there (`python -m scripts.sync_registry` writes it).
A function's env vars and secrets are not listed here: they come from shared/envvars.py (each
Var names the functions that read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared import envvars

Kind = Literal["http", "cloudevent"]
# internal: ingress internal-only; public: the operator may open it to allUsers (the function
# authenticates every request itself); authenticated: ingress all, but only the IAM members
# Terraform grants roles/run.invoker (people, through IAP or `gcloud run services proxy`).
Exposure = Literal["internal", "public", "authenticated"]

# Environment variables: shared/envvars.py is the one table of them; these are its views.
# Core: every function, set by Terraform (terraform/locals.tf core_env).
CORE_ENV: tuple[str, ...] = envvars.core_deployed()
# For local development only; a deployment must never set them.
LOCAL_ONLY_ENV: tuple[str, ...] = tuple(v.name for v in envvars.VARS if v.local_only)
PROMETHEUS_ENV: tuple[str, ...] = tuple(
    v.name for v in envvars.VARS if v.section == "prometheus" and v.deployed
)
# Secret env var -> Secret Manager secret id (without the deployment's name prefix). Values are
# added out of band (`gcloud secrets versions add`) and mounted as secret environment variables;
# they never appear as plain env vars, Terraform variables or outputs.
SECRETS: dict[str, str] = {v.name: v.mount for v in envvars.VARS if v.secret}
# Every env var name the code knows (for checking deployment configs).
KNOWN_ENV: frozenset[str] = frozenset(envvars.BY_NAME)

# Topics that carry no run stage: Slack clicks (interact -> act) and the sweeper's schedule
# (Cloud Scheduler, or the local stack's timer -> sweeper).
CONTROL_TOPICS = ("interactions", "sweep")
# Topics: intake (ingest -> dispatch), the stages, notify, the dead letters, rollback, and the
# control topics.
STAGE_TOPICS = (
    "intake",
    "investigate",
    "remediate",
    "budget",
    "notify",
    "deadletter",
    "rollback",
    *CONTROL_TOPICS,
)
DEAD_LETTER_TOPIC = "deadletter"
# Where Pub/Sub parks messages the deadletter function itself cannot take (a pull subscription
# keeps them for inspection); not a stage, so not in STAGE_TOPICS.
PARKED_TOPIC = "parked"
# Subscriptions whose messages carry an ordering key (notify: ordering key = run id).
ORDERED_TOPICS = ("notify",)
# Only the approval path (the interactions worker) may publish here.
ROLLBACK_TOPIC = "rollback"
ROLLBACK_PUBLISHERS = ("act",)
# The topic Cloud Scheduler publishes to (terraform: google_cloud_scheduler_job.sweep).
SWEEP_TOPIC = "sweep"

# Firestore collections (before ALERTLOOP_COLLECTION_PREFIX) whose documents carry `expires_at`
# and are deleted by a TTL policy.
TTL_FIELD = "expires_at"
# Not approvals: their `expires_at` is the proposal's deadline, and the console's timeline
# must keep who approved (or rejected) a rollback long after it.
TTL_COLLECTIONS: tuple[str, ...] = ("idempotency", "leases", "locks", "interactions")
# Composite indexes: collection -> ordered ((field, "ASCENDING" | "DESCENDING"), ...).
# Only what a query in shared/ledger needs (tests/unit/test_firestore_indexes.py): an equality
# on one field ordered by another. Single-field queries use Firestore's automatic indexes.
FIRESTORE_INDEXES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    # The console's incident list: newest first under each filter (Firestore merges them when
    # several filters are combined).
    ("incidents", (("status", "ASCENDING"), ("opened_at", "DESCENDING"))),
    ("incidents", (("alert_type", "ASCENDING"), ("opened_at", "DESCENDING"))),
    ("incidents", (("cluster", "ASCENDING"), ("opened_at", "DESCENDING"))),
    ("incidents", (("namespace", "ASCENDING"), ("opened_at", "DESCENDING"))),
)


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # entry point in main.py, and the function's name
    kind: Kind
    topic: str | None  # the stage topic it consumes (None for HTTP functions)
    publishes: tuple[str, ...] = ()  # topics it may publish to
    # Deployment settings (Cloud Functions gen2).
    memory: str = "256Mi"
    timeout_seconds: int = 60  # <= 540 so a push subscription's ack deadline can cover it
    max_instances: int = 10
    exposure: Exposure = "internal"  # "public" may be chosen only for HTTP entry points
    uses_kubernetes: bool = False
    uses_prometheus: bool = False
    # Pub/Sub delivery attempts before the native dead-letter policy parks a message; 0 means
    # the deployment's default (var.max_delivery_attempts).
    delivery_attempts: int = 0

    @property
    def ordered(self) -> bool:
        """Its subscription delivers in ordering-key order."""
        return self.topic in ORDERED_TOPICS

    @property
    def env(self) -> tuple[str, ...]:
        """Plain env vars Terraform sets on it beyond the core ones (from shared/envvars.py:
        a Var with `deployed=True` naming this function)."""
        return envvars.deployed_for(self.name)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Env vars mounted from Secret Manager (a Var with a `secret` id naming it)."""
        return envvars.secrets_for(self.name)

    @property
    def all_env(self) -> tuple[str, ...]:
        """Every plain env var a deployment may set on this function."""
        return CORE_ENV + self.env


FUNCTIONS: tuple[FunctionSpec, ...] = (
    # Durable first: ingest only authenticates, validates and publishes to `intake`.
    FunctionSpec(
        "ingest",
        "http",
        None,
        publishes=("intake",),
        exposure="public",
    ),
    # The ledger side of intake. Its failures are almost always Firestore being unavailable:
    # the alert must wait in `intake` (Pub/Sub's maximum of 100 attempts, backing off to 10
    # minutes, is hours of retries) rather than be dead-lettered after a short outage.
    FunctionSpec(
        "dispatch",
        "cloudevent",
        "intake",
        publishes=("investigate", "remediate", "budget", "notify", "deadletter"),
        max_instances=20,
        delivery_attempts=100,
        # Read-only (deploy/rbac.yaml alertloop-resolve): a pod-named alert -> its workload.
        uses_kubernetes=True,
    ),
    FunctionSpec(
        "investigate",
        "cloudevent",
        "investigate",
        publishes=("remediate", "budget", "notify", "deadletter"),
        memory="512Mi",
        timeout_seconds=300,
        uses_kubernetes=True,
        uses_prometheus=True,
    ),
    FunctionSpec(
        "remediate",
        "cloudevent",
        "remediate",
        publishes=("budget", "notify", "deadletter"),
        memory="512Mi",
        timeout_seconds=300,
        max_instances=5,
        uses_kubernetes=True,
    ),
    FunctionSpec(
        "budget",
        "cloudevent",
        "budget",
        publishes=("notify", "deadletter"),
        timeout_seconds=300,
        uses_prometheus=True,
    ),
    FunctionSpec("notify", "cloudevent", "notify"),
    FunctionSpec("deadletter", "cloudevent", "deadletter"),
    # Slack's one interactivity Request URL: it must be reachable from Slack and answer within
    # 3 s, so it only verifies the signature and the permission (configuration; user groups
    # through the bot token) and queues the click. Never Firestore, never the cluster.
    FunctionSpec(
        "interact",
        "http",
        None,
        publishes=("interactions",),
        timeout_seconds=30,
        max_instances=20,
        exposure="public",
    ),
    # Does what the buttons say: approvals (-> rollback; approved restarts and scale changes
    # -> remediate), acknowledge, silences in Alertmanager, take over, verdicts; replies
    # through response_url, updates the parent.
    FunctionSpec(
        "act",
        "cloudevent",
        "interactions",
        publishes=("rollback", "remediate", "notify"),
        max_instances=5,
    ),
    # Asks Alertmanager about open incidents whose resolve never came (Cloud Scheduler).
    FunctionSpec(
        "sweeper",
        "cloudevent",
        "sweep",
        publishes=("notify",),
        timeout_seconds=120,
        max_instances=1,
        # Read-only (deploy/rbac.yaml alertloop-verify): an outcome check's pod readiness.
        uses_kubernetes=True,
        uses_prometheus=True,  # an outcome check's success query and ALERTS baseline
    ),
    # Executes approved rollbacks only; the timeout covers the canary wait
    # (ALERTLOOP_ROLLBACK_VERIFY_SECONDS, default 300).
    FunctionSpec(
        "rollback",
        "cloudevent",
        "rollback",
        publishes=("notify", "deadletter"),
        memory="512Mi",
        timeout_seconds=420,
        max_instances=2,
        uses_kubernetes=True,
        uses_prometheus=True,
    ),
    # People and Prometheus read the loop here; it only reads the ledger. Never public: Cloud
    # Run's IAM admits the console's viewers (ALERTLOOP_CONSOLE_AUTH=iam); the token mode is
    # for the local stack.
    FunctionSpec(
        "console",
        "http",
        None,
        memory="512Mi",
        max_instances=3,
        exposure="authenticated",
    ),
)

BY_NAME = {f.name: f for f in FUNCTIONS}


def subscribed_topics() -> dict[str, str]:
    """Topic -> the function its push subscription delivers to."""
    return {f.topic: f.name for f in FUNCTIONS if f.topic is not None}

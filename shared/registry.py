"""The deployable units, in one table: Terraform and the local stack are both checked against it.

`FUNCTIONS` is the source of truth for what gets deployed. `terraform/locals.tf` holds the same
table in HCL (`local.functions`); `tests/unit/test_terraform.py` fails when the two disagree, so
adding a function (e.g. `approve`, `rollback`) is one row here plus one row there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["http", "cloudevent"]
# internal: ingress internal-only; public: the operator may open it to allUsers (the function
# authenticates every request itself); authenticated: ingress all, but only the IAM members
# Terraform grants roles/run.invoker (people, through IAP or `gcloud run services proxy`).
Exposure = Literal["internal", "public", "authenticated"]

# Core settings every function reads (shared/config.py), as plain (non-secret) environment
# variables. ALERTLOOP_ALLOW_UNAUTHENTICATED is deliberately absent: it is for local stacks only
# and must never be set on a deployed function.
CORE_ENV: tuple[str, ...] = (
    "GOOGLE_CLOUD_PROJECT",
    "ALERTLOOP_TOPIC_PREFIX",
    "ALERTLOOP_MAX_BODY_BYTES",
    "ALERTLOOP_POLICY_FILE",
    "ALERTLOOP_DRY_RUN",
    "ALERTLOOP_MAX_EVENT_AGE_SECONDS",
    "ALERTLOOP_STAGE_TIMEOUT_SECONDS",
    "ALERTLOOP_MAX_STAGE_ATTEMPTS",
    "SLACK_CHANNEL",
    "SLACK_API_URL",
    "ALERTLOOP_RUN_URL_TEMPLATE",
    "ALERTLOOP_CONSOLE_URL",
    "ALERTLOOP_COLLECTION_PREFIX",
    "ALERTLOOP_FLAP_HOLDDOWN_MINUTES",
    "ALERTLOOP_STORM_THRESHOLD",
)

# Settings that exist for local development only; a deployment must never set them.
# (ALERTLOOP_CONTAINER_API_URL points the Container API client at the sandbox's fake.)
LOCAL_ONLY_ENV: tuple[str, ...] = ("ALERTLOOP_ALLOW_UNAUTHENTICATED", "ALERTLOOP_CONTAINER_API_URL")

# Domain settings, read next to the code that uses them.
KUBERNETES_ENV: tuple[str, ...] = ("ALERTLOOP_K8S_TIMEOUT_SECONDS",)
# The cluster table (shared/clusters.py) as Terraform renders it, and how alerts name a cluster.
CLUSTER_ENV: tuple[str, ...] = (
    "ALERTLOOP_CLUSTERS",
    "ALERTLOOP_CLUSTER_LABELS",
    "ALERTLOOP_DEFAULT_CLUSTER_NAME",
)
# Read by the code but not set by Terraform: the table as a file (local, CLI), and identities
# for `alertloop doctor` when the table has none.
CLUSTER_OPERATOR_ENV: tuple[str, ...] = (
    "ALERTLOOP_CLUSTERS_FILE",
    "ALERTLOOP_IDENTITY_INVESTIGATE",
    "ALERTLOOP_IDENTITY_REMEDIATE",
    "ALERTLOOP_IDENTITY_ROLLBACK",
)
# The namespace allow-list: both functions that change clusters enforce it.
REMEDIATION_ENV: tuple[str, ...] = ("ALERTLOOP_REMEDIATE_NAMESPACES",)
PROMETHEUS_ENV: tuple[str, ...] = (
    "PROMETHEUS_URL",
    "PROMETHEUS_AUTH",
    "PROMETHEUS_TIMEOUT_SECONDS",
)
# The console: how it authenticates (token | iam) and what it shows.
CONSOLE_ENV: tuple[str, ...] = (
    "ALERTLOOP_CONSOLE_AUTH",
    "ALERTLOOP_METRICS_WINDOW_HOURS",
    "ALERTLOOP_CONSOLE_HEALTH_DAYS",
    "ALERTLOOP_CONSOLE_CACHE_SECONDS",
    "ALERTLOOP_CONSOLE_PAGE_SIZE",
    "ALERTLOOP_SLACK_WORKSPACE_URL",
)
# Named Firestore database; unset means "(default)". Terraform sets it only for a named database.
FIRESTORE_ENV: tuple[str, ...] = ("ALERTLOOP_FIRESTORE_DATABASE",)

# Secret env var -> Secret Manager secret id (without the deployment's name prefix). Values are
# added out of band (`gcloud secrets versions add`) and mounted as secret environment variables;
# they never appear as plain env vars, Terraform variables or outputs.
SECRETS: dict[str, str] = {
    "ALERTLOOP_WEBHOOK_TOKEN": "webhook-token",
    "SLACK_BOT_TOKEN": "slack-bot-token",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "KUBE_CONFIG_DATA": "kubeconfig",
    "PROMETHEUS_BEARER_TOKEN": "prometheus-bearer-token",
    "ALERTLOOP_CONSOLE_TOKEN": "console-token",
}

# Topics: intake (ingest -> dispatch), the stages, notify, the dead letters, rollback.
STAGE_TOPICS = (
    "intake",
    "investigate",
    "remediate",
    "budget",
    "notify",
    "deadletter",
    "rollback",
)
DEAD_LETTER_TOPIC = "deadletter"
# Where Pub/Sub parks messages the deadletter function itself cannot take (a pull subscription
# keeps them for inspection); not a stage, so not in STAGE_TOPICS.
PARKED_TOPIC = "parked"
# Subscriptions whose messages carry an ordering key (notify: ordering key = run id).
ORDERED_TOPICS = ("notify",)
# Only the approval path may publish here.
ROLLBACK_TOPIC = "rollback"
ROLLBACK_PUBLISHERS = ("approve",)

# Firestore collections (before ALERTLOOP_COLLECTION_PREFIX) whose documents carry `expires_at`
# and are deleted by a TTL policy.
TTL_FIELD = "expires_at"
TTL_COLLECTIONS: tuple[str, ...] = ("idempotency", "leases", "locks", "approvals")
# Composite indexes: collection -> ordered ((field, "ASCENDING" | "DESCENDING"), ...).
FIRESTORE_INDEXES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("runs", (("alert_type", "ASCENDING"), ("received_at", "DESCENDING"))),
    ("runs", (("state", "ASCENDING"), ("received_at", "DESCENDING"))),
    ("audit", (("target", "ASCENDING"), ("at", "DESCENDING"))),
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
    env: tuple[str, ...] = field(default=())  # env vars it reads beyond the core ones
    secrets: tuple[str, ...] = ()  # env vars that must come from Secret Manager
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
    def all_env(self) -> tuple[str, ...]:
        """Every plain env var a deployment may set on this function."""
        return CORE_ENV + FIRESTORE_ENV + self.env


FUNCTIONS: tuple[FunctionSpec, ...] = (
    # Durable first: ingest only authenticates, validates and publishes to `intake`.
    FunctionSpec(
        "ingest",
        "http",
        None,
        publishes=("intake",),
        secrets=("ALERTLOOP_WEBHOOK_TOKEN",),
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
        env=CLUSTER_ENV,
        max_instances=20,
        delivery_attempts=100,
    ),
    FunctionSpec(
        "investigate",
        "cloudevent",
        "investigate",
        publishes=("remediate", "budget", "notify", "deadletter"),
        env=KUBERNETES_ENV + PROMETHEUS_ENV + CLUSTER_ENV,
        secrets=("KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN"),
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
        env=KUBERNETES_ENV + CLUSTER_ENV + REMEDIATION_ENV,
        secrets=("KUBE_CONFIG_DATA",),
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
        env=PROMETHEUS_ENV + CLUSTER_ENV,
        secrets=("PROMETHEUS_BEARER_TOKEN",),
        timeout_seconds=300,
        uses_prometheus=True,
    ),
    FunctionSpec("notify", "cloudevent", "notify", secrets=("SLACK_BOT_TOKEN",)),
    FunctionSpec("deadletter", "cloudevent", "deadletter", secrets=("SLACK_BOT_TOKEN",)),
    # Slack's interactivity endpoint: it must be reachable from Slack; every request is checked
    # against the Slack signing secret, the approver list and the single-use proposal.
    FunctionSpec(
        "approve",
        "http",
        None,
        publishes=("rollback",),
        secrets=("SLACK_SIGNING_SECRET",),
        exposure="public",
    ),
    # Executes approved rollbacks only; the timeout covers the canary wait
    # (ALERTLOOP_ROLLBACK_VERIFY_SECONDS, default 300).
    FunctionSpec(
        "rollback",
        "cloudevent",
        "rollback",
        publishes=("notify", "deadletter"),
        env=KUBERNETES_ENV + PROMETHEUS_ENV + CLUSTER_ENV + REMEDIATION_ENV,
        secrets=("KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN"),
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
        env=CONSOLE_ENV,
        secrets=("ALERTLOOP_CONSOLE_TOKEN",),
        memory="512Mi",
        max_instances=3,
        exposure="authenticated",
    ),
)

BY_NAME = {f.name: f for f in FUNCTIONS}

# Every env var name the code knows (for checking deployment configs).
KNOWN_ENV: frozenset[str] = frozenset(
    CORE_ENV
    + LOCAL_ONLY_ENV
    + KUBERNETES_ENV
    + CLUSTER_ENV
    + CLUSTER_OPERATOR_ENV
    + REMEDIATION_ENV
    + PROMETHEUS_ENV
    + FIRESTORE_ENV
    + CONSOLE_ENV
    + tuple(SECRETS)
)


def subscribed_topics() -> dict[str, str]:
    """Topic -> the function its push subscription delivers to."""
    return {f.topic: f.name for f in FUNCTIONS if f.topic is not None}

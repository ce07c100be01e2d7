"""Every environment variable alertloop knows, in one table, and the only way the code reads one.

A `Var` says what a setting is: its name, the default the code uses when it is unset (or set
to blank), what it means, which functions read it, whether it is a secret (`mount`: the Secret
Manager id it is mounted from), whether Terraform sets it (`deployed`), and whether it exists
for local development only. Settings code reads through `read` / `flag` / `integer` / `number`:
they refuse a name that is not here (`UnregisteredEnv`), take the default from here, and refuse
a malformed value with a message naming the variable (`EnvError`).

Everything else is derived from the table: the deploy table's env and secrets per function
(shared/registry.py, which terraform/locals.tf mirrors), the README's configuration tables
(`python -m scripts.sync_registry`), and what each function gets in the local stack.
tests/unit/test_envvars.py fails when the code reads, or Terraform, deploy/, docs/ or the README
mention, a name that is not here.

**Adding a setting is one line in VARS** (then `python -m scripts.sync_registry` rewrites the
README tables, and terraform/locals.tf when Terraform sets it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from shared import limits

Section = Literal[
    "core",
    "local",
    "kubernetes",
    "clusters",
    "prometheus",
    "investigation",
    "budget",
    "remediation",
    "approval",
    "interaction",
    "console",
]

EVERY = ("*",)  # read by every function
CLI: tuple[str, ...] = ()  # read by the alertloop command line only
K8S = ("investigate", "remediate", "rollback")
# Every function with a cluster identity: the K8S ones plus the read-only dispatch (a pod-named
# alert -> its owning workload) and sweeper (an outcome check's pod readiness). They read the
# connection settings only, not investigation's.
K8S_ANY = (*K8S, "dispatch", "sweeper")
# The sweeper: an outcome check's success query and `ALERTS` baseline (shared/outcomes/probes.py).
PROM = ("investigate", "budget", "rollback", "sweeper")
# The cluster table (the sweeper's outcome checks read each cluster's API and Prometheus).
ROUTED = ("dispatch", "investigate", "remediate", "budget", "rollback", "sweeper")
WRITERS = ("remediate", "rollback")  # the functions that change clusters
CONSOLE = ("console",)
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Var:
    name: str
    default: str
    meaning: str
    section: Section
    functions: tuple[str, ...] = EVERY
    deployed: bool = False  # Terraform sets it (terraform/locals.tf env_values)
    # A secret: the Secret Manager secret id (without the name prefix) it is mounted from; it is
    # never a plain env var, a Terraform variable or an output.
    mount: str = ""
    local_only: bool = False  # never set on a deployed function
    shown_default: str = ""  # the README's words for a default that is not a plain value
    blank_is_value: bool = False  # set to "", it means empty (not the default)

    @property
    def secret(self) -> bool:
        return bool(self.mount)

    def read_by(self, function: str) -> bool:
        return self.functions == EVERY or function in self.functions


def _queries() -> tuple[Var, ...]:
    meaning = {
        "ERROR_RATIO": "error ratio of the workload's requests ($selector)",
        "ERROR_ENDPOINTS": "errors per second by endpoint ($selector)",
        "MEMORY": "working-set memory per container ($namespace, $pod_regex)",
        "MEMORY_LIMIT": "memory limits ($namespace, $pod_regex)",
        "CPU_USAGE": "CPU used per pod ($namespace, $pod_regex)",
        "CPU_REQUEST": "CPU requested per pod",
        "CPU_LIMIT": "CPU limit per pod",
        "CPU_THROTTLED": "share of CPU periods throttled",
    }
    return tuple(
        Var(
            f"ALERTLOOP_QUERY_{name}",
            "",
            f"PromQL template: {text}",
            "investigation",
            ("investigate", "rollback") if name == "ERROR_RATIO" else ("investigate",),
            shown_default="kube-state-metrics / cAdvisor query",
        )
        for name, text in meaning.items()
    )


VARS: tuple[Var, ...] = (
    # ---- core: shared/config.py, shared/log.py (every function)
    Var("GOOGLE_CLOUD_PROJECT", "", "project for Pub/Sub and Firestore", "core", deployed=True,
        shown_default="`GCP_PROJECT`, else `alertloop-local`"),
    Var("ALERTLOOP_TOPIC_PREFIX", "alertloop-", "topics are `<prefix><stage>`", "core",
        deployed=True),
    Var("ALERTLOOP_MAX_BODY_BYTES", str(limits.CLOUD_RUN_REQUEST_BYTES), "larger webhook bodies "
        "get 413 (32 MiB: what "
        "Cloud Run accepts)", "core", deployed=True),
    Var("ALERTLOOP_POLICY_FILE", "", "YAML policy overriding/extending the default table", "core",
        deployed=True),
    Var("ALERTLOOP_DRY_RUN", "false", "compute and report every cluster change, make none",
        "core", deployed=True),
    Var("ALERTLOOP_MAX_EVENT_AGE_SECONDS", "21600", "older messages are reported, not acted on",
        "core", deployed=True),
    Var("ALERTLOOP_STAGE_TIMEOUT_SECONDS", "300", "how long a stage's in-progress claim holds "
        "(set to the function timeout)", "core", deployed=True),
    Var("ALERTLOOP_MAX_STAGE_ATTEMPTS", "5", "crashes before a stage's message is dead-lettered",
        "core", deployed=True),
    Var("SLACK_CHANNEL", "#alerts", "where incidents are posted", "core", deployed=True),
    Var("SLACK_API_URL", "https://slack.com/api/", "Web API base (the local server in tests and "
        "`make run`)", "core", deployed=True),
    Var("ALERTLOOP_RUN_URL_TEMPLATE",
        "https://console.cloud.google.com/logs/query;query=jsonPayload.run_id%3D%22{run_id}%22"
        "?project={project}",
        '"Run log" button; `{run_id}`, `{project}`; set to empty, it hides the button', "core",
        deployed=True, shown_default="Logs Explorer query for the run", blank_is_value=True),
    Var("ALERTLOOP_CONSOLE_URL", "", "where people open the console; when set, Slack's \"Run "
        "log\" button opens the incident's page (`<url>/incidents/<id>`) instead", "core",
        deployed=True),
    Var("ALERTLOOP_COLLECTION_PREFIX", "", "prefix for Firestore collections", "core",
        deployed=True),
    Var("ALERTLOOP_FLAP_HOLDDOWN_MINUTES", "30", "an alert firing again this soon after "
        "resolving reopens its Slack thread", "core", deployed=True),
    Var("ALERTLOOP_STORM_THRESHOLD", "20", "a webhook group this big gets one Slack digest "
        "instead of a message per alert (0 = off)", "core", deployed=True),
    Var("ALERTLOOP_FIRESTORE_DATABASE", "(default)", "Firestore database id", "core",
        deployed=True),
    Var("ALERTLOOP_INCIDENT_WINDOW_MINUTES", "30", "alerts about the same workload (cluster, "
        "namespace, workload) within this window join one incident and one Slack thread (0 = "
        "off; a policy entry's `correlate: false` opts its alert type out)", "core",
        deployed=True),
    Var("GCP_PROJECT", "", "older runtimes' name for GOOGLE_CLOUD_PROJECT (read when that is "
        "unset)", "core"),
    Var("ALERTLOOP_WEBHOOK_TOKEN", "", "the bearer token ingest requires (empty: every request "
        "is refused); `alertloop fire` sends it", "core", ("ingest",),
        mount="webhook-token"),
    Var("ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS", "", "a second token ingest accepts while the webhook "
        "token is rotated (docs/deployment.md); empty once Alertmanager sends the new one",
        "core", ("ingest",), mount="webhook-token-previous"),
    Var("ALERTLOOP_WEBHOOK_TOKEN_FILES", "", "comma-separated files each holding an accepted "
        "token (Secret Manager volumes: re-read every 30 s and after a token matching none, so "
        "a rotation needs no redeploy)", "core", ("ingest",), deployed=True),
    Var("SLACK_BOT_TOKEN", "", "the Slack bot token; without it messages are rendered to the "
        "log", "core", ("notify", "deadletter", "interact", "act"), mount="slack-bot-token"),
    Var("ALERTLOOP_LOG_FORMAT", "json", "`text` for humans; JSON is what Cloud Logging parses",
        "core"),
    Var("ALERTLOOP_LOG_LEVEL", "INFO", "Python log level", "core"),
    Var("ALERTLOOP_INGEST_URL", "", "where `alertloop fire` posts (or `--url`; default: the "
        "running `make run`)", "core", CLI),
    Var("K_SERVICE", "", "set by Cloud Run: the function's name, the actor in the audit trail",
        "core", ("remediate", "rollback", "act"), shown_default="`alertloop-<function>`"),
    # ---- local development only
    Var("ALERTLOOP_ALLOW_UNAUTHENTICATED", "false", "with no webhook token set, accept "
        "unauthenticated requests", "local", ("ingest",), local_only=True),
    Var("ALERTLOOP_CONTAINER_API_URL", "", "the Container API endpoint (the sandbox's fake)",
        "local", K8S_ANY, local_only=True, shown_default="Google's"),
    Var("PUBSUB_EMULATOR_HOST", "", "the Pub/Sub emulator (read by the client library)",
        "local", local_only=True),
    Var("FIRESTORE_EMULATOR_HOST", "", "the Firestore emulator (read by the client library)",
        "local", local_only=True),
    Var("ALERTLOOP_PROMETHEUS_BIN", "/usr/bin/prometheus", "the Prometheus the sandbox and the "
        "tests start", "local", CLI, local_only=True),
    Var("ALERTLOOP_PROMTOOL_BIN", "/usr/bin/promtool", "the promtool the sandbox runs (backfill, "
        "rule tests)", "local", CLI, local_only=True),
    Var("ALERTLOOP_PROPERTY_EXAMPLES", "2000", "examples of the safety property test "
        "(tests/integration/test_safety_property.py)", "local", CLI, local_only=True),
    # ---- kubernetes: shared/k8s/settings.py
    Var("KUBECONFIG", "", "kubeconfig path (first existing of a `:` list)", "kubernetes", K8S_ANY),
    Var("KUBE_CONFIG_DATA", "", "base64 kubeconfig (raw YAML accepted)", "kubernetes", K8S_ANY,
        mount="kubeconfig"),
    Var("KUBERNETES_SERVICE_HOST", "", "set in a pod: the in-cluster config is used",
        "kubernetes", K8S_ANY, shown_default="—"),
    Var("ALERTLOOP_K8S_CONTEXT", "", "kubeconfig context (default: its current-context)",
        "kubernetes", K8S_ANY),
    Var("ALERTLOOP_K8S_TIMEOUT_SECONDS", "5", "timeout of every API call", "kubernetes", K8S_ANY,
        deployed=True),
    Var("ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS", "2", "dispatch's cap on each API call that "
        "resolves a pod to its workload (the lower of this and ALERTLOOP_K8S_TIMEOUT_SECONDS); "
        "past it the incident is keyed on the label, and the run says so", "kubernetes",
        ("dispatch",), deployed=True),
    Var("ALERTLOOP_K8S_DEFAULT_NAMESPACE", "default", "when the alert has no `namespace` label",
        "kubernetes", K8S_ANY),
    Var("ALERTLOOP_RECENT_DEPLOY_MINUTES", "30", 'a newer revision counts as a "recent deploy"',
        "kubernetes", K8S),
    Var("ALERTLOOP_K8S_LOG_TAIL_LINES", "40", "log lines read per container (secrets redacted)",
        "kubernetes", K8S),
    Var("ALERTLOOP_K8S_EVENT_WINDOW_MINUTES", "60", "older Warning events are ignored",
        "kubernetes", K8S),
    Var("ALERTLOOP_K8S_MAX_PODS", "10", "pods summarised per workload", "kubernetes", K8S),
    # ---- clusters: shared/clusters/table.py
    Var("ALERTLOOP_CLUSTERS", "", "the cluster table as inline JSON (what Terraform renders); "
        "not with ALERTLOOP_CLUSTERS_FILE", "clusters", ROUTED, deployed=True),
    Var("ALERTLOOP_CLUSTER_LABELS", "cluster", "alert labels naming the cluster, tried in "
        "order; an alert naming no configured cluster (or none while several exist) gets no "
        "action", "clusters", ROUTED, deployed=True),
    Var("ALERTLOOP_DEFAULT_CLUSTER_NAME", "default", "without a table: the name of the one "
        "implicit cluster (KUBECONFIG / KUBE_CONFIG_DATA)", "clusters", ROUTED, deployed=True),
    Var("ALERTLOOP_CLUSTERS_FILE", "", "the cluster table (YAML/JSON): name → `gke: "
        "projects/P/locations/L/clusters/C` (the function's own Google identity) or "
        "`kubeconfig_context`, optional `prometheus`, `aliases`; `identities` for `alertloop "
        "doctor`", "clusters", ROUTED),
    *(
        Var(f"ALERTLOOP_IDENTITY_{fn.upper()}", "", f"the {fn} service account e-mail `alertloop "
            "doctor` checks (instead of the table's `identities`)", "clusters", ROUTED)
        for fn in K8S_ANY
    ),
    # ---- prometheus: shared/prometheus.py
    Var("PROMETHEUS_URL", "", "base URL; Google Managed Prometheus: `https://monitoring."
        "googleapis.com/v1/projects/P/location/global/prometheus`", "prometheus", PROM,
        deployed=True, shown_default="empty (not configured)"),
    Var("PROMETHEUS_AUTH", "", "`none`, `bearer`, or `google` (Application Default "
        "Credentials)", "prometheus", PROM, deployed=True,
        shown_default="`bearer` if a token is set, else `none`"),
    Var("PROMETHEUS_TIMEOUT_SECONDS", "10", "per request", "prometheus", PROM, deployed=True),
    Var("PROMETHEUS_BEARER_TOKEN", "", "bearer token (a cluster's `prometheus.bearer_token_env` "
        "may name another PROMETHEUS_BEARER_TOKEN_<NAME>)", "prometheus", PROM,
        mount="prometheus-bearer-token"),
    # ---- investigation: shared/investigation/analysis.py
    *_queries(),
    Var("ALERTLOOP_PROM_SERVICE_LABEL", "service", "the request metrics' label naming the "
        "workload", "investigation", ("investigate", "rollback")),
    Var("ALERTLOOP_ERROR_RATIO_THRESHOLD", "0.05", "the error ratio the analysis and the "
        "rollback canary compare against", "investigation", ("investigate", "rollback")),
    Var("ALERTLOOP_ERROR_LOOKBACK_HOURS", "6", "how far back to look for when errors started",
        "investigation", ("investigate",)),
    Var("ALERTLOOP_MEMORY_TREND_HOURS", "6", "the memory trend's window (leak or steady)",
        "investigation", ("investigate",)),
    # ---- budget: shared/budget/settings.py
    Var("BUDGET_SLO_OBJECTIVE", "0.99", "`0.99`, `99` or `99%`", "budget", ("budget",)),
    Var("BUDGET_SLO_PERIOD_DAYS", "30", "rolling window", "budget", ("budget",)),
    Var("BUDGET_ERRORS_SELECTOR", 'http_requests_total{code=~"5.."}', "failed-request counter",
        "budget", ("budget",)),
    Var("BUDGET_TOTAL_SELECTOR", "http_requests_total", "all-request counter", "budget",
        ("budget",)),
    Var("BUDGET_MATCH_LABELS", "service,job,namespace", "alert labels added to both selectors",
        "budget", ("budget",)),
    Var("BUDGET_ENDPOINT_LABELS", "route,handler,path,endpoint", "the first present names the "
        "endpoints", "budget", ("budget",)),
    Var("BUDGET_TOP_ENDPOINTS", "5", "endpoints listed", "budget", ("budget",)),
    Var("BUDGET_DEPLOY_CORRELATION_MINUTES", "120", "a spike this soon after a deploy is "
        "blamed on it", "budget", ("budget",)),
    # ---- remediation: shared/remediation/settings.py (rollback applies the same guardrails)
    Var("ALERTLOOP_REMEDIATE_NAMESPACES", "", "comma-separated namespaces alertloop may change; "
        "**empty = it changes nothing**; `kube-system` never", "remediation", WRITERS,
        deployed=True),
    Var("ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR", "10", "fleet-wide cap on cluster changes "
        "per sliding hour", "remediation", WRITERS),
    Var("ALERTLOOP_REMEDIATE_VERIFY_SECONDS", "60", "bounded wait verifying a change (0 = "
        "don't verify)", "remediation", WRITERS),
    Var("ALERTLOOP_REMEDIATE_VERIFY_INTERVAL_SECONDS", "2", "poll interval while verifying",
        "remediation", WRITERS),
    Var("ALERTLOOP_APPROVAL_TTL_MINUTES", "60", "how long a rollback proposal stays valid",
        "remediation", WRITERS),
    # ---- approval and rollback: shared/approval/settings.py, shared/rollback/settings.py
    Var("ALERTLOOP_APPROVERS", "", "Slack user ids allowed to approve/reject rollbacks (and, "
        "unless ALERTLOOP_SLACK_PERMISSIONS says otherwise, to silence and take over); empty = "
        "nobody", "approval", ("interact", "act"), deployed=True),
    Var("SLACK_SIGNING_SECRET", "", "verifies Slack's requests; unset = every request is 401",
        "approval", ("interact",), mount="slack-signing-secret"),
    Var("ALERTLOOP_ROLLBACK_VERIFY_SECONDS", "300", "canary check wait (0 = not verified)",
        "approval", ("rollback",)),
    Var("ALERTLOOP_ROLLBACK_VERIFY_INTERVAL_SECONDS", "5", "canary poll interval", "approval",
        ("rollback",)),
    Var("ALERTLOOP_ROLLBACK_GRACE_MINUTES", "10", "an approved rollback (or approved restart or "
        "scale) may still run this long after the proposal expired", "approval",
        ("rollback", "remediate")),
    # ---- humans in the loop: shared/interaction/, shared/alertmanager.py, shared/sweeper.py
    Var("ALERTLOOP_SLACK_PERMISSIONS", "", "who may do what from Slack: JSON/YAML mapping action "
        "(approve, silence, take_over, acknowledge, verdict) to Slack user ids and user-group ids; "
        "invalid = every click refused", "interaction", ("interact", "act"), deployed=True,
        shown_default="approvers approve, silence, take over; anyone acknowledges and judges"),
    Var("ALERTLOOP_SLACK_TEAMS", "", "Slack workspace (team T…) and Enterprise Grid (E…) ids "
        "whose clicks are accepted, comma-separated; empty = every click refused (a click from "
        "another workspace is never acted on)", "interaction", ("interact", "act"),
        deployed=True),
    Var("ALERTMANAGER_URL", "", "Alertmanager's base URL (API v2): silences from Slack, and the "
        "sweeper; empty = both unavailable (said so, never guessed)", "interaction",
        ("act", "sweeper"), deployed=True),
    Var("ALERTMANAGER_TIMEOUT_SECONDS", "5", "per Alertmanager API request", "interaction",
        ("act", "sweeper"), deployed=True),
    Var("ALERTMANAGER_BEARER_TOKEN", "", "bearer token for Alertmanager's API (when it sits "
        "behind an authenticating proxy)", "interaction", ("act", "sweeper"),
        mount="alertmanager-bearer-token"),
    Var("ALERTLOOP_VERIFY_AFTER_SECONDS", "", "overrides every verification window of the "
        "policy (docs/outcomes.md): an action's outcome is checked this many seconds after it; "
        "for local runs and tests", "remediation", ("remediate", "rollback", "sweeper"),
        local_only=True, shown_default="the policy's windows"),
    Var("ALERTLOOP_SWEEP_MIN_AGE_MINUTES", "5", "the sweeper asks Alertmanager only about "
        "alerts firing at least this long", "interaction", ("sweeper",), deployed=True),
    # ---- the console: shared/console/settings.py
    Var("ALERTLOOP_CONSOLE_AUTH", "token", "`token`: every request carries "
        "ALERTLOOP_CONSOLE_TOKEN (bearer header or the login link's cookie); `iam`: Cloud Run's "
        "IAM admitted the caller (Terraform sets this)", "console", CONSOLE, deployed=True),
    Var("ALERTLOOP_CONSOLE_TOKEN", "", "the console's token in `token` mode (empty: every "
        "request is refused)", "console", CONSOLE, mount="console-token"),
    Var("ALERTLOOP_METRICS_WINDOW_HOURS", "24", "the rolling window /metrics' gauges cover",
        "console", CONSOLE, deployed=True),
    Var("ALERTLOOP_CONSOLE_HEALTH_DAYS", "30", "the health page's window", "console", CONSOLE),
    Var("ALERTLOOP_CONSOLE_CACHE_SECONDS", "20", "how long /health and /metrics reuse one read "
        "of the ledger", "console", CONSOLE),
    Var("ALERTLOOP_CONSOLE_PAGE_SIZE", "50", "incidents per page", "console", CONSOLE),
    Var("ALERTLOOP_SLACK_WORKSPACE_URL", "https://slack.com", "your workspace "
        "(`https://TEAM.slack.com`) so thread links open in it", "console", CONSOLE,
        deployed=True),
)  # fmt: skip

BY_NAME: dict[str, Var] = {v.name: v for v in VARS}

# Names that once meant something and are refused where they could still be set (Terraform's
# extra_env): old name -> the one that replaced it.
RETIRED: dict[str, str] = {"ALERTLOOP_NAMESPACE_ALLOWLIST": "ALERTLOOP_REMEDIATE_NAMESPACES"}

# A cluster's `prometheus.bearer_token_env` names the secret holding its token: the registered
# PROMETHEUS_BEARER_TOKEN, or one of this family (one secret per Prometheus).
FAMILIES: dict[str, str] = {"PROMETHEUS_BEARER_TOKEN_": "PROMETHEUS_BEARER_TOKEN"}


class UnregisteredEnv(KeyError):
    """Code asked for an environment variable the registry does not list: a bug, not a setting."""

    def __str__(self) -> str:
        return (
            f"{self.args[0]} is not in the environment registry (shared/envvars.py): add a "
            "Var line for it"
        )


class EnvError(ValueError):
    """A setting has a value the code cannot use; the message names the variable."""


def var(name: str) -> Var:
    """The registry entry of `name` (a family member resolves to its family's entry)."""
    found = BY_NAME.get(name)
    if found is not None:
        return found
    for prefix, base in FAMILIES.items():
        if name.startswith(prefix) and len(name) > len(prefix) and name.isupper():
            return BY_NAME[base]
    raise UnregisteredEnv(name)


def read(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value (whitespace stripped), or the registry's default when it is unset or
    blank. `environ` defaults to the process environment."""
    entry = var(name)
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or (not raw.strip() and not entry.blank_is_value):
        return entry.default if entry.name == name else ""
    return raw.strip()


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    var(name)
    return bool((os.environ if environ is None else environ).get(name, "").strip())


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    raw = read(name, environ).lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS or raw == "":
        return False
    raise EnvError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def _converted(
    name: str,
    environ: Mapping[str, str] | None,
    convert: Callable[[str], float],
    what: str,
    minimum: float | None,
) -> tuple[float, str]:
    raw = read(name, environ)
    try:
        value = convert(raw)
    except ValueError as exc:
        raise EnvError(f"{name} must be {what}, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise EnvError(f"{name} must be >= {minimum:g}, got {raw!r}")
    return value, raw


def number(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: float | None = None,
    positive: bool = False,
) -> float:
    value, raw = _converted(name, environ, float, "a number", minimum)
    if not math.isfinite(value):
        raise EnvError(f"{name} must be a finite number, got {raw!r}")
    if positive and value <= 0:
        raise EnvError(f"{name} must be positive, got {raw!r}")
    return value


def integer(
    name: str, environ: Mapping[str, str] | None = None, *, minimum: int | None = None
) -> int:
    return int(_converted(name, environ, int, "an integer", minimum)[0])


# ---- views for the deploy table and the local stack


def deployed_for(function: str) -> tuple[str, ...]:
    """Plain variables Terraform sets on this function beyond the core ones (registry order)."""
    return tuple(
        v.name for v in VARS if v.deployed and v.functions != EVERY and function in v.functions
    )


def core_deployed() -> tuple[str, ...]:
    """Plain variables Terraform sets on every function."""
    return tuple(v.name for v in VARS if v.deployed and v.functions == EVERY)


def secrets_for(function: str) -> tuple[str, ...]:
    return tuple(v.name for v in VARS if v.secret and v.read_by(function))


def not_read_by(function: str) -> tuple[str, ...]:
    """Registered variables this function never reads (the local stack withholds them)."""
    return tuple(v.name for v in VARS if not v.read_by(function))

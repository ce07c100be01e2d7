# Inputs. Secret *values* are never inputs: they are added to Secret Manager out of band
# (`gcloud secrets versions add`, see docs/deployment.md) and never enter Terraform state.

variable "project_id" {
  description = "Google Cloud project id to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region for the functions, the source bucket and the function URLs."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like europe-west1 or us-central1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name; also the topic prefix the code reads (ALERTLOOP_TOPIC_PREFIX)."
  type        = string
  default     = "alertloop-"

  validation {
    # Service account ids are at most 30 chars: prefix + "push-" + "deadletter" must fit.
    condition     = can(regex("^[a-z][a-z0-9-]{0,12}-$", var.name_prefix))
    error_message = "name_prefix must be 2-14 chars of lowercase letters, digits and hyphens, start with a letter and end with '-'."
  }
}

variable "bundle_path" {
  description = "Path to the source bundle built by `make bundle` (main.py, functions/, shared/, requirements.txt at its root)."
  type        = string
  default     = "../build/bundle.zip"

  validation {
    condition     = endswith(var.bundle_path, ".zip")
    error_message = "bundle_path must point at a .zip file (run `make bundle`)."
  }
}

variable "python_runtime" {
  description = "Cloud Functions runtime id."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3(1[1-9])$", var.python_runtime))
    error_message = "python_runtime must be python311 or newer."
  }
}

variable "build_service_account" {
  description = "Optional service account email Cloud Build uses to build the functions (empty: the platform default)."
  type        = string
  default     = ""

  validation {
    condition     = var.build_service_account == "" || can(regex("^[^@]+@[^@]+\\.iam\\.gserviceaccount\\.com$", var.build_service_account))
    error_message = "build_service_account must be empty or a service account email."
  }
}

variable "ingest_access" {
  description = "How Alertmanager reaches ingest: \"public\" (ingress ALLOW_ALL, allUsers invoker; the function enforces the bearer token) or \"internal\" (ingress ALLOW_INTERNAL_ONLY, only internal_invoker_members may invoke)."
  type        = string
  default     = "public"

  validation {
    condition     = contains(["public", "internal"], var.ingest_access)
    error_message = "ingest_access must be \"public\" or \"internal\"."
  }
}

variable "interact_access" {
  description = "How Slack reaches the interact function (the Slack app's one interactivity request URL): \"public\" (ingress ALLOW_ALL, allUsers invoker; the function enforces Slack's signature and ALERTLOOP_SLACK_PERMISSIONS) or \"internal\" (behind your own proxy; only internal_invoker_members may invoke)."
  type        = string
  default     = "public"

  validation {
    condition     = contains(["public", "internal"], var.interact_access)
    error_message = "interact_access must be \"public\" or \"internal\"."
  }
}

variable "internal_invoker_members" {
  description = "Extra IAM members allowed to invoke internal HTTP functions, by function name (e.g. { ingest = [\"serviceAccount:proxy@p.iam.gserviceaccount.com\"] })."
  type        = map(list(string))
  default     = {}

  validation {
    condition = alltrue([
      for members in values(var.internal_invoker_members) : alltrue([
        for m in members : can(regex("^(serviceAccount|user|group):", m))
      ])
    ])
    error_message = "internal_invoker_members may hold only serviceAccount:, user: or group: members (never allUsers or allAuthenticatedUsers)."
  }
}

variable "console_viewers" {
  description = "Who may open the console (roles/run.invoker on it): user:, group: or serviceAccount: members, e.g. [\"group:sre@example.com\"]. People reach it with `gcloud run services proxy` or through IAP; never allUsers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.console_viewers : can(regex("^(serviceAccount|user|group|domain):", m))])
    error_message = "console_viewers may hold only user:, group:, domain: or serviceAccount: members (never allUsers or allAuthenticatedUsers)."
  }
}

variable "console_url" {
  description = "ALERTLOOP_CONSOLE_URL: the address people open the console at (your IAP host, or http://localhost:8080 with `gcloud run services proxy`). When set, Slack's Run log button opens the incident's console page. Empty: the run_url_template link."
  type        = string
  default     = ""

  validation {
    condition     = var.console_url == "" || can(regex("^https?://[^/]+", var.console_url))
    error_message = "console_url must be empty or an http(s) URL."
  }
}

variable "metrics_window_hours" {
  description = "ALERTLOOP_METRICS_WINDOW_HOURS: the rolling window the console's /metrics gauges cover."
  type        = number
  default     = 24

  validation {
    condition     = var.metrics_window_hours > 0 && var.metrics_window_hours <= 24 * 31
    error_message = "metrics_window_hours must be between 0 and 744."
  }
}

variable "slack_workspace_url" {
  description = "ALERTLOOP_SLACK_WORKSPACE_URL: your Slack workspace (https://TEAM.slack.com), for the console's links to incident threads."
  type        = string
  default     = "https://slack.com"

  validation {
    condition     = startswith(var.slack_workspace_url, "https://")
    error_message = "slack_workspace_url must be an https URL."
  }
}

variable "mounted_secrets" {
  description = "Secret env vars whose Secret Manager secret has a version (add it with gcloud before applying). Each function mounts the ones it needs from this set; the others stay unset and the code degrades."
  type        = set(string)
  default     = ["ALERTLOOP_WEBHOOK_TOKEN", "SLACK_BOT_TOKEN"]

  validation {
    condition = alltrue([
      for s in var.mounted_secrets : contains([
        "ALERTLOOP_WEBHOOK_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
        "KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN", "ALERTMANAGER_BEARER_TOKEN",
        "ALERTLOOP_CONSOLE_TOKEN", "ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS",
      ], s)
    ])
    error_message = "mounted_secrets may contain only ALERTLOOP_WEBHOOK_TOKEN, ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, KUBE_CONFIG_DATA, PROMETHEUS_BEARER_TOKEN, ALERTMANAGER_BEARER_TOKEN, ALERTLOOP_CONSOLE_TOKEN."
  }

  validation {
    condition     = contains(var.mounted_secrets, "ALERTLOOP_WEBHOOK_TOKEN")
    error_message = "ALERTLOOP_WEBHOOK_TOKEN must be mounted: ingest refuses unauthenticated alerts in production."
  }
}

variable "dry_run" {
  description = "ALERTLOOP_DRY_RUN: when true no cluster change is made (findings say what would have been done). No default: the operator decides (start with true; the code's own default is false)."
  type        = bool
}

variable "slack_channel" {
  description = "SLACK_CHANNEL: channel (name or id) for incident threads."
  type        = string
  default     = "#alerts"

  validation {
    condition     = length(var.slack_channel) > 0
    error_message = "slack_channel must not be empty."
  }
}

variable "slack_api_url" {
  description = "SLACK_API_URL: Slack Web API base URL."
  type        = string
  default     = "https://slack.com/api/"

  validation {
    condition     = startswith(var.slack_api_url, "https://")
    error_message = "slack_api_url must be an https URL."
  }
}

variable "run_url_template" {
  description = "ALERTLOOP_RUN_URL_TEMPLATE: link for a run ({run_id}, {project} are substituted). Empty: the code's default (Cloud Logging query)."
  type        = string
  default     = ""

  validation {
    condition     = var.run_url_template == "" || (startswith(var.run_url_template, "https://") && strcontains(var.run_url_template, "{run_id}"))
    error_message = "run_url_template must be empty or an https URL containing {run_id}."
  }
}

variable "policy_file" {
  description = "ALERTLOOP_POLICY_FILE: path of a policy override file inside the bundle. Empty: the embedded default policy."
  type        = string
  default     = ""

  validation {
    condition     = var.policy_file == "" || can(regex("\\.ya?ml$", var.policy_file))
    error_message = "policy_file must be empty or a .yaml/.yml path."
  }
}

variable "max_body_bytes" {
  description = "ALERTLOOP_MAX_BODY_BYTES: largest webhook body ingest accepts (the code's default, 32 MiB: what Cloud Run accepts; deploy/alertmanager.yml's max_alerts: 5000 is about 7 MiB)."
  type        = number
  default     = 33554432

  validation {
    condition     = var.max_body_bytes >= 1024 && var.max_body_bytes <= 33554432
    error_message = "max_body_bytes must be between 1 KiB and 32 MiB (the Cloud Functions request limit)."
  }
}

variable "max_event_age_seconds" {
  description = "ALERTLOOP_MAX_EVENT_AGE_SECONDS: stages drop events older than this instead of retrying forever."
  type        = number
  default     = 21600

  validation {
    condition     = var.max_event_age_seconds >= 600
    error_message = "max_event_age_seconds must be at least 600."
  }
}

variable "stage_timeout_seconds" {
  description = "ALERTLOOP_STAGE_TIMEOUT_SECONDS: how long a stage's in-progress claim is honoured."
  type        = number
  default     = 300

  validation {
    condition     = var.stage_timeout_seconds >= 30 && var.stage_timeout_seconds <= 3600
    error_message = "stage_timeout_seconds must be between 30 and 3600."
  }
}

variable "max_delivery_attempts" {
  description = "Pub/Sub deliveries before a message is dead-lettered (each 429 while the workers scale out spends one). 20 attempts back off 10 s -> 600 s: about 2.5 h before a message could dead-letter without reaching the code (docs/deployment.md)."
  type        = number
  default     = 20

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub limits)."
  }
}

variable "retry_minimum_backoff_seconds" {
  description = "Pub/Sub exponential backoff: first retry delay."
  type        = number
  default     = 10

  validation {
    condition     = var.retry_minimum_backoff_seconds >= 0 && var.retry_minimum_backoff_seconds <= 600
    error_message = "retry_minimum_backoff_seconds must be between 0 and 600."
  }
}

variable "retry_maximum_backoff_seconds" {
  description = "Pub/Sub exponential backoff: longest retry delay."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds >= var.retry_minimum_backoff_seconds && var.retry_maximum_backoff_seconds <= 600
    error_message = "retry_maximum_backoff_seconds must be between retry_minimum_backoff_seconds and 600."
  }
}

variable "prometheus_url" {
  description = "PROMETHEUS_URL: Prometheus HTTP API base (or the Google Managed Prometheus endpoint). Empty: budget/investigate report Prometheus as not configured."
  type        = string
  default     = ""

  validation {
    condition     = var.prometheus_url == "" || can(regex("^https?://", var.prometheus_url))
    error_message = "prometheus_url must be empty or an http(s) URL."
  }
}

variable "prometheus_auth" {
  description = "PROMETHEUS_AUTH: none | bearer (mount PROMETHEUS_BEARER_TOKEN via mounted_secrets) | google (Managed Prometheus; grants roles/monitoring.viewer). Empty: the code's default (bearer when PROMETHEUS_BEARER_TOKEN is mounted, else none)."
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "none", "bearer", "google"], var.prometheus_auth)
    error_message = "prometheus_auth must be empty, none, bearer or google."
  }

  validation {
    condition     = var.prometheus_auth != "bearer" || contains(var.mounted_secrets, "PROMETHEUS_BEARER_TOKEN")
    error_message = "prometheus_auth = \"bearer\" needs PROMETHEUS_BEARER_TOKEN in mounted_secrets."
  }
}

variable "prometheus_timeout_seconds" {
  description = "PROMETHEUS_TIMEOUT_SECONDS: per-query timeout."
  type        = number
  default     = 10

  validation {
    condition     = var.prometheus_timeout_seconds > 0 && var.prometheus_timeout_seconds <= 120
    error_message = "prometheus_timeout_seconds must be in (0, 120]."
  }
}

variable "k8s_timeout_seconds" {
  description = "ALERTLOOP_K8S_TIMEOUT_SECONDS: Kubernetes API request timeout."
  type        = number
  default     = 5

  validation {
    condition     = var.k8s_timeout_seconds > 0 && var.k8s_timeout_seconds <= 120
    error_message = "k8s_timeout_seconds must be in (0, 120]."
  }
}

variable "dispatch_k8s_timeout_seconds" {
  description = "ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS: dispatch's cap on each read that resolves a pod to its workload; past it the incident is keyed on the label (said on the run)."
  type        = number
  default     = 2
  validation {
    condition     = var.dispatch_k8s_timeout_seconds > 0 && var.dispatch_k8s_timeout_seconds <= 30
    error_message = "dispatch_k8s_timeout_seconds must be in (0, 30]."
  }
}

variable "clusters" {
  description = "The cluster table (ALERTLOOP_CLUSTERS): name (the alerts' cluster label value) -> { gke = \"projects/P/locations/L/clusters/C\" } reached with each function's own service account (no kubeconfig), or { kubeconfig_context = \"ctx\" } from KUBE_CONFIG_DATA; optionally aliases, endpoint/ca_data, endpoint_type (public|private) and a prometheus { url, auth } of its own. Empty: one implicit cluster from KUBE_CONFIG_DATA."
  type = map(object({
    gke                = optional(string)
    endpoint           = optional(string)
    ca_data            = optional(string)
    endpoint_type      = optional(string)
    kubeconfig_context = optional(string)
    aliases            = optional(list(string))
    prometheus = optional(object({
      url              = string
      auth             = optional(string)
      bearer_token_env = optional(string)
      timeout_seconds  = optional(number)
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.clusters) : can(regex("^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", name))])
    error_message = "clusters keys are the alerts' cluster label values: 1-63 letters, digits, '-', '_' or '.'."
  }

  validation {
    condition     = alltrue([for c in values(var.clusters) : (c.gke == null) != (c.kubeconfig_context == null)])
    error_message = "Each cluster sets exactly one of gke or kubeconfig_context."
  }

  validation {
    condition     = alltrue([for c in values(var.clusters) : c.gke == null || can(regex("^projects/[a-z0-9][-a-z0-9.:]*/locations/[a-z0-9-]+/clusters/[a-z]([-a-z0-9]*[a-z0-9])?$", c.gke))])
    error_message = "gke must look like projects/PROJECT/locations/LOCATION/clusters/NAME."
  }

  validation {
    condition     = alltrue([for c in values(var.clusters) : c.prometheus == null || contains(["none", "bearer", "google"], coalesce(try(c.prometheus.auth, null), "none"))])
    error_message = "A cluster's prometheus.auth must be none, bearer or google."
  }

  validation {
    condition     = alltrue([for c in values(var.clusters) : c.prometheus == null || can(regex("^PROMETHEUS_BEARER_TOKEN(_[A-Z0-9][A-Z0-9_]*)?$", coalesce(try(c.prometheus.bearer_token_env, null), "PROMETHEUS_BEARER_TOKEN")))])
    error_message = "A cluster's prometheus.bearer_token_env must be PROMETHEUS_BEARER_TOKEN or PROMETHEUS_BEARER_TOKEN_<NAME> (shared/envvars.py)."
  }
}

variable "cluster_labels" {
  description = "ALERTLOOP_CLUSTER_LABELS: alert labels naming the cluster, tried in order (e.g. [\"cluster\", \"k8s_cluster\"]). An alert that names no configured cluster is never acted on."
  type        = list(string)
  default     = ["cluster"]

  validation {
    condition     = length(var.cluster_labels) > 0 && alltrue([for l in var.cluster_labels : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", l))])
    error_message = "cluster_labels must be one or more Prometheus label names."
  }
}

variable "default_cluster_name" {
  description = "ALERTLOOP_DEFAULT_CLUSTER_NAME: without a cluster table, the name of the one implicit cluster (alerts labelled with another cluster are not acted on). Empty: \"default\"."
  type        = string
  default     = ""

  validation {
    condition     = var.default_cluster_name == "" || can(regex("^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", var.default_cluster_name))
    error_message = "default_cluster_name must be empty or 1-63 letters, digits, '-', '_' or '.'."
  }
}

variable "remediate_namespaces" {
  description = "ALERTLOOP_REMEDIATE_NAMESPACES for remediate and rollback: the namespaces alertloop may change. Empty: nothing is changed anywhere. Bind deploy/rbac.yaml's Roles in the same namespaces."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for ns in var.remediate_namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns)) && ns != "kube-system"])
    error_message = "remediate_namespaces must be namespace names (DNS-1123 labels), never kube-system."
  }
}

variable "extra_env" {
  description = "Additional plain env vars per function, e.g. remediation guardrails: { remediate = { ALERTLOOP_REMEDIATE_MAX_CHANGES_PER_HOUR = \"5\" } }. Never put secrets here; the namespace allow-list and the cluster table have their own variables (remediate_namespaces, clusters)."
  type        = map(map(string))
  default     = {}

  validation {
    condition = alltrue([
      for fn, env in var.extra_env : alltrue([
        for name in keys(env) : can(regex("^[A-Z][A-Z0-9_]*$", name)) && !contains([
          "ALERTLOOP_WEBHOOK_TOKEN", "ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
          "KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN", "ALERTMANAGER_BEARER_TOKEN",
          "ALERTLOOP_ALLOW_UNAUTHENTICATED", "ALERTLOOP_CONTAINER_API_URL", "PUBSUB_EMULATOR_HOST",
          "FIRESTORE_EMULATOR_HOST", "ALERTLOOP_PROMETHEUS_BIN", "ALERTLOOP_PROMTOOL_BIN",
          "ALERTLOOP_PROPERTY_EXAMPLES", "ALERTLOOP_VERIFY_AFTER_SECONDS",
        ], name) && !can(regex("(TOKEN|SECRET|PASSWORD|KEY)$", name))
      ])
    ])
    error_message = "extra_env names must be UPPER_SNAKE_CASE and must not be a secret (mount secrets via Secret Manager) or a local-only setting (shared/envvars.py: ALERTLOOP_ALLOW_UNAUTHENTICATED, ALERTLOOP_CONTAINER_API_URL, the emulator hosts, the sandbox's Prometheus binaries)."
  }

  validation {
    condition = alltrue([
      for fn, env in var.extra_env : alltrue([
        for name in keys(env) : !contains([
          "ALERTLOOP_REMEDIATE_NAMESPACES", "ALERTLOOP_NAMESPACE_ALLOWLIST", "ALERTLOOP_CLUSTERS",
          "ALERTLOOP_CLUSTERS_FILE", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_SLACK_PERMISSIONS",
          "ALERTLOOP_APPROVERS",
        ], name)
      ])
    ])
    error_message = "Set the namespace allow-list with remediate_namespaces (it must reach remediate and rollback alike), the cluster table with clusters / cluster_labels, and who may click what with slack_permissions / approvers (they must reach interact and act alike), not extra_env."
  }
}

variable "firestore_database" {
  description = "Firestore (native mode) database id; \"(default)\" or a named database."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 chars of lowercase letters, digits and hyphens."
  }
}

variable "create_firestore_database" {
  description = "Create the Firestore database (false when it already exists, e.g. a (default) database used by other apps)."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Firestore location (a region like europe-west1 or a multi-region like eur3/nam5). Cannot be changed later."
  type        = string
  default     = "eur3"

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region (europe-west1) or a multi-region (eur3, nam5)."
  }
}

variable "collection_prefix" {
  description = "ALERTLOOP_COLLECTION_PREFIX: prefix of the Firestore collection names (lets several deployments share a database)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]*$", var.collection_prefix))
    error_message = "collection_prefix may contain only letters, digits, '_' and '-'."
  }
}

variable "source_retention_days" {
  description = "Days to keep old source bundles in the bucket (rollback = re-apply an older bundle)."
  type        = number
  default     = 90

  validation {
    condition     = var.source_retention_days >= 7
    error_message = "source_retention_days must be at least 7."
  }
}

variable "labels" {
  description = "Labels added to every labelled resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels must be lowercase keys/values of letters, digits, '_' and '-' (GCP label rules)."
  }
}

variable "flap_holddown_minutes" {
  description = "ALERTLOOP_FLAP_HOLDDOWN_MINUTES: an alert that fires again within this many minutes of resolving reopens its Slack thread (flapping)."
  type        = number
  default     = 30

  validation {
    condition     = var.flap_holddown_minutes >= 0 && var.flap_holddown_minutes <= 1440
    error_message = "flap_holddown_minutes must be between 0 and 1440."
  }
}

variable "storm_threshold" {
  description = "ALERTLOOP_STORM_THRESHOLD: a webhook group with at least this many alerts gets one Slack digest instead of a message per alert (0 disables)."
  type        = number
  default     = 20

  validation {
    condition     = var.storm_threshold >= 0
    error_message = "storm_threshold must be 0 (disabled) or more."
  }
}

variable "incident_window_minutes" {
  description = "ALERTLOOP_INCIDENT_WINDOW_MINUTES: alerts about the same workload (cluster, namespace, workload) join one incident while it is open or within this many minutes after it resolved. 0 turns correlation off (policy entries can opt out with correlate: false)."
  type        = number
  default     = 30

  validation {
    condition     = var.incident_window_minutes >= 0 && var.incident_window_minutes <= 1440
    error_message = "incident_window_minutes must be between 0 (off) and 1440."
  }
}

variable "slack_permissions" {
  description = "ALERTLOOP_SLACK_PERMISSIONS: who may do what from Slack, by kind (approve, silence, take_over, acknowledge, verdict) -> Slack user ids (U…/W…), user group ids (S…, needs the usergroups:read scope) or \"*\". Kinds left out: approve/silence/take_over -> approvers; acknowledge/verdict -> anyone."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.slack_permissions) : contains(["approve", "silence", "take_over", "acknowledge", "verdict"], k)])
    error_message = "slack_permissions keys must be approve, silence, take_over, acknowledge or verdict."
  }

  validation {
    condition     = alltrue([for ids in values(var.slack_permissions) : alltrue([for id in ids : can(regex("^([UWS][A-Z0-9]{1,31}|[*])$", id))])])
    error_message = "slack_permissions values must be Slack user ids (U…/W…), user group ids (S…) or \"*\"."
  }
}

variable "approvers" {
  description = "ALERTLOOP_APPROVERS: Slack user ids who may approve or reject rollback proposals (and, unless slack_permissions says otherwise, silence and take over). Empty: nobody may."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.approvers : can(regex("^[UW][A-Z0-9]{1,31}$", id))])
    error_message = "approvers must be Slack user ids (U… or W…)."
  }
}

variable "slack_teams" {
  description = "ALERTLOOP_SLACK_TEAMS: the Slack workspace ids (T…) and Enterprise Grid ids (E…) whose clicks interact and act accept. Empty: every click is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.slack_teams : can(regex("^[TE][A-Z0-9]{1,31}$", id))])
    error_message = "slack_teams must be Slack team ids (T…) or enterprise ids (E…)."
  }
}

variable "alertmanager_url" {
  description = "ALERTMANAGER_URL: the Alertmanager that sends alertloop its webhooks (API v2), for Silence from Slack and the sweeper. Empty: silencing is refused with a message and the sweeper does nothing. Mount ALERTMANAGER_BEARER_TOKEN if it needs a token."
  type        = string
  default     = ""

  validation {
    condition     = var.alertmanager_url == "" || can(regex("^https?://", var.alertmanager_url))
    error_message = "alertmanager_url must be empty or an http(s) URL."
  }
}

variable "alertmanager_timeout_seconds" {
  description = "ALERTMANAGER_TIMEOUT_SECONDS: per request to Alertmanager."
  type        = number
  default     = 5

  validation {
    condition     = var.alertmanager_timeout_seconds > 0 && var.alertmanager_timeout_seconds <= 60
    error_message = "alertmanager_timeout_seconds must be in (0, 60]."
  }
}

variable "sweep_schedule" {
  description = "Cloud Scheduler cron for the sweeper (it asks Alertmanager about open incidents whose resolve never came)."
  type        = string
  default     = "*/2 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sweep_schedule))) == 5
    error_message = "sweep_schedule must be a five-field cron expression."
  }
}

variable "sweep_min_age_minutes" {
  description = "ALERTLOOP_SWEEP_MIN_AGE_MINUTES: the sweeper checks incidents open (and an Alertmanager up) at least this long."
  type        = number
  default     = 5

  validation {
    condition     = var.sweep_min_age_minutes >= 1 && var.sweep_min_age_minutes <= 1440
    error_message = "sweep_min_age_minutes must be between 1 and 1440."
  }
}

# ---- day-1 choices: network, identity, exposure, scaling, monitoring (docs/deployment.md) ----

variable "vpc_egress" {
  description = "How the functions that reach your clusters, Prometheus and Alertmanager get into your VPC: \"none\" (public endpoints only), \"connector\" (a Serverless VPC Access connector: vpc_connector, or one created from vpc_connector_network/vpc_connector_cidr). Needed for a private GKE control plane's private endpoint, an in-cluster Alertmanager or a self-hosted Prometheus. (Direct VPC egress is not in hashicorp/google 6.x's google_cloudfunctions2_function schema.)"
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "connector"], var.vpc_egress)
    error_message = "vpc_egress must be \"none\" or \"connector\"."
  }
}

variable "vpc_connector" {
  description = "With vpc_egress = \"connector\": an existing connector (projects/P/locations/R/connectors/N). Empty: Terraform creates one from vpc_connector_network and vpc_connector_cidr."
  type        = string
  default     = ""

  validation {
    condition     = var.vpc_connector == "" || can(regex("^projects/[^/]+/locations/[^/]+/connectors/[a-z][-a-z0-9]{0,23}$", var.vpc_connector))
    error_message = "vpc_connector must be empty or projects/P/locations/R/connectors/N."
  }
}

variable "vpc_connector_network" {
  description = "With vpc_egress = \"connector\" and no vpc_connector: the VPC network name the created connector joins."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.vpc_connector_network))
    error_message = "vpc_connector_network must be a network name."
  }
}

variable "vpc_connector_cidr" {
  description = "With vpc_egress = \"connector\" and no vpc_connector: an unused /28 in that network for the created connector."
  type        = string
  default     = "10.8.0.0/28"

  validation {
    condition     = can(cidrhost(var.vpc_connector_cidr, 0)) && endswith(var.vpc_connector_cidr, "/28")
    error_message = "vpc_connector_cidr must be a /28 range."
  }
}

variable "vpc_egress_settings" {
  description = "Which traffic goes through the connector: PRIVATE_RANGES_ONLY (safe default: Google APIs and Slack stay on the public path) or ALL_TRAFFIC (needs Cloud NAT for Slack and Google APIs)."
  type        = string
  default     = "PRIVATE_RANGES_ONLY"

  validation {
    condition     = contains(["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"], var.vpc_egress_settings)
    error_message = "vpc_egress_settings must be PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  }
}

variable "gke_dns_endpoint" {
  description = "The GKE clusters are reached at their DNS-based control-plane endpoint (gke-….REGION.gke.goog: IAM-checked, reachable without VPC egress). Set each gke cluster's endpoint to https://<its DNS endpoint> (no ca_data: the endpoint's certificate is publicly trusted); this grants container.clusters.connect (a custom role) on the clusters' projects."
  type        = bool
  default     = false

  validation {
    condition     = !var.gke_dns_endpoint || alltrue([for c in values(var.clusters) : c.gke == null || (c.endpoint != null && can(regex("^https://[a-z0-9.-]+\\.gke\\.goog/?$", coalesce(c.endpoint, "-"))) && c.ca_data == null)])
    error_message = "With gke_dns_endpoint, every gke cluster sets endpoint = \"https://<DNS endpoint>.gke.goog\" and no ca_data."
  }
}

variable "create_build_service_account" {
  description = "Create a build service account (roles/cloudbuild.builds.builder, roles/artifactregistry.writer, roles/logging.logWriter, read on the source bucket) and build every function with it. Since Cloud Build's 2024 change new projects build with the Compute default account, which often lacks these roles. Ignored when build_service_account is set."
  type        = bool
  default     = true
}

variable "public_invoker" {
  description = "Grant roles/run.invoker to allUsers on the HTTP entry points you made public (ingest_access/interact_access = \"public\"). Set false where the org policy iam.allowedPolicyMemberDomains (domain-restricted sharing) refuses allUsers: those functions then take ingress internal + Cloud Load Balancing, and only internal_invoker_members may invoke them (docs/deployment.md: behind an external HTTPS load balancer)."
  type        = bool
  default     = true
}

variable "function_scaling" {
  description = "Per function: min_instances (kept warm), concurrency (requests per instance; above 1 needs cpu >= 1) and cpu (vCPUs, e.g. \"1\"). Functions left out: 0 warm, concurrency 1, CPU from memory. The defaults keep interact warm with a whole CPU (Slack's 3 s) and let the stage workers take a 1,000-alert storm without spending their delivery attempts on 429s (docs/deployment.md)."
  type = map(object({
    min_instances = optional(number, 0)
    concurrency   = optional(number, 1)
    cpu           = optional(string)
  }))
  default = {
    ingest      = { concurrency = 20, cpu = "1" }
    interact    = { min_instances = 1, concurrency = 20, cpu = "1" }
    dispatch    = { concurrency = 10, cpu = "1" }
    investigate = { concurrency = 4, cpu = "1" }
    budget      = { concurrency = 8, cpu = "1" }
    deadletter  = { concurrency = 4, cpu = "1" }
    act         = { concurrency = 4, cpu = "1" }
    console     = { concurrency = 20, cpu = "1" }
  }

  validation {
    condition     = alltrue([for s in values(var.function_scaling) : s.min_instances >= 0 && s.concurrency >= 1 && s.concurrency <= 1000])
    error_message = "function_scaling: min_instances >= 0, concurrency between 1 and 1000."
  }

  validation {
    condition     = alltrue([for s in values(var.function_scaling) : s.concurrency == 1 || try(tonumber(s.cpu) >= 1, false)])
    error_message = "function_scaling: a concurrency above 1 needs cpu of at least \"1\" (Cloud Run)."
  }
}

variable "max_stage_attempts" {
  description = "ALERTLOOP_MAX_STAGE_ATTEMPTS: times a stage's own code may fail a run before it dead-letters it (with the error). Kept below max_delivery_attempts so Pub/Sub's attempts are spent only on deliveries that never reached the code (429s while scaling, timeouts)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_stage_attempts >= 1 && var.max_stage_attempts < var.max_delivery_attempts
    error_message = "max_stage_attempts must be at least 1 and below max_delivery_attempts."
  }
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) for the loop's own alert policies (backlog, dead letters, function errors): a receiver that is not alertloop."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be projects/P/notificationChannels/N ids."
  }
}

variable "backlog_alert_seconds" {
  description = "Alert when a worker subscription's oldest unacked message is older than this (seconds)."
  type        = number
  default     = 900

  validation {
    condition     = var.backlog_alert_seconds >= 60
    error_message = "backlog_alert_seconds must be at least 60."
  }
}

variable "function_error_ratio" {
  description = "Alert when a function answers more than this share of its requests with 5xx over 10 minutes."
  type        = number
  default     = 0.1

  validation {
    condition     = var.function_error_ratio > 0 && var.function_error_ratio < 1
    error_message = "function_error_ratio must be between 0 and 1."
  }
}

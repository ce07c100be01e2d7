# The one table. It mirrors shared/registry.py (FUNCTIONS), whose env and secrets come from
# shared/envvars.py; `make registry` writes `functions` and `core_env` below, and
# tests/unit/test_terraform.py fails when they disagree.
#
#   kind       "http" (called directly) | "cloudevent" (fed by a push subscription on `topic`)
#   topic      stage topic it consumes (null for HTTP functions)
#   publishes  topics it may publish to (topic-level roles/pubsub.publisher, nothing else)
#   env        plain env vars beyond local.core_env (values from local.env_values)
#   secrets    env vars mounted from Secret Manager (only those listed in var.mounted_secrets)
#   exposure   "internal" | "authenticated" (ingress all, invokers = IAM members only: the
#              console's viewers) | a variable chosen by the operator (HTTP entry points only)
locals {
  functions = {
    ingest = {
      kind              = "http"
      topic             = null
      publishes         = ["intake"]
      env               = ["ALERTLOOP_WEBHOOK_TOKEN_FILES"]
      secrets           = ["ALERTLOOP_WEBHOOK_TOKEN", "ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS"]
      memory            = "256Mi"
      timeout_seconds   = 60
      max_instances     = 10
      exposure          = var.ingest_access
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
    dispatch = {
      kind              = "cloudevent"
      topic             = "intake"
      publishes         = ["investigate", "remediate", "budget", "notify", "deadletter"]
      env               = ["ALERTLOOP_K8S_TIMEOUT_SECONDS", "ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS", "ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME"]
      secrets           = ["KUBE_CONFIG_DATA"]
      memory            = "256Mi"
      timeout_seconds   = 60
      max_instances     = 20
      exposure          = "internal"
      uses_kubernetes   = true
      uses_prometheus   = false
      delivery_attempts = 100
    }
    investigate = {
      kind              = "cloudevent"
      topic             = "investigate"
      publishes         = ["remediate", "budget", "notify", "deadletter"]
      env               = ["ALERTLOOP_K8S_TIMEOUT_SECONDS", "ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME", "PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_TIMEOUT_SECONDS"]
      secrets           = ["KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN"]
      memory            = "512Mi"
      timeout_seconds   = 300
      max_instances     = 10
      exposure          = "internal"
      uses_kubernetes   = true
      uses_prometheus   = true
      delivery_attempts = 0
    }
    remediate = {
      kind              = "cloudevent"
      topic             = "remediate"
      publishes         = ["budget", "notify", "deadletter"]
      env               = ["ALERTLOOP_K8S_TIMEOUT_SECONDS", "ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME", "ALERTLOOP_REMEDIATE_NAMESPACES"]
      secrets           = ["KUBE_CONFIG_DATA"]
      memory            = "512Mi"
      timeout_seconds   = 300
      max_instances     = 5
      exposure          = "internal"
      uses_kubernetes   = true
      uses_prometheus   = false
      delivery_attempts = 0
    }
    budget = {
      kind              = "cloudevent"
      topic             = "budget"
      publishes         = ["notify", "deadletter"]
      env               = ["ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME", "PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_TIMEOUT_SECONDS"]
      secrets           = ["PROMETHEUS_BEARER_TOKEN"]
      memory            = "256Mi"
      timeout_seconds   = 300
      max_instances     = 10
      exposure          = "internal"
      uses_kubernetes   = false
      uses_prometheus   = true
      delivery_attempts = 0
    }
    notify = {
      kind              = "cloudevent"
      topic             = "notify"
      publishes         = []
      env               = []
      secrets           = ["SLACK_BOT_TOKEN"]
      memory            = "256Mi"
      timeout_seconds   = 60
      max_instances     = 10
      exposure          = "internal"
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
    deadletter = {
      kind              = "cloudevent"
      topic             = "deadletter"
      publishes         = []
      env               = []
      secrets           = ["SLACK_BOT_TOKEN"]
      memory            = "256Mi"
      timeout_seconds   = 60
      max_instances     = 10
      exposure          = "internal"
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
    interact = {
      kind              = "http"
      topic             = null
      publishes         = ["interactions"]
      env               = ["ALERTLOOP_APPROVERS", "ALERTLOOP_SLACK_PERMISSIONS", "ALERTLOOP_SLACK_TEAMS"]
      secrets           = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
      memory            = "256Mi"
      timeout_seconds   = 30
      max_instances     = 20
      exposure          = var.interact_access
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
    act = {
      kind              = "cloudevent"
      topic             = "interactions"
      publishes         = ["rollback", "remediate", "notify"]
      env               = ["ALERTLOOP_APPROVERS", "ALERTLOOP_SLACK_PERMISSIONS", "ALERTLOOP_SLACK_TEAMS", "ALERTMANAGER_URL", "ALERTMANAGER_TIMEOUT_SECONDS"]
      secrets           = ["SLACK_BOT_TOKEN", "ALERTMANAGER_BEARER_TOKEN"]
      memory            = "256Mi"
      timeout_seconds   = 60
      max_instances     = 5
      exposure          = "internal"
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
    sweeper = {
      kind              = "cloudevent"
      topic             = "sweep"
      publishes         = ["notify"]
      env               = ["ALERTLOOP_K8S_TIMEOUT_SECONDS", "ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME", "PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_TIMEOUT_SECONDS", "ALERTMANAGER_URL", "ALERTMANAGER_TIMEOUT_SECONDS", "ALERTLOOP_SWEEP_MIN_AGE_MINUTES"]
      secrets           = ["KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN", "ALERTMANAGER_BEARER_TOKEN"]
      memory            = "256Mi"
      timeout_seconds   = 120
      max_instances     = 1
      exposure          = "internal"
      uses_kubernetes   = true
      uses_prometheus   = true
      delivery_attempts = 0
    }
    rollback = {
      kind              = "cloudevent"
      topic             = "rollback"
      publishes         = ["notify", "deadletter"]
      env               = ["ALERTLOOP_K8S_TIMEOUT_SECONDS", "ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTER_LABELS", "ALERTLOOP_DEFAULT_CLUSTER_NAME", "PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_TIMEOUT_SECONDS", "ALERTLOOP_REMEDIATE_NAMESPACES"]
      secrets           = ["KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN"]
      memory            = "512Mi"
      timeout_seconds   = 420
      max_instances     = 2
      exposure          = "internal"
      uses_kubernetes   = true
      uses_prometheus   = true
      delivery_attempts = 0
    }
    console = {
      kind              = "http"
      topic             = null
      publishes         = []
      env               = ["ALERTLOOP_CONSOLE_AUTH", "ALERTLOOP_METRICS_WINDOW_HOURS", "ALERTLOOP_SLACK_WORKSPACE_URL"]
      secrets           = ["ALERTLOOP_CONSOLE_TOKEN"]
      memory            = "512Mi"
      timeout_seconds   = 60
      max_instances     = 3
      exposure          = "authenticated"
      uses_kubernetes   = false
      uses_prometheus   = false
      delivery_attempts = 0
    }
  }

  # Stage topics (shared/registry.py STAGE_TOPICS), plus the parking topic for messages the
  # deadletter function itself cannot take.
  stage_topics      = ["intake", "investigate", "remediate", "budget", "notify", "deadletter", "rollback", "interactions", "sweep"]
  dead_letter_topic = "deadletter"
  parked_topic      = "parked"
  ordered_topics    = ["notify"]

  # Secret env var -> Secret Manager secret id suffix (shared/registry.py SECRETS).
  secrets = {
    ALERTLOOP_WEBHOOK_TOKEN   = "webhook-token"
    SLACK_BOT_TOKEN           = "slack-bot-token"
    SLACK_SIGNING_SECRET      = "slack-signing-secret"
    KUBE_CONFIG_DATA          = "kubeconfig"
    PROMETHEUS_BEARER_TOKEN   = "prometheus-bearer-token"
    ALERTMANAGER_BEARER_TOKEN = "alertmanager-bearer-token"
    ALERTLOOP_CONSOLE_TOKEN   = "console-token"

    ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS = "webhook-token-previous"
  }
  # Secrets mounted as files (Secret Manager volumes), not env: Cloud Run reads a volume's latest
  # version on every read, so ingest takes a rotated webhook token without a redeploy
  # (shared/webhook_tokens.py re-reads them; ALERTLOOP_WEBHOOK_TOKEN_FILES names the files).
  volume_secrets    = ["ALERTLOOP_WEBHOOK_TOKEN", "ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS"]
  secret_mount_root = "/etc/alertloop"
  webhook_token_files = join(",", [
    for s in local.volume_secrets : "${local.secret_mount_root}/${local.secrets[s]}/token" if contains(var.mounted_secrets, s)
  ])

  # Firestore: collections with an `expires_at` TTL (not approvals: the console keeps who
  # approved), and the composite indexes the ledger's queries need (shared/registry.py).
  ttl_field       = "expires_at"
  ttl_collections = ["idempotency", "leases", "locks", "interactions"]
  firestore_indexes = {
    incidents_by_status     = { collection = "incidents", fields = [["status", "ASCENDING"], ["opened_at", "DESCENDING"]] }
    incidents_by_alert_type = { collection = "incidents", fields = [["alert_type", "ASCENDING"], ["opened_at", "DESCENDING"]] }
    incidents_by_cluster    = { collection = "incidents", fields = [["cluster", "ASCENDING"], ["opened_at", "DESCENDING"]] }
    incidents_by_namespace  = { collection = "incidents", fields = [["namespace", "ASCENDING"], ["opened_at", "DESCENDING"]] }
  }

  # Core settings every function gets (shared/registry.py CORE_ENV, from shared/envvars.py).
  core_env = [
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
    "ALERTLOOP_FIRESTORE_DATABASE",
    "ALERTLOOP_INCIDENT_WINDOW_MINUTES",
  ]

  # Values of every plain env var; empty values are not set (the code's default applies).
  env_values = {
    GOOGLE_CLOUD_PROJECT                   = var.project_id
    ALERTLOOP_TOPIC_PREFIX                 = var.name_prefix
    ALERTLOOP_MAX_BODY_BYTES               = tostring(var.max_body_bytes)
    ALERTLOOP_POLICY_FILE                  = var.policy_file
    ALERTLOOP_DRY_RUN                      = tostring(var.dry_run)
    ALERTLOOP_MAX_EVENT_AGE_SECONDS        = tostring(var.max_event_age_seconds)
    ALERTLOOP_STAGE_TIMEOUT_SECONDS        = tostring(var.stage_timeout_seconds)
    ALERTLOOP_MAX_STAGE_ATTEMPTS           = tostring(var.max_stage_attempts)
    SLACK_CHANNEL                          = var.slack_channel
    SLACK_API_URL                          = var.slack_api_url
    ALERTLOOP_RUN_URL_TEMPLATE             = var.run_url_template
    ALERTLOOP_CONSOLE_URL                  = var.console_url
    ALERTLOOP_COLLECTION_PREFIX            = var.collection_prefix
    ALERTLOOP_FLAP_HOLDDOWN_MINUTES        = tostring(var.flap_holddown_minutes)
    ALERTLOOP_STORM_THRESHOLD              = tostring(var.storm_threshold)
    ALERTLOOP_FIRESTORE_DATABASE           = var.firestore_database == "(default)" ? "" : var.firestore_database
    ALERTLOOP_K8S_TIMEOUT_SECONDS          = tostring(var.k8s_timeout_seconds)
    ALERTLOOP_DISPATCH_K8S_TIMEOUT_SECONDS = tostring(var.dispatch_k8s_timeout_seconds)
    PROMETHEUS_URL                         = var.prometheus_url
    PROMETHEUS_AUTH                        = var.prometheus_auth
    PROMETHEUS_TIMEOUT_SECONDS             = tostring(var.prometheus_timeout_seconds)
    ALERTLOOP_CLUSTERS                     = local.cluster_table
    ALERTLOOP_CLUSTER_LABELS               = join(",", var.cluster_labels)
    ALERTLOOP_DEFAULT_CLUSTER_NAME         = var.default_cluster_name
    ALERTLOOP_REMEDIATE_NAMESPACES         = join(",", var.remediate_namespaces)
    ALERTLOOP_INCIDENT_WINDOW_MINUTES      = tostring(var.incident_window_minutes)
    ALERTLOOP_SLACK_PERMISSIONS            = length(var.slack_permissions) == 0 ? "" : jsonencode(var.slack_permissions)
    ALERTLOOP_APPROVERS                    = join(",", var.approvers)
    ALERTLOOP_SLACK_TEAMS                  = join(",", var.slack_teams)
    ALERTMANAGER_URL                       = var.alertmanager_url
    ALERTMANAGER_TIMEOUT_SECONDS           = tostring(var.alertmanager_timeout_seconds)
    ALERTLOOP_SWEEP_MIN_AGE_MINUTES        = tostring(var.sweep_min_age_minutes)
    # The console trusts Cloud Run's IAM (only var.console_viewers may invoke it).
    ALERTLOOP_CONSOLE_AUTH         = "iam"
    ALERTLOOP_METRICS_WINDOW_HOURS = tostring(var.metrics_window_hours)
    ALERTLOOP_SLACK_WORKSPACE_URL  = var.slack_workspace_url
    ALERTLOOP_WEBHOOK_TOKEN_FILES  = local.webhook_token_files
  }

  # The cluster table (shared/clusters/table.py) as inline JSON, with the functions' identities for
  # `alertloop doctor`. Empty without clusters: the functions use KUBE_CONFIG_DATA as before.
  identities = {
    for fn in ["investigate", "remediate", "rollback", "dispatch", "sweeper"] :
    fn => "${var.name_prefix}${fn}@${var.project_id}.iam.gserviceaccount.com"
  }
  cluster_table = length(var.clusters) == 0 ? "" : jsonencode({
    clusters   = var.clusters
    identities = local.identities
  })
  # Projects holding the GKE clusters (the functions need container.clusters.get there) and the
  # Managed Prometheus scoping projects read with Google credentials (monitoring.viewer there).
  gke_projects = distinct([for c in values(var.clusters) : split("/", c.gke)[1] if c.gke != null])
  gmp_projects = distinct(concat(
    var.prometheus_auth == "google" ? [var.project_id] : [],
    [
      for c in values(var.clusters) : try(regex("/projects/([^/]+)/", c.prometheus.url)[0], var.project_id)
      if c.prometheus != null && try(c.prometheus.auth, "none") == "google"
    ],
  ))

  # ---- derived views (no new facts below this line) ----

  workers = { for name, f in local.functions : name => f if f.kind == "cloudevent" }

  function_env = {
    for name, f in local.functions : name => merge(
      { for k in concat(local.core_env, f.env) : k => local.env_values[k] if local.env_values[k] != "" },
      lookup(var.extra_env, name, {}),
    )
  }

  function_mounted_secrets = {
    for name, f in local.functions : name => [for s in f.secrets : s if contains(var.mounted_secrets, s)]
  }
  # Secret env vars, and secret files (local.volume_secrets), per function.
  function_secrets = {
    for name, mounted in local.function_mounted_secrets : name => [for s in mounted : s if !contains(local.volume_secrets, s)]
  }
  function_secret_volumes = {
    for name, mounted in local.function_mounted_secrets : name => [for s in mounted : s if contains(local.volume_secrets, s)]
  }

  # (function, topic) pairs for topic-level publisher grants.
  publish_grants = {
    for pair in flatten([
      for name, f in local.functions : [for t in f.publishes : { function = name, topic = t }]
    ]) : "${pair.function}/${pair.topic}" => pair
  }

  # (function, secret) pairs for secret-level accessor grants (mounted secrets only).
  secret_grants = {
    for pair in flatten([
      for name, s in local.function_mounted_secrets : [for env in s : { function = name, env = env }]
    ]) : "${pair.function}/${pair.env}" => pair
  }

  # Who may invoke the HTTP entry points: allUsers only when the operator chose "public"; the
  # console ("authenticated") only its viewers.
  http_invokers = {
    for pair in flatten([
      for name, f in local.functions : [
        for m in(f.exposure == "public" && var.public_invoker ? ["allUsers"] : concat(lookup(var.internal_invoker_members, name, []), name == "console" ? var.console_viewers : [])) :
        { function = name, member = m }
      ] if f.kind == "http"
    ]) : "${pair.function}/${pair.member}" => pair
  }

  # Project-level roles, each only for the functions that need it, on the projects that need it:
  # roles/monitoring.viewer for Managed Prometheus read with Google credentials,
  # roles/container.clusterViewer (container.clusters.get: endpoint, CA, and authenticating to
  # the cluster as itself) where the table's GKE clusters live. In-cluster rights come from RBAC.
  project_role_grants = {
    for pair in flatten([
      for name, f in local.functions : concat(
        f.uses_prometheus ? [for p in local.gmp_projects : { function = name, role = "roles/monitoring.viewer", project = p }] : [],
        f.uses_kubernetes ? [for p in local.gke_projects : { function = name, role = "roles/container.clusterViewer", project = p }] : [],
      )
    ]) : "${pair.function}/${pair.role}/${pair.project}" => pair
  }

  # Scaling per function (var.function_scaling; functions left out: Cloud Run's defaults).
  scaling = {
    for name in keys(local.functions) : name => {
      min_instances = try(var.function_scaling[name].min_instances, 0)
      concurrency   = try(var.function_scaling[name].concurrency, 1)
      cpu           = try(var.function_scaling[name].cpu, null)
    }
  }

  # VPC egress: only the functions that reach a cluster, a Prometheus or an Alertmanager.
  vpc_functions = var.vpc_egress == "none" ? [] : [
    for name, f in local.functions : name if f.uses_kubernetes || f.uses_prometheus || contains(["act", "sweeper"], name)
  ]
  vpc_connector_id = var.vpc_egress != "connector" ? null : (var.vpc_connector != "" ? var.vpc_connector : google_vpc_access_connector.egress[0].id)

  # The build identity: the operator's, else one created here (build.tf), else the platform's.
  create_build_sa       = var.build_service_account == "" && var.create_build_service_account
  build_service_account = local.create_build_sa ? google_service_account.build[0].email : var.build_service_account

  # Firestore access per function, from what each one's code imports (checked by
  # tests/unit/test_terraform.py): ingest and interact never touch it, the console only reads.
  firestore_access = {
    dispatch    = "roles/datastore.user"
    investigate = "roles/datastore.user"
    remediate   = "roles/datastore.user"
    budget      = "roles/datastore.user"
    notify      = "roles/datastore.user"
    deadletter  = "roles/datastore.user"
    act         = "roles/datastore.user"
    sweeper     = "roles/datastore.user"
    rollback    = "roles/datastore.user"
    console     = "roles/datastore.viewer"
  }

  firestore_database_name = var.create_firestore_database ? google_firestore_database.alertloop[0].name : var.firestore_database
  pubsub_service_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  bundle_object           = "bundles/bundle-${filesha256(var.bundle_path)}.zip"
  common_labels           = merge({ app = "alertloop", managed-by = "terraform" }, var.labels)
}

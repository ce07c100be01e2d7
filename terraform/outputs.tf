# Outputs hold names and URLs only; never secret values.

output "ingest_url" {
  description = "Point Alertmanager's webhook receiver here (with the bearer token from Secret Manager)."
  value       = google_cloudfunctions2_function.fn["ingest"].service_config[0].uri
}

output "interact_url" {
  description = "The Slack app's interactivity Request URL (deploy/slack-app-manifest.yaml)."
  value       = google_cloudfunctions2_function.fn["interact"].service_config[0].uri
}

output "function_urls" {
  description = "URL of every function (workers accept only their push subscription's OIDC token)."
  value       = { for name, f in google_cloudfunctions2_function.fn : name => f.service_config[0].uri }
}

output "topics" {
  description = "Topic id per stage (ALERTLOOP_TOPIC_PREFIX + stage)."
  value       = { for stage, t in google_pubsub_topic.stage : stage => t.name }
}

output "subscriptions" {
  description = "Push subscription per worker function, and the parked-messages subscription."
  value = merge(
    { for name, s in google_pubsub_subscription.push : name => s.name },
    { parked = google_pubsub_subscription.parked.name },
  )
}

output "service_accounts" {
  description = "Runtime service account email per function (investigate, remediate and rollback are bound by deploy/rbac.yaml: `alertloop doctor --print-rbac`)."
  value       = { for name, sa in google_service_account.fn : name => sa.email }
}

output "secret_ids" {
  description = "Secret Manager secret ids per env var; add values with `gcloud secrets versions add <id> --data-file=-`."
  value       = { for env, s in google_secret_manager_secret.secret : env => s.secret_id }
}

output "firestore_database" {
  description = "Firestore database holding the run ledger."
  value       = local.firestore_database_name
}

output "source_object" {
  description = "Content-hashed bundle object the functions were built from."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.bundle.name}"
}

output "cluster_table" {
  description = "The cluster table the functions get (ALERTLOOP_CLUSTERS), with their identities: save it and run `ALERTLOOP_CLUSTERS_FILE=clusters.json alertloop doctor`."
  value       = local.cluster_table
}

output "console_service" {
  description = "The console's Cloud Run service: open it with `gcloud run services proxy <this> --region <region> --port 8080` (you must be in console_viewers), or put IAP in front of it."
  value       = google_cloudfunctions2_function.fn["console"].service_config[0].service
}

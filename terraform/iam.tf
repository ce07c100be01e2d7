# Identities. One runtime service account per function, one push-invoker service account per
# worker subscription; every grant is on the narrowest resource that works.

resource "google_service_account" "fn" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}${each.key}"
  display_name = "alertloop ${each.key} runtime"
  description  = "Runtime identity of the ${each.key} function."
}

resource "google_service_account" "push" {
  for_each = local.workers

  project      = var.project_id
  account_id   = "${var.name_prefix}push-${each.key}"
  display_name = "alertloop push to ${each.key}"
  description  = "Identity Pub/Sub uses to invoke ${each.key} (OIDC token on push)."
}

# Publish only to the topics each function forwards to (topic-level, never project-wide).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publish_grants

  project = var.project_id
  topic   = google_pubsub_topic.stage[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

# The run ledger, scoped to alertloop's database by an IAM condition; per function, from
# local.firestore_access (none for ingest and interact, read-only for the console).
resource "google_project_iam_member" "firestore" {
  for_each = local.firestore_access

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.fn[each.key].email}"

  condition {
    title      = "alertloop-firestore-database"
    expression = "resource.name == \"projects/${var.project_id}/databases/${local.firestore_database_name}\""
  }
}

# Optional project roles (Managed Prometheus reads, GKE cluster access), per function, on the
# project of each GKE cluster / Managed Prometheus scope that needs it.
resource "google_project_iam_member" "optional" {
  for_each = local.project_role_grants

  project = each.value.project
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

# Pub/Sub push may invoke exactly its own function.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.workers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push[each.key].email}"
}

# The Pub/Sub service agent mints the OIDC tokens of the push identities (and only those).
resource "google_service_account_iam_member" "pubsub_token_creator" {
  for_each = local.workers

  service_account_id = google_service_account.push[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# HTTP entry points: allUsers only for a function the operator made public (ingest_access);
# the function itself still requires the bearer token.
resource "google_cloud_run_v2_service_iam_member" "http_invoker" {
  for_each = local.http_invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value.member
}

# Topics per stage, one push subscription per worker function (OIDC-authenticated), retries with
# exponential backoff, and dead-lettering to the deadletter topic.

resource "google_pubsub_topic" "stage" {
  #checkov:skip=CKV_GCP_83:messages carry alert labels and run ids, no secrets; Google-managed encryption at rest (a CMEK key is the org's choice, docs/deployment.md)
  for_each = toset(concat(local.stage_topics, [local.parked_topic]))

  project                    = var.project_id
  name                       = "${var.name_prefix}${each.key}"
  labels                     = local.common_labels
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "push" {
  for_each = local.workers

  project = var.project_id
  name    = "${var.name_prefix}${each.key}-push"
  topic   = google_pubsub_topic.stage[each.value.topic].id
  labels  = local.common_labels

  # The push request must finish within the ack deadline; the function timeout fits inside it.
  ack_deadline_seconds       = min(600, each.value.timeout_seconds + 30)
  message_retention_duration = "604800s"
  enable_message_ordering    = contains(local.ordered_topics, each.value.topic)

  expiration_policy {
    ttl = "" # never expire for inactivity
  }

  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  # The deadletter function's own subscription parks what it cannot take (no loop to itself).
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.stage[each.value.topic == local.dead_letter_topic ? local.parked_topic : local.dead_letter_topic].id
    max_delivery_attempts = each.value.delivery_attempts > 0 ? each.value.delivery_attempts : var.max_delivery_attempts
  }

  push_config {
    # functions-framework makes a CloudEvent of a push body only when the path names the topic.
    push_endpoint = "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.stage[each.value.topic].name}"

    oidc_token {
      service_account_email = google_service_account.push[each.key].email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_service_account_iam_member.pubsub_token_creator,
  ]
}

# Messages even the deadletter function could not take are kept here for a week:
#   gcloud pubsub subscriptions pull <prefix>parked-hold --limit=10
resource "google_pubsub_subscription" "parked" {
  project                    = var.project_id
  name                       = "${var.name_prefix}${local.parked_topic}-hold"
  topic                      = google_pubsub_topic.stage[local.parked_topic].id
  labels                     = local.common_labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# A second subscription on the dead-letter topic, pulled only by `alertloop replay --dead-letters`
# (which drains it back to the original stages); the push subscription to the deadletter
# function keeps its own copy, so neither steals from the other.
resource "google_pubsub_subscription" "deadletter_replay" {
  project                    = var.project_id
  name                       = "${var.name_prefix}deadletter-replay"
  topic                      = google_pubsub_topic.stage[local.dead_letter_topic].id
  labels                     = local.common_labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# ---- the Pub/Sub service agent: what dead-lettering and OIDC push need ----

# Publish dead letters (and parked messages).
resource "google_pubsub_topic_iam_member" "service_agent_dead_letter" {
  for_each = toset([local.dead_letter_topic, local.parked_topic])

  project = var.project_id
  topic   = google_pubsub_topic.stage[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

# Acknowledge the forwarded message on the source subscription.
resource "google_pubsub_subscription_iam_member" "service_agent_subscriber" {
  for_each = local.workers

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

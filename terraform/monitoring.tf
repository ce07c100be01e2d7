# The loop watched from outside itself: Cloud Monitoring alert policies that notify
# var.notification_channels (not alertloop) when a worker falls behind, messages are
# dead-lettered, or a function answers with errors.

resource "google_monitoring_alert_policy" "backlog" {
  project      = var.project_id
  display_name = "${var.name_prefix}backlog: a worker subscription is falling behind"
  combiner     = "OR"

  conditions {
    display_name = "oldest unacked message older than ${var.backlog_alert_seconds} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.label.subscription_id = starts_with(\"${var.name_prefix}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_alert_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "A worker's push subscription holds messages older than ${var.backlog_alert_seconds} s. See docs/loop-runbook.md (backlog)."
    mime_type = "text/markdown"
  }

  notification_channels = var.notification_channels
  user_labels           = local.common_labels
  depends_on            = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "${var.name_prefix}dead letters: runs were given up"
  combiner     = "OR"

  conditions {
    display_name = "messages published to ${var.name_prefix}${local.dead_letter_topic}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_topic\" AND metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.label.topic_id = \"${var.name_prefix}${local.dead_letter_topic}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "Messages reached the dead-letter topic. Replay with `alertloop replay --dead-letters` once the cause is fixed (docs/loop-runbook.md)."
    mime_type = "text/markdown"
  }

  notification_channels = var.notification_channels
  user_labels           = local.common_labels
  depends_on            = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "function_errors" {
  project      = var.project_id
  display_name = "${var.name_prefix}function errors: 5xx above ${var.function_error_ratio * 100}%"
  combiner     = "OR"

  conditions {
    display_name = "share of 5xx responses per function over 10 minutes"
    condition_prometheus_query_language {
      query               = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",response_code_class=\"5xx\",service_name=~\"${var.name_prefix}.*\"}[10m])) / sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",service_name=~\"${var.name_prefix}.*\"}[10m])) > ${var.function_error_ratio}"
      duration            = "600s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    content   = "An alertloop function answers with 5xx (crashes, timeouts, Firestore or Pub/Sub unavailable). Its logs: resource.labels.service_name in Logs Explorer."
    mime_type = "text/markdown"
  }

  notification_channels = var.notification_channels
  user_labels           = local.common_labels
  depends_on            = [google_project_service.apis]
}

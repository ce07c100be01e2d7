# The sweeper's clock: Cloud Scheduler publishes a tick to the sweep topic; the sweeper's push
# subscription delivers it (pubsub.tf). Cloud Scheduler publishes as its own service agent
# (roles/cloudscheduler.serviceAgent carries pubsub.topics.publish): no grant is added here.
resource "google_cloud_scheduler_job" "sweep" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}sweep"
  description = "alertloop sweeper: asks Alertmanager about open incidents whose resolve never came."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.stage["sweep"].id
    data       = base64encode(jsonencode({ kind = "sweep" }))
  }

  depends_on = [google_project_service.apis]
}

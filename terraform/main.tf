data "google_project" "this" {
  project_id = var.project_id
}

# APIs the deployment needs. Left enabled on destroy: other workloads may use them.
resource "google_project_service" "apis" {
  # container.googleapis.com: the functions look up their GKE clusters' endpoints (cluster table).
  # vpcaccess.googleapis.com: only when a connector is created here.
  for_each = toset(concat(length(local.gke_projects) > 0 ? ["container.googleapis.com"] : [], var.vpc_egress == "connector" && var.vpc_connector == "" ? ["vpcaccess.googleapis.com"] : [], [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]))

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# ---- source: one bundle, content-addressed, shared by every function ----

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:holds only the code bundle; reads and writes are in Cloud Audit Logs (Data Access for GCS), no separate access-log bucket needed
  #checkov:skip=CKV_GCP_78:objects are content-addressed and never overwritten (bundle-<sha256>.zip), so versioning would keep nothing new
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.common_labels

  lifecycle_rule {
    condition {
      age = var.source_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# The object name carries the bundle's SHA-256: new code -> new object -> every function rebuilds.
resource "google_storage_bucket_object" "bundle" {
  name   = local.bundle_object
  bucket = google_storage_bucket.source.name
  source = var.bundle_path
}

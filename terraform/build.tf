# The identity Cloud Build uses to build the functions. Since Cloud Build's 2024 change, new
# projects build with the Compute Engine default account, which often lacks the builder role;
# an explicit account with exactly what a functions build needs avoids that.

resource "google_service_account" "build" {
  count = local.create_build_sa ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}build"
  display_name = "alertloop build"
  description  = "Builds alertloop's functions (Cloud Build)."
}

# Build steps, logs and the function images (Artifact Registry gcf-artifacts).
resource "google_project_iam_member" "build" {
  for_each = local.create_build_sa ? toset([
    "roles/cloudbuild.builds.builder",
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
  ]) : toset([])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build[0].email}"
}

# Read the bundle it builds from.
resource "google_storage_bucket_iam_member" "build_source" {
  count = local.create_build_sa ? 1 : 0

  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build[0].email}"
}

# The run ledger: Firestore in native mode, TTL policies on `expires_at`, composite indexes.

resource "google_firestore_database" "alertloop" {
  count = var.create_firestore_database ? 1 : 0

  project                 = var.project_id
  name                    = var.firestore_database
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "PESSIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Documents whose `expires_at` has passed are deleted by Firestore (typically within a day).
# The TTL field is exempt from single-field indexing (empty index_config): it is write-heavy.
resource "google_firestore_field" "ttl" {
  for_each = toset(local.ttl_collections)

  project    = var.project_id
  database   = local.firestore_database_name
  collection = "${var.collection_prefix}${each.key}"
  field      = local.ttl_field

  ttl_config {}
  index_config {}
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = local.firestore_database_name
  collection  = "${var.collection_prefix}${each.value.collection}"
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

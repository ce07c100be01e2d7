# Every function comes from the same bundle and the same table (local.functions).
#
# Workers are deployed without an Eventarc trigger: their push subscription (pubsub.tf) is the
# trigger. The push URL ends in /projects/P/topics/T, so functions-framework turns the Pub/Sub
# push body into a CloudEvent; GOOGLE_FUNCTION_SIGNATURE_TYPE tells the buildpack the signature.
resource "google_cloudfunctions2_function" "fn" {
  # Keys, not the table itself: checkov renders a for_each over a map of objects as nothing, and
  # would then pass without checking a single function (tests/unit/test_tf_schema_check.py).
  for_each = toset(keys(local.functions))
  #checkov:skip=CKV_GCP_124:workers get ALLOW_INTERNAL_ONLY; ingest, interact (Alertmanager, Slack) and the console (people) must take outside traffic and authenticate every request (bearer token, Slack signature, IAM invoker); tests/unit/test_terraform.py checks the expression

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}${each.key}"
  description = "alertloop ${each.key} (${local.functions[each.key].kind})"
  labels      = local.common_labels

  build_config {
    runtime               = var.python_runtime
    entry_point           = each.key
    environment_variables = local.functions[each.key].kind == "cloudevent" ? { GOOGLE_FUNCTION_SIGNATURE_TYPE = "cloudevent" } : {}
    service_account       = local.build_service_account == "" ? null : "projects/${var.project_id}/serviceAccounts/${local.build_service_account}"

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.bundle.name
      }
    }
  }

  service_config {
    available_memory                 = local.functions[each.key].memory
    timeout_seconds                  = local.functions[each.key].timeout_seconds
    max_instance_count               = local.functions[each.key].max_instances
    min_instance_count               = local.scaling[each.key].min_instances
    max_instance_request_concurrency = local.scaling[each.key].concurrency
    available_cpu                    = local.scaling[each.key].cpu
    vpc_connector                    = contains(local.vpc_functions, each.key) ? local.vpc_connector_id : null
    vpc_connector_egress_settings    = contains(local.vpc_functions, each.key) ? var.vpc_egress_settings : null
    # A public entry point without the allUsers invoker is reached through an external HTTPS
    # load balancer (var.public_invoker = false): internal + Cloud Load Balancing.
    ingress_settings = (local.functions[each.key].exposure == "internal" ? "ALLOW_INTERNAL_ONLY" :
    local.functions[each.key].exposure == "public" && !var.public_invoker ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL")
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.fn[each.key].email
    environment_variables          = local.function_env[each.key]

    dynamic "secret_environment_variables" {
      for_each = toset(local.function_secrets[each.key])
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }

    # Files, not env: the latest version is read on every read (rotation without a redeploy).
    dynamic "secret_volumes" {
      for_each = toset(local.function_secret_volumes[each.key])
      content {
        mount_path = "${local.secret_mount_root}/${local.secrets[secret_volumes.value]}"
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_volumes.value].secret_id
        versions {
          version = "latest"
          path    = "token"
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for name in keys(var.extra_env) : contains(keys(local.functions), name)])
      error_message = "extra_env keys must be function names: ${join(", ", keys(local.functions))}."
    }
    precondition {
      condition     = local.functions[each.key].exposure == "internal" || local.functions[each.key].kind == "http"
      error_message = "Only HTTP functions may be exposed publicly."
    }
    precondition {
      condition     = alltrue([for name in keys(var.function_scaling) : contains(keys(local.functions), name)])
      error_message = "function_scaling keys must be function names: ${join(", ", keys(local.functions))}."
    }
    precondition {
      condition     = local.functions[each.key].kind == "http" || local.functions[each.key].timeout_seconds <= 540
      error_message = "Worker timeouts must stay within the 600 s push ack deadline."
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.build,
    google_storage_bucket_iam_member.build_source,
  ]
}

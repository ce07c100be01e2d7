# VPC egress for the functions that reach your clusters, Prometheus and Alertmanager
# (var.vpc_egress). Nothing here unless the operator asks for it.

resource "google_vpc_access_connector" "egress" {
  count = var.vpc_egress == "connector" && var.vpc_connector == "" ? 1 : 0

  project       = var.project_id
  region        = var.region
  name          = "${var.name_prefix}egress"
  network       = var.vpc_connector_network
  ip_cidr_range = var.vpc_connector_cidr
  min_instances = 2
  max_instances = 3

  depends_on = [google_project_service.apis]
}

# The DNS-based GKE endpoint is authorized by IAM (container.clusters.connect) before RBAC;
# container.clusters.get is what the functions already need to read the cluster.
resource "google_project_iam_custom_role" "gke_connect" {
  for_each = var.gke_dns_endpoint ? toset(local.gke_projects) : toset([])

  project     = each.value
  role_id     = "${replace(trimsuffix(var.name_prefix, "-"), "-", "_")}_gke_connect"
  title       = "alertloop: connect to GKE clusters' DNS endpoint"
  description = "container.clusters.get and container.clusters.connect, for alertloop's functions (RBAC still decides what they may do)."
  permissions = ["container.clusters.get", "container.clusters.connect"]
}

resource "google_project_iam_member" "gke_connect" {
  for_each = var.gke_dns_endpoint ? {
    for pair in setproduct([for n, f in local.functions : n if f.uses_kubernetes], local.gke_projects) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], project = pair[1] }
  } : {}

  project = each.value.project
  role    = google_project_iam_custom_role.gke_connect[each.value.project].id
  member  = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

terraform {
  # 1.9+: variable validations may refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # Configure remote state for real use, e.g. (see docs/deployment.md):
  # backend "gcs" { bucket = "my-tf-state" prefix = "alertloop" }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

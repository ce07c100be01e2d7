terraform {
  # 1.9+: variable validations may refer to other variables.
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # Remote state in a GCS bucket (partial configuration; see docs/deployment.md):
  #   terraform init -backend-config="bucket=MY_STATE_BUCKET" -backend-config="prefix=alertloop"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}

"""scripts/tf_schema_check.py: terraform/ against hashicorp/google's real schema.

The schema comes from the prebuilt CDKTF bindings' jsii assembly (`make tf-check` downloads and
caches it); without that cache these tests skip rather than reach the network.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hcl2")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "tf_schema_check", ROOT / "scripts/tf_schema_check.py"
)
assert _spec and _spec.loader
checker: Any = importlib.util.module_from_spec(_spec)
sys.modules["tf_schema_check"] = checker
_spec.loader.exec_module(checker)


@pytest.fixture(scope="module")
def schema() -> Any:
    if not (checker.CACHE / f"google-{checker.VERSION}.json").exists() and not list(
        checker.CACHE.glob("*.whl")
    ):
        pytest.skip("provider schema not cached: run `make tf-check` once")
    return checker.load_schema()


def test_terraform_dir_matches_the_provider_schema(schema: Any) -> None:
    assert checker.check(ROOT / "terraform", schema) == []


def test_the_schema_is_the_providers_not_ours(schema: Any) -> None:
    fn = schema["resource"]["google_cloudfunctions2_function"]
    assert {"name", "location"} <= fn.required
    service = fn.blocks["service_config"]
    assert "max_instance_request_concurrency" in service.optional
    assert "secret_environment_variables" in service.blocks
    sub = schema["resource"]["google_pubsub_subscription"]
    assert {"name", "topic"} <= sub.required
    assert "max_delivery_attempts" in sub.blocks["dead_letter_policy"].optional
    assert "google_project" in schema["data"]


def test_unknown_arguments_blocks_and_types_are_refused(schema: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text(
        """
resource "google_cloudfunctions2_function" "f" {
  name     = "x"
  location = "europe-west1"
  service_config {
    max_instances = 3
    dynamic "secret_environment_variable" {
      for_each = []
      content {
        key = "a"
      }
    }
  }
}
resource "google_pubsub_subscription" "s" {
  name = "a"
  dead_letter_policy {
    max_attempts = 5
  }
}
resource "google_no_such_thing" "n" {}
data "google_project" "p" {
  bogus = 1
}
"""
    )
    problems = checker.check(tmp_path, schema)
    joined = "\n".join(problems)
    assert "service_config: unknown argument or block 'max_instances'" in joined
    assert "dynamic 'secret_environment_variable' is not a block here" in joined
    assert "dead_letter_policy: unknown argument or block 'max_attempts'" in joined
    assert "google_pubsub_subscription.s: required argument 'topic' is missing" in joined
    assert "google_no_such_thing.n: the provider has no such resource type" in joined
    assert "data google_project.p: unknown argument or block 'bogus'" in joined
    assert len(problems) == 6, problems


def test_a_good_module_passes_with_meta_arguments_and_dynamic_blocks(
    schema: Any, tmp_path: Path
) -> None:
    (tmp_path / "good.tf").write_text(
        """
resource "google_pubsub_subscription" "s" {
  for_each   = toset(["a"])
  name       = each.key
  topic      = "t"
  depends_on = []
  lifecycle {
    prevent_destroy = true
  }
  dynamic "dead_letter_policy" {
    for_each = [1]
    content {
      max_delivery_attempts = 5
    }
  }
}
"""
    )
    assert checker.check(tmp_path, schema) == []


def test_checkov_evaluates_every_function_instance() -> None:
    # checkov silently stops rendering for_each resources when it cannot evaluate an expression
    # (a `for … if` map in a for_each did that here): its run then "passes" with the functions
    # unchecked. `make tf-check` installs it; this proves it saw all twelve.
    import json
    import os
    import subprocess

    from shared import registry

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alertloop"
    checkov = cache / "checkov-3.3.30" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov not installed: run `make tf-check` once")
    proc = subprocess.run(
        [
            *(str(checkov), "-d", str(ROOT / "terraform"), "--framework", "terraform"),
            *("--skip-download", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    results = report["results"]
    seen = {
        c["resource"]
        for c in results["passed_checks"] + results["failed_checks"] + results["skipped_checks"]
        if c["resource"].startswith("google_cloudfunctions2_function.fn[")
    }
    assert len(seen) == len(registry.FUNCTIONS), sorted(seen)
    assert results["failed_checks"] == []
    skipped = results["skipped_checks"]
    assert skipped and all(c["check_result"].get("suppress_comment") for c in skipped)

"""Static checks of terraform/ against shared/registry.py.

The Google provider cannot be downloaded here, so `terraform validate`/`plan` are out of reach:
these tests parse the HCL (python-hcl2) and check the facts that matter — the function table
matches the registry, topics and subscriptions are complete, secrets stay secret, IAM stays
narrow, and `terraform fmt` is clean.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shared import registry

hcl2 = pytest.importorskip("hcl2")

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"

ALLOWED_ROLES = {
    "roles/pubsub.publisher",  # topic-level only
    "roles/pubsub.subscriber",  # Pub/Sub service agent on the push subscriptions
    "roles/datastore.user",  # Firestore run ledger, conditioned to the database
    "roles/datastore.viewer",  # the console: reads the ledger only
    "roles/cloudbuild.builds.builder",  # the build service account (build.tf)
    "roles/artifactregistry.writer",  # the build service account: function images
    "roles/logging.logWriter",  # the build service account: build logs
    "roles/storage.objectViewer",  # the build service account, on the source bucket only
    "roles/secretmanager.secretAccessor",  # secret-level only
    "roles/run.invoker",  # service-level only
    "roles/iam.serviceAccountTokenCreator",  # service agent on the push identities only
    "roles/monitoring.viewer",  # optional: Managed Prometheus
    "roles/container.clusterViewer",  # optional: GKE credentials
}
# Roles that may be granted at project level (everything else must be resource-level).
PROJECT_LEVEL_ROLES = {
    "roles/datastore.user",
    "roles/datastore.viewer",
    "roles/cloudbuild.builds.builder",
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
    "roles/monitoring.viewer",
    "roles/container.clusterViewer",
}


# ---------------------------------------------------------------- parsing helpers


def _unquote(value: Any) -> Any:
    """python-hcl2 8.x keeps string literals quoted ('"x"'); expressions look like '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            _unquote(k): _clean(v)
            for k, v in obj.items()
            if k not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return _unquote(obj)


@cache
def _tf() -> dict[str, Any]:
    """All .tf files merged: resources by type/name, variables, outputs, locals, data."""
    merged: dict[str, Any] = {
        "resource": {},
        "data": {},
        "variable": {},
        "output": {},
        "locals": {},
    }
    for path in sorted(TF.glob("*.tf")):
        with path.open() as fh:
            doc = _clean(hcl2.load(fh))
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert name not in merged["resource"].get(rtype, {}), (
                        f"duplicate {rtype}.{name}"
                    )
                    merged["resource"].setdefault(rtype, {})[name] = body
        for block in doc.get("data", []):
            for dtype, named in block.items():
                merged["data"].setdefault(dtype, {}).update(named)
        for kind in ("variable", "output"):
            for block in doc.get(kind, []):
                merged[kind].update(block)
        for block in doc.get("locals", []):
            merged["locals"].update(block)
    return merged


@cache
def _text() -> str:
    return "\n".join(p.read_text() for p in sorted(TF.glob("*.tf")))


def _locals() -> dict[str, Any]:
    return dict(_tf()["locals"])


def _resources(rtype: str) -> dict[str, Any]:
    return dict(_tf()["resource"].get(rtype, {}))


def _one(block: Any) -> dict[str, Any]:
    """A nested block parses as a one-element list."""
    assert isinstance(block, list) and len(block) == 1, block
    return dict(block[0])


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return [obj] if isinstance(obj, str) else []


# ---------------------------------------------------------------- terraform fmt


def test_terraform_fmt_is_clean() -> None:
    terraform = shutil.which("terraform") or "/usr/local/bin/terraform"
    if not Path(terraform).exists():
        pytest.skip("terraform binary not found (install Terraform >= 1.9 to run this check)")
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"terraform fmt would change files:\n{proc.stdout}{proc.stderr}"


# ---------------------------------------------------------------- the one table


def test_function_table_matches_registry() -> None:
    table = _locals()["functions"]
    assert list(table) == [f.name for f in registry.FUNCTIONS]
    for spec in registry.FUNCTIONS:
        row = table[spec.name]
        assert row["kind"] == spec.kind, spec.name
        assert row["topic"] == spec.topic, spec.name
        assert row["publishes"] == list(spec.publishes), spec.name
        assert row["env"] == list(spec.env), spec.name
        assert row["secrets"] == list(spec.secrets), spec.name
        assert row["memory"] == spec.memory, spec.name
        assert row["timeout_seconds"] == spec.timeout_seconds, spec.name
        assert row["max_instances"] == spec.max_instances, spec.name
        assert row["uses_kubernetes"] is spec.uses_kubernetes, spec.name
        assert row["uses_prometheus"] is spec.uses_prometheus, spec.name
        assert row["delivery_attempts"] == spec.delivery_attempts, spec.name
        if spec.exposure == "public":
            # "public" in the registry means "may be public": the operator chooses.
            assert row["exposure"] == f"${{var.{spec.name}_access}}", spec.name
            assert f"{spec.name}_access" in _tf()["variable"]
        else:
            assert row["exposure"] == spec.exposure, spec.name


def test_the_console_is_never_public() -> None:
    # Ingress all (people reach it through IAP or `gcloud run services proxy`), but only
    # var.console_viewers may invoke it, and it trusts that (ALERTLOOP_CONSOLE_AUTH=iam).
    assert registry.BY_NAME["console"].exposure == "authenticated"
    loc = _locals()
    assert loc["functions"]["console"]["exposure"] == "authenticated"
    assert "var.console_viewers" in loc["http_invokers"]
    assert "allUsers" not in str(_tf()["variable"]["console_viewers"]["default"])
    assert "^(serviceAccount|user|group|domain):" in str(
        _tf()["variable"]["console_viewers"]["validation"]
    )
    assert loc["env_values"]["ALERTLOOP_CONSOLE_AUTH"] == "iam"
    fn = _resources("google_cloudfunctions2_function")["fn"]
    ingress = _one(fn["service_config"])["ingress_settings"]
    assert '(local.functions[each.key].exposure == "internal" ? "ALLOW_INTERNAL_ONLY" :' in ingress
    assert '"public" && !var.public_invoker ? "ALLOW_INTERNAL_AND_GCLB"' in ingress


def test_every_function_is_one_for_each_resource_from_the_table() -> None:
    fns = _resources("google_cloudfunctions2_function")
    assert list(fns) == ["fn"], "one resource, for_each over local.functions; no copies"
    fn = fns["fn"]
    assert fn["for_each"] == "${toset(keys(local.functions))}"
    assert fn["name"] == "${var.name_prefix}${each.key}"
    build = _one(fn["build_config"])
    assert build["entry_point"] == "${each.key}"  # entry point = registry name
    assert "cloudevent" in build["environment_variables"]
    assert "GOOGLE_FUNCTION_SIGNATURE_TYPE" in build["environment_variables"]
    storage = _one(_one(build["source"])["storage_source"])
    assert storage["object"] == "${google_storage_bucket_object.bundle.name}"
    service = _one(fn["service_config"])
    assert service["service_account_email"] == "${google_service_account.fn[each.key].email}"
    assert service["environment_variables"] == "${local.function_env[each.key]}"
    assert service["ingress_settings"] == (
        '${(local.functions[each.key].exposure == "internal" ? "ALLOW_INTERNAL_ONLY" : '
        'local.functions[each.key].exposure == "public" && !var.public_invoker ? '
        '"ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL")}'
    )


def test_bundle_object_name_is_content_hashed() -> None:
    assert "filesha256(var.bundle_path)" in _locals()["bundle_object"]
    obj = _resources("google_storage_bucket_object")["bundle"]
    assert obj["name"] == "${local.bundle_object}"
    assert obj["source"] == "${var.bundle_path}"


# ---------------------------------------------------------------- topics and subscriptions


def test_topics_match_registry() -> None:
    loc = _locals()
    assert tuple(loc["stage_topics"]) == registry.STAGE_TOPICS
    assert loc["dead_letter_topic"] == registry.DEAD_LETTER_TOPIC
    assert loc["parked_topic"] == registry.PARKED_TOPIC
    assert tuple(loc["ordered_topics"]) == registry.ORDERED_TOPICS
    topic = _resources("google_pubsub_topic")["stage"]
    assert topic["for_each"] == "${toset(concat(local.stage_topics, [local.parked_topic]))}"
    assert topic["name"] == "${var.name_prefix}${each.key}"  # = ALERTLOOP_TOPIC_PREFIX + stage
    assert _locals()["env_values"]["ALERTLOOP_TOPIC_PREFIX"] == "${var.name_prefix}"
    for spec in registry.FUNCTIONS:
        for t in spec.publishes:
            assert t in registry.STAGE_TOPICS, (spec.name, t)


def test_every_worker_has_a_push_subscription_with_retry_and_dead_letter() -> None:
    assert _locals()["workers"].startswith("${{for name, f in local.functions")
    subs = _resources("google_pubsub_subscription")
    push = subs["push"]
    assert push["for_each"] == "${local.workers}"
    retry = _one(push["retry_policy"])
    assert retry["minimum_backoff"] and retry["maximum_backoff"]  # exponential backoff
    dead = _one(push["dead_letter_policy"])
    assert "local.dead_letter_topic" in dead["dead_letter_topic"]
    assert "local.parked_topic" in dead["dead_letter_topic"]  # deadletter's own: no self-loop
    assert dead["max_delivery_attempts"] == (
        "${each.value.delivery_attempts > 0 ? each.value.delivery_attempts : "
        "var.max_delivery_attempts}"
    )
    assert push["enable_message_ordering"] == (
        "${contains(local.ordered_topics, each.value.topic)}"
    )
    cfg = _one(push["push_config"])
    # functions-framework needs projects/P/topics/T in the path to build the CloudEvent.
    assert re.search(r"\}/projects/\$\{var\.project_id\}/topics/\$\{", cfg["push_endpoint"])
    assert cfg["push_endpoint"].startswith(
        "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}"
    )
    oidc = _one(cfg["oidc_token"])
    assert oidc["service_account_email"] == "${google_service_account.push[each.key].email}"
    assert (
        oidc["audience"] == "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}"
    )
    # Every other subscription is a pull hold without push (the parking lot).
    for name, sub in subs.items():
        if name != "push":
            assert "push_config" not in sub, name
            assert sub["message_retention_duration"] == "604800s", name


def test_every_cloudevent_function_consumes_a_distinct_topic() -> None:
    topics = [f.topic for f in registry.FUNCTIONS if f.kind == "cloudevent"]
    assert len(topics) == len(set(topics))
    assert registry.DEAD_LETTER_TOPIC in topics
    for f in registry.FUNCTIONS:
        assert (f.topic is None) == (f.kind == "http"), f.name


def test_pubsub_service_agent_can_dead_letter() -> None:
    pub = _resources("google_pubsub_topic_iam_member")["service_agent_dead_letter"]
    assert pub["role"] == "roles/pubsub.publisher"
    assert pub["member"] == "${local.pubsub_service_agent}"
    assert "local.dead_letter_topic" in pub["for_each"]
    sub = _resources("google_pubsub_subscription_iam_member")["service_agent_subscriber"]
    assert sub["role"] == "roles/pubsub.subscriber"
    assert sub["for_each"] == "${local.workers}"
    assert "gcp-sa-pubsub.iam.gserviceaccount.com" in _locals()["pubsub_service_agent"]


# ---------------------------------------------------------------- environment and secrets


def test_env_var_names_are_known_to_the_code() -> None:
    loc = _locals()
    assert tuple(loc["core_env"]) == registry.CORE_ENV
    values = loc["env_values"]
    for name in values:
        assert name in registry.KNOWN_ENV, f"{name} is set by Terraform but unknown to the code"
        assert name not in registry.SECRETS, f"{name} is a secret: mount it, never a plain env"
        assert name not in registry.LOCAL_ONLY_ENV, name
    for spec in registry.FUNCTIONS:
        for name in spec.env:
            assert name in values, (spec.name, name)


def test_local_only_settings_never_deployed() -> None:
    loc = _locals()
    for name in registry.LOCAL_ONLY_ENV:
        assert name not in loc["env_values"] and name not in loc["core_env"]
        # Only the extra_env validation names it, to forbid it.
        for path in TF.glob("*.tf"):
            if name in path.read_text():
                assert path.name == "variables.tf", path
        assert name in str(_tf()["variable"]["extra_env"]["validation"])


def test_secrets_are_mounted_from_secret_manager_only() -> None:
    loc = _locals()
    assert loc["secrets"] == registry.SECRETS
    for spec in registry.FUNCTIONS:
        assert set(spec.secrets) <= set(registry.SECRETS), spec.name
    secret = _resources("google_secret_manager_secret")["secret"]
    assert secret["for_each"] == "${local.secrets}"
    # No secret version resources: values would land in Terraform state.
    assert "google_secret_manager_secret_version" not in _tf()["resource"]
    assert "google_secret_manager_secret_version" not in _tf()["data"]
    service = _one(_resources("google_cloudfunctions2_function")["fn"]["service_config"])
    dyn = {k: v for d in service["dynamic"] for k, v in d.items()}
    mount = dyn["secret_environment_variables"]
    assert mount["for_each"] == "${toset(local.function_secrets[each.key])}"
    assert "google_secret_manager_secret.secret" in _one(mount["content"])["secret"]
    assert "local.functions" in loc["function_mounted_secrets"]
    assert "var.mounted_secrets" in loc["function_mounted_secrets"]
    assert "local.function_mounted_secrets" in loc["function_secrets"]


def test_webhook_tokens_are_files_read_at_their_latest_version() -> None:
    # Env secrets are resolved once at instance start; volumes fetch the latest version on each
    # read, so a rotated webhook token needs no redeploy (shared/webhook_tokens.py).
    loc = _locals()
    assert loc["volume_secrets"] == ["ALERTLOOP_WEBHOOK_TOKEN", "ALERTLOOP_WEBHOOK_TOKEN_PREVIOUS"]
    for name in loc["volume_secrets"]:
        assert name in registry.BY_NAME["ingest"].secrets, name
    assert "!contains(local.volume_secrets, s)" in loc["function_secrets"]
    service = _one(_resources("google_cloudfunctions2_function")["fn"]["service_config"])
    dyn = {k: v for d in service["dynamic"] for k, v in d.items()}
    volume = dyn["secret_volumes"]
    assert volume["for_each"] == "${toset(local.function_secret_volumes[each.key])}"
    content = _one(volume["content"])
    versions = _one(content["versions"])
    assert versions == {"version": "latest", "path": "token"}
    assert content["mount_path"] == (
        "${local.secret_mount_root}/${local.secrets[secret_volumes.value]}"
    )
    # The files the code reads are exactly the mount paths + /token.
    assert '"${local.secret_mount_root}/${local.secrets[s]}/token"' in loc["webhook_token_files"]
    assert loc["env_values"]["ALERTLOOP_WEBHOOK_TOKEN_FILES"] == "${local.webhook_token_files}"
    assert "ALERTLOOP_WEBHOOK_TOKEN_FILES" in registry.BY_NAME["ingest"].env


def test_no_secret_values_in_variables_or_outputs() -> None:
    secret_words = re.compile(r"token|secret|password|kubeconfig|credential", re.I)
    for name, var in _tf()["variable"].items():
        if name == "mounted_secrets":  # names of secrets, not values
            assert var["type"] == "${set(string)}"
            assert set(var["default"]) <= set(registry.SECRETS)
            continue
        assert not secret_words.search(name), f"variable {name} looks like a secret value"
        assert not var.get("sensitive"), name
    for name, out in _tf()["output"].items():
        value = str(out["value"])
        assert "secret_data" not in value and "secret_version" not in value, name
        if name != "secret_ids":
            assert "google_secret_manager_secret" not in value, name
    for name in registry.SECRETS:
        assert name not in _locals()["env_values"]


def test_secret_access_is_per_function() -> None:
    grant = _resources("google_secret_manager_secret_iam_member")["accessor"]
    assert grant["for_each"] == "${local.secret_grants}"
    assert grant["role"] == "roles/secretmanager.secretAccessor"
    assert "google_service_account.fn[each.value.function]" in grant["member"]
    assert "local.function_mounted_secrets" in _locals()["secret_grants"]


# ---------------------------------------------------------------- IAM


def _all_roles() -> list[tuple[str, str, str]]:
    found = []
    for rtype, named in _tf()["resource"].items():
        for name, body in named.items():
            if "role" in body:
                found.append((rtype, name, body["role"]))
    return found


def test_every_role_is_in_the_allowed_list() -> None:
    optional_roles = set(re.findall(r'"(roles/[A-Za-z.]+)"', _locals()["project_role_grants"]))
    assert optional_roles == {"roles/monitoring.viewer", "roles/container.clusterViewer"}
    by_each_value = {
        ("google_project_iam_member", "firestore"): set(_locals()["firestore_access"].values()),
        ("google_project_iam_member", "build"): set(
            re.findall(
                r'"(roles/[A-Za-z.]+)"',
                _resources("google_project_iam_member")["build"]["for_each"],
            )
        ),
    }
    custom = "${google_project_iam_custom_role.gke_connect[each.value.project].id}"
    for rtype, name, role in _all_roles():
        if role == custom:  # container.clusters.get + connect only (checked below)
            continue
        roles = optional_roles if role == "${each.value.role}" else {role}
        roles = by_each_value.get((rtype, name), roles)
        assert roles <= ALLOWED_ROLES, (rtype, name, roles)
        if rtype.startswith("google_project_iam"):
            assert roles <= PROJECT_LEVEL_ROLES, (rtype, name, roles)
    assert not any(
        rtype in ("google_project_iam_binding", "google_project_iam_policy")
        for rtype in _tf()["resource"]
    ), "authoritative project IAM would clobber other bindings"


def test_publishing_is_topic_level_and_follows_the_registry() -> None:
    grant = _resources("google_pubsub_topic_iam_member")["publisher"]
    assert grant["for_each"] == "${local.publish_grants}"
    assert grant["topic"] == "${google_pubsub_topic.stage[each.value.topic].name}"
    assert "google_service_account.fn[each.value.function]" in grant["member"]
    assert "f.publishes" in _locals()["publish_grants"]
    for rtype, name, role in _all_roles():
        if role == "roles/pubsub.publisher":
            assert rtype == "google_pubsub_topic_iam_member", (rtype, name)


def test_only_the_approval_path_publishes_to_rollback() -> None:
    for spec in registry.FUNCTIONS:
        if registry.ROLLBACK_TOPIC in spec.publishes:
            assert spec.name in registry.ROLLBACK_PUBLISHERS, spec.name
    for name, row in _locals()["functions"].items():
        if registry.ROLLBACK_TOPIC in row["publishes"]:
            assert name in registry.ROLLBACK_PUBLISHERS, name


def test_firestore_role_is_conditioned_to_the_database() -> None:
    grant = _resources("google_project_iam_member")["firestore"]
    assert grant["role"] == "${each.value}"
    assert grant["for_each"] == "${local.firestore_access}"
    cond = _one(grant["condition"])
    assert "databases/${local.firestore_database_name}" in cond["expression"]


def test_one_runtime_and_one_push_identity_per_function() -> None:
    sas = _resources("google_service_account")
    assert sas["fn"]["for_each"] == "${local.functions}"
    assert sas["push"]["for_each"] == "${local.workers}"
    invoker = _resources("google_cloud_run_v2_service_iam_member")["push_invoker"]
    assert invoker["role"] == "roles/run.invoker"
    assert (
        invoker["name"]
        == "${google_cloudfunctions2_function.fn[each.key].service_config[0].service}"
    )
    assert invoker["member"] == "serviceAccount:${google_service_account.push[each.key].email}"
    token = _resources("google_service_account_iam_member")["pubsub_token_creator"]
    assert token["service_account_id"] == "${google_service_account.push[each.key].name}"


def test_service_account_ids_fit() -> None:
    # account_id: 6-30 chars; the longest name_prefix allowed is 14 chars.
    longest_prefix = "a" * 13 + "-"
    for spec in registry.FUNCTIONS:
        for account in (f"{longest_prefix}{spec.name}", f"{longest_prefix}push-{spec.name}"):
            assert 6 <= len(account) <= 30, account
    assert "{0,12}-$" in _tf()["variable"]["name_prefix"]["validation"][0]["condition"]


def test_all_users_only_on_public_http_functions() -> None:
    text = _text()
    assert "allAuthenticatedUsers" not in text.replace(
        "(never allUsers or allAuthenticatedUsers)", ""
    )
    code_hits = [
        line
        for line in text.splitlines()
        if "allUsers" in line
        and not line.strip().startswith("#")
        and "error_message" not in line
        and "description" not in line
    ]
    assert len(code_hits) == 1, code_hits
    assert 'f.exposure == "public" && var.public_invoker ? ["allUsers"]' in code_hits[0]
    assert 'if f.kind == "http"' in _locals()["http_invokers"]
    public = [f.name for f in registry.FUNCTIONS if f.exposure == "public"]
    # ingest (Alertmanager's webhook) and interact (Slack's interactivity endpoint) only.
    assert public == ["ingest", "interact"]
    for f in registry.FUNCTIONS:
        if f.exposure == "public":
            assert f.kind == "http", f.name
    for name in public:
        access = _tf()["variable"][f"{name}_access"]
        assert access["default"] in ("public", "internal")
        assert "contains([" in access["validation"][0]["condition"]


# ---------------------------------------------------------------- Firestore


def test_firestore_ttl_policies_and_indexes() -> None:
    loc = _locals()
    assert loc["ttl_field"] == registry.TTL_FIELD
    assert tuple(loc["ttl_collections"]) == registry.TTL_COLLECTIONS
    ttl = _resources("google_firestore_field")["ttl"]
    assert ttl["field"] == "${local.ttl_field}"
    assert "ttl_config" in ttl
    assert ttl["collection"] == "${var.collection_prefix}${each.key}"
    indexes = {
        (i["collection"], tuple(tuple(f) for f in i["fields"]))
        for i in loc["firestore_indexes"].values()
    }
    assert indexes == set(registry.FIRESTORE_INDEXES)
    idx = _resources("google_firestore_index")["composite"]
    assert idx["collection"] == "${var.collection_prefix}${each.value.collection}"
    db = _resources("google_firestore_database")["alertloop"]
    assert db["type"] == "FIRESTORE_NATIVE"
    assert db["count"] == "${var.create_firestore_database ? 1 : 0}"


# ---------------------------------------------------------------- variables, outputs, APIs


def test_variables_have_descriptions_and_validation() -> None:
    for name, var in _tf()["variable"].items():
        assert var.get("description"), f"variable {name} has no description"
        if var.get("type") not in ("bool", "${bool}"):
            assert var.get("validation"), f"variable {name} has no validation"


def test_outputs() -> None:
    outputs = _tf()["output"]
    assert outputs["ingest_url"]["value"] == (
        '${google_cloudfunctions2_function.fn["ingest"].service_config[0].uri}'
    )
    assert "google_pubsub_topic.stage" in outputs["topics"]["value"]
    for name, out in outputs.items():
        assert out.get("description"), name
        assert not out.get("sensitive"), f"output {name} should not need to be sensitive"


def test_required_apis_enabled() -> None:
    apis = _resources("google_project_service")["apis"]
    for api in (
        "cloudfunctions.googleapis.com",
        "cloudbuild.googleapis.com",
        "run.googleapis.com",
        "artifactregistry.googleapis.com",
        "pubsub.googleapis.com",
        "firestore.googleapis.com",
        "secretmanager.googleapis.com",
        "iam.googleapis.com",
    ):
        assert api in apis["for_each"], api
    assert apis["disable_on_destroy"] is False


def test_tfvars_example_uses_declared_variables() -> None:
    with (TF / "terraform.tfvars.example").open() as fh:
        example = _clean(hcl2.load(fh))
    declared = set(_tf()["variable"])
    assert set(example) <= declared, set(example) - declared
    assert "project_id" in example
    assert set(example["mounted_secrets"]) <= set(registry.SECRETS)


def test_replay_drains_a_subscription_terraform_creates() -> None:
    from shared.replay import DEAD_LETTER_SUBSCRIPTION

    sub = _resources("google_pubsub_subscription")["deadletter_replay"]
    assert sub["name"] == "${var.name_prefix}" + DEAD_LETTER_SUBSCRIPTION
    assert sub["topic"] == "${google_pubsub_topic.stage[local.dead_letter_topic].id}"


# ---------------------------------------------------------------- clusters and the allow-list


def _code_text() -> str:
    return "\n".join(
        p.read_text() for d in ("shared", "functions") for p in (ROOT / d).rglob("*.py")
    )


def test_every_setting_named_in_terraform_and_the_docs_is_read_by_the_code() -> None:
    # The drift this catches: tfvars once set ALERTLOOP_NAMESPACE_ALLOWLIST, which nothing read.
    code = _code_text()
    sources = [*TF.glob("*.tf"), TF / "terraform.tfvars.example", ROOT / "docs" / "deployment.md"]
    for path in sources:
        for name in set(re.findall(r"\bALERTLOOP_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())):
            if name == "ALERTLOOP_NAMESPACE_ALLOWLIST":
                continue  # named only to be refused (extra_env validation)
            assert name in code, f"{path.name} names {name}, which no code reads"


def test_the_allow_list_reaches_remediate_and_rollback() -> None:
    values = _locals()["env_values"]
    assert values["ALERTLOOP_REMEDIATE_NAMESPACES"] == '${join(",", var.remediate_namespaces)}'
    for fn in ("remediate", "rollback"):
        assert "ALERTLOOP_REMEDIATE_NAMESPACES" in registry.BY_NAME[fn].env, fn
    assert "ALERTLOOP_NAMESPACE_ALLOWLIST" in str(_tf()["variable"]["extra_env"]["validation"])


def test_the_cluster_table_is_rendered_for_the_functions_that_use_clusters() -> None:
    loc = _locals()
    assert loc["env_values"]["ALERTLOOP_CLUSTERS"] == "${local.cluster_table}"
    assert "jsonencode" in loc["cluster_table"] and "var.clusters" in loc["cluster_table"]
    assert "local.identities" in loc["cluster_table"]
    for spec in registry.FUNCTIONS:
        # dispatch routes each alert to its cluster once (recorded on the run); the stages
        # that reach a cluster or its Prometheus build their clients from the same table.
        uses = spec.uses_kubernetes or spec.uses_prometheus or spec.name == "dispatch"
        assert ("ALERTLOOP_CLUSTERS" in spec.env) == uses, spec.name
    assert "cluster_table" in _tf()["output"]


def test_gke_and_managed_prometheus_roles_go_to_the_projects_that_need_them() -> None:
    grant = _resources("google_project_iam_member")["optional"]
    assert grant["project"] == "${each.value.project}"
    grants = _locals()["project_role_grants"]
    assert "local.gke_projects" in grants and "f.uses_kubernetes" in grants
    assert "local.gmp_projects" in grants and "f.uses_prometheus" in grants
    assert "c.gke" in _locals()["gke_projects"]
    assert "grant_gke_cluster_viewer" not in _text()  # derived from the table, not a switch


# ---------------------------------------------------------------- the sweeper's schedule


def test_cloud_scheduler_feeds_the_sweeper() -> None:
    job = _resources("google_cloud_scheduler_job")["sweep"]
    target = _one(job["pubsub_target"])
    assert target["topic_name"] == f'${{google_pubsub_topic.stage["{registry.SWEEP_TOPIC}"].id}}'
    assert job["schedule"] == "${var.sweep_schedule}"
    assert registry.subscribed_topics()[registry.SWEEP_TOPIC] == "sweeper"
    apis = _resources("google_project_service")["apis"]
    assert "cloudscheduler.googleapis.com" in apis["for_each"]


def test_who_may_click_what_reaches_interact_and_act_alike() -> None:
    values = _locals()["env_values"]
    assert "jsonencode(var.slack_permissions)" in values["ALERTLOOP_SLACK_PERMISSIONS"]
    assert values["ALERTLOOP_APPROVERS"] == '${join(",", var.approvers)}'
    for fn in ("interact", "act"):
        for name in ("ALERTLOOP_SLACK_PERMISSIONS", "ALERTLOOP_APPROVERS"):
            assert name in registry.BY_NAME[fn].env, (fn, name)
    refused = str(_tf()["variable"]["extra_env"]["validation"])
    assert "ALERTLOOP_SLACK_PERMISSIONS" in refused and "ALERTLOOP_APPROVERS" in refused


# ---------------------------------------------------------------- defaults: values, not names


# env_values entries computed from more than one variable, or from none: what each means is
# checked where it is built (cluster table, permissions, the console's IAM auth).
_COMPUTED_ENV = {
    "GOOGLE_CLOUD_PROJECT": "var.project_id is required (no default)",
    "ALERTLOOP_CLUSTERS": "local.cluster_table: empty without clusters (the code's default)",
    "ALERTLOOP_SLACK_PERMISSIONS": "jsonencode of the map, empty when the map is",
    "ALERTLOOP_CONSOLE_AUTH": "always iam on Cloud Run (only console_viewers may invoke it)",
    "ALERTLOOP_FIRESTORE_DATABASE": '"(default)" is sent as unset (checked below)',
    "ALERTLOOP_WEBHOOK_TOKEN_FILES": "the mounted webhook secrets' paths (checked above)",
}
_VAR_REF = re.compile(
    r"^\$\{(?:(?P<fn>tostring|join)\((?:\"(?P<sep>[^\"]*)\", )?)?var\.(?P<var>\w+)\)?\}$"
)


def _tf_value_as_env(default: Any, fn: str | None, sep: str | None) -> str:
    """What Terraform puts in the env var for this default (terraform's tostring/join)."""
    if fn == "join":
        return (sep or "").join(default)
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def _same_setting(name: str, deployed: str, code_default: str) -> bool:
    """Equal as the code reads them: numbers numerically, flags by truth, text exactly."""
    from shared import envvars

    if deployed == "":
        return True  # dropped by local.function_env: the code's default applies
    if deployed.lower() in envvars.TRUE_WORDS | envvars.FALSE_WORDS:
        return (deployed.lower() in envvars.TRUE_WORDS) == (
            code_default.lower() in envvars.TRUE_WORDS
        )
    try:
        return float(deployed) == float(code_default)
    except ValueError:
        return deployed == code_default


def test_every_terraform_default_that_feeds_a_setting_equals_the_codes_default() -> None:
    # The drift this catches: var.max_body_bytes defaulted to 1 MiB while the code (and
    # Alertmanager's max_alerts) assume 32 MiB; var.k8s_timeout_seconds was 15, the code's 5.
    from shared import envvars

    variables = _tf()["variable"]
    checked = []
    for name, expr in _locals()["env_values"].items():
        if name in _COMPUTED_ENV:
            continue
        m = _VAR_REF.match(expr)
        assert m, f"{name} = {expr}: not a plain variable; add it to _COMPUTED_ENV with why"
        var = variables[m["var"]]
        if "default" not in var:
            continue  # the operator must decide (e.g. dry_run): nothing to drift
        deployed = _tf_value_as_env(var["default"], m["fn"], m["sep"])
        code = envvars.var(name).default
        assert _same_setting(name, deployed, code), (
            f"var.{m['var']} defaults to {deployed!r} but {name}'s default in "
            f"shared/envvars.py is {code!r}: make them equal, or leave the variable unset"
        )
        checked.append(name)
    assert {"ALERTLOOP_MAX_BODY_BYTES", "ALERTLOOP_K8S_TIMEOUT_SECONDS"} <= set(checked)
    db = _locals()["env_values"]["ALERTLOOP_FIRESTORE_DATABASE"]
    assert (
        variables["firestore_database"]["default"]
        == envvars.var("ALERTLOOP_FIRESTORE_DATABASE").default
    )
    assert '== "(default)" ? ""' in db


def test_pubsub_attempts_outlast_the_codes_own_attempts() -> None:
    # The code dead-letters a run after ALERTLOOP_MAX_STAGE_ATTEMPTS failures of its own, with
    # the error; Pub/Sub's attempts are also spent by 429s while workers scale out, so they
    # must be more (the storm arithmetic is in docs/deployment.md).
    from shared import envvars

    variables = _tf()["variable"]
    assert _locals()["env_values"]["ALERTLOOP_MAX_STAGE_ATTEMPTS"] == (
        "${tostring(var.max_stage_attempts)}"
    )
    stage = variables["max_stage_attempts"]["default"]
    assert str(stage) == envvars.var("ALERTLOOP_MAX_STAGE_ATTEMPTS").default
    assert variables["max_delivery_attempts"]["default"] >= 4 * stage
    assert "var.max_stage_attempts < var.max_delivery_attempts" in str(
        variables["max_stage_attempts"]["validation"]
    )


# ---------------------------------------------------------------- day-1: identity, scale, watch


def _reaches_firestore(function: str) -> bool:
    """Whether functions/<name>.py reaches the ledger (static imports, lazy ones included)."""
    import ast

    seen: set[str] = set()
    todo = [f"functions.{function}"]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        base = ROOT / mod.replace(".", "/")
        path = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.startswith(("google.cloud.firestore", "shared.ledger")):
                    return True
                if name.startswith(("shared", "functions")):
                    todo.append(name)
    return False


def test_firestore_roles_follow_what_each_function_imports() -> None:
    access = _locals()["firestore_access"]
    for spec in registry.FUNCTIONS:
        reaches = _reaches_firestore(spec.name)
        if not reaches:
            assert spec.name not in access, f"{spec.name} never touches Firestore: no role"
        elif spec.name == "console":
            assert access["console"] == "roles/datastore.viewer"  # it only reads
        else:
            assert access.get(spec.name) == "roles/datastore.user", spec.name
    assert {"ingest", "interact"}.isdisjoint(access)  # the finding, kept true


def test_the_console_reads_the_ledger_only() -> None:
    # datastore.viewer holds only while the console calls no ledger write.
    writes = re.compile(r"\.(set|update|delete|create|add|commit|begin|record_\w+|mark|fail)\(")
    for path in [*(ROOT / "shared" / "console").glob("*.py"), ROOT / "functions" / "console.py"]:
        for line in path.read_text().splitlines():
            if "ledger" in line and "ledger." in line:
                assert not writes.search(line.split("ledger.", 1)[1][:60]), (path.name, line)


def test_interact_is_warm_with_a_whole_cpu_and_workers_take_a_storm() -> None:
    scaling = _tf()["variable"]["function_scaling"]["default"]
    # Slack answers the user an error after 3 s: no cold start, a whole vCPU.
    assert scaling["interact"]["min_instances"] >= 1
    assert float(scaling["interact"]["cpu"]) >= 1
    # A 1,000-alert storm: dispatch and investigate run several requests per instance.
    capacity = {
        name: registry.BY_NAME[name].max_instances * scaling[name]["concurrency"]
        for name in ("dispatch", "investigate", "budget")
    }
    assert capacity["dispatch"] >= 100 and capacity["investigate"] >= 40, capacity
    for name, row in scaling.items():
        assert name in registry.BY_NAME, name
        if row.get("concurrency", 1) > 1:
            assert float(row["cpu"]) >= 1, name  # Cloud Run: concurrency > 1 needs 1 vCPU
    # Cluster-changing stages stay one request at a time (guardrails count per instance).
    for name in ("remediate", "rollback", "notify"):
        assert scaling.get(name, {}).get("concurrency", 1) == 1, name
    service = _one(_resources("google_cloudfunctions2_function")["fn"]["service_config"])
    assert service["min_instance_count"] == "${local.scaling[each.key].min_instances}"
    assert service["max_instance_request_concurrency"] == "${local.scaling[each.key].concurrency}"
    assert service["available_cpu"] == "${local.scaling[each.key].cpu}"


def test_functions_build_with_a_build_service_account_that_has_the_builder_role() -> None:
    build = _one(_resources("google_cloudfunctions2_function")["fn"]["build_config"])
    assert "local.build_service_account" in build["service_account"]
    assert "google_service_account.build[0].email" in _locals()["build_service_account"]
    assert _tf()["variable"]["create_build_service_account"]["default"] is True
    roles = _resources("google_project_iam_member")["build"]["for_each"]
    assert "roles/cloudbuild.builds.builder" in roles
    source = _resources("google_storage_bucket_iam_member")["build_source"]
    assert source["bucket"] == "${google_storage_bucket.source.name}"


def test_vpc_egress_and_the_dns_endpoint_are_choices_with_safe_defaults() -> None:
    variables = _tf()["variable"]
    assert variables["vpc_egress"]["default"] == "none"
    assert variables["vpc_egress_settings"]["default"] == "PRIVATE_RANGES_ONLY"
    assert variables["gke_dns_endpoint"]["default"] is False
    service = _one(_resources("google_cloudfunctions2_function")["fn"]["service_config"])
    assert "local.vpc_connector_id" in service["vpc_connector"]
    vpc = _locals()["vpc_functions"]
    assert "f.uses_kubernetes || f.uses_prometheus" in vpc and '"act", "sweeper"' in vpc
    role = _resources("google_project_iam_custom_role")["gke_connect"]
    assert sorted(role["permissions"]) == ["container.clusters.connect", "container.clusters.get"]


def test_the_loop_is_watched_by_cloud_monitoring_not_by_itself() -> None:
    policies = _resources("google_monitoring_alert_policy")
    assert set(policies) == {"backlog", "dead_letters", "function_errors"}
    text = str(policies)
    assert "pubsub.googleapis.com/subscription/oldest_unacked_message_age" in text
    assert "pubsub.googleapis.com/topic/send_message_operation_count" in text
    assert "local.dead_letter_topic" in str(policies["dead_letters"])
    assert 'response_code_class=\\\\"5xx\\\\"' in text or 'response_code_class=\\"5xx\\"' in text
    for policy in policies.values():
        assert policy["notification_channels"] == "${var.notification_channels}"
    assert "monitoring.googleapis.com" in _resources("google_project_service")["apis"]["for_each"]


# Resource types -> the predefined role a deployer needs to create them (docs/deployment.md
# must list each one).
DEPLOYER_ROLES = {
    "google_cloudfunctions2_function": "roles/cloudfunctions.admin",
    "google_cloud_scheduler_job": "roles/cloudscheduler.admin",
    "google_pubsub_topic": "roles/pubsub.admin",
    "google_secret_manager_secret": "roles/secretmanager.admin",
    "google_service_account": "roles/iam.serviceAccountAdmin",
    "google_project_iam_member": "roles/resourcemanager.projectIamAdmin",
    "google_project_iam_custom_role": "roles/iam.roleAdmin",
    "google_storage_bucket": "roles/storage.admin",
    "google_firestore_database": "roles/datastore.owner",
    "google_project_service": "roles/serviceusage.serviceUsageAdmin",
    "google_monitoring_alert_policy": "roles/monitoring.alertPolicyEditor",
    "google_vpc_access_connector": "roles/vpcaccess.admin",
    "google_cloud_run_v2_service_iam_member": "roles/run.admin",
}


def test_the_documented_deployer_roles_cover_every_resource_type() -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    for rtype in _tf()["resource"]:
        role = DEPLOYER_ROLES.get(rtype)
        if role is None:
            continue
        assert role in docs, f"{rtype} needs {role}: list it in docs/deployment.md"
    assert "roles/iam.serviceAccountUser" in docs  # act as the runtime and build accounts

"""The files under deploy/ are valid for the real tools, and the RBAC stays least-privilege.

amtool and promtool come from the Debian packages prometheus-alertmanager and prometheus (the
Makefile installs them); these tests fail, not skip, when they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERT_TYPES = (
    "HighErrorRate",
    "ErrorBudgetExhausted",
    "HighCPUUsage",
    "HighMemoryUsage",
    "ApplicationDown",
    "DatabaseDown",
)


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        pytest.fail(f"{name} not found: install the Debian package {package} (make deps does)")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, cwd=ROOT)


# ---------------------------------------------------------------- Alertmanager


def test_amtool_check_config_passes() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    proc = _run(amtool, "check-config", str(DEPLOY / "alertmanager.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_amtool_check_config_passes_with_the_credentials_file_present(tmp_path: Path) -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    cfg = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    token = tmp_path / "token"
    token.write_text("test-token\n")
    for receiver in cfg["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            if "http_config" in hook:
                hook["http_config"]["authorization"]["credentials_file"] = str(token)
    copy = tmp_path / "alertmanager.yml"
    copy.write_text(yaml.safe_dump(cfg))
    proc = _run(amtool, "check-config", str(copy))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alertmanager_sends_to_ingest_with_bearer_file() -> None:
    cfg = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    hooks = [h for r in cfg["receivers"] if r["name"] == "alertloop" for h in r["webhook_configs"]]
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook["send_resolved"] is True
    assert hook["url"].startswith("https://")
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer"
    assert "credentials_file" in auth and "credentials" not in auth  # no token in the file
    route = cfg["route"]
    assert "alertname" in route["group_by"]
    for key in ("group_wait", "group_interval", "repeat_interval"):
        assert key in route
    severities = {m for r in route["routes"] for m in r.get("matchers", [])}
    assert 'severity="critical"' in severities
    assert 'severity="warning"' in severities


def test_alertmanager_max_alerts_keeps_every_body_under_ingests_limit() -> None:
    """A refused body is a lost group (Alertmanager does not retry a 4xx): max_alerts must be
    set, and that many generous alerts (6 KB each, twice the kube-prometheus average) must fit
    in the body ingest accepts; what is left out shows in the digest (truncatedAlerts)."""
    from shared import envvars

    cfg = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    (hook,) = [
        h for r in cfg["receivers"] if r["name"] == "alertloop" for h in r["webhook_configs"]
    ]
    assert hook["max_alerts"] > 0
    assert hook["max_alerts"] * 6 * 1024 < int(envvars.var("ALERTLOOP_MAX_BODY_BYTES").default)


def test_alertmanager_routes_reach_alertloop() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    cfg = str(DEPLOY / "alertmanager.yml")
    for labels, receiver in (
        (["alertname=HighErrorRate", "severity=critical"], "alertloop"),
        (["alertname=HighMemoryUsage", "severity=warning"], "alertloop"),
        (["alertname=Watchdog", "severity=none"], "blackhole"),
    ):
        proc = _run(amtool, "config", "routes", "test", f"--config.file={cfg}", *labels)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == receiver, (labels, proc.stdout)


# ---------------------------------------------------------------- Prometheus rules


def test_promtool_check_rules_passes() -> None:
    promtool = _tool("promtool", "prometheus")
    proc = _run(promtool, "check", "rules", str(DEPLOY / "prometheus-rules.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = _tool("promtool", "prometheus")
    proc = _run(promtool, "test", "rules", str(DEPLOY / "prometheus-rules.test.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_every_policy_alert_type_has_rules_with_labels_and_annotations() -> None:
    rules = _alert_rules()
    names = {r["alert"] for r in rules}
    assert set(ALERT_TYPES) <= names
    policy = load_policy()
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        for key in ("summary", "description", "runbook_url"):
            assert rule["annotations"].get(key), (rule["alert"], key)
        assert rule["alert"] in policy.alerts, f"{rule['alert']} is not in the policy table"


def test_rule_unit_tests_cover_every_alert_firing_and_quiet() -> None:
    doc = yaml.safe_load((DEPLOY / "prometheus-rules.test.yml").read_text())
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
            # Fired alerts carry the labels alertloop resolves the workload from.
            for alert in case.get("exp_alerts") or []:
                labels = alert["exp_labels"]
                assert labels.get("namespace"), case
                assert labels.get("deployment") or labels.get("service"), case
                assert labels["severity"] in ("critical", "warning"), case
    assert set(ALERT_TYPES) <= firing
    assert set(ALERT_TYPES) <= quiet


# ---------------------------------------------------------------- Kubernetes RBAC

PATCHABLE = {("apps", "deployments"), ("apps", "deployments/scale"),
             ("autoscaling", "horizontalpodautoscalers"),
             ("keda.sh", "scaledobjects")}  # fmt: skip
READ_VERBS = {"get", "list", "watch"}


def _rbac() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()) if d]


def _rules() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (doc["kind"], doc["metadata"]["name"], rule)
        for doc in _rbac()
        if doc["kind"] in ("Role", "ClusterRole")
        for rule in doc["rules"]
    ]


def test_rbac_kinds() -> None:
    for doc in _rbac():
        assert doc["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert doc["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def test_rbac_never_deletes_creates_or_reads_secrets() -> None:
    for kind, name, rule in _rules():
        verbs = set(rule["verbs"])
        assert "*" not in verbs and "*" not in rule["resources"], (kind, name, rule)
        assert "*" not in rule.get("apiGroups", []), (kind, name, rule)
        assert not verbs & {"delete", "deletecollection", "create", "update", "escalate",
                            "bind", "impersonate"}, (kind, name, rule)  # fmt: skip
        for res in rule["resources"]:
            assert res not in ("secrets", "configmaps", "pods/exec", "pods/attach",
                               "pods/portforward", "serviceaccounts/token"), res  # fmt: skip


def test_rbac_patch_only_on_deployments_scale_and_hpas_in_a_namespace() -> None:
    patched: set[tuple[str, str]] = set()
    for kind, name, rule in _rules():
        verbs = set(rule["verbs"])
        if "patch" in verbs:
            assert kind == "Role", f"{kind} {name} patches cluster-wide"
            assert verbs <= {"get", "patch"}, rule
            for group in rule["apiGroups"]:
                for res in rule["resources"]:
                    assert (group, res) in PATCHABLE, (group, res)
                    patched.add((group, res))
        else:
            assert verbs <= READ_VERBS, (kind, name, rule)
    assert patched == PATCHABLE


def test_rbac_apiservices_get_only_cluster_scoped() -> None:
    # What each identity reads and writes is checked against the one table in
    # tests/unit/test_rbac_table.py (shared/k8s/permissions.py).
    for kind, _name, rule in _rules():
        if "apiservices" in rule["resources"]:
            assert kind == "ClusterRole" and rule["verbs"] == ["get"]
            assert rule["resourceNames"] == ["v1beta1.metrics.k8s.io"]


def test_rbac_subjects_are_the_function_identities() -> None:
    for doc in _rbac():
        if doc["kind"].endswith("Binding"):
            for subject in doc["subjects"]:
                assert subject["kind"] == "User"
                assert subject["name"].endswith(".iam.gserviceaccount.com")
        if doc["kind"] == "RoleBinding":  # the namespaced writers only
            names = [s["name"] for s in doc["subjects"]]
            assert all(n.startswith(("alertloop-remediate@", "alertloop-rollback@"))
                       for n in names), names  # fmt: skip


# ---------------------------------------------------------------- issue 18: Alertmanager routing


def _loop_alerts() -> list[dict]:
    rules = yaml.safe_load((DEPLOY / "alertloop-loop-rules.yml").read_text())
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_every_inhibit_rule_keeps_clusters_apart() -> None:
    cfg = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    assert cfg["inhibit_rules"]
    for rule in cfg["inhibit_rules"]:
        assert "cluster" in rule["equal"], rule


def test_an_outage_in_one_cluster_does_not_inhibit_the_other(tmp_path: Path) -> None:
    # amtool's own routing plus the config's inhibit rules: the same workload name in two
    # clusters must not share an inhibition (the rule's equal decides).
    cfg = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    down = {
        "alertname": "ApplicationDown",
        "cluster": "eu",
        "namespace": "shop",
        "deployment": "web",
    }
    same = {**down, "alertname": "HighErrorRate"}
    other = {**same, "cluster": "us"}
    for rule in cfg["inhibit_rules"]:
        if any("ApplicationDown" in m for m in rule["source_matchers"]):

            def inhibits(src: dict[str, str], tgt: dict[str, str], eq=rule["equal"]) -> bool:
                return all(src.get(k) == tgt.get(k) for k in eq)

            assert inhibits(down, same)
            assert not inhibits(down, other)
            break
    else:
        raise AssertionError("no ApplicationDown inhibit rule")


def test_loop_alerts_go_to_a_receiver_that_is_not_alertloop() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    cfg_path = DEPLOY / "alertmanager.yml"
    cfg = yaml.safe_load(cfg_path.read_text())
    ingest_receivers = {
        r["name"]
        for r in cfg["receivers"]
        for h in r.get("webhook_configs", [])
        if "ingest" in h["url"] or "alertloop" in h["url"]
    }
    assert ingest_receivers == {"alertloop"}
    alerts = _loop_alerts()
    assert alerts
    for rule in alerts:
        labels = [f"alertname={rule['alert']}", *(f"{k}={v}" for k, v in rule["labels"].items())]
        proc = _run(amtool, "config", "routes", "test", f"--config.file={cfg_path}", *labels)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        receiver = proc.stdout.strip()
        assert receiver not in ingest_receivers, (rule["alert"], receiver)
        assert receiver == "alertloop-operators", (rule["alert"], receiver)


# ---------------------------------------------------------------- issue 18: the Slack app manifest

# Slack Web API method -> the bot scope it needs (api.slack.com/methods/<method>: "Required
# scopes"). A method the code calls that is not here fails the test below until it is added.
SLACK_METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "usergroups.users.list": "usergroups:read",
}


def _slack_methods_called() -> set[str]:
    """Web API methods in shared/ and functions/: WebClient.method_name(...) calls and the
    names passed to Slack._call("method_name", ...)."""
    import re

    pattern = re.compile(
        r"""(?:\.|["'])((?:chat|usergroups|conversations|users|reactions|views|files|pins|"""
        r"""bookmarks|reminders|dnd|auth)_[A-Za-z_]+)(?:\(|["'])"""
    )
    found = set()
    for folder in ("shared", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in pattern.findall(path.read_text()):
                first, _, rest = name.partition("_")
                found.add(f"{first}.{rest.replace('_', '.')}")
    return found


def test_the_slack_manifest_has_the_scopes_of_every_method_the_code_calls() -> None:
    manifest = yaml.safe_load((DEPLOY / "slack-app-manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    called = _slack_methods_called()
    assert {"chat.postMessage", "chat.update", "usergroups.users.list"} <= called, called
    for method in called:
        assert method in SLACK_METHOD_SCOPES, f"{method}: add its scope to SLACK_METHOD_SCOPES"
        assert SLACK_METHOD_SCOPES[method] in scopes, (method, scopes)
    # Nothing more than the code uses.
    assert scopes == {SLACK_METHOD_SCOPES[m] for m in called}


def test_the_slack_manifest_points_interactivity_at_interact() -> None:
    manifest = yaml.safe_load((DEPLOY / "slack-app-manifest.yaml").read_text())
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].startswith("https://")
    assert "interact_url" in interactivity["request_url"]  # the Terraform output to paste
    assert manifest["settings"]["socket_mode_enabled"] is False  # interact is an HTTP endpoint
    outputs = (ROOT / "terraform" / "outputs.tf").read_text()
    assert 'output "interact_url"' in outputs
    assert 'google_cloudfunctions2_function.fn["interact"]' in outputs

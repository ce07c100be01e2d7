from pathlib import Path

import pytest

from shared.policy import PolicyError, load_policy
from shared.remediation.change_gate import is_database_alert


def test_default_table_matches_the_reference_design() -> None:
    p = load_policy()
    expect = {
        "HighErrorRate": ("critical", ["investigate", "remediate"], "propose_rollback"),
        "ErrorBudgetExhausted": ("warning", ["investigate", "budget"], "none"),
        "HighCPUUsage": ("warning", ["investigate", "remediate"], "scale"),
        "HighMemoryUsage": ("warning", ["investigate"], "scale"),
        "ApplicationDown": ("critical", ["investigate", "remediate"], "restart"),
        "DatabaseDown": ("critical", ["investigate"], "none"),
    }
    assert set(p.alerts) == set(expect)
    for name, (severity, stages, remediation) in expect.items():
        entry = p.alerts[name]
        assert (entry.severity, entry.stages, entry.remediation) == (severity, stages, remediation)
        assert entry.follow_up and entry.automatic_action
    assert p.alerts["HighErrorRate"].guardrails.approval_required is True
    assert is_database_alert("DatabaseDown", "DatabaseDown", p.alerts["DatabaseDown"])


def test_aliases_and_unknown_types() -> None:
    p = load_policy()
    assert p.resolve("KubePodCrashLooping")[0] == "ApplicationDown"
    assert p.resolve("PostgresqlDown")[0] == "DatabaseDown"
    name, entry = p.resolve("SomethingNobodyConfigured")
    assert name == "SomethingNobodyConfigured"
    assert entry.stages == ["investigate"]
    assert p.plan_for("SomethingNobodyConfigured") == ["investigate"]


def test_manual_action_narrows_the_plan() -> None:
    p = load_policy()
    assert p.plan_for("HighErrorRate", "investigate") == ["investigate"]
    assert p.plan_for("HighErrorRate", "notify") == []
    assert p.plan_for("HighErrorRate", "remediate") == ["investigate", "remediate"]


def test_policy_file_overrides_one_entry_and_keeps_the_rest(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "alerts:\n"
        "  HighMemoryUsage:\n"
        "    stages: [investigate, remediate]\n"
        "    remediation: scale\n"
        "    guardrails: {replica_ceiling: 8}\n"
        "  QueueBacklog:\n"
        "    stages: [investigate]\n"
        "    aliases: [KafkaLagHigh]\n"
    )
    p = load_policy(str(f))
    assert p.alerts["HighMemoryUsage"].stages == ["investigate", "remediate"]
    assert p.alerts["HighMemoryUsage"].guardrails.replica_ceiling == 8
    assert p.alerts["HighMemoryUsage"].guardrails.cooldown_minutes == 30  # default kept
    assert p.resolve("KafkaLagHigh")[0] == "QueueBacklog"
    assert "HighErrorRate" in p.alerts


def test_database_alerts_never_act_even_if_a_file_says_so(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "alerts:\n  DatabaseDown:\n    stages: [investigate, remediate]\n"
        "    remediation: restart\n    database: true\n"
    )
    entry = load_policy(str(f)).alerts["DatabaseDown"]
    assert is_database_alert("DatabaseDown", "DatabaseDown", entry)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alerts:\n  X:\n    stages: [investigate, reboot]\n", "unknown stage"),
        ("alerts:\n  X:\n    stages: [investigate]\n    remediation: delete\n", "remediation"),
        (
            "alerts:\n  X:\n    stages: [investigate]\n    guardrails: {max_attempts: -1}\n",
            "max_attempts",
        ),
        ("- just\n- a list\n", "mapping"),
        ("alerts: {X: {stages: [investigate], typo_field: 1}}\n", "typo_field"),
    ],
)
def test_invalid_policy_files_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(str(f))


def test_missing_policy_file() -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy("/nonexistent/policy.yaml")


# ---------------------------------------------------------------------------- workload_safety


def _postgres_is_data(policy_file: str) -> bool:
    from shared.remediation.workload_safety import classify
    from tests.unit.k8s_objects import deployment

    extra = load_policy(policy_file).workload_safety
    return classify(deployment("db", [("db", "postgres:16")]), extra=extra).data_class


def test_default_policy_adds_no_workload_safety_patterns() -> None:
    ws = load_policy().workload_safety
    assert (ws.data_images, ws.data_labels, ws.data_operator_groups) == ([], [], [])
    assert _postgres_is_data("")  # the built-ins need no policy


def test_policy_file_adds_workload_safety_patterns(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(
        "workload_safety:\n"
        "  data_images: [Ledger, acme/vault-db, 'registry.acme.io:5000/team/blobs', ledger]\n"
        "  data_labels: [acme.io/tier=ledger, acme.io/holds-money]\n"
        "  data_operator_groups: [ledger.acme.io]\n"
    )
    ws = load_policy(str(f)).workload_safety
    assert ws.data_images == ["ledger", "acme/vault-db", "registry.acme.io:5000/team/blobs"]
    assert ws.data_labels == ["acme.io/tier=ledger", "acme.io/holds-money"]
    assert ws.data_operator_groups == ["ledger.acme.io"]
    assert "HighErrorRate" in load_policy(str(f)).alerts  # the rest of the policy is kept


@pytest.mark.parametrize(
    "text",
    [
        "workload_safety:\n",
        "workload_safety: {}\n",
        "workload_safety: {data_images: [], data_labels: [], data_operator_groups: []}\n",
    ],
)
def test_a_policy_file_cannot_remove_the_built_in_patterns(tmp_path: Path, text: str) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    assert _postgres_is_data(str(f))


def test_a_policy_file_adds_to_the_default_files_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patterns in the embedded default (if any are ever added) survive an override file."""
    import shared.policy as policy_mod

    real = policy_mod.default_policy_data

    def with_defaults() -> dict[str, object]:
        data = real()
        data["workload_safety"] = {"data_images": ["ledger"]}
        return data

    monkeypatch.setattr(policy_mod, "default_policy_data", with_defaults)
    f = tmp_path / "policy.yaml"
    f.write_text("workload_safety: {data_images: []}\n")
    assert load_policy(str(f)).workload_safety.data_images == ["ledger"]
    f.write_text("workload_safety: {data_images: [vault]}\n")
    assert load_policy(str(f)).workload_safety.data_images == ["ledger", "vault"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workload_safety: {builtin: false}\n", "builtin"),
        ("workload_safety: {replace: true, data_images: []}\n", "replace"),
        ("workload_safety: {data_image: [x]}\n", "data_image"),
        ("workload_safety: [postgres]\n", "must be a mapping"),
        ("workload_safety: {data_images: postgres}\n", "data_images"),
        ("workload_safety: {data_images: null}\n", "valid list"),
        ("workload_safety: {data_images: ['postgres:16']}\n", "without tag or digest"),
        ("workload_safety: {data_images: ['postgres@sha256:ab']}\n", "without tag or digest"),
        ("workload_safety: {data_images: ['']}\n", "without tag or digest"),
        ("workload_safety: {data_images: [42]}\n", "valid string"),
        ("workload_safety: {data_labels: ['=db']}\n", "data_labels"),
        ("workload_safety: {data_labels: ['tier=has space']}\n", "data_labels"),
        ("workload_safety: {data_operator_groups: [acme]}\n", "API groups"),
        ("workload_safety: {data_operator_groups: ['acme.io/v1']}\n", "API groups"),
    ],
)
def test_invalid_workload_safety_sections_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(str(f))

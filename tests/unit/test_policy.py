from pathlib import Path

import pytest

from shared.policy import PolicyError, load_policy
from shared.remediation.guardrails import is_database_alert


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

"""Who may do what from Slack: ALERTLOOP_SLACK_PERMISSIONS, its defaults, ALERTLOOP_APPROVERS,
and user groups (no servers; groups through a resolver)."""

from __future__ import annotations

import pytest

from shared.interaction.permissions import (
    GroupLookupError,
    PermissionConfigError,
    parse_permissions,
    permissions,
)


def test_defaults_without_configuration() -> None:
    perms = parse_permissions("", frozenset({"UAPPROVER"}))
    # Writes and mutes: the approvers; acknowledging and judging: anyone who can click.
    for kind in ("approve", "silence", "take_over"):
        assert perms.check(kind, "UAPPROVER").allowed, kind
        assert not perms.check(kind, "USOMEONE").allowed, kind
    for kind in ("acknowledge", "verdict"):
        assert perms.check(kind, "USOMEONE").allowed, kind


def test_nobody_may_approve_when_nothing_is_configured() -> None:
    check = parse_permissions("", frozenset()).check("approve", "U1")
    assert check.outcome == "denied" and "allowed: nobody" in check.reason


def test_kinds_are_separate_and_approvers_keep_working() -> None:
    doc = '{"approve": ["UAPPROVER2"], "silence": ["USILENCER"], "take_over": ["*"]}'
    perms = parse_permissions(doc, frozenset({"UOLDAPPROVER"}))
    assert perms.check("approve", "UAPPROVER2").allowed
    assert perms.check("approve", "UOLDAPPROVER").allowed  # ALERTLOOP_APPROVERS still works
    assert not perms.check("approve", "USILENCER").allowed  # approving a rollback ≠ silencing
    assert perms.check("silence", "USILENCER").allowed
    assert not perms.check("silence", "UAPPROVER2").allowed
    assert perms.check("take_over", "UANYONE").allowed


def test_yaml_and_comma_separated_strings() -> None:
    perms = parse_permissions("silence: U1, U2\nverdict: [S0TEAM]\n")
    assert perms.check("silence", "U2").allowed
    assert perms.grant("verdict").groups == {"S0TEAM"}
    assert not perms.grant("verdict").anyone


def test_groups_are_resolved_and_undecided_when_slack_fails() -> None:
    perms = parse_permissions('{"silence": ["S0ONCALL"]}')
    members = {"S0ONCALL": frozenset({"UONCALL"})}

    def resolve(group: str) -> frozenset[str]:
        return members[group]

    assert perms.check("silence", "UONCALL", resolve).allowed
    denied = perms.check("silence", "UOTHER", resolve)
    assert denied.outcome == "denied" and "S0ONCALL" in denied.reason
    # Without a resolver (or with Slack down) a group cannot decide: unknown, never allowed.
    assert perms.check("silence", "UONCALL").outcome == "unknown"

    def broken(group: str) -> frozenset[str]:
        raise GroupLookupError("ratelimited")

    unknown = perms.check("silence", "UONCALL", broken)
    assert unknown.outcome == "unknown" and "ratelimited" in unknown.reason
    assert not unknown.allowed


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("[1, 2]", "mapping"),
        ('{"deploy": ["U1"]}', "unknown action kind"),
        ('{"silence": ["alice"]}', "neither a Slack user id"),
        ('{"silence": {"a": 1}}', "expected a list"),
        ("{not yaml", "not YAML"),
    ],
)
def test_bad_documents_are_refused(doc: str, match: str) -> None:
    with pytest.raises(PermissionConfigError, match=match):
        parse_permissions(doc)


def test_a_bad_document_in_the_environment_denies_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTLOOP_SLACK_PERMISSIONS", '{"silence": ["nobody@example.com"]}')
    monkeypatch.setenv("ALERTLOOP_APPROVERS", "U1")
    check = permissions().check("acknowledge", "U1")
    assert check.outcome == "denied" and "ALERTLOOP_SLACK_PERMISSIONS is invalid" in check.reason

"""Who may do what from Slack: configuration, never the channel's membership alone.

ALERTLOOP_SLACK_PERMISSIONS (YAML or JSON) maps each kind of action to Slack user ids (U…/W…),
user group ids (S…, resolved with usergroups.users.list, scope usergroups:read) or "*" (anyone
who can click the button):

    approve:     [U012ABCDEF, S0ONCALL]   # approve / reject rollback proposals
    silence:     [S0ONCALL]               # silence / unsilence in Alertmanager
    take_over:   [S0ONCALL]               # take over / resume automation
    acknowledge: ["*"]
    verdict:     ["*"]                    # useful / noise / needed manual work

A kind it does not name gets its default: `approve`, `silence` and `take_over` — the users in
ALERTLOOP_APPROVERS (which keeps working: its users may always approve); `acknowledge` and
`verdict` — anyone. An invalid document refuses every click (fail closed) and says why.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from shared import envvars
from shared.approval.settings import parse_approvers
from shared.interaction.actions import PERMISSIONS, Permission

ANYONE = "*"
_USER = re.compile(r"^[UW][A-Z0-9]{1,31}$")
_GROUP = re.compile(r"^S[A-Z0-9]{1,31}$")
# Defaults for kinds the configuration does not name.
_APPROVER_KINDS: tuple[Permission, ...] = ("approve", "silence", "take_over")
GROUP_CACHE_SECONDS = 300.0
WHAT: dict[str, str] = {
    "approve": "approve or reject rollbacks",
    "silence": "silence or unsilence alerts",
    "take_over": "take over incidents or resume automation",
    "acknowledge": "acknowledge incidents",
    "verdict": "give verdicts",
}

Outcome = Literal["allowed", "denied", "unknown"]


class PermissionConfigError(ValueError):
    """ALERTLOOP_SLACK_PERMISSIONS cannot be used."""


class GroupLookupError(RuntimeError):
    """A user group's members could not be read from Slack."""


@dataclass(frozen=True)
class Grant:
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anyone: bool = False

    def describe(self) -> str:
        if self.anyone:
            return "anyone"
        names = sorted(self.users) + sorted(self.groups)
        return ", ".join(names) if names else "nobody"


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"


@dataclass(frozen=True)
class Permissions:
    grants: dict[str, Grant] = field(default_factory=dict)
    error: str = ""  # a configuration problem: every check is denied with it

    def grant(self, kind: Permission) -> Grant:
        return self.grants.get(kind, Grant())

    def check(
        self,
        kind: Permission,
        user_id: str,
        members: Callable[[str], frozenset[str]] | None = None,
    ) -> Check:
        """allowed / denied, or unknown when only a group could decide and `members` could not
        say (no resolver given, or Slack failed)."""
        if self.error:
            return Check("denied", self.error)
        grant = self.grant(kind)
        if grant.anyone or user_id in grant.users:
            return Check("allowed")
        undecided = ""
        for group in sorted(grant.groups):
            if members is None:
                undecided = f"user group {group} was not resolved"
                continue
            try:
                if user_id in members(group):
                    return Check("allowed")
            except GroupLookupError as exc:
                undecided = f"user group {group} could not be read: {exc}"
        if undecided:
            return Check("unknown", undecided)
        return Check(
            "denied",
            f"<@{user_id}> may not {WHAT[kind]} (allowed: {grant.describe()}; "
            "ALERTLOOP_SLACK_PERMISSIONS)",
        )


def _grant(kind: str, entries: Any) -> Grant:
    if isinstance(entries, str):
        entries = [e for e in re.split(r"[\s,]+", entries) if e]
    if not isinstance(entries, list):
        raise PermissionConfigError(f"{kind}: expected a list of Slack user or group ids")
    users, groups, anyone = set(), set(), False
    for raw in entries:
        entry = str(raw).strip()
        if entry == ANYONE:
            anyone = True
        elif _USER.match(entry):
            users.add(entry)
        elif _GROUP.match(entry):
            groups.add(entry)
        else:
            raise PermissionConfigError(
                f"{kind}: {entry[:40]!r} is neither a Slack user id (U…/W…), a user group id "
                '(S…) nor "*"'
            )
    return Grant(frozenset(users), frozenset(groups), anyone)


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice is an error: YAML (and Python's json) would keep
    the last list silently, and which one the operator meant cannot be known."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{str(key)[:40]!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_permissions(raw: str, approvers: frozenset[str] = frozenset()) -> Permissions:
    """The grants for every kind of action (raises PermissionConfigError)."""
    doc: Any = {}
    if raw.strip():
        try:
            doc = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            raise PermissionConfigError(f"not YAML/JSON: {str(exc)[:200]}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PermissionConfigError("expected a mapping of action kind -> list of ids")
    unknown = sorted(str(k) for k in doc if k not in PERMISSIONS)
    if unknown:
        raise PermissionConfigError(
            f"unknown action kind(s) {unknown}; known: {', '.join(PERMISSIONS)}"
        )
    bad = sorted(a for a in approvers if not _USER.match(a))
    if bad:
        raise PermissionConfigError(f"ALERTLOOP_APPROVERS holds non-user ids {bad}")
    grants: dict[str, Grant] = {}
    for kind in PERMISSIONS:
        if kind in doc:
            grants[kind] = _grant(kind, doc[kind])
        elif kind in _APPROVER_KINDS:
            grants[kind] = Grant(users=approvers)
        else:
            grants[kind] = Grant(anyone=True)
    approve = grants["approve"]
    grants["approve"] = Grant(approve.users | approvers, approve.groups, approve.anyone)
    return Permissions(grants)


def permissions() -> Permissions:
    """From the environment, on each call (cheap); a bad document denies everything."""
    approvers = parse_approvers(envvars.read("ALERTLOOP_APPROVERS"))
    try:
        return parse_permissions(envvars.read("ALERTLOOP_SLACK_PERMISSIONS"), approvers)
    except PermissionConfigError as exc:
        return Permissions(error=f"ALERTLOOP_SLACK_PERMISSIONS is invalid: {exc}")


class SlackGroups:
    """Members of Slack user groups (usergroups.users.list), cached per instance for a few
    minutes: a group change reaches alertloop within GROUP_CACHE_SECONDS."""

    def __init__(self, client_factory: Callable[[float], Any], ttl: float = GROUP_CACHE_SECONDS):
        self._client_factory = client_factory
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group_id: str, timeout: float = 10.0) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(group_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        from slack_sdk.errors import SlackApiError

        try:
            resp = self._client_factory(timeout).usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            code = exc.response.get("error", "") if exc.response is not None else ""
            raise GroupLookupError(f"Slack usergroups.users.list: {code or exc}") from exc
        except Exception as exc:  # timeouts and connection errors: undecided, not denied
            raise GroupLookupError(f"Slack usergroups.users.list: {exc}") from exc
        listed = resp.get("users")
        if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
            # Not what Slack documents: undecided (the worker refuses), never read as members.
            raise GroupLookupError(f"Slack usergroups.users.list: no list of users for {group_id}")
        users = frozenset(listed)
        with self._lock:
            self._cache[group_id] = (now + self._ttl, users)
        return users

"""Kubernetes RBAC evaluation for the sandbox: Roles, ClusterRoles and their bindings, decided
the way the RBAC authorizer decides (deny unless a rule allows; no deny rules).

- a ClusterRoleBinding grants its ClusterRole everywhere (every namespace, cluster scope);
- a RoleBinding grants its Role (or a ClusterRole) only in the binding's namespace;
- a rule matches the verb, the API group, ``resource`` or ``resource/subresource`` (or ``*``),
  and, when it lists resourceNames, only requests naming one of them;
- subjects: User (by name), Group, ServiceAccount (``system:serviceaccount:NS:NAME``); the
  ``system:masters`` group is allowed everything (the bootstrap superuser).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MASTERS = "system:masters"


@dataclass(frozen=True)
class Attributes:
    user: str
    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def forbidden_message(self) -> str:
        """The API server's 403 message."""
        res = f"{self.full_resource}.{self.group}" if self.group else self.full_resource
        named = f' "{self.name}"' if self.name else ""
        where = (
            f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        )
        return (
            f'{res}{named} is forbidden: User "{self.user}" cannot {self.verb} resource '
            f'"{self.full_resource}" in API group "{self.group}"{where}'
        )


def _has(values: Iterable[str], value: str) -> bool:
    values = list(values)
    return "*" in values or value in values


def _subject_matches(subject: dict[str, Any], attrs: Attributes) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == attrs.user)
    if kind == "Group":
        return name in attrs.groups
    if kind == "ServiceAccount":
        return attrs.user == f"system:serviceaccount:{subject.get('namespace')}:{name}"
    return False


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    names = rule.get("resourceNames") or []
    return (
        _has(rule.get("verbs") or [], attrs.verb)
        and _has(rule.get("apiGroups") or [], attrs.group)
        and _has(rule.get("resources") or [], attrs.full_resource)
        and (not names or attrs.name in names)
    )


class Rbac:
    def __init__(self, documents: Sequence[dict[str, Any]]) -> None:
        self.documents = [d for d in documents if d]
        self._roles = {
            (d["kind"], d["metadata"].get("namespace", "") if d["kind"] == "Role" else "",
             d["metadata"]["name"]): d
            for d in self.documents
            if d.get("kind") in ("Role", "ClusterRole")
        }  # fmt: skip

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) — the reason names the binding that allowed it."""
        if MASTERS in attrs.groups:
            return True, f'allowed: group "{MASTERS}"'
        for b in self.documents:
            kind = b.get("kind")
            if kind not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            ns = b["metadata"].get("namespace", "") if kind == "RoleBinding" else ""
            if kind == "RoleBinding" and ns != attrs.namespace:
                continue  # a RoleBinding never grants cluster-wide or in another namespace
            if not any(_subject_matches(s, attrs) for s in b.get("subjects") or []):
                continue
            ref = b["roleRef"]
            role = self._roles.get((ref["kind"], ns if ref["kind"] == "Role" else "", ref["name"]))
            if role and any(_rule_allows(r, attrs) for r in role.get("rules") or []):
                where = f"{ns}/" if ns else ""
                return True, (
                    f'RBAC: allowed by {kind} "{where}{b["metadata"]["name"]}" of '
                    f'{ref["kind"]} "{ref["name"]}" to User "{attrs.user}"'
                )
        return False, ""

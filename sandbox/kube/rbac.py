"""Users and RBAC authorization, as the API server has them: Role/ClusterRole rules granted by
RoleBindings (in their namespace) and ClusterRoleBindings (everywhere), matched on verb, API
group, resource (`deployments/scale`, `pods/log`, `*/scale`), resource names and non-resource
URLs; deny unless a rule allows (there are no deny rules). This is the sandbox's one RBAC
engine: requests, SubjectAccessReviews and the tests of deploy/rbac.yaml all ask it.

`RbacPolicy.from_yaml` loads manifests such as deploy/rbac.yaml, substituting its placeholders:
PROJECT_ID with a project id, and every object in namespace NAMESPACE once per namespace given
(`from_documents` takes already rendered ones, e.g. `shared.k8s.rbac_manifest.render`).
Users in the `system:masters` group bypass RBAC (the sandbox's default token is one); every
authenticated user may read discovery (/api, /apis, /version), as `system:discovery` allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.kube.request import ParsedRequest
from sandbox.kube.resources import RESOURCES
from shared.k8s.permissions import IDENTITIES
from shared.k8s.rbac_manifest import expand_namespaces

SUPERUSER_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
PROJECT_PLACEHOLDER = "PROJECT_ID"
NAMESPACE_PLACEHOLDER = "NAMESPACE"
SANDBOX_PROJECT = "alertloop-sandbox"
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


class RbacError(ValueError):
    """An RBAC manifest that cannot be loaded (says which object and why)."""


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def all_groups(self) -> tuple[str, ...]:
        return (*self.groups, AUTHENTICATED_GROUP)

    @property
    def superuser(self) -> bool:
        return SUPERUSER_GROUP in self.groups


SANDBOX_ADMIN = User("sandbox-admin", (SUPERUSER_GROUP,))


def function_user(
    function: str, project_id: str = SANDBOX_PROJECT, prefix: str = "alertloop-"
) -> str:
    """The Kubernetes user a function's Google service account is on GKE."""
    return f"{prefix}{function}@{project_id}.iam.gserviceaccount.com"


def function_users(project_id: str = SANDBOX_PROJECT) -> dict[str, User]:
    """Token -> user for each function: `<function>-token` -> its GKE identity."""
    return {f"{fn}-token": User(function_user(fn, project_id)) for fn in IDENTITIES}


@dataclass(frozen=True)
class Attributes:
    """What a request asks for, as the authorizer sees it."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests only

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


def request_attributes(req: ParsedRequest) -> Attributes | None:
    """What RBAC checks for a request (None for /version and discovery: any authenticated
    user may read those)."""
    if req.kind in ("version", "discovery"):
        return None
    if req.kind == "unknown":
        return Attributes(req.verb, path=req.path)
    res = RESOURCES.get(req.resource)
    return Attributes(
        verb=req.verb,
        api_group=res.group if res else req.group,
        resource=req.resource,
        subresource=req.subresource or "",
        namespace=req.namespace or "",
        name=req.name or "",
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # as the API server says it: which binding allowed the request

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    def allows(self, a: Attributes) -> bool:
        if "*" not in self.verbs and a.verb not in self.verbs:
            return False
        if not a.is_resource:
            return any(
                u == a.path or u == "*" or (u.endswith("*") and a.path.startswith(u[:-1]))
                for u in self.non_resource_urls
            )
        if "*" not in self.api_groups and a.api_group not in self.api_groups:
            return False
        if not any(_resource_matches(r, a.resource, a.subresource) for r in self.resources):
            return False
        return not self.resource_names or a.name in self.resource_names


def _resource_matches(rule: str, resource: str, subresource: str) -> bool:
    if rule == "*":
        return True
    combined = f"{resource}/{subresource}" if subresource else resource
    if rule == combined:
        return True
    return bool(subresource) and rule == f"*/{subresource}"


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""

    def matches(self, user: User) -> bool:
        if self.kind == "User":
            return self.name == user.name
        if self.kind == "Group":
            return self.name in user.all_groups
        if self.kind == "ServiceAccount":
            return user.name == f"system:serviceaccount:{self.namespace}:{self.name}"
        return False

    def describe(self) -> str:
        if self.kind == "ServiceAccount":
            return f'ServiceAccount "{self.name}/{self.namespace}"'
        return f'{self.kind} "{self.name}"'


@dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    name: str
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str  # Role | ClusterRole
    role_name: str
    subjects: tuple[Subject, ...]

    def describe(self, subject: Subject) -> str:
        """The API server's words for an allowing binding (`kubectl auth can-i` reasons)."""
        where = f"{self.name}/{self.namespace}" if self.kind == "RoleBinding" else self.name
        return (
            f'RBAC: allowed by {self.kind} "{where}" of {self.role_kind} "{self.role_name}" '
            f"to {subject.describe()}"
        )


@dataclass
class RbacPolicy:
    roles: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)  # (ns, name)
    cluster_roles: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)

    # loading -------------------------------------------------------------------------------

    @classmethod
    def from_yaml(
        cls,
        source: str | Path,
        *,
        project_id: str = SANDBOX_PROJECT,
        namespaces: Iterable[str] = (),
    ) -> RbacPolicy:
        """Load RBAC manifests (a path, or YAML text), placeholders substituted."""
        text = Path(source).read_text() if isinstance(source, Path) else source
        text = text.replace(PROJECT_PLACEHOLDER, project_id)
        try:
            docs = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise RbacError(f"RBAC manifest is not valid YAML: {exc}") from exc
        objects: list[Any] = []
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "List":
                objects.extend(doc.get("items") or [])
            else:
                objects.append(doc)
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict):
                raise RbacError(f"document {i + 1} is not a Kubernetes object")
        return cls.from_documents(expand_namespaces(objects, list(namespaces)))

    @classmethod
    def from_documents(cls, documents: Sequence[dict[str, Any]]) -> RbacPolicy:
        """A policy from parsed manifests (no placeholders left)."""
        policy = cls()
        for obj in documents:
            policy.add(obj)
        return policy

    def add(self, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        name, ns = meta.get("name"), meta.get("namespace") or ""
        if kind not in RBAC_KINDS:
            return  # other objects in the same file (a ServiceAccount...) grant nothing
        if obj.get("apiVersion") != RBAC_API:
            raise RbacError(f"{kind} {name!r}: apiVersion must be {RBAC_API}")
        if not name:
            raise RbacError(f"a {kind} without metadata.name")
        namespaced = kind in ("Role", "RoleBinding")
        if namespaced and not ns:
            raise RbacError(f"{kind} {name!r} has no metadata.namespace")
        if kind == "Role":
            self.roles[(ns, name)] = _rules(obj, f"Role {ns}/{name}")
        elif kind == "ClusterRole":
            self.cluster_roles[name] = _rules(obj, f"ClusterRole {name}")
        else:
            ref = obj.get("roleRef") or {}
            if ref.get("kind") not in ("Role", "ClusterRole") or not ref.get("name"):
                raise RbacError(f"{kind} {name!r}: roleRef must name a Role or ClusterRole")
            if kind == "ClusterRoleBinding" and ref["kind"] == "Role":
                raise RbacError(f"ClusterRoleBinding {name!r} cannot refer to a Role")
            subjects = tuple(
                Subject(s.get("kind", ""), s.get("name", ""), s.get("namespace") or ns)
                for s in obj.get("subjects") or []
            )
            self.bindings.append(
                Binding(kind, name, ns if namespaced else "", ref["kind"], ref["name"], subjects)
            )

    # deciding ------------------------------------------------------------------------------

    def _binding_rules(self, b: Binding) -> tuple[Rule, ...]:
        if b.role_kind == "Role":
            return self.roles.get((b.namespace, b.role_name), ())
        return self.cluster_roles.get(b.role_name, ())

    def authorize(self, user: User, a: Attributes) -> Decision:
        if user.superuser:
            return Decision(True)
        for b in self.bindings:
            if b.kind == "RoleBinding" and (not a.namespace or b.namespace != a.namespace):
                continue  # a RoleBinding grants only inside its namespace
            subject = next((s for s in b.subjects if s.matches(user)), None)
            if subject is None:
                continue
            if any(rule.allows(a) for rule in self._binding_rules(b)):
                return Decision(True, b.describe(subject))
        return Decision(False)

    def allows(self, user: User, a: Attributes) -> bool:
        return self.authorize(user, a).allowed


def _rules(obj: dict[str, Any], what: str) -> tuple[Rule, ...]:
    out = []
    for r in obj.get("rules") or []:
        verbs = tuple(r.get("verbs") or ())
        if not verbs:
            raise RbacError(f"{what}: a rule without verbs")
        out.append(
            Rule(
                verbs=verbs,
                api_groups=tuple(r.get("apiGroups") or ()),
                resources=tuple(r.get("resources") or ()),
                resource_names=tuple(r.get("resourceNames") or ()),
                non_resource_urls=tuple(r.get("nonResourceURLs") or ()),
            )
        )
    return tuple(out)


def parse_users(users: Mapping[str, User | str] | None) -> dict[str, User]:
    return {token: u if isinstance(u, User) else User(u) for token, u in (users or {}).items()}

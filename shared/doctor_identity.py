"""Who the API server actually sees: `alertloop doctor` asks it, instead of assuming an e-mail.

For each cluster, doctor creates a SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth
whoami`; https://kubernetes.io/docs/reference/access-authn-authz/authentication/#self-subject-review)
with the same client code the functions use, and — for a GKE cluster, where that is a Google
token — asks Google's tokeninfo what the token carries. GKE names a token's user by its e-mail
only when the token has the userinfo.email scope, else by the account's numeric id
(https://cloud.google.com/kubernetes-engine/docs/how-to/role-based-access-control), and
deploy/rbac.yaml binds e-mails: a token without the scope is refused on every call even though
the SubjectAccessReviews for the e-mail say yes. A mismatch is reported with its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sApiError, K8sError, K8sForbidden, K8sNotFound

TOKENINFO_URL = "https://oauth2.googleapis.com/tokeninfo"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
TOKENINFO_TIMEOUT_SECONDS = 10.0


@dataclass
class IdentityCheck:
    seen_as: str = ""  # the username the API server authenticated us as
    groups: list[str] = field(default_factory=list)
    token_email: str = ""  # what tokeninfo says the Google token belongs to ("": no e-mail)
    token_scopes: tuple[str, ...] = ()
    problem: str = ""
    fix: str = ""
    note: str = ""  # why something could not be checked

    def as_dict(self) -> dict[str, Any]:
        return {
            "seen_as": self.seen_as,
            "groups": self.groups,
            "token_email": self.token_email,
            "token_scopes": list(self.token_scopes),
            "problem": self.problem,
            "fix": self.fix,
            "note": self.note,
        }


def who_am_i(clients: KubeClients) -> tuple[str, list[str]]:
    """(username, groups) from a SelfSubjectReview; raises K8sError."""
    from kubernetes import client

    api = client.AuthenticationV1Api(clients.api_client)
    body = client.V1SelfSubjectReview(
        api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"
    )
    result = clients.call(
        "create",
        "selfsubjectreviews",
        None,
        lambda **kw: api.create_self_subject_review(body, **kw),
    )
    info = (result.get("status") or {}).get("userInfo") or {}
    return str(info.get("username") or ""), [str(g) for g in info.get("groups") or []]


def tokeninfo(token: str, url: str) -> dict[str, Any] | None:
    """Google's tokeninfo answer for an access token, or None when it cannot be read."""
    import requests

    try:
        resp = requests.get(url, params={"access_token": token}, timeout=TOKENINFO_TIMEOUT_SECONDS)
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_identity(clients: KubeClients, tokeninfo_url: str = TOKENINFO_URL) -> IdentityCheck:
    out = IdentityCheck()
    try:
        out.seen_as, out.groups = who_am_i(clients)
    except (K8sNotFound, K8sForbidden, K8sApiError) as exc:
        out.note = (
            f"cannot ask who the API server sees (SelfSubjectReview, Kubernetes 1.28+): "
            f"{exc.message}"
        )
    except K8sError as exc:
        out.note = f"cannot ask who the API server sees: {exc.message}"
    if clients.token_source is None:
        return out  # a kubeconfig credential: the username is the answer
    try:
        token = clients.token_source.token()
    except K8sError as exc:
        out.note = f"no Google token to inspect: {exc.message}"
        return out
    info = tokeninfo(token, tokeninfo_url)
    if info is None:
        out.note = (out.note + "; " if out.note else "") + (
            f"cannot read the token's tokeninfo ({tokeninfo_url})"
        )
        return out
    out.token_email = str(info.get("email") or "")
    out.token_scopes = tuple(str(info.get("scope") or "").split())
    if not out.token_email or USERINFO_EMAIL not in out.token_scopes:
        out.problem = (
            f"the Google token has no userinfo.email scope (scopes: "
            f"{' '.join(out.token_scopes) or 'none'}), so GKE sees the account's numeric id "
            f"{out.seen_as or str(info.get('sub') or '?')!r}, not its e-mail: RBAC bound to "
            "e-mails (deploy/rbac.yaml) refuses every call"
        )
        out.fix = (
            "request the scopes cloud-platform and userinfo.email for GKE tokens "
            "(shared/clusters/gke.py GKE_SCOPES does; an older build or a custom credential may "
            "not)"
        )
    elif out.seen_as and out.seen_as != out.token_email:
        out.problem = (
            f"the API server sees {out.seen_as!r}, but the token belongs to {out.token_email!r}"
        )
        out.fix = f"bind RBAC to {out.seen_as!r}, or check the cluster's authentication setup"
    return out

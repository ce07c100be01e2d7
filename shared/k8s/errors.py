"""Typed Kubernetes access errors. Each says what went wrong and how to fix it."""

from __future__ import annotations


class K8sError(Exception):
    """Base: a Kubernetes API call or the client setup failed (an expected failure)."""

    status: int | None = None
    # Could the request have reached the server? False only when it provably did not (the
    # connection was never made): a write that failed otherwise may have been applied.
    maybe_sent: bool = True

    def __init__(self, message: str, *, fix: str = "", maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.maybe_sent = maybe_sent

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class K8sNotConfigured(K8sError):
    """No kubeconfig, no KUBE_CONFIG_DATA and not in a cluster."""


class K8sConfigError(K8sError):
    """A kubeconfig was given but cannot be used."""


class K8sForbidden(K8sError):
    """RBAC refused a call; carries the missing permission."""

    status = 403

    def __init__(
        self, verb: str, resource: str, namespace: str | None, group: str = "", detail: str = ""
    ) -> None:
        self.verb, self.resource, self.namespace, self.group = verb, resource, namespace, group
        where = f'in namespace "{namespace}"' if namespace else "at cluster scope"
        api_group = f'API group "{group}"' if group else 'the core API group ""'
        kind = "Role + RoleBinding" if namespace else "ClusterRole + ClusterRoleBinding"
        super().__init__(
            f"forbidden: cannot {verb} {resource} {where}" + (f": {detail}" if detail else ""),
            fix=f'grant verb "{verb}" on resource "{resource}" in {api_group} {where} '
            f"to the alertloop service account ({kind})",
        )


class K8sNotFound(K8sError):
    status = 404


class K8sTimeout(K8sError):
    """The API server did not answer within the configured timeout."""


class K8sUnreachable(K8sError):
    """Connection refused, DNS failure, TLS failure..."""


class K8sApiError(K8sError):
    """Any other API error status (409, 422, 5xx...)."""

    def __init__(
        self, message: str, status: int | None, *, reason: str = "", fix: str = ""
    ) -> None:
        super().__init__(message, fix=fix, maybe_sent=True)
        self.status = status
        self.reason = reason

"""GKE access with the process's own Google identity — no kubeconfig.

- credentials: Application Default Credentials (`google.auth.default`, scopes cloud-platform
  and userinfo.email — see `GKE_SCOPES`):
  on Cloud Run / Cloud Functions the function's service account, from the metadata server;
- endpoint and CA: the Container API's `projects.locations.clusters.get` (the
  google-cloud-container client, REST transport), unless the cluster table gives them;
- a kubernetes `Configuration` whose bearer token is refreshed before it expires
  (`refresh_api_key_hook` runs before every request; google-auth refreshes ~4 min early).

GKE authenticates the token as the service account's e-mail (only because the token carries
userinfo.email), so RBAC binds that e-mail
(deploy/rbac.yaml). Every failure is a `K8sCredentialsError` (a `K8sConfigError`) saying what to
grant or set. ``ALERTLOOP_CONTAINER_API_URL`` points the Container API client elsewhere (the
local sandbox's fake; local only). Google and kubernetes packages are imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import envvars
from shared.k8s.errors import K8sConfigError

if TYPE_CHECKING:
    from shared.clusters.table import ClusterEntry

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
USERINFO_EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
# GKE maps a Google access token to the RBAC user named by its e-mail only when the token
# carries userinfo.email; a cloud-platform-only token is the account's numeric unique id, which
# deploy/rbac.yaml does not bind, so every call would be a 403
# (https://cloud.google.com/kubernetes-engine/docs/how-to/role-based-access-control). client-go's
# gcp auth plugin and gke-gcloud-auth-plugin request exactly these two scopes.
GKE_SCOPES = (CLOUD_PLATFORM_SCOPE, USERINFO_EMAIL_SCOPE)
CONTAINER_API_ENV = "ALERTLOOP_CONTAINER_API_URL"
VIEWER_ROLE = "roles/container.clusterViewer"
ADC_FIX = (
    "on Cloud Run / Cloud Functions the function's service account provides them; elsewhere "
    "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
)


class K8sCredentialsError(K8sConfigError):
    """No usable Google credentials, or the cluster's endpoint/CA could not be fetched."""


@lru_cache(maxsize=1)
def adc_credentials() -> Any:
    """The process's Application Default Credentials (`GKE_SCOPES`), created once."""
    import google.auth
    from google.auth.exceptions import GoogleAuthError

    try:
        creds, _project = google.auth.default(scopes=list(GKE_SCOPES))
    except GoogleAuthError as exc:
        raise K8sCredentialsError(f"no Google credentials: {exc}", fix=ADC_FIX) from exc
    return creds


class GoogleTokenSource:
    """A bearer token from Google credentials, refreshed when (nearly) expired. Thread-safe."""

    def __init__(self, credentials: Any, what: str) -> None:
        self.credentials = credentials
        self.what = what
        self._lock = threading.Lock()

    def token(self) -> str:
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request

        with self._lock:
            try:
                if not self.credentials.valid:
                    self.credentials.refresh(Request())
            except GoogleAuthError as exc:
                raise K8sCredentialsError(
                    f"cannot get a Google access token for {self.what}: {exc}", fix=ADC_FIX
                ) from exc
            return str(self.credentials.token)

    def invalidate(self) -> None:
        """Forget the token (the server refused it): the next `token()` fetches a new one."""
        with self._lock:
            self.credentials.token = None


def _identity(credentials: Any) -> str:
    email = getattr(credentials, "service_account_email", "") or ""
    return email if email and email != "default" else "the function's service account"


def fetch_endpoint(entry: ClusterEntry, credentials: Any, timeout: float) -> tuple[str, str]:
    """(https endpoint, base64 PEM CA) of a GKE cluster from the Container API."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError
    from google.cloud import container_v1

    project = entry.gke_parts[0]
    api_url = envvars.read(CONTAINER_API_ENV)
    options = {"api_endpoint": api_url} if api_url else None
    client = container_v1.ClusterManagerClient(
        credentials=credentials, transport="rest", client_options=options
    )
    try:
        cluster = client.get_cluster(name=entry.gke, timeout=timeout, retry=None)
    except (gexc.PermissionDenied, gexc.Forbidden) as exc:  # REST maps by HTTP status
        raise K8sCredentialsError(
            f"cluster {entry.name}: not allowed to get GKE cluster {entry.gke}: {exc.message}",
            fix=f"grant {VIEWER_ROLE} on project {project} to {_identity(credentials)}",
        ) from exc
    except (gexc.Unauthenticated, gexc.Unauthorized) as exc:
        who = _identity(credentials)
        raise K8sCredentialsError(
            f"cluster {entry.name}: the Container API refused the Google credentials of {who}: "
            f"{exc.message}",
            fix=ADC_FIX,
        ) from exc
    except gexc.NotFound as exc:
        raise K8sCredentialsError(
            f"cluster {entry.name}: GKE cluster {entry.gke} does not exist",
            fix="check gke: in the cluster table (projects/P/locations/L/clusters/C)",
        ) from exc
    except (gexc.GoogleAPIError, GoogleAuthError, OSError) as exc:
        # Connection errors and timeouts of the REST transport (requests) are OSErrors.
        raise K8sCredentialsError(
            f"cluster {entry.name}: cannot get GKE cluster {entry.gke}: {exc}",
            fix="check network access to the Container API (container.googleapis.com)",
        ) from exc
    finally:
        client.transport.close()  # type: ignore[no-untyped-call]
    if entry.endpoint_type == "private":
        host = cluster.private_cluster_config.private_endpoint
    else:
        host = cluster.endpoint
    if not host:
        raise K8sCredentialsError(
            f"cluster {entry.name}: GKE cluster {entry.gke} has no {entry.endpoint_type} endpoint",
            fix="set endpoint_type (public|private) or endpoint in the cluster table",
        )
    return f"https://{host}", str(cluster.master_auth.cluster_ca_certificate or "")


def ca_file(ca_b64: str) -> str:
    """The CA written once to a file (the kubernetes client wants a path), named by content."""
    try:
        pem = base64.b64decode(ca_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise K8sCredentialsError(
            "the cluster CA certificate is not valid base64", fix="check ca_data"
        ) from exc
    digest = hashlib.sha256(pem).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"alertloop-ca-{digest}.pem"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(path)  # atomic: concurrent instances never read half a file
    return str(path)


def gke_configuration(
    entry: ClusterEntry, timeout: float, credentials: Any = None
) -> tuple[Any, GoogleTokenSource]:
    """A kubernetes `Configuration` for a GKE cluster, and its token source.

    `credentials` defaults to the process's ADC. A token is fetched now, so a missing identity
    fails here (clearly) instead of on the first API call.
    """
    from kubernetes import client

    creds = credentials if credentials is not None else adc_credentials()
    if entry.endpoint:
        endpoint, ca = entry.endpoint, entry.ca_data or ""
    else:
        endpoint, ca = fetch_endpoint(entry, creds, timeout)
    source = GoogleTokenSource(creds, f"cluster {entry.name}")
    cfg: Any = client.Configuration()
    cfg.host = endpoint
    cfg.verify_ssl = True
    if ca:
        cfg.ssl_ca_cert = ca_file(ca)
    cfg.api_key = {"BearerToken": source.token()}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}

    def _refresh(c: Any) -> None:
        c.api_key["BearerToken"] = source.token()

    cfg.refresh_api_key_hook = _refresh
    return cfg, source

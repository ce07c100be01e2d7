"""The Kubernetes client factory and a call wrapper that turns failures into typed errors.

`load_clients()` builds a `KubeClients` from the environment (KUBECONFIG, KUBE_CONFIG_DATA, or
in-cluster); `load_clients(cluster=entry)` for one entry of the cluster table
(shared.clusters.table: GKE with the process's Google identity, or a kubeconfig context). Code
that needs the cluster takes a `ClientFactory` (any zero-argument callable returning
`KubeClients`) so tests and other stages can inject their own
(`shared.clusters.clients.client_factory(entry)` caches per cluster)::

    clients = load_clients()                      # or factory()
    pods = clients.call("list", "pods", "shop",
                        lambda **kw: clients.core.list_namespaced_pod("shop", **kw))

`call` adds `_request_timeout` and `_preload_content=False`, and parses the response body as
JSON itself — the API's own shape (camelCase), with every field the server sent. The client's
typed models are never built: they refuse real objects (a containerStatus without `imageID`,
a field newer than the model), and one odd object would fail a whole investigation. It raises
`K8sForbidden` / `K8sNotFound` / `K8sTimeout` / `K8sUnreachable` / `K8sApiError` instead of
client exceptions. The kubernetes package is imported lazily here.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import yaml

from shared.k8s.errors import (
    K8sApiError,
    K8sConfigError,
    K8sError,
    K8sForbidden,
    K8sNotConfigured,
    K8sNotFound,
    K8sTimeout,
    K8sUnreachable,
)
from shared.k8s.settings import HOW_TO_CONFIGURE, K8sSettings, k8s_settings

if TYPE_CHECKING:
    from shared.clusters.table import ClusterEntry

SANDBOX_MARKER = "alertloop-sandbox"

# plural -> API group, for error messages
GROUPS = {
    "deployments": "apps",
    "deployments/scale": "apps",
    "replicasets": "apps",
    "statefulsets": "apps",
    "daemonsets": "apps",
    "jobs": "batch",
    "horizontalpodautoscalers": "autoscaling",
    "scaledobjects": "keda.sh",
    "apiservices": "apiregistration.k8s.io",
    "endpointslices": "discovery.k8s.io",
}


@dataclass
class KubeClients:
    """One configured ApiClient and the typed APIs built on it (created lazily)."""

    api_client: Any
    settings: K8sSettings = field(default_factory=K8sSettings)
    source: str = ""  # "kubeconfig:<path>", "KUBE_CONFIG_DATA", "in-cluster", "gke:<name>"
    host: str = ""
    cluster: str = ""  # the cluster table's name for it
    # Google-token clusters: a 401 invalidates the token and the call is retried once.
    token_source: Any = None

    @cached_property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    @cached_property
    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client)

    @cached_property
    def autoscaling(self) -> Any:
        from kubernetes import client

        return client.AutoscalingV2Api(self.api_client)

    @cached_property
    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.api_client)

    @cached_property
    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    @cached_property
    def apiregistration(self) -> Any:
        from kubernetes import client

        return client.ApiregistrationV1Api(self.api_client)

    @cached_property
    def authorization(self) -> Any:
        from kubernetes import client

        return client.AuthorizationV1Api(self.api_client)

    @cached_property
    def apis(self) -> Any:
        from kubernetes import client

        return client.ApisApi(self.api_client)

    @cached_property
    def version(self) -> Any:
        from kubernetes import client

        return client.VersionApi(self.api_client)

    @property
    def timeout(self) -> float:
        return self.settings.timeout_seconds

    def to_dict(self, obj: Any) -> Any:
        """A client model as the API's JSON (camelCase keys, ISO timestamps)."""
        return self.api_client.sanitize_for_serialization(obj)

    def call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        fn: Callable[..., Any],
        *,
        raw: bool = False,
    ) -> Any:
        """Run `fn(_request_timeout=...)`; map failures to typed errors; return a dict.

        `verb`/`resource`/`namespace` name the permission the call needs (for 403 messages).
        `raw=True` returns the body as text (e.g. a log).
        """
        import urllib3.exceptions
        from kubernetes.client.exceptions import ApiException

        what = f"{verb} {resource}" + (f' in namespace "{namespace}"' if namespace else "")

        def invoke() -> Any:
            response = fn(_request_timeout=self.timeout, _preload_content=False)
            return self._body(response, raw, what)

        try:
            try:
                return invoke()
            except ApiException as exc:
                if exc.status != 401 or self.token_source is None:
                    raise
                self.token_source.invalidate()  # revoked or expired early: one fresh token
                return invoke()
        except ApiException as exc:
            raise translate_api_exception(exc, verb, resource, namespace) from exc
        except urllib3.exceptions.NewConnectionError as exc:  # subclasses ConnectTimeoutError
            raise K8sUnreachable(
                f"cannot reach the Kubernetes API at {self.host} ({what}): {exc}",
                fix="check the kubeconfig's server address and network access",
                maybe_sent=False,
            ) from exc
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise K8sTimeout(
                f"Kubernetes API at {self.host} did not answer within {self.timeout:g}s ({what})",
                fix="check the API server's reachability, or raise ALERTLOOP_K8S_TIMEOUT_SECONDS",
                maybe_sent=not isinstance(exc, urllib3.exceptions.ConnectTimeoutError),
            ) from exc
        except urllib3.exceptions.MaxRetryError as exc:
            unsent = isinstance(
                exc.reason,
                urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError,
            )
            if isinstance(exc.reason, urllib3.exceptions.TimeoutError) and not isinstance(
                exc.reason, urllib3.exceptions.NewConnectionError
            ):
                raise K8sTimeout(
                    f"Kubernetes API at {self.host} did not answer within {self.timeout:g}s "
                    f"({what})",
                    fix="check the API server's reachability, or raise "
                    "ALERTLOOP_K8S_TIMEOUT_SECONDS",
                    maybe_sent=not unsent,
                ) from exc
            raise K8sUnreachable(
                f"cannot reach the Kubernetes API at {self.host} ({what}): {exc.reason}",
                fix="check the kubeconfig's server address and network access",
                maybe_sent=not unsent,
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise K8sUnreachable(
                f"cannot reach the Kubernetes API at {self.host} ({what}): {exc}",
                fix="check the kubeconfig's server address and network access",
            ) from exc

    def _body(self, response: Any, raw: bool, what: str) -> Any:
        """The response body: text when `raw`, else the JSON document as the server sent it."""
        import urllib3

        if not isinstance(response, urllib3.BaseHTTPResponse):
            return response if raw else self.to_dict(response)  # an injected client's answer
        try:
            data = response.data  # reads it all (a slow body times out here, as a call)
        finally:
            response.release_conn()
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        if raw:
            return text
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise K8sApiError(
                f"the Kubernetes API at {self.host} answered {what} with something that is not "
                f"JSON: {text[:200]!r}",
                response.status,
                reason="UnreadableResponse",
            ) from exc

    def is_sandbox(self) -> bool:
        """True when the server is alertloop's sandbox API server (its /version says so)."""
        info = self.call("get", "version", None, lambda **kw: self.version.get_code(**kw))
        return SANDBOX_MARKER in str(info.get("gitVersion", ""))

    def close(self) -> None:
        closer = getattr(self.api_client, "close", None)
        if callable(closer):
            closer()


ClientFactory = Callable[[], KubeClients]


def _status_message(exc: Any) -> tuple[str, str]:
    body = getattr(exc, "body", None)
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = str(data.get("message") or getattr(exc, "reason", "") or "")
    return message, str(data.get("reason") or getattr(exc, "reason", "") or "")


def translate_api_exception(exc: Any, verb: str, resource: str, namespace: str | None) -> K8sError:
    """An ApiException as a typed error naming the verb/resource/namespace."""
    status = getattr(exc, "status", None)
    message, reason = _status_message(exc)
    group = GROUPS.get(resource, "")
    if status == 0:  # the client never got an answer; it wraps TLS failures this way
        return K8sUnreachable(
            f"cannot talk to the Kubernetes API ({verb} {resource}): {reason}".strip(),
            fix="check the cluster's CA certificate (ca_data, or the kubeconfig's "
            "certificate-authority-data) and its server address",
        )
    if status == 403:
        return K8sForbidden(verb, resource, namespace, group, message)
    where = f' in namespace "{namespace}"' if namespace else ""
    if status == 404:
        return K8sNotFound(f"{resource} not found{where}: {message}".rstrip(": "))
    if status == 401:
        return K8sApiError(
            f"unauthorized ({verb} {resource}{where}): {message}",
            401,
            reason=reason,
            fix="the credentials (kubeconfig, or the Google token for a GKE cluster) are invalid "
            "or expired; refresh them",
        )
    return K8sApiError(
        f"Kubernetes API error {status} {reason} ({verb} {resource}{where}): {message}",
        status,
        reason=reason,
    )


def _decode_kubeconfig_data(data: str) -> dict[str, Any]:
    text = data
    if not data.lstrip().startswith(("apiVersion", "{", "kind", "clusters", "---")):
        try:
            text = base64.b64decode(data, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise K8sConfigError(
                "KUBE_CONFIG_DATA is not valid base64",
                fix="set it to the output of `base64 -w0 ~/.kube/config`",
            ) from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise K8sConfigError(
            f"KUBE_CONFIG_DATA does not decode to a kubeconfig: {exc}",
            fix="set it to the output of `base64 -w0 ~/.kube/config`",
        ) from exc
    if not isinstance(loaded, dict) or "clusters" not in loaded:
        raise K8sConfigError(
            "KUBE_CONFIG_DATA does not decode to a kubeconfig (no 'clusters')",
            fix="set it to the output of `base64 -w0 ~/.kube/config`",
        )
    return loaded


def _kubeconfig_path(value: str) -> str:
    paths = [p for p in value.split(os.pathsep) if p]
    for p in paths:
        if os.path.isfile(p):
            return p
    raise K8sConfigError(
        f"KUBECONFIG names no readable file ({value})",
        fix="point KUBECONFIG at an existing kubeconfig file, or use KUBE_CONFIG_DATA",
    )


def load_clients(
    settings: K8sSettings | None = None, cluster: ClusterEntry | None = None
) -> KubeClients:
    """Build clients from KUBECONFIG, else KUBE_CONFIG_DATA, else the in-cluster config; or for
    one entry of the cluster table (`gke`: Google identity; `kubeconfig_context`: that context).

    Raises K8sNotConfigured when none is available and K8sConfigError when one is unusable.
    """
    s = settings or k8s_settings()
    name = cluster.name if cluster is not None else ""
    if cluster is not None and cluster.kind == "gke":
        from kubernetes import client as kclient

        from shared.clusters.gke import gke_configuration

        gcfg, token_source = gke_configuration(cluster, s.timeout_seconds)
        gcfg.retries = False
        return KubeClients(
            kclient.ApiClient(gcfg),
            settings=s,
            source=f"gke:{cluster.gke}",
            host=str(gcfg.host),
            cluster=name,
            token_source=token_source,
        )
    if not s.configured:
        where = f" for cluster {name}" if name else ""
        raise K8sNotConfigured(f"Kubernetes access is not configured{where}", fix=HOW_TO_CONFIGURE)

    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException

    config: Any = __import__("kubernetes.config", fromlist=["config"])
    cfg = client.Configuration()
    if cluster is not None and cluster.kind == "kubeconfig":
        context: str | None = cluster.kubeconfig_context
        if s.in_cluster and not (s.kubeconfig or s.kubeconfig_data):
            raise K8sConfigError(
                f"cluster {name} names kubeconfig context {context!r} but no kubeconfig is set",
                fix="set KUBECONFIG or KUBE_CONFIG_DATA to a kubeconfig with that context",
            )
    else:
        context = s.context or None
    try:
        if s.kubeconfig:
            path = _kubeconfig_path(s.kubeconfig)
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
            source = f"kubeconfig:{path}"
        elif s.kubeconfig_data:
            data = _decode_kubeconfig_data(s.kubeconfig_data)
            config.load_kube_config_from_dict(data, context=context, client_configuration=cfg)
            source = "KUBE_CONFIG_DATA"
        else:
            config.load_incluster_config(client_configuration=cfg)
            source = "in-cluster"
    except ConfigException as exc:
        raise K8sConfigError(
            f"cannot load the Kubernetes configuration: {exc}",
            fix="check the kubeconfig (context, cluster, user entries)",
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise K8sConfigError(
            f"cannot load the Kubernetes configuration: {exc}",
            fix="check the kubeconfig (context, cluster, user entries)",
        ) from exc
    # Fail fast: no urllib3 retries (a retried read timeout would multiply the wait).
    cfg.retries = False
    return KubeClients(
        client.ApiClient(cfg), settings=s, source=source, host=str(cfg.host), cluster=name
    )


def default_factory(settings: K8sSettings | None = None) -> ClientFactory:
    """A factory reading the environment when called (so env changes are picked up)."""
    return lambda: load_clients(settings)

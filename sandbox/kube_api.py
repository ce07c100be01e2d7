"""A sandbox Kubernetes API server: the REST API for tests and the local demo.

No real API server can run here, so this serves realistic object shapes (from
`sandbox.kube_scenarios`, or a user's `kubectl get … -A -o yaml` dump) and the real `kubernetes`
python client (and kubectl) talk to it. Like a real one it authenticates bearer tokens,
enforces RBAC manifests such as deploy/rbac.yaml, validates writes, and leaves rollouts to an
asynchronous deployment controller. The server lives in the `sandbox.kube` package (one module
per concern); this module keeps the names callers import and the command line.

In-process (tests)::

    with KubeApiServer("crashloop") as srv:
        os.environ["KUBECONFIG"] = srv.kubeconfig_path     # a superuser's (no RBAC)
        ...
        srv.requests                # every request: method, path, query, body, user, response
        srv.add_fault(Fault("forbidden", resource="pods", verb="list"))
        srv.mutate("deployments", "shop", "checkout", lambda d: d["status"].update(...))
        srv.wait_for_controller()   # until the deployment controller has acted

    with KubeApiServer(remediation(), users=function_users(), rbac_yaml=Path("deploy/rbac.yaml"),
                       tls=True) as srv:
        srv.kubeconfig_for("remediate-token")   # alertloop-remediate@…, as deploy/rbac.yaml grants

    # GKE-like: Google access tokens from the local metadata server are the service account
    # e-mails; SubjectAccessReviews answered from the same RBAC (`alertloop doctor`)
    with KubeApiServer(remediation(), tls=True, google_tokens=md.resolve,
                       rbac_yaml=render(identities, namespaces), superusers={admin}) as srv:
        srv.address, srv.certificates.ca_b64   # GKE's endpoint / clusterCaCertificate

As a process (local demo)::

    python -m sandbox.kube_api --scenario demo --kubeconfig-out /tmp/kubeconfig
    python -m sandbox.kube_api --scenario-file dump.yaml [--logs-file dump.logs.yaml]
    python -m sandbox.kube_api --rbac deploy/rbac.yaml --namespaces shop --kubeconfig-dir DIR

prints one JSON line ``{"url": ..., "kubeconfig": ...}`` when ready and serves until SIGTERM.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from sandbox.kube.cli import main
from sandbox.kube.dump import DumpError, load_dump
from sandbox.kube.errors import ApiError, status_object
from sandbox.kube.faults import Fault
from sandbox.kube.rbac import (
    Attributes,
    Decision,
    RbacError,
    RbacPolicy,
    User,
    function_user,
    function_users,
    request_attributes,
)
from sandbox.kube.request import ParsedRequest, RecordedRequest, parse_path
from sandbox.kube.resources import (
    RESOURCES,
    REVISION_ANNOTATION,
    SANDBOX_CLUSTER_NAME,
    SANDBOX_GIT_VERSION,
    Resource,
    plural_for_kind,
)
from sandbox.kube.scenario import Scenario
from sandbox.kube.server import KubeApiServer
from sandbox.kube.store import ClusterState, now_iso, object_uid, template_hash

__all__ = [
    "RESOURCES",
    "REVISION_ANNOTATION",
    "SANDBOX_CLUSTER_NAME",
    "SANDBOX_GIT_VERSION",
    "ApiError",
    "Attributes",
    "ClusterState",
    "Decision",
    "DumpError",
    "Fault",
    "KubeApiServer",
    "ParsedRequest",
    "RbacError",
    "RbacPolicy",
    "RecordedRequest",
    "Resource",
    "Scenario",
    "User",
    "function_user",
    "function_users",
    "iter_scenario_names",
    "load_dump",
    "main",
    "now_iso",
    "object_uid",
    "parse_path",
    "plural_for_kind",
    "request_attributes",
    "status_object",
    "template_hash",
]


def iter_scenario_names() -> Iterator[str]:
    from sandbox import kube_scenarios

    yield from kube_scenarios.SCENARIOS


if __name__ == "__main__":
    sys.exit(main())

"""Sandbox scenarios for remediation tests (built from `sandbox.kube_scenarios`' builders).

"remediation" (namespace shop unless said):
  api        2 replicas, no HPA                      (restart, scale subresource)
  web        3 replicas, HPA web 3..10 at 3          (HPA below max: no action)
  search     5 replicas, HPA search 2..5 at max      (raise maxReplicas)
  checkout   revision 4 deployed 8 minutes ago       (rollback proposal)
  legacy     annotated alertloop.io/remediate=false  (opt-out)
  kube-system/coredns                                (never changed)
  data/postgres StatefulSet                          (database)
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.kube.scenario import Scenario
from sandbox.kube_scenarios import (
    add_app,
    database,
    healthy,
    hpa_max,
    recent_deploy,
)

OPT_OUT = {"alertloop.io/remediate": "false"}


def remediation(now: datetime | None = None) -> Scenario:
    n = now or datetime.now(UTC)
    sc = Scenario("remediation", description=__doc__ or "")
    sc.extend(healthy(n)).extend(hpa_max(n)).extend(recent_deploy(n)).extend(database(n))
    add_app(sc, "api", [("registry.example.com/shop/api:2.3.1", 3000)], now=n, replicas=2)
    legacy, _, _ = add_app(
        sc, "legacy", [("registry.example.com/shop/legacy:0.9", 9000)], now=n, replicas=2
    )
    legacy["metadata"]["annotations"].update(OPT_OUT)
    add_app(
        sc,
        "coredns",
        [("registry.k8s.io/coredns/coredns:v1.11.1", 90000)],
        now=n,
        ns="kube-system",
        replicas=2,
    )
    return sc

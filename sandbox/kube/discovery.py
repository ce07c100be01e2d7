"""/version and API discovery (/api, /apis, /apis/<group>[/<version>], /api/v1): what the
`kubernetes` client and kubectl ask before anything else. metrics.k8s.io is listed only while
the v1beta1.metrics.k8s.io APIService is Available (as the aggregator does)."""

from __future__ import annotations

from typing import Any

from sandbox.kube.errors import no_such_resource
from sandbox.kube.resources import RESOURCES, SANDBOX_GIT_VERSION
from sandbox.kube.store import ClusterState

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def version_info() -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "30",
        "gitVersion": SANDBOX_GIT_VERSION,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2024-06-11T00:00:00Z",
        "goVersion": "go1.22.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def metrics_available(state: ClusterState) -> bool:
    svc = state.get("apiservices", None, "v1beta1.metrics.k8s.io")
    if not svc:
        return False
    return any(
        c.get("type") == "Available" and c.get("status") == "True"
        for c in svc.get("status", {}).get("conditions", [])
    )


def _groups(state: ClusterState) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for res in RESOURCES.values():
        if res.group:
            groups.setdefault(res.group, [])
            if res.version not in groups[res.group]:
                groups[res.group].append(res.version)
    if metrics_available(state):
        groups["metrics.k8s.io"] = ["v1beta1"]
    return groups


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
    }


def _resource_list(state: ClusterState, group: str, version: str) -> list[dict[str, Any]]:
    if group == "metrics.k8s.io" and metrics_available(state):
        names = [("pods", "PodMetrics", True), ("nodes", "NodeMetrics", False)]
        return [
            {"name": n, "singularName": "", "namespaced": ns, "kind": k, "verbs": ["get", "list"]}
            for n, k, ns in names
        ]
    resources: list[dict[str, Any]] = []
    for res in RESOURCES.values():
        if res.group != group or res.version != version:
            continue
        resources.append(
            {
                "name": res.plural,
                "singularName": res.kind.lower(),
                "namespaced": res.namespaced,
                "kind": res.kind,
                "verbs": ALL_VERBS,
                "shortNames": list(res.short_names),
            }
        )
        for sub in res.subresources:
            resources.append(
                {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": "Scale" if sub == "scale" else res.kind,
                    "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                }
            )
    return resources


def discovery(state: ClusterState, path: str, server_address: str) -> dict[str, Any]:
    parts = [p for p in path.split("/") if p]
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_doc(g, vs) for g, vs in sorted(_groups(state).items())],
        }
    if len(parts) == 2 and parts[0] == "apis":
        vs = _groups(state).get(parts[1])
        if not vs:
            raise no_such_resource()
        return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(parts[1], vs)}
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    resources = _resource_list(state, group, version)
    if not resources:
        raise no_such_resource()
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }

"""The REST semantics behind each request: get, list (selectors, limit), create, update (PUT),
patch (three flavours, resourceVersion precondition), delete, and the subresources the clients
use (pods/log, */scale, */status)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from sandbox.kube.controller import DeploymentController
from sandbox.kube.errors import ApiError, conflict, invalid, no_such_resource, not_found
from sandbox.kube.patches import json_patch, merge_patch, strategic_merge_patch
from sandbox.kube.request import ParsedRequest
from sandbox.kube.resources import GENERATION_TRACKED, RESOURCES, SCALABLE, Resource
from sandbox.kube.selectors import (
    field_selector_matches,
    label_selector_matches,
    unsupported_field,
)
from sandbox.kube.store import ClusterState
from sandbox.kube.validation import hpa_causes, workload_causes

Response = tuple[int, str, bytes]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
WORKLOADS = frozenset({"deployments", "replicasets", "statefulsets", "daemonsets"})


def ok(body: dict[str, Any], status: int = 200) -> Response:
    return status, "application/json", json.dumps(body).encode()


def with_kind(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["kind"] = res.kind
    out["apiVersion"] = res.api_version
    return out


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    sel = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace", ""),
            "uid": obj["metadata"].get("uid", ""),
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"].get("creationTimestamp"),
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items())),
        },
    }


def apply_patch(current: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
    ctype = content_type.split(";")[0].strip()
    if ctype == JSON_PATCH:
        if not isinstance(body, list):
            raise ApiError(400, "BadRequest", "json patch body must be a list of operations")
        return dict(json_patch(current, body))
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "patch body must be a JSON object")
    if ctype == MERGE_PATCH:
        return dict(merge_patch(current, body))
    if ctype == STRATEGIC_MERGE_PATCH:
        return dict(strategic_merge_patch(current, body))
    if ctype == APPLY_PATCH:
        raise ApiError(
            415, "UnsupportedMediaType", "server-side apply is not supported by the sandbox"
        )
    raise ApiError(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {ctype}"
    )


class ResourceApi:
    """Requests on resources, against one ClusterState."""

    def __init__(self, state: ClusterState, controller: DeploymentController | None = None) -> None:
        self.state = state
        self.controller = controller

    def dispatch(self, req: ParsedRequest, content_type: str, body: Any) -> Response:
        res = RESOURCES.get(req.resource)
        if res is None or res.group != req.group or res.version != req.version:
            raise no_such_resource()
        if req.subresource == "log":
            return self._log(req)
        if req.subresource == "scale":
            return self._scale(req, res, content_type, body)
        if req.method == "GET":
            if req.name is None:
                return ok(self._list(req, res))
            return ok(self._get(req, res))
        if req.method == "PATCH":
            return ok(self._patch(req, res, content_type, body))
        if req.method == "PUT":
            return ok(self._put(req, res, body))
        if req.method == "POST":
            return ok(self._create(req, res, body), 201)
        if req.method == "DELETE":
            return ok(self._delete(req, res))
        raise ApiError(405, "MethodNotAllowed", f"method {req.method} not allowed")

    # read ---------------------------------------------------------------------------------

    def _get(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        assert req.name is not None
        obj = self.state.get(res.plural, req.namespace, req.name)
        if obj is None:
            raise not_found(res, req.name)
        return with_kind(obj, res)

    def _list(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        items = self.state.list(res.plural, req.namespace if res.namespaced else None)
        lsel, fsel = req.query.get("labelSelector", ""), req.query.get("fieldSelector", "")
        if lsel:
            items = [
                i for i in items if label_selector_matches(lsel, i["metadata"].get("labels") or {})
            ]
        if fsel:
            refusal = unsupported_field(res.plural, fsel)
            if refusal is not None:
                raise ApiError(400, "BadRequest", refusal)
            items = [i for i in items if field_selector_matches(fsel, i)]
        limit = int(req.query.get("limit") or 0)
        if limit:
            items = items[:limit]
        return {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": self.state.resource_version},
            # as the API server sends them: list items carry no kind/apiVersion
            "items": [
                {k: v for k, v in copy.deepcopy(i).items() if k not in ("kind", "apiVersion")}
                for i in items
            ],
        }

    # write --------------------------------------------------------------------------------

    @staticmethod
    def _check_precondition(res: Resource, current: dict[str, Any], body: Any) -> None:
        wanted = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise conflict(res, current["metadata"]["name"])

    def _store_update(
        self, req: ParsedRequest, res: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate and store an update as the API server does: the main resource cannot
        change status (nor the status subresource anything else), identity and generation are
        the server's, a spec change bumps generation, a no-op write changes nothing. A written
        Deployment is handed to the controller, which acts later (never in this request)."""
        name = old["metadata"]["name"]
        if req.subresource == "status":
            new = {**copy.deepcopy(old), "status": copy.deepcopy(new.get("status"))}
        elif "status" in res.subresources:
            new = copy.deepcopy(new)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if req.subresource != "status":
            causes: list[str] = []
            if res.plural in WORKLOADS:
                causes = workload_causes(old, new)
            elif res.plural == "horizontalpodautoscalers":
                causes = hpa_causes(new)
            if causes:
                raise invalid(res, name, causes)
        if new == old:
            return old
        if new.get("spec") != old.get("spec") and res.plural in GENERATION_TRACKED:
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if req.dry_run:
            return new
        self.state.put(res.plural, new)
        if res.plural == "deployments" and req.subresource != "status" and self.controller:
            self.controller.observe_write(meta.get("namespace", ""), name)
        return new

    def _patch(
        self, req: ParsedRequest, res: Resource, content_type: str, body: Any
    ) -> dict[str, Any]:
        assert req.name is not None
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise not_found(res, req.name)
            if isinstance(body, dict):
                self._check_precondition(res, current, body)
            if res.custom and content_type.split(";")[0].strip() == STRATEGIC_MERGE_PATCH:
                # Custom resources have no patch strategy: the API server answers 415
                # (kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/
                # custom-resource-definitions: "strategic merge patch is not supported").
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources",
                )
            patched = apply_patch(current, content_type, body)
            if isinstance(body, list):  # json patch: a replaced resourceVersion is a precondition
                rv = patched.get("metadata", {}).get("resourceVersion")
                if rv != current["metadata"]["resourceVersion"]:
                    self._check_precondition(res, current, {"metadata": {"resourceVersion": rv}})
            return with_kind(self._store_update(req, res, current, patched), res)

    def _put(self, req: ParsedRequest, res: Resource, body: Any) -> dict[str, Any]:
        assert req.name is not None
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "body must be a JSON object")
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise not_found(res, req.name)
            self._check_precondition(res, current, body)
            return with_kind(self._store_update(req, res, current, copy.deepcopy(body)), res)

    def _create(self, req: ParsedRequest, res: Resource, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            if isinstance(body, dict) and body.get("metadata", {}).get("generateName"):
                body["metadata"]["name"] = body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(
                    422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value"
                )
        body = copy.deepcopy(body)
        body.setdefault("kind", res.kind)
        if res.namespaced:
            body["metadata"]["namespace"] = req.namespace or body["metadata"].get(
                "namespace", "default"
            )
        with self.state.lock:
            if self.state.get(res.plural, req.namespace, body["metadata"]["name"]) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{res.group_resource} "{body["metadata"]["name"]}" already exists',
                )
            return with_kind(self.state.add(body), res)

    def _delete(self, req: ParsedRequest, res: Resource) -> dict[str, Any]:
        assert req.name is not None
        obj = self.state.delete(res.plural, req.namespace, req.name)
        if obj is None:
            raise not_found(res, req.name)
        return with_kind(obj, res)

    # subresources -------------------------------------------------------------------------

    def _log(self, req: ParsedRequest) -> Response:
        assert req.name is not None
        pod = self.state.get("pods", req.namespace, req.name)
        if pod is None:
            raise not_found(RESOURCES["pods"], req.name)
        # As the API server's pod log strategy (kubernetes pkg/registry/core/pod/strategy.go,
        # LogLocation): any container of the pod — regular, init or ephemeral — can be named;
        # only a pod with exactly one regular container may leave the name out.
        spec = pod.get("spec") or {}
        containers = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
        container = req.query.get("container") or ""
        if not container:
            if len(containers) != 1:
                message = (
                    f"a container name must be specified for pod {req.name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
                if inits:
                    message += f" or one of the init containers: [{' '.join(inits)}]"
                if ephemeral:
                    message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
                raise ApiError(400, "BadRequest", message)
            container = containers[0]
        elif container not in (*containers, *inits, *ephemeral):
            raise ApiError(
                400, "BadRequest", f"container {container} is not valid for pod {req.name}"
            )
        previous = req.query.get("previous") in ("true", "1", "True")
        with self.state.lock:
            lines = self.state.logs.get((req.namespace or "", req.name, container, previous))
        if lines is None:
            if previous:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{req.name}" not found',
                )
            lines = []
        tail = req.query.get("tailLines")
        if tail:
            n = int(tail)
            lines = lines[-n:] if n > 0 else []
        text = "".join(line + "\n" for line in lines)
        return 200, "text/plain", text.encode()

    def _scale(self, req: ParsedRequest, res: Resource, content_type: str, body: Any) -> Response:
        assert req.name is not None
        if res.plural not in SCALABLE:
            raise no_such_resource()
        with self.state.lock:
            current = self.state.get(res.plural, req.namespace, req.name)
            if current is None:
                raise not_found(res, req.name)
            if req.method in ("PATCH", "PUT"):
                scale = scale_of(current)
                if isinstance(body, dict):
                    self._check_precondition(res, current, body)
                new_scale = (
                    apply_patch(scale, content_type, body) if req.method == "PATCH" else body
                )
                replicas = (new_scale or {}).get("spec", {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise ApiError(
                        422, "Invalid", "Scale.spec.replicas: Invalid value: must be >= 0"
                    )
                new = copy.deepcopy(current)
                new["spec"]["replicas"] = replicas
                current = self._store_update(req, res, current, new)
            elif req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"method {req.method} not allowed on scale")
            return ok(scale_of(current))

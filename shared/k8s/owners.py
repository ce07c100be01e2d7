"""Who owns the desired state of a workload, read from the objects themselves (raw dicts).

A write that the owner reverts is worse than no write: it looks like a fix, then silently comes
undone (or sets the owner against us). Before any write, remediation asks this module who
reconciles the object, and either leaves the write alone (restart), redirects it (KEDA: the
ScaledObject, not its HPA) or refuses it with the change to make at the owner (GitOps).

Rules, each from the owner's documented markers (pure functions, no API calls):

- Argo CD (https://argo-cd.readthedocs.io/en/stable/user-guide/resource_tracking/):
  annotation tracking: ``argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<ns>/<name>``;
  Argo CD only counts it when it names this very object (a copied annotation does not track).
  Label tracking: the ``argocd.argoproj.io/instance`` label (the documented custom key) or the
  default key ``app.kubernetes.io/instance``. That default key is ambiguous: Helm charts and
  other tools set it too (the same page warns about it), so it counts as Argo CD only when the
  policy lists it in ``owners.argocd_label_keys``; otherwise it is reported as a possible owner.
- Flux (https://fluxcd.io/flux/components/kustomize/kustomizations/ and
  https://fluxcd.io/flux/components/helm/helmreleases/): labels
  ``kustomize.toolkit.fluxcd.io/name`` + ``/namespace`` (a Kustomization) and
  ``helm.toolkit.fluxcd.io/name`` + ``/namespace`` (a HelmRelease). The annotation
  ``kustomize.toolkit.fluxcd.io/reconcile: disabled`` makes the controller leave the object alone.
- Config Sync (https://cloud.google.com/kubernetes-engine/enterprise/config-sync/docs/how-to/
  managing-objects and .../reference/labels-and-annotations): managed when
  ``configmanagement.gke.io/managed: enabled`` and ``configsync.gke.io/resource-id`` names this
  object (``GROUP_KIND_NAMESPACE_NAME``); ``configmanagement.gke.io/source-path`` is the file in
  the repository, ``configmanagement.gke.io/sync-name`` the RootSync/RepoSync.
- Helm (https://helm.sh/docs/chart_best_practices/labels/; ``helm upgrade`` adopts objects by
  ``meta.helm.sh/release-name``): ``app.kubernetes.io/managed-by: Helm`` plus
  ``meta.helm.sh/release-name`` / ``release-namespace``. Informational: Helm does not reconcile,
  the next ``helm upgrade`` does.
- KEDA (https://keda.sh/docs/latest/concepts/scaling-deployments/): a ScaledObject
  (``keda.sh/v1alpha1``) creates and owns the HPA of its target (ownerReference kind
  ``ScaledObject``), named ``keda-hpa-<scaledobject>`` unless
  ``spec.advanced.horizontalPodAutoscalerConfig.name`` says otherwise. KEDA rewrites that HPA
  from ``spec.minReplicaCount`` / ``spec.maxReplicaCount`` of the ScaledObject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Tool = Literal["argocd", "flux", "config_sync", "helm", "keda"]
GITOPS: tuple[Tool, ...] = ("argocd", "flux", "config_sync")
TOOL_NAMES: dict[str, str] = {
    "argocd": "Argo CD",
    "flux": "Flux",
    "config_sync": "Config Sync",
    "helm": "Helm",
    "keda": "KEDA",
}

ARGO_TRACKING_ID = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE_LABEL = "argocd.argoproj.io/instance"
K8S_INSTANCE_LABEL = "app.kubernetes.io/instance"
FLUX_KS_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_KS_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
FLUX_HR_NAME = "helm.toolkit.fluxcd.io/name"
FLUX_HR_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
CS_MANAGED = "configmanagement.gke.io/managed"
CS_RESOURCE_ID = "configsync.gke.io/resource-id"
CS_SOURCE_PATH = "configmanagement.gke.io/source-path"
CS_SYNC_NAME = "configmanagement.gke.io/sync-name"
CS_SYNC_NAMESPACE = "configmanagement.gke.io/sync-namespace"
CS_MANAGER = "configsync.gke.io/manager"
HELM_MANAGED_BY = "app.kubernetes.io/managed-by"
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
KEDA_GROUP = "keda.sh"
KEDA_HPA_PREFIX = "keda-hpa-"
KEDA_SCALEDOBJECT_LABEL = "scaledobject.keda.sh/name"
DEPLOYMENT = ("apps", "Deployment")
HPA = ("autoscaling", "HorizontalPodAutoscaler")
SCALED_OBJECT = (KEDA_GROUP, "ScaledObject")

# The default for `owners.argocd_label_keys`: the documented custom tracking label only.
DEFAULT_ARGO_LABEL_KEYS: tuple[str, ...] = (ARGO_INSTANCE_LABEL,)


@dataclass(frozen=True)
class Owner:
    """One tool that reconciles (or, for Helm, last installed) an object."""

    tool: Tool
    name: str  # Argo CD Application, Kustomization/HelmRelease, RootSync/RepoSync, release, SO
    namespace: str = ""
    via: str = ""  # the label or annotation that said so
    kind: str = ""  # what `name` is: Application, Kustomization, HelmRelease, RootSync, ...
    source_path: str = ""  # the file in Git, when the object says (Config Sync)
    reconciles: bool = True  # False: the tool will not undo a change (Helm; Flux disabled)

    @property
    def gitops(self) -> bool:
        return self.tool in GITOPS

    @property
    def label(self) -> str:
        """e.g. ``Argo CD Application shop-web`` or ``Flux Kustomization flux-system/apps``."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{TOOL_NAMES[self.tool]} {self.kind} {where}".replace("  ", " ")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": self.tool,
            "name": self.name,
            "namespace": self.namespace,
            "kind": self.kind,
            "via": self.via,
            "reconciles": self.reconciles,
        }
        if self.source_path:
            out["source_path"] = self.source_path
        return out


@dataclass
class Owners:
    """Every owner found on an object, plus owners that may be (ambiguous markers)."""

    owners: list[Owner] = field(default_factory=list)
    possible: list[str] = field(default_factory=list)

    @property
    def gitops(self) -> Owner | None:
        return next((o for o in self.owners if o.gitops and o.reconciles), None)

    @property
    def helm(self) -> Owner | None:
        return next((o for o in self.owners if o.tool == "helm"), None)

    def as_dict(self) -> dict[str, Any]:
        return {"owners": [o.as_dict() for o in self.owners], "possible": list(self.possible)}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _identity(obj: dict[str, Any], what: tuple[str, str] = ("", "")) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name). Items of a list response carry no apiVersion or kind:
    `what` (group, kind) says what the caller read."""
    meta = _meta(obj)
    api_version = str(obj.get("apiVersion") or "")
    return (
        _group_of(api_version) if api_version else what[0],
        str(obj.get("kind") or what[1]),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def _argo_tracking(value: str, obj: dict[str, Any], what: tuple[str, str]) -> str | None:
    """The Application named by a tracking id, if the id is about this very object.

    Format (Argo CD resource tracking docs): ``<app>:<group>/<kind>:<namespace>/<name>``; the
    app may carry its namespace as ``<ns>_<app>`` (apps in any namespace).
    """
    app, sep, rest = value.partition(":")
    if not sep or not app:
        return None
    gk, sep, nsname = rest.partition(":")
    if not sep:
        return None
    group, _, kind = gk.partition("/")
    ns, _, name = nsname.partition("/")
    o_group, o_kind, o_ns, o_name = _identity(obj, what)
    if kind != o_kind or name != o_name or ns != o_ns:
        return None
    if o_kind and group != o_group:
        return None
    return app


def _config_sync_id(obj: dict[str, Any], what: tuple[str, str]) -> str:
    """This object's ``configsync.gke.io/resource-id`` as Config Sync writes it."""
    group, kind, ns, name = _identity(obj, what)
    parts = [group, kind.lower(), ns, name] if ns else [group, kind.lower(), name]
    return "_".join(parts)


def _argocd(
    obj: dict[str, Any],
    labels: dict[str, str],
    annotations: dict[str, str],
    keys: Iterable[str],
    what: tuple[str, str],
) -> tuple[list[Owner], list[str]]:
    owners: list[Owner] = []
    possible: list[str] = []
    tracking = annotations.get(ARGO_TRACKING_ID)
    if tracking:
        app = _argo_tracking(tracking, obj, what)
        if app:
            ns, sep, short = app.partition("_")
            owners.append(
                Owner(
                    "argocd",
                    short if sep else app,
                    ns if sep else "",
                    ARGO_TRACKING_ID,
                    "Application",
                )
            )
            return owners, possible
        possible.append(
            f"{ARGO_TRACKING_ID} is set but names another object ({tracking!r}): Argo CD does "
            "not track this one by it"
        )
    for key in keys:
        value = labels.get(key)
        if value:
            owners.append(Owner("argocd", value, "", key, "Application"))
            return owners, possible
    instance = labels.get(K8S_INSTANCE_LABEL)
    if instance and HELM_RELEASE_NAME not in annotations:
        possible.append(
            f"{K8S_INSTANCE_LABEL}={instance} may be Argo CD label tracking (or any tool that "
            "sets the recommended labels); list it in the policy's owners.argocd_label_keys if "
            "Argo CD tracks by it"
        )
    return owners, possible


def _flux(labels: dict[str, str], annotations: dict[str, str]) -> list[Owner]:
    owners: list[Owner] = []
    reconciles = annotations.get(FLUX_RECONCILE, "").lower() != "disabled"
    if labels.get(FLUX_KS_NAME):
        owners.append(
            Owner(
                "flux",
                labels[FLUX_KS_NAME],
                labels.get(FLUX_KS_NAMESPACE, ""),
                FLUX_KS_NAME,
                "Kustomization",
                reconciles=reconciles,
            )
        )
    if labels.get(FLUX_HR_NAME):
        owners.append(
            Owner(
                "flux",
                labels[FLUX_HR_NAME],
                labels.get(FLUX_HR_NAMESPACE, ""),
                FLUX_HR_NAME,
                "HelmRelease",
                reconciles=reconciles,
            )
        )
    return owners


def _config_sync(
    obj: dict[str, Any], labels: dict[str, str], annotations: dict[str, str], what: tuple[str, str]
) -> tuple[list[Owner], list[str]]:
    if annotations.get(CS_MANAGED, "").lower() != "enabled":
        return [], []
    resource_id = annotations.get(CS_RESOURCE_ID, "")
    if resource_id.lower() != _config_sync_id(obj, what).lower():
        return [], [
            f"{CS_MANAGED}: enabled but {CS_RESOURCE_ID} ({resource_id!r}) does not name this "
            "object: Config Sync does not manage it"
        ]
    sync = labels.get(CS_SYNC_NAME) or annotations.get(CS_SYNC_NAME, "")
    sync_ns = labels.get(CS_SYNC_NAMESPACE) or annotations.get(CS_SYNC_NAMESPACE, "")
    manager = annotations.get(CS_MANAGER, "")
    kind = "RootSync" if manager == ":root" or sync_ns == "config-management-system" else "RepoSync"
    return [
        Owner(
            "config_sync",
            sync or manager or "?",
            sync_ns,
            CS_RESOURCE_ID,
            kind if sync or manager else "",
            source_path=annotations.get(CS_SOURCE_PATH, ""),
        )
    ], []


def _helm(labels: dict[str, str], annotations: dict[str, str]) -> list[Owner]:
    release = annotations.get(HELM_RELEASE_NAME)
    if labels.get(HELM_MANAGED_BY) != "Helm" or not release:
        return []
    return [
        Owner(
            "helm",
            release,
            annotations.get(HELM_RELEASE_NAMESPACE, ""),
            HELM_RELEASE_NAME,
            "release",
            reconciles=False,
        )
    ]


def owners_of(
    obj: dict[str, Any] | None,
    argocd_label_keys: Iterable[str] = DEFAULT_ARGO_LABEL_KEYS,
    what: tuple[str, str] = ("", ""),
) -> Owners:
    """Every GitOps tool (and Helm release) that claims `obj`, from its labels and annotations.

    `what` = (API group, kind) of the object read: items of a list response do not say.
    """
    if not obj:
        return Owners()
    meta = _meta(obj)
    labels = _strings(meta.get("labels"))
    annotations = _strings(meta.get("annotations"))
    argo, possible = _argocd(obj, labels, annotations, argocd_label_keys, what)
    cs, cs_possible = _config_sync(obj, labels, annotations, what)
    return Owners(
        [*argo, *_flux(labels, annotations), *cs, *_helm(labels, annotations)],
        [*possible, *cs_possible],
    )


def keda_scaled_object(hpa: dict[str, Any] | None) -> str | None:
    """The ScaledObject that owns this HPA (its name), or None.

    The ownerReference is the contract; the ``keda-hpa-`` name prefix and the
    ``scaledobject.keda.sh/name`` label (both set by KEDA) are accepted only when no
    ownerReference says otherwise.
    """
    if not hpa:
        return None
    meta = _meta(hpa)
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    for ref in refs:
        if (
            ref.get("kind") == "ScaledObject"
            and _group_of(str(ref.get("apiVersion", ""))) == KEDA_GROUP
        ):
            name = str(ref.get("name") or "")
            if name:
                return name
    if refs:
        return None  # owned by something else: a look-alike name does not make it KEDA's
    labels = _strings(meta.get("labels"))
    if labels.get(KEDA_SCALEDOBJECT_LABEL):
        return labels[KEDA_SCALEDOBJECT_LABEL]
    name = str(meta.get("name") or "")
    if name.startswith(KEDA_HPA_PREFIX) and len(name) > len(KEDA_HPA_PREFIX):
        return name[len(KEDA_HPA_PREFIX) :]
    return None


# ---- what to tell people --------------------------------------------------------------------


def drift_note(owner: Owner, what: str) -> str:
    """Where a change alertloop makes shows up at the owner."""
    if owner.tool == "argocd":
        return (
            f"{owner.label} owns this object: {what} shows in its live-vs-Git diff (argocd app "
            f"diff {owner.name}); add it to ignoreDifferences if self-heal should leave it"
        )
    if owner.tool == "flux":
        return (
            f"{owner.label} owns this object: {what} is outside Git; flux diff kustomization "
            f"{owner.name} shows it and the next reconcile keeps or removes it"
        )
    if owner.tool == "config_sync":
        path = f" ({owner.source_path})" if owner.source_path else ""
        return (
            f"{owner.label} owns this object{path}: nomos status / the RootSync or RepoSync "
            f"status shows {what} as drift"
        )
    return f"{owner.label} installed this object: {what} is not in the release's values"


def git_change(
    owner: Owner, kind: str, namespace: str, name: str, field_path: str, value: int
) -> str:
    """The change to make in Git instead of writing to the cluster."""
    where = {
        "argocd": f"the manifests of Argo CD Application {owner.name}",
        "flux": f"the source of {owner.label}",
        "config_sync": f"{owner.source_path or 'the repository'} synced by {owner.label}",
    }.get(owner.tool, "the source of truth")
    helm_hint = (
        " (a chart value, often replicaCount, when the manifest comes from a chart)"
        if owner.kind == "HelmRelease" or owner.tool == "argocd"
        else ""
    )
    return f"set {field_path}: {value} on {kind} {namespace}/{name} in {where}{helm_hint}"


def rollback_way(owner: Owner) -> str:
    """The owner's own way to go back to the previous release."""
    if owner.tool == "argocd":
        return (
            f"argocd app history {owner.name}; argocd app rollback {owner.name} <HISTORY_ID> "
            "(the previous synced revision; turn auto-sync off first, or revert the commit in Git)"
        )
    if owner.tool == "flux":
        return (
            f"revert the commit {owner.label} applied (its status.lastAppliedRevision) with git "
            f"revert, then flux reconcile {owner.kind.lower()} {owner.name}"
            + (f" -n {owner.namespace}" if owner.namespace else "")
            + " --with-source"
        )
    if owner.tool == "config_sync":
        return f"revert the commit in the repository synced by {owner.label}" + (
            f" (file {owner.source_path})" if owner.source_path else ""
        )
    return f"helm rollback {owner.name}" + (f" -n {owner.namespace}" if owner.namespace else "")

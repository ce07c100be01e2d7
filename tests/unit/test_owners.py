"""Who owns a workload (shared.k8s.owners) and what remediation may do about it
(shared.remediation.owner_gate), from objects' metadata as the owners write it (no servers).

Each owner has one test from a real object's labels/annotations (the shapes the tools'
documentation shows) and one where similar text must not match.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from sandbox.kube_scenarios import deployment, hpa
from shared.k8s import owners as own
from shared.policy import OwnerPolicy
from shared.remediation import decide, owner_gate


def _with_meta(obj: dict[str, Any], meta_yaml: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    extra = yaml.safe_load(meta_yaml)
    for key in ("labels", "annotations"):
        obj["metadata"].setdefault(key, {}).update(extra.get(key) or {})
    if "ownerReferences" in extra:
        obj["metadata"]["ownerReferences"] = extra["ownerReferences"]
    return obj


def web(meta_yaml: str = "{}", name: str = "web") -> dict[str, Any]:
    d = deployment("shop", name, "img/web:1", created="2024-06-01T00:00:00Z", replicas=2)
    d["metadata"]["resourceVersion"] = "1042"
    return _with_meta(d, meta_yaml)


def an_hpa(meta_yaml: str = "{}", name: str = "web", at_max: bool = True) -> dict[str, Any]:
    h = hpa(
        "shop",
        name,
        target="web",
        created="2024-06-01T00:00:00Z",
        current=5,
        desired=5,
        max_replicas=5,
    )
    h["metadata"]["resourceVersion"] = "77"
    if at_max:
        for c in h["status"]["conditions"]:
            if c["type"] == "ScalingLimited":
                c.update(status="True", reason="TooManyReplicas")
    return _with_meta(h, meta_yaml)


# ---- Argo CD ------------------------------------------------------------------------------

ARGO_ANNOTATION = """
annotations:
  argocd.argoproj.io/tracking-id: shop-web:apps/Deployment:shop/web
labels:
  app.kubernetes.io/instance: shop-web
"""


def test_argo_cd_annotation_tracking_names_the_application() -> None:
    found = own.owners_of(web(ARGO_ANNOTATION))
    assert found.gitops is not None
    assert (found.gitops.tool, found.gitops.name, found.gitops.via) == (
        "argocd",
        "shop-web",
        own.ARGO_TRACKING_ID,
    )


def test_argo_cd_apps_in_any_namespace_carry_the_namespace_in_the_tracking_id() -> None:
    meta = (
        "annotations: {argocd.argoproj.io/tracking-id: 'team-a_shop-web:apps/Deployment:shop/web'}"
    )
    owner = own.owners_of(web(meta)).gitops
    assert owner is not None and (owner.namespace, owner.name) == ("team-a", "shop-web")


@pytest.mark.parametrize(
    "tracking",
    [
        "shop-web:apps/Deployment:shop/api",  # copied from another Deployment
        "shop-web:apps/Deployment:other/web",  # another namespace
        "shop-web:apps/StatefulSet:shop/web",  # another kind
        "shop-web:extensions/Deployment:shop/web",  # another group
        "just-some-text",
    ],
)
def test_a_tracking_id_about_another_object_does_not_make_argo_cd_the_owner(tracking: str) -> None:
    found = own.owners_of(web(f"annotations: {{argocd.argoproj.io/tracking-id: '{tracking}'}}"))
    assert found.gitops is None
    assert found.owners == []


def test_argo_cd_custom_tracking_label() -> None:
    owner = own.owners_of(web("labels: {argocd.argoproj.io/instance: shop-web}")).gitops
    assert owner is not None and (owner.tool, owner.name) == ("argocd", "shop-web")


def test_the_ambiguous_instance_label_is_only_a_possible_owner_unless_the_policy_says() -> None:
    obj = web("labels: {app.kubernetes.io/instance: shop-web}")
    found = own.owners_of(obj)
    assert found.gitops is None
    assert any("may be Argo CD label tracking" in p for p in found.possible)
    keys = [own.ARGO_INSTANCE_LABEL, own.K8S_INSTANCE_LABEL]
    owner = own.owners_of(obj, keys).gitops
    assert owner is not None and owner.name == "shop-web"


def test_the_instance_label_helm_sets_is_not_called_argo_cd() -> None:
    meta = """
labels: {app.kubernetes.io/instance: web, app.kubernetes.io/managed-by: Helm}
annotations: {meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: shop}
"""
    found = own.owners_of(web(meta))
    assert found.gitops is None
    assert found.possible == []
    assert found.helm is not None and found.helm.name == "web"


# ---- Flux ---------------------------------------------------------------------------------

FLUX_KUSTOMIZATION = """
labels:
  kustomize.toolkit.fluxcd.io/name: apps
  kustomize.toolkit.fluxcd.io/namespace: flux-system
"""


def test_flux_kustomization_labels() -> None:
    owner = own.owners_of(web(FLUX_KUSTOMIZATION)).gitops
    assert owner is not None
    assert (owner.tool, owner.kind, owner.namespace, owner.name) == (
        "flux",
        "Kustomization",
        "flux-system",
        "apps",
    )


def test_flux_helmrelease_labels() -> None:
    meta = """
labels:
  helm.toolkit.fluxcd.io/name: web
  helm.toolkit.fluxcd.io/namespace: shop
  app.kubernetes.io/managed-by: Helm
annotations: {meta.helm.sh/release-name: shop-web, meta.helm.sh/release-namespace: shop}
"""
    found = own.owners_of(web(meta))
    assert found.gitops is not None and found.gitops.kind == "HelmRelease"
    assert found.helm is not None  # the release Flux installed, informational


@pytest.mark.parametrize(
    "meta",
    [
        # Flux's markers are labels; the same text as an annotation is not Flux's.
        "annotations: {kustomize.toolkit.fluxcd.io/name: apps}",
        "labels: {toolkit.fluxcd.io/tenant: team-a}",
        "labels: {kustomize.toolkit.fluxcd.io/namespace: flux-system}",  # no name
        "labels: {fluxcd.io/sync-checksum: abc}",  # Flux v1 leftovers
    ],
)
def test_flux_look_alikes_do_not_match(meta: str) -> None:
    assert own.owners_of(web(meta)).owners == []


def test_flux_reconcile_disabled_does_not_revert() -> None:
    meta = FLUX_KUSTOMIZATION + "annotations: {kustomize.toolkit.fluxcd.io/reconcile: disabled}\n"
    found = own.owners_of(web(meta))
    assert found.owners and not found.owners[0].reconciles
    assert found.gitops is None


# ---- Config Sync --------------------------------------------------------------------------

CONFIG_SYNC = """
labels:
  app.kubernetes.io/managed-by: configmanagement.gke.io
  configsync.gke.io/declared-version: v1
annotations:
  configmanagement.gke.io/managed: enabled
  configmanagement.gke.io/source-path: clusters/prod/shop/web.yaml
  configmanagement.gke.io/token: 5f4b2c1
  configsync.gke.io/resource-id: apps_deployment_shop_web
  configsync.gke.io/manager: ":root"
  configmanagement.gke.io/sync-name: root-sync
  configmanagement.gke.io/sync-namespace: config-management-system
"""


def test_config_sync_managed_object() -> None:
    owner = own.owners_of(web(CONFIG_SYNC)).gitops
    assert owner is not None
    assert (owner.tool, owner.kind, owner.name) == ("config_sync", "RootSync", "root-sync")
    assert owner.source_path == "clusters/prod/shop/web.yaml"


@pytest.mark.parametrize(
    "change",
    [
        {"configmanagement.gke.io/managed": "disabled"},
        {"configsync.gke.io/resource-id": "apps_deployment_shop_api"},  # copied from api
    ],
)
def test_config_sync_unmanaged_or_copied_annotations_do_not_match(change: dict[str, str]) -> None:
    obj = web(CONFIG_SYNC)
    obj["metadata"]["annotations"].update(change)
    assert own.owners_of(obj).gitops is None


# ---- Helm ---------------------------------------------------------------------------------


def test_helm_release_is_informational() -> None:
    meta = """
labels: {app.kubernetes.io/managed-by: Helm, helm.sh/chart: web-1.2.0}
annotations: {meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: shop}
"""
    found = own.owners_of(web(meta))
    assert found.helm is not None and not found.helm.reconciles
    assert found.gitops is None


@pytest.mark.parametrize(
    "meta",
    [
        "labels: {app.kubernetes.io/managed-by: Helm}",  # no release annotation
        "annotations: {meta.helm.sh/release-name: web}",  # not managed by Helm
        "labels: {app.kubernetes.io/managed-by: helmfile}\n"
        "annotations: {meta.helm.sh/release-name: web}",
    ],
)
def test_helm_look_alikes_do_not_match(meta: str) -> None:
    assert own.owners_of(web(meta)).helm is None


# ---- KEDA ---------------------------------------------------------------------------------

KEDA_HPA = """
labels:
  app.kubernetes.io/managed-by: keda-operator
  scaledobject.keda.sh/name: web
ownerReferences:
- apiVersion: keda.sh/v1alpha1
  kind: ScaledObject
  name: web
  uid: 2a6c3e10-8f55-4d1e-9a57-4f0b7a2f9d11
  controller: true
  blockOwnerDeletion: true
"""


def test_keda_owns_the_hpa_it_created() -> None:
    assert own.keda_scaled_object(an_hpa(KEDA_HPA, name="keda-hpa-web")) == "web"


def test_keda_hpa_name_without_owner_reference() -> None:
    assert own.keda_scaled_object(an_hpa(name="keda-hpa-orders")) == "orders"


@pytest.mark.parametrize(
    ("meta", "name"),
    [
        ("{}", "web"),
        ("{}", "keda-hpa-"),
        ("{}", "my-keda-hpa-web"),
        # ScaledObject of another API group: not KEDA's
        (
            "ownerReferences: [{apiVersion: autoscale.example.com/v1, kind: ScaledObject, "
            "name: web, uid: x}]",
            "keda-hpa-web",
        ),
        # owned by something else: a look-alike name does not make it KEDA's
        (
            "ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: x}]",
            "keda-hpa-web",
        ),
    ],
)
def test_keda_look_alikes_do_not_match(meta: str, name: str) -> None:
    assert own.keda_scaled_object(an_hpa(meta, name=name)) is None


# ---- what remediation may do ---------------------------------------------------------------


def _scale_plan(deploy: dict[str, Any]) -> decide.Plan:
    return decide.plan_scale(deploy, None, {"spec": {"replicas": 2}}, step=2)


def test_restart_on_a_flux_workload_is_allowed_and_says_where_drift_shows() -> None:
    deploy = web(FLUX_KUSTOMIZATION)
    plan = decide.plan_restart(deploy, "2024-06-12T10:00:00Z")
    v = owner_gate.judge(plan, deploy, None, OwnerPolicy())
    assert v.verdict == "allow" and v.workload_class == "gitops"
    assert any("Flux Kustomization flux-system/apps" in n and "restartedAt" in n for n in v.notes)


def test_scale_on_an_argo_cd_workload_is_refused_with_the_git_change() -> None:
    deploy = web(ARGO_ANNOTATION)
    v = owner_gate.judge(_scale_plan(deploy), deploy, None, OwnerPolicy())
    assert (v.verdict, v.guard) == ("refuse", "owner/argocd")
    assert "spec.replicas: 4 on Deployment shop/web" in v.how_to_change
    assert "Argo CD Application shop-web" in v.how_to_change


def test_scale_on_a_plain_workload_is_allowed() -> None:
    deploy = web()
    v = owner_gate.judge(_scale_plan(deploy), deploy, None, OwnerPolicy())
    assert (v.verdict, v.workload_class) == ("allow", "plain")


def test_hpa_raise_on_keda_goes_to_the_scaled_object_or_is_refused_per_policy() -> None:
    deploy, h = web(), an_hpa(KEDA_HPA, name="keda-hpa-web")
    plan = decide.plan_scale(deploy, h, None, step=2)
    assert plan.action == "raise_hpa_max"
    v = owner_gate.judge(plan, deploy, h, OwnerPolicy())
    assert (v.verdict, v.scaled_object, v.workload_class) == ("keda", "web", "keda")
    refused = owner_gate.judge(plan, deploy, h, OwnerPolicy(keda="refuse"))
    assert (refused.verdict, refused.guard) == ("refuse", "owner/keda")
    assert "spec.maxReplicaCount of ScaledObject shop/web to 7" in refused.how_to_change


def test_hpa_raise_on_a_gitops_hpa_is_refused() -> None:
    deploy, h = web(), an_hpa(FLUX_KUSTOMIZATION)
    plan = decide.plan_scale(deploy, h, None, step=2)
    v = owner_gate.judge(plan, deploy, h, OwnerPolicy())
    assert v.verdict == "refuse" and "spec.maxReplicas: 7" in v.how_to_change


def _rollback_plan(deploy: dict[str, Any]) -> decide.Plan:
    deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4"
    recent = {"recent": True, "revision": 4, "previous_revision": 3, "images": ["img/web:2"]}
    return decide.plan_rollback(deploy, recent, {3: ["img/web:1"], 4: ["img/web:2"]})


def test_rollback_on_argo_cd_names_argocd_app_rollback_not_kubectl() -> None:
    deploy = web(ARGO_ANNOTATION)
    v = owner_gate.judge(_rollback_plan(deploy), deploy, None, OwnerPolicy())
    assert v.verdict == "owner_rollback"
    assert "argocd app rollback shop-web" in v.how_to_change
    assert "kubectl" not in v.how_to_change


def test_rollback_on_flux_names_reverting_the_applied_commit() -> None:
    deploy = web(FLUX_KUSTOMIZATION)
    v = owner_gate.judge(_rollback_plan(deploy), deploy, None, OwnerPolicy())
    assert v.verdict == "owner_rollback"
    assert "lastAppliedRevision" in v.how_to_change and "git" in v.how_to_change


def test_rollback_keeps_the_kubectl_way_when_the_owner_does_not_self_heal() -> None:
    deploy = web(ARGO_ANNOTATION)
    policy = OwnerPolicy(self_heal={"argocd": False, "flux": True, "config_sync": True})
    v = owner_gate.judge(_rollback_plan(deploy), deploy, None, policy)
    assert v.verdict == "allow"
    assert any("argocd app rollback shop-web" in n for n in v.notes)


def test_list_items_without_kind_are_matched_by_what_was_read() -> None:
    """Items of a list response (an HPA found by listing) carry no apiVersion or kind."""
    h = an_hpa(
        "annotations: {argocd.argoproj.io/tracking-id: "
        "'shop-web:autoscaling/HorizontalPodAutoscaler:shop/web'}"
    )
    del h["apiVersion"], h["kind"]
    assert own.owners_of(h).gitops is None  # unknown kind: not claimed blindly
    owner = own.owners_of(h, what=own.HPA).gitops
    assert owner is not None and owner.name == "shop-web"
    assert own.owners_of(h, what=own.DEPLOYMENT).gitops is None

"""The workload decides: is the TARGET of a write a database / stateful-data workload?

Pure functions of the objects read from the cluster (API JSON, camelCase, as `KubeClients.call`
returns them); no API call, no Firestore. The guardrails call them right before any write:

    classification = classify(workload, pods=pods, pvcs=pvcs, owners=owners, extra=policy_extra)
    verdict = may_write(action, classification, workload, hpa=hpa_or_None)

Both are total: a malformed object is classified "unreadable" and refused; nothing raises.

Database class (never written to, whatever the alert; no annotation or policy opts it in)
-----------------------------------------------------------------------------------------
Rules, strongest first (the first that matches names the refusal; all are kept as signals):

  statefulset             the workload is a StatefulSet (kinds compare trimmed and
                          case-insensitively here: "statefulset" is not let through)
  owned_by_statefulset    the workload or one of its pods is owned by a StatefulSet
  data_operator           an ownerReference (of the workload, its pods or the `owners` given)
                          has the API group of a database operator (DATA_OPERATOR_GROUPS or a
                          subdomain of one), e.g. postgresql.cnpg.io/v1 Cluster
  volume_claim_template   the workload declares spec.volumeClaimTemplates
  persistent_volume_claim the pod template or a pod mounts volumes[].persistentVolumeClaim
                          (read-only claims too: a Deployment with a ReadWriteOnce claim cannot
                          even be rolled safely). Generic ephemeral volumes
                          (volumes[].ephemeral) are scratch space deleted with the pod and do
                          not count.
  persistent_volume       the pod template or a pod mounts storage that outlives the pod
                          without a claim: a cloud or network disk or share (PERSISTENT_SOURCES:
                          gcePersistentDisk, awsElasticBlockStore, nfs, rbd...) or a hostPath
                          (a node's disk; type Socket and CharDevice, and the node's own
                          configuration — SYSTEM_HOST_PATHS: /etc/localtime, /etc/ssl, /proc... —
                          are not data; under /dev only named character devices, never
                          disks; a BlockDevice always counts). Inline csi volumes count unless
                          their driver is known to be ephemeral (EPHEMERAL_CSI_DRIVERS:
                          secrets-store, cert-manager csi...); a generic ephemeral volume whose
                          claim template binds an existing PersistentVolume (volumeName) counts.
  data_image              any container, init container or ephemeral container (template or
                          pod) runs a data image
  data_label              a data label on the workload, its pod template or its pods (below)
  unreadable              the object is not what the API returns (wrong types, no kind or
                          name, an image that cannot be parsed): fail closed

Data images, data labels and database operator groups are defined, with their matching
rules, in `shared.remediation.data_patterns` (in short: the repository NAME of the image is
[vendor prefixes] PRODUCT [flavour suffixes], so postgres, bitnami/postgresql-repmgr,
percona-server-mongodb, cp-kafka and redis-stack-server match, while postgres-exporter,
redis_exporter, my-redis-client and acme/postgres-backup-uploader do not).

Exporters: a standalone exporter Deployment (postgres-exporter, redis_exporter...) is NOT data
class: it stores nothing and only reads the database; restarting or scaling it cannot lose or
split data. An exporter SIDECAR in a database pod changes nothing: the pod carries the database
image in another container, so it is a data pod. Likewise an application whose init container
runs a database image (e.g. `postgres` for pg_isready) is a data pod: "any container" is the
rule, because from the image alone we cannot tell a client from a server.

Data labels: app.kubernetes.io/component in DATA_COMPONENTS (database, db, cache, queue,
broker, storage, datastore...) or naming a product; app.kubernetes.io/name, app, application,
k8s-app, name or helm.sh/chart naming a product by the image words rule (redis, redis-cluster,
redis-master, postgresql-ha, postgresql-12.1.0; not redis-commander or kafka-ui-0.7.5: every
workload of a database chart's release counts, its exporter Deployment too); labels only
database pods carry (DATA_LABEL_KEYS: cnpg.io/cluster, statefulset.kubernetes.io/pod-name...).
Values compare case-insensitively.

The policy file's `workload_safety` section (shared.policy.WorkloadSafety) adds images, labels
and operator groups; it cannot remove any built-in.

Who may be written (`may_write`), checked in this order
-------------------------------------------------------
  unknown_action   not one of ACTIONS (propose_rollback is read as rollback)
  unreadable       the objects could not be classified: refused
  database_class   the classification says data class: refused, always
  unreadable       the object to change is not the one classified: refused
  kind             only Deployments (and their HPAs) are ever changed (deploy/rbac.yaml)
  annotation       `alertloop.io/remediation: disabled` on the workload (or its pod template)
                   opts out; the old `alertloop.io/remediate: "false"` still opts out; any
                   other value, or a misspelt key, is refused and reported until fixed;
                   `enabled` (only on the workload's own metadata) opts in where the default
                   would refuse
  restart          allowed by default
  rollback         allowed by default (always behind an approval elsewhere)
  scale_deployment only without an HPA (an HPA would undo it) and only when opted in
  raise_hpa_max    only with an HPA whose scaleTargetRef is the workload and that did not opt out
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from shared.policy import WorkloadSafety
from shared.remediation.data_patterns import (
    COMPONENT_LABEL,
    DATA_COMPONENTS,
    NAME_LABELS,
    Patterns,
    from_policy,
    parse_image,
    patterns,
    product_of,
)
from shared.remediation.safety_tables import TABLES
from shared.remediation.settings import (
    OPT_OUT_ANNOTATION,
    OPT_OUT_VALUES,
    REMEDIATION_ANNOTATION,
)

Action = Literal["restart", "scale_deployment", "raise_hpa_max", "rollback"]
ACTIONS: Final = ("restart", "scale_deployment", "raise_hpa_max", "rollback")
# Plan.action spells the rollback proposal this way.
ACTION_ALIASES: Final = {"propose_rollback": "rollback"}
WRITABLE_KINDS: Final = ("Deployment",)

# Signal rules, strongest first.
RULE_ORDER: Final = (
    "statefulset",
    "owned_by_statefulset",
    "data_operator",
    "volume_claim_template",
    "persistent_volume_claim",
    "persistent_volume",
    "data_image",
    "data_label",
    "unreadable",
)
STATELESS: Final = "stateless"
MAX_TEXT = 160  # untrusted values quoted in reasons are clipped to this


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Signal:
    """One reason a workload is data class (or could not be read)."""

    rule: str  # one of RULE_ORDER
    evidence: str  # a sentence naming the object, field and value that matched

    def sort_key(self) -> tuple[int, str]:
        return RULE_ORDER.index(self.rule), self.evidence


@dataclass(frozen=True)
class Classification:
    data_class: bool  # True: never written (database class, or unreadable: fail closed)
    rule: str  # the strongest signal's rule, or "stateless"
    evidence: str  # what matched, or why nothing did
    target: str  # kind/namespace/name as read (for messages)
    kind: str
    namespace: str
    name: str
    signals: tuple[Signal, ...] = ()  # every signal, strongest first

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["signals"] = [asdict(s) for s in self.signals]
        return out


Consent = Literal["default", "enabled", "disabled", "invalid"]


@dataclass(frozen=True)
class Annotation:
    """What the workload's own annotations say about remediation."""

    setting: Consent
    detail: str = ""  # which annotation said so (or what is wrong with it)
    notes: tuple[str, ...] = ()  # e.g. an opt-in placed where it has no effect


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # allowed | database_class/<classification rule> | unreadable | kind | opt_out
    # | annotation_invalid | no_hpa | hpa_manages | no_hpa_to_raise | hpa_mismatch
    # | hpa_unknown | unknown_action
    rule: str
    reason: str
    how_to_change: str
    action: str = ""
    target: str = ""
    classification: Classification | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "classification"}
        if self.classification is not None:
            out["classification"] = self.classification.as_dict()
        return out


# ---------------------------------------------------------------------------- reading objects


def _clip(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class _Reader:
    """Typed access to API JSON; every wrong type becomes an `unreadable` signal."""

    def __init__(self, pats: Patterns, claims: Mapping[str, str]) -> None:
        self.pats = pats
        self.claims = claims  # claim name -> description from the PVCs given
        self.signals: list[Signal] = []

    def bad(self, what: str) -> None:
        self.signals.append(Signal("unreadable", what))

    def add(self, rule: str, evidence: str) -> None:
        self.signals.append(Signal(rule, evidence))

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return value
        self.bad(f"{where} is a {type(value).__name__}, not an object")
        return {}

    def items(self, value: Any, where: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
        if value is None:
            return
        if not isinstance(value, list | tuple):
            self.bad(f"{where} is a {type(value).__name__}, not a list")
            return
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                yield i, item
            else:
                self.bad(f"{where}[{i}] is a {type(item).__name__}, not an object")

    def string(self, value: Any, where: str) -> str:
        if isinstance(value, str):
            return value
        if value is not None:
            self.bad(f"{where} is a {type(value).__name__}, not a string")
        return ""

    def labels(self, value: Any, where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, v in self.mapping(value, where).items():
            if isinstance(key, str) and isinstance(v, str):
                out[key] = v
            else:
                self.bad(f"{where} has a label that is not a string: {_clip(key)!r}")
        return out

    # ---- what the rules look at

    def pod_spec(self, spec: Mapping[str, Any], where: str, path: str) -> None:
        """Images and claims of one pod spec (`where`: "" for the template, " of pod x")."""
        containers = 0
        for fld, label in _CONTAINER_FIELDS:
            for i, c in self.items(spec.get(fld), f"{path}.{fld}"):
                containers += fld == "containers"
                name = self.string(c.get("name"), f"{path}.{fld}[{i}].name") or f"#{i}"
                self.image(
                    self.string(c.get("image"), f"{path}.{fld}[{i}].image"), label, name, where
                )
        if not containers:
            self.bad(f"{path}.containers is empty or missing{where}")
        for i, vol in self.items(spec.get("volumes"), f"{path}.volumes"):
            self.persistent_source(vol, i, where, path)
            if vol.get("persistentVolumeClaim") is None:
                continue
            claim = self.mapping(
                vol["persistentVolumeClaim"], f"{path}.volumes[{i}].persistentVolumeClaim"
            )
            claim_name = self.string(claim.get("claimName"), f"{path}.volumes[{i}].claimName")
            vol_name = self.string(vol.get("name"), f"{path}.volumes[{i}].name") or f"#{i}"
            about = f" ({self.claims[claim_name]})" if claim_name in self.claims else ""
            self.add(
                "persistent_volume_claim",
                f"volume {_clip(vol_name)}{where} mounts PersistentVolumeClaim "
                f"{_clip(claim_name or '?')}{about}",
            )

    def persistent_source(self, vol: Mapping[str, Any], i: int, where: str, path: str) -> None:
        name = self.string(vol.get("name"), f"{path}.volumes[{i}].name") or f"#{i}"
        if vol.get("csi") is not None:
            csi = self.mapping(vol["csi"], f"{path}.volumes[{i}].csi")
            driver = self.string(csi.get("driver"), f"{path}.volumes[{i}].csi.driver")
            if driver.strip().lower() not in EPHEMERAL_CSI_DRIVERS:
                self.add(
                    "persistent_volume",
                    f"volume {_clip(name)}{where} mounts inline CSI storage of driver "
                    f"{_clip(driver or '?')} (only known-ephemeral drivers are scratch)",
                )
        if vol.get("ephemeral") is not None:
            eph = self.mapping(vol["ephemeral"], f"{path}.volumes[{i}].ephemeral")
            tmpl = self.mapping(eph.get("volumeClaimTemplate"), f"{path}.volumes[{i}].ephemeral")
            cspec = self.mapping(tmpl.get("spec"), f"{path}.volumes[{i}].ephemeral.spec")
            bound = self.string(cspec.get("volumeName"), f"{path}.volumes[{i}].volumeName")
            if bound:
                self.add(
                    "persistent_volume",
                    f"volume {_clip(name)}{where} is an ephemeral claim bound to the existing "
                    f"PersistentVolume {_clip(bound)}",
                )
        for source in PERSISTENT_SOURCES:
            if vol.get(source) is None:
                continue
            spec = self.mapping(vol[source], f"{path}.volumes[{i}].{source}")
            if source == "hostPath":
                kind = self.string(spec.get("type"), f"{path}.volumes[{i}].hostPath.type")
                host = self.string(spec.get("path"), f"{path}.volumes[{i}].hostPath.path")
                if kind != "BlockDevice" and (kind in NOT_DATA_HOST_PATHS or _system_path(host)):
                    continue
            self.add(
                "persistent_volume",
                f"volume {_clip(name)}{where} mounts {source} storage without a claim",
            )

    def image(self, image: str, label: str, name: str, where: str) -> None:
        container = f"{label} {_clip(name)}{where}"
        if not image:
            self.bad(f"{container} has no image")
            return
        ref = parse_image(image)
        if ref is None:
            self.bad(f"image {_clip(image)!r} ({container}) cannot be parsed")
            return
        family = self.pats.image_family(ref)
        if family is not None:
            what = f"matches the {family}" if from_policy(family) else f"is a {family} image"
            self.add("data_image", f"image {_clip(image)} ({container}) {what}")

    def label_set(self, labels: Mapping[str, str], where: str) -> None:
        for key in sorted(labels):
            value = labels[key]
            shown = f"label {_clip(key)}={_clip(value)} on {where}"
            folded = value.casefold()
            family = product_of(value, self.pats.products)
            if key == COMPONENT_LABEL and (folded in DATA_COMPONENTS or family is not None):
                self.add("data_label", f"{shown} marks a data component")
            elif key in NAME_LABELS and family is not None:
                named = f"the {family}" if from_policy(family) else family
                self.add("data_label", f"{shown} names {named}")
            elif key in self.pats.label_keys:
                self.add("data_label", f"{shown}: only database pods carry {_clip(key)}")
            elif folded in self.pats.label_values.get(key, ()):
                self.add("data_label", f"{shown} matches data_labels of the policy file")

    def owner_refs(self, refs: Any, who: str, path: str) -> None:
        for i, ref in self.items(refs, f"{path}.ownerReferences"):
            self.owner(
                self.string(ref.get("apiVersion"), f"{path}.ownerReferences[{i}].apiVersion"),
                self.string(ref.get("kind"), f"{path}.ownerReferences[{i}].kind"),
                self.string(ref.get("name"), f"{path}.ownerReferences[{i}].name"),
                f"{who} is owned by",
            )

    def owner(self, api: str, kind: str, name: str, said: str) -> None:
        if _is_statefulset(kind):
            self.add("owned_by_statefulset", f"{said} StatefulSet {_clip(name or '?')}")
        group = self.pats.operator_group(api)
        if group is not None:
            self.add(
                "data_operator",
                f"{said} {_clip(kind or '?')} {_clip(name or '?')} ({_clip(api)}), managed by a "
                f"database operator ({group})",
            )


# The volume tables are data (shared/remediation/workload_safety.yaml); these names view them.
# Pod volume sources that are storage outliving the pod (the in-tree persistent volume types).
PERSISTENT_SOURCES: Final = tuple(TABLES.persistent_sources)
# Inline CSI drivers whose volumes are ephemeral by definition (secrets, certificates projected
# per pod). Every other driver may mount storage that outlives the pod: data.
EPHEMERAL_CSI_DRIVERS: Final = frozenset(TABLES.ephemeral_csi_drivers)
# hostPath types that are not data (a socket, a character device); a BlockDevice always is.
NOT_DATA_HOST_PATHS: Final = tuple(TABLES.not_data_host_path_types)
# The node's own configuration and kernel interfaces (time zone, CA certificates, /proc...):
# not data (the path and everything under it).
SYSTEM_HOST_PATHS: Final = tuple(TABLES.system_host_paths)


def _system_path(path: str) -> bool:
    p = "/" + "/".join(part for part in path.split("/") if part and part != ".")
    if ".." in p.split("/"):
        return False  # not a plain path: judged as data
    return any(p == s or p.startswith(s + "/") for s in SYSTEM_HOST_PATHS)


_CONTAINER_FIELDS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


def _is_statefulset(kind: str) -> bool:
    return kind.strip().casefold() == "statefulset"


def _claim_descriptions(pvcs: list[Any]) -> dict[str, str]:
    """Claim name -> "10Gi, class standard, ReadWriteOnce" (whatever the PVCs given say)."""
    out: dict[str, str] = {}
    for pvc in pvcs:
        meta = pvc.get("metadata") if isinstance(pvc, Mapping) else None
        spec = pvc.get("spec") if isinstance(pvc, Mapping) else None
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str) or not isinstance(spec, Mapping):
            continue
        resources = spec.get("resources")
        requests = resources.get("requests") if isinstance(resources, Mapping) else None
        size = requests.get("storage") if isinstance(requests, Mapping) else None
        modes = spec.get("accessModes")
        cls = spec.get("storageClassName")
        bits = [
            _clip(size) if isinstance(size, str | int) else "",
            f"class {_clip(cls)}" if isinstance(cls, str) and cls else "",
            ",".join(_clip(m) for m in modes if isinstance(m, str))
            if isinstance(modes, list)
            else "",
        ]
        if any(bits):
            out[name] = ", ".join(b for b in bits if b)
    return out


# ---------------------------------------------------------------------------- classify


def classify(
    workload: Any,
    *,
    pods: Iterable[Any] = (),
    pvcs: Iterable[Any] = (),
    owners: Iterable[Any] = (),
    extra: WorkloadSafety | None = None,
) -> Classification:
    """Is `workload` (API JSON) database / stateful-data class? Never raises.

    pods:   its pods (their specs, labels and ownerReferences are checked like the template's)
    pvcs:   PersistentVolumeClaims of the namespace or of the pods; only used to describe the
            claims mounted (size, class, access modes): the mount itself is the rule
    owners: objects or ownerReferences up the owner chain (ReplicaSets, custom resources);
            their apiVersion, kind and own ownerReferences are checked. The workload's and
            the pods' ownerReferences are always checked.
    extra:  the policy's additional patterns (`policy.workload_safety`)
    """
    try:
        return _classify(workload, list(pods), list(pvcs), list(owners), patterns(extra))
    except Exception as exc:  # total by contract: whatever it is, it is refused
        why = f"{type(exc).__name__}: {_clip(exc)}"
        return Classification(
            True,
            "unreadable",
            f"the objects could not be classified ({why})",
            "?/?/?",
            "",
            "",
            "",
            (Signal("unreadable", why),),
        )


def _classify(
    workload: Any, pods: list[Any], pvcs: list[Any], owners: list[Any], pats: Patterns
) -> Classification:
    r = _Reader(pats, _claim_descriptions(pvcs))
    if not isinstance(workload, Mapping):
        r.bad(f"the workload is a {type(workload).__name__}, not an API object")
        workload = {}
    kind = r.string(workload.get("kind"), "kind")
    meta = r.mapping(workload.get("metadata"), "metadata")
    namespace = r.string(meta.get("namespace"), "metadata.namespace")
    name = r.string(meta.get("name"), "metadata.name")
    for value, what in ((kind, "kind"), (namespace, "metadata.namespace"), (name, "metadata.name")):
        if not value:
            r.bad(f"the workload has no {what}")
    target = f"{(kind or '?').lower()}/{_clip(namespace or '?')}/{_clip(name or '?')}"
    spec = r.mapping(workload.get("spec"), "spec")

    if _is_statefulset(kind):
        r.add("statefulset", f"{target} is a StatefulSet")
    r.owner_refs(meta.get("ownerReferences"), target, "metadata")
    for i, claim in r.items(spec.get("volumeClaimTemplates"), "spec.volumeClaimTemplates"):
        cmeta = r.mapping(claim.get("metadata"), f"spec.volumeClaimTemplates[{i}].metadata")
        cname = r.string(cmeta.get("name"), f"spec.volumeClaimTemplates[{i}].metadata.name")
        r.add("volume_claim_template", f"{target} declares volumeClaimTemplate {_clip(cname or i)}")
    r.label_set(r.labels(meta.get("labels"), "metadata.labels"), target)
    if kind == "Pod":
        r.pod_spec(spec, "", "spec")
    else:
        if kind == "CronJob":
            job = r.mapping(spec.get("jobTemplate"), "spec.jobTemplate")
            spec = r.mapping(job.get("spec"), "spec.jobTemplate.spec")
        template = r.mapping(spec.get("template"), "spec.template")
        tmeta = r.mapping(template.get("metadata"), "spec.template.metadata")
        r.pod_spec(r.mapping(template.get("spec"), "spec.template.spec"), "", "spec.template.spec")
        tlabels = r.labels(tmeta.get("labels"), "spec.template.metadata.labels")
        r.label_set(tlabels, f"the pod template of {target}")

    for p, pod in enumerate(pods):
        path = f"pods[{p}]"
        if not isinstance(pod, Mapping):
            r.bad(f"{path} is a {type(pod).__name__}, not a pod")
            continue
        pmeta = r.mapping(pod.get("metadata"), f"{path}.metadata")
        who = f"pod {_clip(r.string(pmeta.get('name'), f'{path}.metadata.name') or p)}"
        r.owner_refs(pmeta.get("ownerReferences"), who, path)
        r.label_set(r.labels(pmeta.get("labels"), f"{path}.metadata.labels"), who)
        r.pod_spec(r.mapping(pod.get("spec"), f"{path}.spec"), f" of {who}", f"{path}.spec")

    for o, owner in enumerate(owners):
        path = f"owners[{o}]"
        if not isinstance(owner, Mapping):
            r.bad(f"{path} is a {type(owner).__name__}, not an object or ownerReference")
            continue
        api = r.string(owner.get("apiVersion"), f"{path}.apiVersion")
        okind = r.string(owner.get("kind"), f"{path}.kind")
        if owner.get("metadata") is None:  # an ownerReference
            oname = r.string(owner.get("name"), f"{path}.name")
            r.owner(api, okind, oname, f"{target} has owner")
            continue
        ometa = r.mapping(owner.get("metadata"), f"{path}.metadata")
        oname = r.string(ometa.get("name"), f"{path}.metadata.name")
        r.owner(api, okind, oname, f"{target} has owner")
        r.owner_refs(
            ometa.get("ownerReferences"), f"{_clip(okind or '?')} {_clip(oname or '?')}", path
        )

    signals = tuple(dict.fromkeys(sorted(r.signals, key=Signal.sort_key)))
    if not signals:
        return Classification(
            False,
            STATELESS,
            f"{target}: no StatefulSet, claim, persistent volume, data image, data label or "
            "database operator",
            target,
            kind,
            namespace,
            name,
        )
    top = signals[0]
    return Classification(True, top.rule, top.evidence, target, kind, namespace, name, signals)


# ---------------------------------------------------------------------------- annotations


def _misspelt(key: str) -> str | None:
    """The annotation an unknown alertloop key was probably meant to be (typos, case)."""
    if "alertloop" not in key.lower():
        return None
    name = key.lower().rsplit("/", 1)[-1]
    for known in (REMEDIATION_ANNOTATION, OPT_OUT_ANNOTATION):
        if difflib.SequenceMatcher(None, name, known.rsplit("/", 1)[-1]).ratio() >= 0.8:
            return known
    return None


def remediation_annotation(obj: Any) -> Annotation:
    """What `alertloop.io/remediation` (and the old `alertloop.io/remediate`) say. Never raises.

    On the object's own metadata "enabled" opts in and "disabled" opts out; the old key opts
    out with "false" (or no/off/0/disabled, as before). Values are compared trimmed and
    lower-cased. Opt-outs and invalid values on the pod template count too (whoever wrote
    them meant something); an opt-in there has no effect and is noted. Any other value, or
    a misspelt key ("alertloop.io/remediaton"), is "invalid": refused and reported.
    """
    try:
        return _annotation(obj)
    except Exception as exc:
        return Annotation("invalid", f"annotations could not be read ({type(exc).__name__})")


def _annotation(obj: Any) -> Annotation:
    if not isinstance(obj, Mapping):
        return Annotation("invalid", "the object is not an API object")
    found: dict[str, list[str]] = {"invalid": [], "disabled": [], "enabled": [], "notes": []}
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    places = [("", obj.get("metadata"))]
    if isinstance(template, Mapping):
        places.append((" on the pod template", template.get("metadata")))
    for where, meta in places:
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else meta
        if annotations is None:
            continue
        if not isinstance(annotations, Mapping):  # metadata or annotations of the wrong type
            found["invalid"].append(f"the annotations{where} cannot be read")
            continue
        for key, raw in annotations.items():
            if isinstance(key, str):
                _judge(key, raw, where, found)
    notes = tuple(found["notes"])
    order: tuple[Consent, ...] = ("invalid", "disabled", "enabled")
    for setting in order:
        if found[setting]:
            return Annotation(setting, "; ".join(found[setting]), notes)
    return Annotation("default", "", notes)


def _opts_out(key: str, value: str) -> bool:
    return value == "disabled" if key == REMEDIATION_ANNOTATION else value in OPT_OUT_VALUES


def _judge(key: str, raw: Any, where: str, found: dict[str, list[str]]) -> None:
    if key not in (REMEDIATION_ANNOTATION, OPT_OUT_ANNOTATION):
        meant = _misspelt(key)
        if meant is not None:
            found["invalid"].append(f'annotation "{_clip(key)}"{where} is not "{meant}"')
        return
    if not isinstance(raw, str):
        found["invalid"].append(f"annotation {key}{where} is not a string")
        return
    value = raw.strip().lower()
    shown = f'{key}: "{_clip(raw)}"{where}'
    if key == REMEDIATION_ANNOTATION and value == "enabled":
        if where:
            found["notes"].append(f"{shown} has no effect: it belongs on the workload's metadata")
        else:
            found["enabled"].append(shown)
    elif _opts_out(key, value):
        found["disabled"].append(shown)
    elif key == REMEDIATION_ANNOTATION:
        found["invalid"].append(f'{shown} is neither "enabled" nor "disabled"')
    else:
        found["invalid"].append(
            f'{shown} is not understood: the old annotation only opts out ("false"); use '
            f"{REMEDIATION_ANNOTATION}: enabled or disabled"
        )


# ---------------------------------------------------------------------------- may_write


class _Unknown:
    def __repr__(self) -> str:
        return "NOT_LOOKED_UP"


NOT_LOOKED_UP: Final = _Unknown()

NEVER = (
    "nothing can allow it: no annotation or policy setting opts a database-class workload in; "
    "ops change it by hand"
)


def may_write(
    action: str,
    classification: Classification,
    workload: Any,
    *,
    hpa: Mapping[str, Any] | _Unknown | None = NOT_LOOKED_UP,
) -> Verdict:
    """May alertloop perform `action` on `workload`? Never raises; anything odd is refused.

    hpa: the HPA whose scaleTargetRef is the workload (reads.find_hpa), None when there is
         none; required (not NOT_LOOKED_UP) for scale_deployment and raise_hpa_max.
    """
    try:
        return _may_write(action, classification, workload, hpa)
    except Exception as exc:
        return Verdict(
            False,
            "unreadable",
            f"the write could not be judged ({type(exc).__name__}: {_clip(exc)}): refused",
            "report this as a bug; nothing was changed",
            str(action),
            getattr(classification, "target", "?"),
            classification if isinstance(classification, Classification) else None,
        )


def _may_write(
    action: str, c: Classification, workload: Any, hpa: Mapping[str, Any] | _Unknown | None
) -> Verdict:
    if not isinstance(c, Classification):
        return Verdict(False, "unreadable", "no classification of the workload", "classify it")
    act = ACTION_ALIASES.get(action, action) if isinstance(action, str) else repr(action)
    target = c.target

    def verdict(allowed: bool, rule: str, reason: str, how: str) -> Verdict:
        return Verdict(allowed, rule, reason, how, act, target, c)

    if act not in ACTIONS:
        return verdict(
            False,
            "unknown_action",
            f"{_clip(act)!r} is not an action alertloop knows ({', '.join(ACTIONS)})",
            "(caller) use one of the known actions",
        )
    note = remediation_annotation(workload)
    if c.data_class and c.rule == "unreadable":
        return verdict(
            False,
            "unreadable",
            f"{target} could not be read ({c.evidence}): refused (fail closed)",
            "fix the object (or what reads it); nothing is changed until it can be classified",
        )
    if c.data_class:
        reason = f"{c.evidence}: database-class workloads are never changed by alertloop"
        if note.setting == "enabled":
            reason += (
                f" ({REMEDIATION_ANNOTATION}: enabled cannot opt in a database-class workload)"
            )
        return verdict(False, f"database_class/{c.rule}", reason, NEVER)
    if _identity(workload) != (c.kind, c.namespace, c.name):
        return verdict(
            False,
            "unreadable",
            f"the object to change is not the one classified ({target}): refused",
            "(caller) classify the object that is about to be changed",
        )
    if c.kind not in WRITABLE_KINDS:
        return verdict(
            False,
            "kind",
            f"{target} is a {_clip(c.kind)}: alertloop only changes Deployments (and their HPAs)",
            "change it by hand: alertloop's RBAC (deploy/rbac.yaml) only allows Deployments",
        )
    if note.setting == "invalid":
        return verdict(
            False,
            "annotation_invalid",
            f"{target}: {note.detail}: refused until the annotation is fixed",
            f'set {REMEDIATION_ANNOTATION} to "enabled" or "disabled" on the Deployment, or '
            "remove the misspelt annotation",
        )
    if note.setting == "disabled":
        return verdict(
            False,
            "opt_out",
            f"{target} is annotated {note.detail}: it opted out of automatic remediation",
            f"remove that annotation (or set {REMEDIATION_ANNOTATION}: enabled) to allow it",
        )
    opted_in = note.setting == "enabled"
    opt_out = f"annotate the Deployment {REMEDIATION_ANNOTATION}=disabled to opt out"
    if act == "restart":
        why = f"opted in ({note.detail})" if opted_in else "allowed by default"
        return verdict(True, "allowed", f"restart of stateless {target}: {why}", opt_out)
    if act == "rollback":
        return verdict(
            True, "allowed", f"rollback of stateless {target}: allowed (behind approval)", opt_out
        )
    if isinstance(hpa, _Unknown):
        return verdict(
            False,
            "hpa_unknown",
            f"whether an HPA manages {target} was not looked up: refusing to scale blind",
            "(caller) pass the HPA found for the Deployment, or None when there is none",
        )
    if hpa is not None:
        problem = _hpa_problem(hpa, c)
        if problem is not None:
            return verdict(False, *problem)
        if act == "scale_deployment":
            return verdict(
                False,
                "hpa_manages",
                f"HPA {_hpa_name(hpa)} manages {target}: scaling the Deployment directly would "
                "be undone by the HPA",
                "raise the HPA's maxReplicas instead (raise_hpa_max)",
            )
        return verdict(
            True,
            "allowed",
            f"HPA {_hpa_name(hpa)} manages {target}: raising its maxReplicas is allowed",
            f"annotate the HPA {REMEDIATION_ANNOTATION}=disabled to opt out",
        )
    if act == "raise_hpa_max":
        return verdict(
            False,
            "no_hpa_to_raise",
            f"no HPA manages {target}: there is no maxReplicas to raise",
            "give the Deployment an HPA, or opt it in to scaling without one",
        )
    if not opted_in:
        reason = (
            f"no HPA manages {target}: scaling without an HPA needs the annotation "
            f"{REMEDIATION_ANNOTATION}: enabled on the Deployment"
        )
        if note.notes:
            reason += " (" + "; ".join(note.notes) + ")"
        return verdict(
            False,
            "no_hpa",
            reason,
            f"kubectl -n {c.namespace} annotate deployment {c.name} "
            f"{REMEDIATION_ANNOTATION}=enabled (or give it an HPA)",
        )
    return verdict(
        True,
        "allowed",
        f"no HPA manages {target}; scaling it without one is opted in ({note.detail})",
        opt_out,
    )


def _identity(obj: Any) -> tuple[Any, Any, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    return kind, meta.get("namespace"), meta.get("name")


def _hpa_name(hpa: Mapping[str, Any] | None) -> str:
    meta = hpa.get("metadata") if isinstance(hpa, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return _clip(name) if isinstance(name, str) and name else "?"


def _hpa_problem(hpa: Any, c: Classification) -> tuple[str, str, str] | None:
    """Why the HPA given cannot be used: not this workload's, unreadable, or opted out."""
    if not isinstance(hpa, Mapping):
        return (
            "hpa_mismatch",
            f"the HPA given for {c.target} is not an API object",
            "(caller) pass the HPA object or None",
        )
    spec = hpa.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    ref = ref if isinstance(ref, Mapping) else {}
    meta = hpa.get("metadata")
    hpa_ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    if ref.get("kind") != c.kind or ref.get("name") != c.name or hpa_ns not in (None, c.namespace):
        return (
            "hpa_mismatch",
            f"HPA {_hpa_name(hpa)} scales {_clip(ref.get('kind'))}/{_clip(ref.get('name'))}"
            f", not {c.target}",
            "(caller) pass the HPA whose scaleTargetRef is the workload",
        )
    note = remediation_annotation(hpa)
    if note.setting == "invalid":
        return (
            "annotation_invalid",
            f"HPA {_hpa_name(hpa)}: {note.detail}: refused until the annotation is fixed",
            f'set {REMEDIATION_ANNOTATION} to "enabled" or "disabled" on the HPA, or remove it',
        )
    if note.setting == "disabled":
        return (
            "opt_out",
            f"HPA {_hpa_name(hpa)} of {c.target} is annotated {note.detail}: it opted out of "
            "automatic remediation",
            "remove that annotation from the HPA to allow it",
        )
    return None

"""`alertloop doctor`: can each function identity do exactly what it needs, on every cluster?

For each cluster of the cluster table (ALERTLOOP_CLUSTERS_FILE / ALERTLOOP_CLUSTERS): is it
reachable with your credentials, and — for each function identity (investigate, remediate,
rollback, dispatch, sweeper; `identities:` in the table or ALERTLOOP_IDENTITY_<FN>) — a
SubjectAccessReview (what `kubectl auth can-i --as` asks) for every access it needs
(shared/k8s/permissions.py) and for a sample of what it must never do. Namespaced writes are
checked in each namespace of ALERTLOOP_REMEDIATE_NAMESPACES (or --namespaces). Exit 0 when
everything is as it should be, 1 otherwise; missing and excess permissions are named.

You need permission to create subjectaccessreviews (cluster-admin has it). IAM on the Google
side (roles/container.clusterViewer for the functions) is not checked here.

Each cluster is also asked who it sees the caller as (SelfSubjectReview, with the functions'
own client code and token scopes), and a Google token's tokeninfo is compared with it: a token
GKE would name by its numeric id instead of its e-mail is a problem (shared/doctor_identity.py).

`--project P` runs the Google Cloud preflight instead (shared/preflight.py).

`--print-rbac` prints deploy/rbac.yaml for the table's identities and the namespaces instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared import envvars
from shared.clusters.table import ClusterConfigError, ClusterEntry, ClusterTable, load_table
from shared.doctor_identity import TOKENINFO_URL, IdentityCheck, check_identity
from shared.k8s.client import KubeClients
from shared.k8s.errors import K8sError
from shared.k8s.permissions import (
    IDENTITIES,
    MUST_NOT,
    NEEDS,
    OUTSIDE_CANDIDATES,
    Access,
    namespaces_for,
)
from shared.remediation.settings import parse_namespaces

AUTHENTICATED = "system:authenticated"  # every authenticated request carries this group

Problem = Literal["", "missing", "excess", "error"]


@dataclass
class Check:
    identity: str  # the function
    user: str  # its RBAC user name (the service account e-mail)
    access: Access
    namespace: str  # "" = all namespaces / cluster-scoped
    want: bool  # True: needed; False: must not be possible
    got: bool | None = None
    reason: str = ""  # the authorizer's reason, or the error

    @property
    def where(self) -> str:
        return f"in {self.namespace}" if self.namespace else "cluster-wide"

    @property
    def problem(self) -> Problem:
        if self.got is None:
            return "error"
        if self.got == self.want:
            return ""
        return "missing" if self.want else "excess"


@dataclass
class ClusterReport:
    cluster: ClusterEntry
    reachable: bool = False
    detail: str = ""
    checks: list[Check] = field(default_factory=list)
    error: str = ""  # why the checks could not run
    identity: IdentityCheck | None = None  # who the API server sees (SelfSubjectReview)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.problem]

    @property
    def ok(self) -> bool:
        identity_ok = self.identity is None or not self.identity.problem
        return self.reachable and not self.error and not self.problems and identity_ok


@dataclass
class DoctorReport:
    clusters: list[ClusterReport]
    identities: dict[str, str]
    namespaces: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    config_error: str = ""

    @property
    def ok(self) -> bool:
        return (
            not self.config_error
            and len(self.identities) == len(IDENTITIES)
            and all(c.ok for c in self.clusters)
        )


def plan_checks(identities: Mapping[str, str], allowed: Sequence[str]) -> list[Check]:
    """Every SubjectAccessReview to ask, from the permissions table."""
    checks: list[Check] = []
    allowed = tuple(allowed)
    for fn in IDENTITIES:
        user = identities.get(fn)
        if not user:
            continue
        for a in NEEDS[fn]:
            for ns in namespaces_for(a.where, allowed):
                checks.append(Check(fn, user, a, ns, True))
        for a in MUST_NOT[fn]:
            spaces = namespaces_for(a.where, allowed)
            if a.where == "allowed" and not spaces:  # no allow-list: still probe one namespace
                spaces = OUTSIDE_CANDIDATES
            for ns in spaces:
                checks.append(Check(fn, user, a, ns, False))
    return checks


def review_body(user: str, access: Access, namespace: str) -> dict[str, Any]:
    attrs = {"verb": access.verb, "group": access.group, "resource": access.plural}
    if access.subresource:
        attrs["subresource"] = access.subresource
    if namespace:
        attrs["namespace"] = namespace
    if access.name:
        attrs["name"] = access.name
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": [AUTHENTICATED], "resourceAttributes": attrs},
    }


def ask(clients: KubeClients, check: Check) -> None:
    """One SubjectAccessReview; fills check.got / check.reason (raises K8sError)."""
    body = review_body(check.user, check.access, check.namespace)
    result = clients.call(
        "create",
        "subjectaccessreviews",
        None,
        lambda **kw: clients.authorization.create_subject_access_review(body, **kw),
    )
    status = result.get("status") or {}
    check.got = bool(status.get("allowed"))
    check.reason = str(status.get("reason") or status.get("evaluationError") or "")


def check_cluster(
    entry: ClusterEntry,
    clients_for: Callable[[ClusterEntry], KubeClients],
    checks: list[Check],
    tokeninfo_url: str = TOKENINFO_URL,
) -> ClusterReport:
    report = ClusterReport(entry)
    try:
        clients = clients_for(entry)
        version = clients.call("get", "version", None, lambda **kw: clients.version.get_code(**kw))
    except K8sError as exc:
        report.detail = str(exc)
        return report
    report.reachable = True
    report.detail = f"{clients.host}, Kubernetes {version.get('gitVersion', '?')}"
    report.identity = check_identity(clients, tokeninfo_url)
    for check in checks:
        try:
            ask(clients, check)
        except K8sError as exc:
            report.error = (
                f"cannot ask the API server (SubjectAccessReview): {exc}. doctor needs "
                "create on subjectaccessreviews.authorization.k8s.io (cluster-admin has it)"
            )
            break
        report.checks.append(check)
    return report


def _fresh(checks: Iterable[Check]) -> list[Check]:
    return [Check(c.identity, c.user, c.access, c.namespace, c.want) for c in checks]


def run_doctor(
    table: ClusterTable,
    namespaces: Sequence[str],
    *,
    only: Sequence[str] = (),
    clients_for: Callable[[ClusterEntry], KubeClients] | None = None,
    tokeninfo_url: str = TOKENINFO_URL,
) -> DoctorReport:
    if clients_for is None:
        from shared.clusters.clients import kube_clients_for

        clients_for = kube_clients_for
    identities = table.identities.as_dict()
    report = DoctorReport([], identities, tuple(namespaces))
    unknown = [n for n in only if n not in table.clusters]
    if unknown:
        report.config_error = f"no such cluster in the table: {', '.join(unknown)}"
        return report
    missing = [fn for fn in IDENTITIES if fn not in identities]
    if missing:
        report.notes.append(
            f"identity not configured for {', '.join(missing)}: set identities: in the cluster "
            "table or ALERTLOOP_IDENTITY_<FUNCTION> (not checked)"
        )
    if not namespaces:
        report.notes.append(
            "ALERTLOOP_REMEDIATE_NAMESPACES is empty: remediate and rollback change nothing, "
            "so their namespaced permissions are not checked"
        )
    planned = plan_checks(identities, namespaces)
    for name in only or table.names:
        entry = table.clusters[name]
        report.clusters.append(check_cluster(entry, clients_for, _fresh(planned), tokeninfo_url))
    return report


# --------------------------------------------------------------------------- rendering


def _counts(checks: list[Check], fn: str) -> tuple[str, str, str]:
    mine = [c for c in checks if c.identity == fn]
    need = [c for c in mine if c.want]
    never = [c for c in mine if not c.want]
    problems = [c for c in mine if c.problem]
    kinds = sorted({c.problem for c in problems})
    verdict = (
        "ok"
        if not problems
        else ", ".join(f"{sum(1 for c in problems if c.problem == k)} {k}" for k in kinds)
    )
    return (
        f"{sum(1 for c in need if c.got)}/{len(need)}",
        f"{sum(1 for c in never if c.got is False)}/{len(never)}",
        verdict,
    )


def _row(c: Check, tag: str) -> str:
    why = c.access.why if c.want else "must not be possible"
    reason = f" [{c.reason}]" if c.reason and c.problem == "excess" else ""
    return f"    {tag:<8} {c.identity:<12} {c.access.what} {c.where} — {why}{reason}"


def _identity_lines(ident: IdentityCheck | None) -> list[str]:
    if ident is None:
        return []
    lines = []
    if ident.seen_as:
        token = f" (Google token of {ident.token_email})" if ident.token_email else ""
        lines.append(f"  the API server sees you as: {ident.seen_as}{token}")
    if ident.problem:
        lines.append(f"  IDENTITY: {ident.problem}")
        lines.append(f"    fix: {ident.fix}")
    if ident.note:
        lines.append(f"  note: {ident.note}")
    return lines


def render(report: DoctorReport, verbose: bool = False) -> str:
    lines = ["alertloop doctor"]
    if report.config_error:
        return "\n".join([*lines, f"  error: {report.config_error}", "result: FAILED"])
    ids = ", ".join(f"{fn}={e}" for fn, e in report.identities.items()) or "none"
    lines.append(f"  identities: {ids}")
    lines.append(f"  allowed namespaces: {', '.join(report.namespaces) or '(none)'}")
    lines += [f"  note: {n}" for n in report.notes]
    for cr in report.clusters:
        lines.append("")
        lines.append(f"cluster {cr.cluster.describe()}")
        if not cr.reachable:
            lines.append(f"  UNREACHABLE: {cr.detail}")
            continue
        lines.append(f"  reachable: {cr.detail}")
        lines += _identity_lines(cr.identity)
        if cr.error:
            lines.append(f"  ERROR: {cr.error}")
            continue
        lines.append(f"  {'identity':<12} {'needs':>7} {'must-not':>9}  result")
        for fn in IDENTITIES:
            if fn in report.identities:
                need, never, verdict = _counts(cr.checks, fn)
                lines.append(f"  {fn:<12} {need:>7} {never:>9}  {verdict}")
        for c in cr.checks if verbose else cr.problems:
            lines.append(_row(c, c.problem.upper() or ("allowed" if c.got else "denied")))
    bad = [cr.cluster.name for cr in report.clusters if not cr.ok]
    lines.append("")
    if report.ok:
        lines.append(f"result: OK ({len(report.clusters)} cluster(s))")
    else:
        why = f"problems on {', '.join(bad)}" if bad else "identities missing"
        lines.append(f"result: FAILED ({why})")
    return "\n".join(lines)


def as_json(report: DoctorReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "config_error": report.config_error,
        "identities": report.identities,
        "namespaces": list(report.namespaces),
        "notes": report.notes,
        "clusters": [
            {
                "name": cr.cluster.name,
                "reachable": cr.reachable,
                "detail": cr.detail,
                "error": cr.error,
                "identity": cr.identity.as_dict() if cr.identity else None,
                "problems": [
                    {
                        "problem": c.problem,
                        "identity": c.identity,
                        "access": c.access.what,
                        "namespace": c.namespace,
                        "reason": c.reason,
                    }
                    for c in cr.problems
                ],
                "checked": len(cr.checks),
            }
            for cr in report.clusters
        ],
    }


# --------------------------------------------------------------------------- CLI


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.project:
        from shared.preflight import cmd_preflight

        code: int = cmd_preflight(args)
        return code

    try:
        table = load_table()
    except ClusterConfigError as exc:
        print(f"alertloop doctor: the cluster table is invalid: {exc}", file=sys.stderr)
        return 1
    raw = (
        args.namespaces
        if args.namespaces is not None
        else envvars.read("ALERTLOOP_REMEDIATE_NAMESPACES")
    )
    namespaces = parse_namespaces(raw)
    if args.print_rbac:
        from shared.k8s.rbac_manifest import RbacTemplateError, render_yaml

        try:
            print(render_yaml(table.identities.as_dict(), namespaces), end="")
        except RbacTemplateError as exc:
            print(f"alertloop doctor: {exc}", file=sys.stderr)
            return 1
        return 0
    report = run_doctor(table, namespaces, only=args.cluster, tokeninfo_url=args.tokeninfo_url)
    print(json.dumps(as_json(report), indent=2) if args.json else render(report, args.all))
    return 0 if report.ok else 1


def add_doctor_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help="check each cluster: reachable, and each function identity's RBAC exactly right",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cluster", action="append", default=[], help="only this cluster (repeat)")
    p.add_argument(
        "--namespaces",
        default=None,
        help="namespaces remediate/rollback may change (default $ALERTLOOP_REMEDIATE_NAMESPACES)",
    )
    p.add_argument("--all", action="store_true", help="print every check, not only problems")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--print-rbac",
        action="store_true",
        help="print deploy/rbac.yaml for the identities and namespaces (kubectl apply -f -)",
    )
    p.add_argument(
        "--tokeninfo-url",
        default=TOKENINFO_URL,
        help="Google's tokeninfo endpoint (a local stand-in in tests)",
    )
    p.add_argument(
        "--project",
        default="",
        help="run the Google Cloud preflight for this project instead (APIs, service agents, "
        "the build account, the org policy on allUsers), with your own credentials",
    )
    p.add_argument(
        "--google-api-root",
        default="",
        help="serve every Google API the preflight reads from this root (a local stand-in)",
    )
    p.set_defaults(func=cmd_doctor)
    return p

"""`alertloop doctor --project P`: what a first deploy will hit, read with your own credentials.

Each check reads one Google API (Application Default Credentials, cloud-platform scope) and
prints what it found, and for a failure, its fix. A check whose API cannot be read (no
permission, API disabled, network) says so and does not fail the preflight: it was not checked.

- APIs enabled: Service Usage `projects.services.list` (filter state:ENABLED)
  https://cloud.google.com/service-usage/docs/reference/rest/v1/services/list — the services
  terraform/main.tf enables (`google_project_service`), plus the Container API for GKE.
- Service agents present: the project's IAM policy (Resource Manager v1
  `projects.getIamPolicy`) binds each Google-managed agent to its role
  (https://cloud.google.com/iam/docs/service-agents).
- The build account: Cloud Build `projects.locations.getDefaultServiceAccount`
  (https://cloud.google.com/build/docs/cloud-build-service-account-updates: since 2024 new
  projects build with the Compute Engine default account) must hold
  roles/cloudbuild.builds.builder to build Cloud Run functions.
- Org policy on allUsers: Resource Manager v1 `projects.getEffectiveOrgPolicy` for
  `constraints/iam.allowedPolicyMemberDomains` (domain-restricted sharing,
  https://cloud.google.com/resource-manager/docs/organization-policy/restricting-domains):
  when it restricts members, the `allUsers` invoker grant on ingest and interact is refused.

`--google-api-root URL` sends every request to one root instead of `https://<api>.googleapis.com`
(a local stand-in: sandbox/google_apis.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

REQUIRED_APIS = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
)
GKE_API = "container.googleapis.com"
# Google-managed service agents (https://cloud.google.com/iam/docs/service-agents): the member
# (from the project number) and the role it holds once its API is enabled.
SERVICE_AGENTS = (
    ("pubsub.googleapis.com", "service-{n}@gcp-sa-pubsub.iam.gserviceaccount.com",
     "roles/pubsub.serviceAgent"),
    ("run.googleapis.com", "service-{n}@serverless-robot-prod.iam.gserviceaccount.com",
     "roles/run.serviceAgent"),
    ("cloudfunctions.googleapis.com", "service-{n}@gcf-admin-robot.iam.gserviceaccount.com",
     "roles/cloudfunctions.serviceAgent"),
    ("cloudbuild.googleapis.com", "service-{n}@gcp-sa-cloudbuild.iam.gserviceaccount.com",
     "roles/cloudbuild.serviceAgent"),
)  # fmt: skip
BUILDER_ROLE = "roles/cloudbuild.builds.builder"
DOMAIN_CONSTRAINT = "constraints/iam.allowedPolicyMemberDomains"
TIMEOUT_SECONDS = 20.0

Status = Literal["ok", "fail", "unknown"]


@dataclass
class Item:
    check: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class PreflightReport:
    project: str
    items: list[Item] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failure, and at least one thing could be checked."""
        checked = any(i.status != "unknown" for i in self.items)
        return checked and not any(i.status == "fail" for i in self.items)


class Unreadable(Exception):
    """An API could not be read; the message says why (and what permission it needs)."""


class GoogleApis:
    """GET/POST JSON to Google REST APIs with the caller's credentials (or to one local root)."""

    def __init__(self, session: Any, root: str = "") -> None:
        self.session = session
        self.root = root.rstrip("/")

    def url(self, api: str, path: str) -> str:
        return f"{self.root or f'https://{api}'}{path}"

    def call(self, api: str, method: str, path: str, body: Any = None, **params: str) -> Any:
        import requests

        try:
            resp = self.session.request(
                method, self.url(api, path), json=body, params=params or None,
                timeout=TIMEOUT_SECONDS,
            )  # fmt: skip
        except (requests.RequestException, OSError) as exc:
            raise Unreadable(f"cannot reach {api}: {exc}") from exc
        if resp.status_code != 200:
            try:
                message = resp.json().get("error", {}).get("message", "")
            except (ValueError, AttributeError):
                message = resp.text[:200]
            raise Unreadable(f"{api} answered {resp.status_code}: {message}".rstrip(": "))
        try:
            return resp.json()
        except ValueError as exc:
            raise Unreadable(f"{api} answered something that is not JSON") from exc


def _unknown(check: str, exc: Unreadable, needs: str) -> Item:
    return Item(check, "unknown", f"not checked: {exc}", f"to check it, you need {needs}")


def enabled_apis(apis: GoogleApis, project: str) -> set[str]:
    names: set[str] = set()
    token = ""
    for _ in range(20):  # pages of 200: far more than any project enables
        params = {"filter": "state:ENABLED", "pageSize": "200"}
        if token:
            params["pageToken"] = token
        page = apis.call("serviceusage.googleapis.com", "GET", f"/v1/projects/{project}/services",
                         **params)  # fmt: skip
        for svc in page.get("services") or []:
            name = (svc.get("config") or {}).get("name") or str(svc.get("name", "")).rsplit("/")[-1]
            names.add(str(name))
        token = str(page.get("nextPageToken") or "")
        if not token:
            break
    return names


def check_apis(apis: GoogleApis, project: str, gke: bool) -> tuple[Item, set[str]]:
    try:
        enabled = enabled_apis(apis, project)
    except Unreadable as exc:
        return _unknown("APIs enabled", exc, "serviceusage.services.list"), set()
    wanted = (*REQUIRED_APIS, GKE_API) if gke else REQUIRED_APIS
    missing = [a for a in wanted if a not in enabled]
    if not missing:
        return Item("APIs enabled", "ok", f"{len(wanted)} APIs enabled"), enabled
    return (
        Item(
            "APIs enabled",
            "fail",
            f"not enabled: {', '.join(missing)}",
            f"gcloud services enable {' '.join(missing)} --project {project} "
            "(terraform apply enables them too, with serviceusage.services.enable)",
        ),
        enabled,
    )


def _members(policy: dict[str, Any], role: str) -> set[str]:
    return {
        str(m)
        for b in policy.get("bindings") or []
        if b.get("role") == role
        for m in b.get("members") or []
    }


def check_agents(policy: dict[str, Any], number: str, enabled: set[str], project: str) -> Item:
    missing = []
    for api, template, role in SERVICE_AGENTS:
        if enabled and api not in enabled:
            continue  # the agent appears when its API is enabled (reported above)
        member = f"serviceAccount:{template.format(n=number)}"
        if member not in _members(policy, role):
            missing.append((api, member, role))
    if not missing:
        return Item("service agents", "ok", "every service agent holds its role")
    detail = "; ".join(f"{m} lacks {r}" for _, m, r in missing)
    fixes = "; ".join(
        f"gcloud beta services identity create --service={api} --project {project} && "
        f"gcloud projects add-iam-policy-binding {project} --member={m} --role={r}"
        for api, m, r in missing
    )
    return Item("service agents", "fail", detail, fixes)


def check_build_account(apis: GoogleApis, policy: dict[str, Any] | None, project: str) -> Item:
    check = "build service account"
    try:
        path = f"/v1/projects/{project}/locations/global/defaultServiceAccount"
        got = apis.call("cloudbuild.googleapis.com", "GET", path)
    except Unreadable as exc:
        return _unknown(check, exc, "cloudbuild.builds.get (roles/cloudbuild.builds.viewer)")
    email = str(got.get("serviceAccountEmail") or "").rsplit("/", 1)[-1]
    if not email:
        return Item(check, "unknown", "not checked: Cloud Build named no default account")
    if policy is None:
        return Item(check, "unknown", f"builds run as {email}; its roles were not readable")
    if f"serviceAccount:{email}" in _members(policy, BUILDER_ROLE):
        return Item(check, "ok", f"builds run as {email}, which holds {BUILDER_ROLE}")
    return Item(
        check,
        "fail",
        f"builds run as {email}, which lacks {BUILDER_ROLE}: function deploys fail to build",
        f"gcloud projects add-iam-policy-binding {project} "
        f"--member=serviceAccount:{email} --role={BUILDER_ROLE}, or build with a dedicated "
        "service account that holds it (docs/deployment.md)",
    )


def check_all_users(apis: GoogleApis, project: str) -> Item:
    check = "org policy on allUsers"
    try:
        policy = apis.call("cloudresourcemanager.googleapis.com", "POST",
                           f"/v1/projects/{project}:getEffectiveOrgPolicy",
                           {"constraint": DOMAIN_CONSTRAINT})  # fmt: skip
    except Unreadable as exc:
        return _unknown(check, exc, "orgpolicy.policy.get (roles/orgpolicy.policyViewer)")
    listed = policy.get("listPolicy") or {}
    restricted = (
        bool(listed.get("allowedValues"))
        or bool(listed.get("deniedValues"))
        or listed.get("allValues") == "DENY"
    )
    if not restricted:
        return Item(check, "ok", f"{DOMAIN_CONSTRAINT} does not restrict members")
    return Item(
        check,
        "fail",
        f"{DOMAIN_CONSTRAINT} restricts members: the allUsers invoker grant on ingest and "
        "interact will be refused",
        "ask an org admin for an exception for this project (allow all values), or use the "
        "alternative in docs/deployment.md for domain-restricted organisations",
    )


def run_preflight(apis: GoogleApis, project: str, *, gke: bool = True) -> PreflightReport:
    report = PreflightReport(project)
    api_item, enabled = check_apis(apis, project, gke)
    report.items.append(api_item)
    crm = "cloudresourcemanager.googleapis.com"
    number = ""
    try:
        number = str(apis.call(crm, "GET", f"/v1/projects/{project}").get("projectNumber") or "")
    except Unreadable as exc:
        report.items.append(_unknown("project", exc, "resourcemanager.projects.get"))
    policy: dict[str, Any] | None = None
    try:
        policy = apis.call(crm, "POST", f"/v1/projects/{project}:getIamPolicy",
                           {"options": {"requestedPolicyVersion": 3}})  # fmt: skip
    except Unreadable as exc:
        report.items.append(
            _unknown("service agents", exc, "resourcemanager.projects.getIamPolicy")
        )
    if policy is not None and number:
        report.items.append(check_agents(policy, number, enabled, project))
    report.items.append(check_build_account(apis, policy, project))
    report.items.append(check_all_users(apis, project))
    return report


MARK = {"ok": "ok     ", "fail": "FAIL   ", "unknown": "unknown"}


def render(report: PreflightReport) -> str:
    lines = [f"alertloop doctor --project {report.project}"]
    for item in report.items:
        lines.append(f"  {MARK[item.status]} {item.check}: {item.detail}")
        if item.fix:
            lines.append(f"          fix: {item.fix}")
    fails = sum(1 for i in report.items if i.status == "fail")
    unknown = sum(1 for i in report.items if i.status == "unknown")
    if report.ok:
        verdict = "OK"
    elif fails:
        verdict = f"FAILED ({fails} failure(s))"
    else:
        verdict = "FAILED (nothing could be checked)"
    lines.append(f"result: {verdict}" + (f", {unknown} not checked" if unknown else ""))
    return "\n".join(lines)


def as_json(report: PreflightReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "project": report.project,
        "items": [i.__dict__ for i in report.items],
    }


def default_session() -> Any:
    """An authorized requests session with the caller's Application Default Credentials."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return AuthorizedSession(creds)  # type: ignore[no-untyped-call]


def cmd_preflight(
    args: argparse.Namespace, session_factory: Callable[[], Any] = default_session
) -> int:
    from google.auth.exceptions import GoogleAuthError

    try:
        session = session_factory()
    except GoogleAuthError as exc:
        print(f"alertloop doctor --project: no Google credentials: {exc}", file=sys.stderr)
        print("  fix: gcloud auth application-default login", file=sys.stderr)
        return 1
    from shared.clusters.table import ClusterConfigError, load_table

    try:
        gke = any(e.kind == "gke" for e in load_table().clusters.values())
    except ClusterConfigError:  # no table yet is fine for a preflight: assume GKE
        gke = True
    report = run_preflight(GoogleApis(session, args.google_api_root), args.project, gke=gke)
    print(json.dumps(as_json(report), indent=2) if args.json else render(report))
    return 0 if report.ok else 1

"""`alertloop doctor --project P` against a local stand-in of the Google REST APIs it reads
(sandbox/google_apis.py: documented response shapes, tokens from the local metadata server)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.google_apis import GoogleApisServer, GoogleProject
from sandbox.metadata_server import MetadataServer
from shared.cli import main
from shared.preflight import BUILDER_ROLE, REQUIRED_APIS
from tests.integration.google_fakes import isolate_adc, use_identity

pytestmark = pytest.mark.integration

PROJECT = "alertloop-prod"
NUMBER = "555000111222"
OPERATOR = "ops@example.com"
BUILD_SA = f"{NUMBER}-compute@developer.gserviceaccount.com"


def healthy() -> GoogleProject:
    agents = {
        "roles/pubsub.serviceAgent": "gcp-sa-pubsub",
        "roles/run.serviceAgent": "serverless-robot-prod",
        "roles/cloudfunctions.serviceAgent": "gcf-admin-robot",
        "roles/cloudbuild.serviceAgent": "gcp-sa-cloudbuild",
    }
    bindings = {
        role: [f"serviceAccount:service-{NUMBER}@{domain}.iam.gserviceaccount.com"]
        for role, domain in agents.items()
    }
    bindings[BUILDER_ROLE] = [f"serviceAccount:{BUILD_SA}"]
    bindings["roles/owner"] = [f"user:{OPERATOR}"]
    return GoogleProject(
        PROJECT,
        NUMBER,
        enabled=[*REQUIRED_APIS, "container.googleapis.com", "compute.googleapis.com"],
        bindings=bindings,
        build_account=BUILD_SA,
    )


@pytest.fixture
def md(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MetadataServer]:
    isolate_adc(monkeypatch, tmp_path)
    for name in ("ALERTLOOP_CLUSTERS", "ALERTLOOP_CLUSTERS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with MetadataServer({"operator": OPERATOR}, project_id=PROJECT) as server:
        use_identity(monkeypatch, server, "operator")
        yield server


def preflight(capsys: pytest.CaptureFixture[str], root: str, *extra: str) -> tuple[int, str]:
    code = main(["doctor", "--project", PROJECT, "--google-api-root", root, *extra])
    return code, capsys.readouterr().out


def test_a_ready_project_passes(md: MetadataServer, capsys: pytest.CaptureFixture[str]) -> None:
    with GoogleApisServer(md.resolve, healthy()) as api:
        code, out = preflight(capsys, api.url)
    assert code == 0, out
    assert "result: OK" in out
    assert f"builds run as {BUILD_SA}, which holds {BUILDER_ROLE}" in out
    assert "does not restrict members" in out


def test_every_failure_is_printed_with_its_fix(
    md: MetadataServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = healthy()
    off = ("run.googleapis.com", "cloudscheduler.googleapis.com")
    project.enabled = [a for a in project.enabled if a not in off]
    project.bindings.pop("roles/pubsub.serviceAgent")
    project.bindings.pop(BUILDER_ROLE)
    project.allowed_domains = ["C0abc123"]
    with GoogleApisServer(md.resolve, project) as api:
        code, out = preflight(capsys, api.url)
    assert code == 1, out
    assert (
        "FAIL    APIs enabled: not enabled: cloudscheduler.googleapis.com, run.googleapis.com"
        in out
    )
    assert (
        "gcloud services enable cloudscheduler.googleapis.com run.googleapis.com "
        f"--project {PROJECT}" in out
    )
    assert (
        f"serviceAccount:service-{NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com lacks "
        "roles/pubsub.serviceAgent" in out
    )
    # the Cloud Run agent is not asked for while its API is off (that failure is named above)
    assert "serverless-robot-prod" not in out
    assert f"builds run as {BUILD_SA}, which lacks {BUILDER_ROLE}" in out
    assert f"--member=serviceAccount:{BUILD_SA} --role={BUILDER_ROLE}" in out
    assert "the allUsers invoker grant on ingest and interact will be refused" in out
    assert "result: FAILED (4 failure(s))" in out


def test_what_cannot_be_read_is_said_and_the_rest_still_checked(
    md: MetadataServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with GoogleApisServer(md.resolve, healthy()) as api:
        api.forbidden = {":getIamPolicy", ":getEffectiveOrgPolicy"}
        code, out = preflight(capsys, api.url, "--json")
    report = json.loads(out)
    by_check = {i["check"]: i for i in report["items"]}
    assert by_check["APIs enabled"]["status"] == "ok"
    assert by_check["service agents"]["status"] == "unknown"
    assert "403" in by_check["service agents"]["detail"]
    assert "resourcemanager.projects.getIamPolicy" in by_check["service agents"]["fix"]
    assert by_check["org policy on allUsers"]["status"] == "unknown"
    assert "roles/orgpolicy.policyViewer" in by_check["org policy on allUsers"]["fix"]
    assert code == 0 and report["ok"] is True


def test_nothing_reachable_fails_saying_so(
    md: MetadataServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, out = preflight(capsys, closed)
    assert code == 1
    assert "cannot reach serviceusage.googleapis.com" in out
    assert "result: FAILED (nothing could be checked)" in out

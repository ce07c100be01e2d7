"""No drift: every environment variable name lives in shared/envvars.py and the code reads
through it. Fails when the code reads, or Terraform, deploy/, docs/ or the README mention, a name
the registry lacks; when the README's tables or Terraform's function table are not what the
registry says; or when a settings dataclass's defaults differ from the registry's."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.sync_registry import LOCALS, README, locals_text, readme_sections, readme_text
from shared import envvars, registry
from shared.envvars import EnvError, UnregisteredEnv

ROOT = Path(__file__).resolve().parents[2]
CODE = ("shared", "functions", "sandbox", "scripts", "main.py")
# Modules that may touch os.environ: the registry itself, and code that *writes* variables for
# client libraries (the replay CLI fills the emulator hosts `make run` recorded); the sandbox
# starts processes and sets their environments.
ENVIRON_ALLOWED = {"shared/envvars.py", "shared/replay/stack.py"}
ENV_NAME = re.compile(
    r"\b(?:ALERTLOOP|SLACK|PROMETHEUS|BUDGET)_[A-Z0-9_]*|\bKUBE(?:CONFIG|RNETES_[A-Z0-9_]+|_[A-Z0-9_]+)\b"
    r"|\b(?:GOOGLE_CLOUD_PROJECT|GCP_PROJECT|K_SERVICE|PUBSUB_EMULATOR_HOST|FIRESTORE_EMULATOR_HOST)\b"
)
DOCS = ("terraform", "deploy", "docs", "README.md")


def known(token: str) -> bool:
    """A registered name, a retired one, a family member, or a prefix (`ALERTLOOP_QUERY_<NAME>`)
    of registered names."""
    if token.endswith("_"):
        return any(n.startswith(token) for n in [*envvars.BY_NAME, *envvars.FAMILIES])
    if token in envvars.RETIRED:
        return True
    try:
        envvars.var(token)
    except UnregisteredEnv:
        return False
    return True


def py_files() -> Iterator[Path]:
    for entry in CODE:
        path = ROOT / entry
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


# ---------------------------------------------------------------- (a) the code


def test_the_code_names_only_registered_variables() -> None:
    unknown = []
    for path in py_files():
        for line, text in strings(ast.parse(path.read_text())):
            for token in ENV_NAME.findall(text):
                if not known(token):
                    unknown.append(f"{path.relative_to(ROOT)}:{line}: {token}")
    assert unknown == [], "names the registry (shared/envvars.py) lacks"


def test_only_the_registry_reads_the_environment() -> None:
    """os.environ / os.getenv outside shared/envvars.py would be a read the registry cannot see
    (the sandbox, which sets up processes' environments, is not product code)."""
    found = []
    for path in py_files():
        rel = str(path.relative_to(ROOT))
        if rel in ENVIRON_ALLOWED or rel.startswith(("sandbox/", "scripts/")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "environb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                found.append(f"{rel}:{node.lineno}: os.{node.attr}")
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and {a.name for a in node.names} & {"environ", "getenv"}
            ):
                found.append(f"{rel}:{node.lineno}: from os import environ/getenv")
    assert found == [], "read settings through shared.envvars"


def test_names_read_by_the_settings_code_are_registered_at_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every settings reader runs through the registry: with the environment cleared, each
    returns the registry's defaults (no name is refused as unregistered)."""
    clear(monkeypatch)
    from shared.approval.settings import approval_settings
    from shared.budget.settings import BudgetSettings
    from shared.clusters.table import load_table
    from shared.config import settings
    from shared.investigation.analysis import DEFAULT_QUERIES, query, request_selector
    from shared.k8s.settings import k8s_settings
    from shared.prometheus import PrometheusSettings
    from shared.remediation.settings import remediation_settings
    from shared.rollback.settings import rollback_settings

    settings.cache_clear()
    settings()
    approval_settings()
    BudgetSettings.from_env()
    load_table()
    k8s_settings()
    PrometheusSettings.from_env()
    remediation_settings()
    rollback_settings()
    for name in DEFAULT_QUERIES:
        query(name, selector='a="b"', namespace="n", pod_regex="p-.*")
    request_selector(None, {"service": "x"}, "n")


# ---------------------------------------------------------------- (b) what people read


def doc_files() -> Iterator[Path]:
    for entry in DOCS:
        path = ROOT / entry
        yield from ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()))


def test_terraform_deploy_docs_and_readme_mention_only_registered_variables() -> None:
    unknown = []
    for path in doc_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            unknown += [
                f"{path.relative_to(ROOT)}:{n}: {t}" for t in ENV_NAME.findall(line) if not known(t)
            ]
    assert unknown == [], "names the registry (shared/envvars.py) lacks"


# ---------------------------------------------------------------- (c) generated from it


def test_the_readme_tables_are_the_registry() -> None:
    text = README.read_text()
    sections = readme_sections(text)
    assert sorted(sections) == sorted({v.section for v in envvars.VARS}), "one table a section"
    assert readme_text(text) == text, "docs/configuration.md out of date: run make registry"
    for v in envvars.VARS:
        assert f"| `{v.name}`" in text, v.name


def test_terraform_function_table_is_the_registry() -> None:
    text = LOCALS.read_text()
    assert locals_text(text) == text, "locals.tf out of date: run python scripts/sync_registry.py"


# ---------------------------------------------------------------- the registry itself


def test_entries_are_coherent() -> None:
    from shared.clusters.table import FUNCTIONS_WITH_IDENTITY
    from shared.investigation.analysis import DEFAULT_QUERIES

    assert len(envvars.VARS) == len(envvars.BY_NAME), "a name registered twice"
    for v in envvars.VARS:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", v.name), v.name
        assert v.functions == envvars.EVERY or set(v.functions) <= set(registry.BY_NAME), v.name
        assert v.meaning and not v.meaning.endswith("."), v.name
        assert not (v.secret and v.deployed), f"{v.name}: a secret is mounted, never set"
        assert not (v.local_only and (v.deployed or v.secret)), v.name
        if v.secret:
            assert re.fullmatch(r"[a-z][a-z0-9-]*", v.mount), v.name
    queries = {v.name.removeprefix("ALERTLOOP_QUERY_") for v in envvars.VARS
               if v.name.startswith("ALERTLOOP_QUERY_")}  # fmt: skip
    assert queries == set(DEFAULT_QUERIES)
    for fn in FUNCTIONS_WITH_IDENTITY:
        assert f"ALERTLOOP_IDENTITY_{fn.upper()}" in envvars.BY_NAME
    for old, new in envvars.RETIRED.items():
        assert old not in envvars.BY_NAME and new in envvars.BY_NAME


def test_terraform_has_a_value_for_every_deployed_variable() -> None:
    text = LOCALS.read_text()
    start = text.index("  env_values = {")
    values = text[start : text.index("\n  }\n", start)]
    set_by_terraform = set(re.findall(r"^\s+([A-Z][A-Z0-9_]*)\s+=", values, re.M))
    assert set_by_terraform == {v.name for v in envvars.VARS if v.deployed}


def test_function_rows_take_env_and_secrets_from_the_registry() -> None:
    spec = registry.BY_NAME["investigate"]
    assert spec.secrets == ("KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN")
    assert "ALERTLOOP_K8S_TIMEOUT_SECONDS" in spec.env and "PROMETHEUS_URL" in spec.env
    assert "ALERTLOOP_REMEDIATE_NAMESPACES" not in spec.env
    assert "ALERTLOOP_REMEDIATE_NAMESPACES" in registry.BY_NAME["rollback"].env
    assert registry.BY_NAME["notify"].secrets == ("SLACK_BOT_TOKEN",)
    assert "SLACK_BOT_TOKEN" in envvars.not_read_by("approve")
    assert "KUBECONFIG" in envvars.not_read_by("notify")
    assert "KUBECONFIG" not in envvars.not_read_by("rollback")


def clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in envvars.BY_NAME:
        monkeypatch.delenv(name, raising=False)


def test_settings_defaults_are_the_registry_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dataclasses' own defaults (used when tests build settings by hand) cannot drift from
    what an empty environment gives."""
    from shared.approval.settings import ApprovalSettings, approval_settings
    from shared.budget.settings import BudgetSettings
    from shared.k8s.settings import K8sSettings, k8s_settings
    from shared.prometheus import PrometheusSettings
    from shared.remediation.settings import RemediationSettings, remediation_settings
    from shared.rollback.settings import RollbackSettings, rollback_settings

    clear(monkeypatch)
    pairs: list[tuple[Any, Any]] = [
        (k8s_settings(), K8sSettings()),
        (remediation_settings(), RemediationSettings()),
        (rollback_settings(), RollbackSettings()),
        (approval_settings(), ApprovalSettings()),
        (BudgetSettings.from_env(), BudgetSettings()),
        (PrometheusSettings.from_env(), PrometheusSettings()),
    ]
    for read, default in pairs:
        assert read == default


# ---------------------------------------------------------------- reading


def test_an_unregistered_name_is_refused() -> None:
    with pytest.raises(UnregisteredEnv, match="ALERTLOOP_NOT_A_SETTING is not in the"):
        envvars.read("ALERTLOOP_NOT_A_SETTING", {})


def test_defaults_blanks_and_families() -> None:
    assert envvars.read("ALERTLOOP_TOPIC_PREFIX", {}) == "alertloop-"
    assert envvars.read("ALERTLOOP_TOPIC_PREFIX", {"ALERTLOOP_TOPIC_PREFIX": "  "}) == "alertloop-"
    assert envvars.read("ALERTLOOP_TOPIC_PREFIX", {"ALERTLOOP_TOPIC_PREFIX": " x- "}) == "x-"
    blank = {"ALERTLOOP_RUN_URL_TEMPLATE": ""}  # documented: empty hides the button
    assert envvars.read("ALERTLOOP_RUN_URL_TEMPLATE", blank) == ""
    assert envvars.read("ALERTLOOP_RUN_URL_TEMPLATE", {}).startswith("https://")
    assert envvars.read("PROMETHEUS_BEARER_TOKEN_EU", {"PROMETHEUS_BEARER_TOKEN_EU": "t"}) == "t"
    assert envvars.read("PROMETHEUS_BEARER_TOKEN_EU", {}) == ""
    with pytest.raises(UnregisteredEnv):
        envvars.read("PROMETHEUS_BEARER_TOKEN_", {})
    assert envvars.is_set("KUBECONFIG", {"KUBECONFIG": "/k"})
    assert not envvars.is_set("KUBECONFIG", {"KUBECONFIG": " "})


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (envvars.flag, "flase", "ALERTLOOP_DRY_RUN must be true or false"),
        (envvars.integer, "5.5", "must be an integer"),
        (envvars.number, "ten", "must be a number, got 'ten'"),
        (envvars.number, "nan", "must be a finite number"),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(
    reader: Any, raw: str, message: str
) -> None:
    name = "ALERTLOOP_DRY_RUN" if reader is envvars.flag else "ALERTLOOP_MAX_STAGE_ATTEMPTS"
    with pytest.raises(EnvError, match=message) as err:
        reader(name, {name: raw})
    assert name in str(err.value)


def test_bounds() -> None:
    env = {"ALERTLOOP_K8S_TIMEOUT_SECONDS": "0"}
    with pytest.raises(EnvError, match="must be positive"):
        envvars.number("ALERTLOOP_K8S_TIMEOUT_SECONDS", env, positive=True)
    assert envvars.number("ALERTLOOP_K8S_TIMEOUT_SECONDS", {}, positive=True) == 5.0
    assert envvars.integer("ALERTLOOP_STORM_THRESHOLD", {"ALERTLOOP_STORM_THRESHOLD": "0"}) == 0
    with pytest.raises(EnvError, match=">= 1"):
        envvars.integer("ALERTLOOP_MAX_STAGE_ATTEMPTS", {"ALERTLOOP_MAX_STAGE_ATTEMPTS": "0"},
                        minimum=1)  # fmt: skip
    assert envvars.flag("ALERTLOOP_DRY_RUN", {"ALERTLOOP_DRY_RUN": "Yes"}) is True
    assert envvars.flag("ALERTLOOP_DRY_RUN", {}) is False

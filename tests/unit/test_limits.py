"""The service limits the code relies on live in shared/limits.py, each with its source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared import bus, limits
from shared.envvars import VARS
from shared.slack import blocks as slack_blocks

ROOT = Path(__file__).resolve().parents[2]
LIMITS = ROOT / "shared" / "limits.py"
# Distinctive limits: a module constant or default argument equal to one of them, written as a
# bare number somewhere else, is a copy that will drift (500 or 1024 are too common to watch).
WATCHED = {
    limits.SLACK_SECTION_TEXT,
    limits.SLACK_HEADER_TEXT,
    limits.SLACK_MESSAGE_TEXT,
    limits.PUBSUB_MESSAGE_BYTES,
    limits.CLOUD_RUN_REQUEST_BYTES,
    limits.FIRESTORE_DOCUMENT_BYTES,
    9_000_000,  # the old "10 MB with room" copy in bus.py
}


def _const(node: ast.AST) -> object:
    try:
        # Only literals and arithmetic on literals (32 * 1024 * 1024) get here.
        if all(isinstance(n, ast.Constant | ast.BinOp | ast.operator) for n in ast.walk(node)):
            return eval(compile(ast.Expression(node), "<limit>", "eval"))  # noqa: S307
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return None


def _copies(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    values: list[tuple[ast.AST, ast.AST]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            values.append((node, node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            values += [(node, d) for d in node.args.defaults + node.args.kw_defaults if d]
    for owner, value in values:
        got = _const(value)
        if isinstance(got, int) and not isinstance(got, bool) and got in WATCHED:
            found.append(f"{path.relative_to(ROOT)}:{owner.lineno}: {got}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == str(limits.CLOUD_RUN_REQUEST_BYTES):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_no_module_copies_a_service_limit() -> None:
    files = [p for d in ("shared", "functions") for p in (ROOT / d).rglob("*.py") if p != LIMITS]
    copies = [c for p in files for c in _copies(p)]
    assert copies == [], "import these from shared.limits:\n" + "\n".join(copies)


def test_every_limit_names_its_source() -> None:
    text = LIMITS.read_text()
    sections = re.split(r"\n# ---- ", text)[1:]
    assert sections
    for section in sections:
        names = re.findall(r"^([A-Z][A-Z0-9_]+) =", section, re.M)
        assert "https://" in section, f"no source for {names}"
    named = {n for s in sections for n in re.findall(r"^([A-Z][A-Z0-9_]+) =", s, re.M)}
    assert named == {k for k in vars(limits) if k.isupper()}


def test_the_code_uses_the_limits() -> None:
    assert limits.CLOUD_RUN_REQUEST_BYTES == 32 * 1024 * 1024
    assert limits.PUBSUB_MESSAGE_BYTES == 10_000_000
    assert limits.FIRESTORE_DOCUMENT_BYTES == 1024 * 1024
    body = next(v for v in VARS if v.name == "ALERTLOOP_MAX_BODY_BYTES")
    assert int(body.default) == limits.CLOUD_RUN_REQUEST_BYTES
    assert bus.REQUEST_MAX_BYTES < limits.PUBSUB_PUBLISH_REQUEST_BYTES
    assert bus.REQUEST_MAX_MESSAGES == limits.PUBSUB_PUBLISH_REQUEST_MESSAGES
    assert slack_blocks.SECTION_MAX == limits.SLACK_SECTION_TEXT
    assert slack_blocks.HEADER_MAX == limits.SLACK_HEADER_TEXT

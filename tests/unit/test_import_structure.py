"""No import cycles between shared/ modules.

The graph is built from the source with ast: an edge A -> B for every module-level
`import shared.B` / `from shared.B import x` / `from shared.B import submodule` in A. Imports
inside functions are left out (that is how a module defers a heavy or optional import), and so
are imports under `if TYPE_CHECKING:` (they never run). A package's `__init__` runs before any
of its submodules, so importing `shared.a.b` also depends on `shared.a`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"

# Cycles left on purpose, each a sorted tuple of its modules, with why. Prefer fixing.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: the top level, and inside `if`/`try`/
    `with` blocks and class bodies (but not `if TYPE_CHECKING:`); never inside functions."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                todo.extend(node.body)
            todo.extend(node.orelse)
        elif isinstance(node, ast.Try):
            todo.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                todo.extend(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            todo.extend(node.body)
    return found


def _targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        assert node.level == 0, "shared/ uses absolute imports only"
        base = node.module or ""
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        # `import shared.a.b` runs shared/__init__, shared/a/__init__ and shared/a/b.
        for i in range(2, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules:
                found.add(prefix)
    return found


Graph = dict[str, set[str]]


def import_graph() -> Graph:
    files = sorted(SHARED.rglob("*.py"))
    modules = {module_name(p) for p in files}
    graph: Graph = {m: set() for m in modules}
    for path in files:
        importer = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _module_level_imports(tree):
            for target in _targets(node, modules):
                # A package importing its own submodules is not a cycle with them.
                if target != importer and not importer.startswith(target + "."):
                    graph[importer].add(target)
    return graph


def cycles(graph: Graph) -> list[tuple[str, ...]]:
    """Each strongly connected component of more than one module, sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_real_imports() -> None:
    graph = import_graph()
    assert len(graph) > 100
    assert "shared.slack.incident" in graph["shared.notifier"]
    assert "shared.slack.blocks" in graph["shared.slack.incident"]
    # `from shared.remediation import act`: the package and the submodule.
    assert {"shared.remediation", "shared.remediation.act"} <= graph["shared.rollback.core"]


def test_a_cycle_is_found() -> None:
    """The detector itself: modules importing each other in a ring at module level form a cycle;
    an import inside a function or under TYPE_CHECKING does not."""
    graph: Graph = {"shared.a": {"shared.b"}, "shared.b": {"shared.c"}, "shared.c": {"shared.a"}}
    graph["shared.d"] = {"shared.a"}
    assert cycles(graph) == [("shared.a", "shared.b", "shared.c")]
    assert cycles({"shared.a": {"shared.b"}, "shared.b": set()}) == []
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import shared.x\n"
        "if TYPE_CHECKING:\n    import shared.y\n"
        "try:\n    import shared.z\nexcept ImportError:\n    pass\n"
        "def f():\n    import shared.w\n"
        "class C:\n    import shared.v\n"
    )
    names = {
        target
        for node in _module_level_imports(tree)
        for target in _targets(node, {"shared.x", "shared.y", "shared.z", "shared.w", "shared.v"})
    }
    assert names == {"shared.x", "shared.z", "shared.v"}


def test_no_import_cycles_in_shared() -> None:
    found = cycles(import_graph())
    unexpected = [c for c in found if c not in KNOWN_CYCLES]
    assert not unexpected, "import cycles between shared/ modules:\n" + "\n".join(
        " <-> ".join(c) for c in unexpected
    )
    # A known exception that was fixed must leave the list.
    assert not [c for c in KNOWN_CYCLES if c not in found], "fixed: remove from KNOWN_CYCLES"

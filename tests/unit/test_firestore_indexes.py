"""The composite indexes Terraform creates are exactly those the ledger's queries need.

Firestore serves an equality filter, or a range and an order on one field, from its automatic
single-field indexes; a query with equality on one field and a range or order on another needs
a composite index (firebase.google.com/docs/firestore/query-data/index-overview). Equalities on
several fields with the same order are served by merging the (field, order) indexes.

The queries are read from shared/ledger's source (FieldFilter / order_by calls per function), so
a new query that needs an index fails here until shared/registry.py lists it, and an index that
no query uses fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from shared import registry
from shared.ledger.queries import IncidentFilter

ROOT = Path(__file__).resolve().parents[2]
RANGE_OPS = {">", ">=", "<", "<="}
# Fields filtered through a variable: what that variable can be, by function.
DYNAMIC_EQUALITIES = {
    "incidents_page": [
        name
        for name, _ in IncidentFilter(
            status="x", alert_type="x", cluster="x", namespace="x"
        ).equalities()
    ],
}


def _const(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class _Reader(ast.NodeVisitor):
    """Groups one function's filters into queries: a query is what one variable is built into
    (`q = col.where(…)`, then `q = q.where(…)`), or one statement that builds and runs it; the
    branches of an `if` build different queries even when they assign the same name."""

    def __init__(self, fn_name: str) -> None:
        self.fn_name = fn_name
        self.var_collection: dict[str, str] = {}  # col = self._col("x")
        self.open: dict[str, dict[str, set[str]]] = {}  # variable -> the query it holds
        self.queries: list[dict[str, set[str]]] = []

    def _filters(self, node: ast.AST) -> dict[str, set[str]]:
        q: dict[str, set[str]] = {"collections": set(), "eq": set(), "ordered": set()}
        for call in ast.walk(node):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "attr", getattr(call.func, "id", ""))
            if name == "_col":
                q["collections"].add(_const(call.args[0]) or "?" if call.args else "?")
            elif name == "FieldFilter" and len(call.args) == 3:
                field, op = call.args[0], _const(call.args[1])
                fields = (
                    {_const(field)}
                    if _const(field)
                    else set(DYNAMIC_EQUALITIES.get(self.fn_name, ["?"]))
                )
                q["ordered" if op in RANGE_OPS else "eq"].update(fields)
            elif name == "order_by" and call.args:
                q["ordered"].add(_const(call.args[0]) or "?")
        for var in _names(node):
            if var in self.var_collection:
                q["collections"].add(self.var_collection[var])
        return q

    def _statement(self, stmt: ast.stmt) -> None:
        q = self._filters(stmt)
        targets = (
            [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            if isinstance(stmt, ast.Assign)
            else []
        )
        if isinstance(stmt, ast.Assign) and not (q["eq"] or q["ordered"]):
            if len(q["collections"]) == 1 and targets:
                self.var_collection[targets[0]] = next(iter(q["collections"]))
            return
        if not (q["eq"] or q["ordered"]):
            return
        used = _names(stmt.value) if isinstance(stmt, ast.Assign) else _names(stmt)
        for var in used & set(self.open):
            prior = self.open[var]  # chaining onto a query built earlier
            for key in q:
                q[key] |= prior[key]
            if prior in self.queries:
                self.queries.remove(prior)
        self.queries.append(q)
        for t in targets:
            self.open[t] = q

    def body(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                self._statement(ast.Expr(stmt.test))
                before = dict(self.open)
                self.body(stmt.body)
                after_body = dict(self.open)
                self.open = dict(before)
                self.body(stmt.orelse)
                self.open = {**after_body, **self.open}
            elif isinstance(stmt, ast.For | ast.While | ast.With | ast.Try):
                header = getattr(stmt, "iter", None) or getattr(stmt, "test", None)
                if header is not None:
                    self._statement(ast.Expr(header))
                for field in ("body", "orelse", "finalbody"):
                    self.body(getattr(stmt, field, []) or [])
                for handler in getattr(stmt, "handlers", []) or []:
                    self.body(handler.body)
            elif isinstance(stmt, ast.FunctionDef):
                continue  # read on its own
            else:
                self._statement(stmt)


def _queries() -> dict[str, list[tuple[str, set[str], set[str]]]]:
    """function -> [(collection, equality fields, range/order fields)] for each query of each
    ledger function that filters or orders."""
    found: dict[str, list[tuple[str, set[str], set[str]]]] = {}
    for path in sorted((ROOT / "shared" / "ledger").glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef):
                continue
            reader = _Reader(fn.name)
            reader.body(fn.body)
            if reader.queries:
                found[fn.name] = [
                    ("/".join(sorted(q["collections"])), q["eq"], q["ordered"])
                    for q in reader.queries
                ]
    return found


def _needed() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    needed = set()
    for fn, (collection, eq, ordered) in ((fn, q) for fn, qs in _queries().items() for q in qs):
        others = ordered - eq
        if not eq or not others:
            continue  # single-field: automatic indexes
        assert "?" not in collection and "?" not in eq | ordered, (
            f"{fn}: a filtered field or collection this test cannot read; name it in "
            "DYNAMIC_EQUALITIES"
        )
        assert len(others) == 1, (fn, others)
        (order_field,) = others
        for field in sorted(eq):
            needed.add((collection, ((field, "ASCENDING"), (order_field, "DESCENDING"))))
    return needed


def test_the_ledger_queries_are_read() -> None:
    queries = _queries()
    assert (
        "incidents",
        {"status", "alert_type", "cluster", "namespace"},
        {"opened_at"},
    ) in queries["incidents_page"]
    assert queries["writes_to"][0][1] == {"workload"}  # single-field equality
    # Branches build different queries; a loop's query is not the one before the loop.
    assert all(
        len(eq) <= 1 and not (eq and ordered) for _, eq, ordered in queries["outcomes_since"]
    )
    assert [c for c, _, _ in queries["relapse_scan"]] == ["incidents", "outcomes"]


def test_every_composite_query_has_its_index_and_every_index_a_query() -> None:
    declared = set(registry.FIRESTORE_INDEXES)
    needed = _needed()
    assert needed, "no composite query found: the reader above is broken"
    assert needed - declared == set(), f"queries without an index: {needed - declared}"
    assert declared - needed == set(), f"indexes no query uses: {declared - needed}"


def test_the_docs_list_the_indexes() -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    for collection, fields in registry.FIRESTORE_INDEXES:
        text = f"{collection}({fields[0][0]}, {fields[1][0]} desc)"
        assert text in docs, f"docs/deployment.md should list the index {text}"

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


def _queries() -> dict[str, tuple[str, set[str], set[str]]]:
    """function -> (collection, equality fields, range/order fields) for each ledger function
    that filters or orders."""
    found = {}
    for path in sorted((ROOT / "shared" / "ledger").glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef):
                continue
            collections, eq, ordered = set(), set(), set()
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "attr", getattr(call.func, "id", ""))
                if name == "_col" and call.args and _const(call.args[0]):
                    collections.add(_const(call.args[0]))
                elif name == "_col" and call.args:
                    collections.add("?")  # a parameter: resolved below
                elif name == "FieldFilter" and len(call.args) == 3:
                    field, op = call.args[0], _const(call.args[1])
                    fields = (
                        {_const(field)}
                        if _const(field)
                        else set(DYNAMIC_EQUALITIES.get(fn.name, ["?"]))
                    )
                    (ordered if op in RANGE_OPS else eq).update(fields)
                elif name == "order_by" and call.args:
                    ordered.add(_const(call.args[0]) or "?")
            if eq or ordered:
                found[fn.name] = ("/".join(sorted(collections)), eq, ordered)
    return found


def _needed() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    needed = set()
    for fn, (collection, eq, ordered) in _queries().items():
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
    assert queries["incidents_page"] == (
        "incidents",
        {"status", "alert_type", "cluster", "namespace"},
        {"opened_at"},
    )
    assert queries["writes_to"][1] == {"workload"}  # single-field equality


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

"""What only the in-memory store can show without an emulator: how a transaction that never
gets through ends, and what the store refuses instead of imitating. (Everything both stores do
is in tests/integration/test_ledger_contract.py, run on each.)"""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.transforms import Maximum

from shared.ledger import Ledger, LedgerError
from shared.ledger.memory import MemoryFirestore
from tests.conftest import reset_settings


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("ALERTLOOP_COLLECTION_PREFIX", "u-")
    reset_settings()
    return Ledger(client=MemoryFirestore())


def test_a_transaction_contended_on_every_attempt_fails_closed(ledger: Ledger) -> None:
    ref = ledger._doc("counters", "busy")
    calls = []

    def contended(transaction: Any) -> None:
        ref.get(transaction=transaction)
        calls.append(1)
        ledger._merge("counters", "busy", {"n": len(calls)})  # another writer, every time
        transaction.set(ref, {"mine": True})

    with pytest.raises(LedgerError, match="contended: Failed to commit transaction in 4 attempts"):
        ledger._transaction(contended, attempts=4)
    assert len(calls) == 4
    assert ledger._get("counters", "busy") == {"n": 4}  # none of the transaction's writes


def test_what_the_store_does_not_imitate_it_refuses(ledger: Ledger) -> None:
    col = ledger.client.collection("u-x")
    with pytest.raises(NotImplementedError):
        col.document("a").set({"n": Maximum(3)})
    with pytest.raises(NotImplementedError):
        col.document("a").update({"n": 1}, option=object())

    def query_in_transaction(transaction: Any) -> None:
        list(transaction.get(col.where(filter=firestore.FieldFilter("n", "==", 1))))

    with pytest.raises(NotImplementedError):
        ledger._transaction(query_in_transaction)

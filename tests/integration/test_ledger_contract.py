"""One contract, two stores: every test runs on the Firestore emulator and on the in-memory
stand-in (shared.ledger.memory), with the same assertions. What the ledger relies on:
transactions, contention, idempotent ids, TTL fields, the console's and /metrics' queries,
schema refusals, and the Firestore behaviours the memory store imitates (create on an existing
document, update of a missing one, merges, transforms, value types).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.ledger import Denied, Earlier, Ledger, LedgerError, Reserved, WriteRequest
from shared.ledger.memory import MemoryFirestore
from shared.ledger.queries import IncidentFilter
from shared.ledger.schema import DocumentRefused
from shared.model import utcnow
from tests.conftest import PROJECT, reset_settings
from tests.seed import seed_run

pytestmark = pytest.mark.integration
LABELS = {"namespace": "shop", "deployment": "checkout"}


@pytest.fixture(params=["emulator", "memory"])
def ledger(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("ALERTLOOP_COLLECTION_PREFIX", f"c{uuid.uuid4().hex[:8]}-")
    if request.param == "emulator":
        for key, value in request.getfixturevalue("emulators").env().items():
            monkeypatch.setenv(key, value)
        reset_settings()
        return Ledger()
    reset_settings()
    return Ledger(client=MemoryFirestore())


def raw(ledger: Ledger, name: str = "contract") -> Any:
    """A collection of the store itself, without the ledger's schema checks."""
    return ledger.client.collection(f"{ledger.cfg.collection_prefix}{name}")


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """`fn(i)` on n threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # reported to the test, which names it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def write_request(run: Any, epoch: int = 0) -> WriteRequest:
    return WriteRequest(
        run_id=run.run_id,
        incident_id=run.incident_id,
        cluster="",
        target_key="shop/deployment/checkout",
        target="deployment/checkout in shop",
        action="restart",
        actor="alertloop-remediate",
        alert_type="ApplicationDown",
        max_attempts=3,
        attempt_window=timedelta(hours=6),
        cooldown=timedelta(minutes=15),
        max_changes_per_hour=10,
        max_age=None,
        epoch=epoch,
        record={"reason": "contract"},
    )


# ---- transactions ------------------------------------------------------------------------------


def test_a_transaction_is_an_atomic_read_modify_write(ledger: Ledger) -> None:
    ref = ledger._doc("counters", "c1")

    def bump(transaction: Any) -> int:
        n = int((ref.get(transaction=transaction).to_dict() or {}).get("n", 0)) + 1
        transaction.set(ref, {"n": n})
        return n

    def twice(_i: int) -> list[int]:
        done = []
        for _ in range(2):
            # Contended past its attempts: LedgerError, it failed closed and wrote nothing.
            with contextlib.suppress(LedgerError):
                done.append(ledger._transaction(bump, attempts=50))
        return done

    results = race(3, twice)
    committed = sorted(n for r in results for n in r)
    # Every committed increment saw a different count: none lost, none counted twice.
    assert committed and committed == list(range(1, len(committed) + 1)), results
    assert ledger._get("counters", "c1") == {"n": len(committed)}


def test_a_write_between_a_transactions_read_and_commit_is_never_lost(ledger: Ledger) -> None:
    """Firestore locks what a transaction read: the other write waits for the lock, then is
    refused (409 "Transaction lock timeout": the writer gets LedgerError and retries). The
    memory store lets the write land and retries the transaction. Either way nothing is lost
    silently: the write failed loudly, or both took effect in some order (100 or 101)."""
    ref = ledger._doc("counters", "lost")
    ledger._merge("counters", "lost", {"n": 0})
    read, written = threading.Event(), threading.Event()
    outcome: list[Any] = []

    def bump(transaction: Any) -> None:
        n = int((ref.get(transaction=transaction).to_dict() or {}).get("n", 0))
        read.set()
        written.wait(timeout=3)  # Firestore holds the write until this commit
        transaction.set(ref, {"n": n + 1})

    def write() -> None:
        read.wait(timeout=30)
        try:
            ledger._merge("counters", "lost", {"n": 100})
            outcome.append("written")
        except LedgerError as exc:
            outcome.append(exc)
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    ledger._transaction(bump)
    writer.join(timeout=60)
    final = ledger._get("counters", "lost")
    if outcome == ["written"]:
        assert final in ({"n": 100}, {"n": 101})
    else:
        assert len(outcome) == 1 and isinstance(outcome[0], LedgerError), outcome
        assert final == {"n": 1}


def test_a_transaction_that_raises_writes_nothing(ledger: Ledger) -> None:
    ref = ledger._doc("counters", "c2")

    def half(transaction: Any) -> None:
        transaction.set(ref, {"n": 1})
        raise RuntimeError("after the write, before the commit")

    with pytest.raises(RuntimeError):
        ledger._transaction(half)
    assert ledger._get("counters", "c2") is None


def test_a_transaction_reads_before_it_writes(ledger: Ledger) -> None:
    ref = ledger._doc("counters", "c3")

    def read_after_write(transaction: Any) -> None:
        transaction.set(ref, {"n": 1})
        ref.get(transaction=transaction)

    with pytest.raises(firestore.ReadAfterWriteError):
        ledger._transaction(read_after_write)
    assert ledger._get("counters", "c3") is None


# ---- contention --------------------------------------------------------------------------------


def test_racing_reservations_of_one_target_let_exactly_one_write(ledger: Ledger) -> None:
    run = seed_run(ledger, name="ApplicationDown", labels=LABELS)
    # Distinct write identities (forced replays): only the target's lock can stop them.
    results = race(3, lambda i: ledger.reserve_write(write_request(run, epoch=i)))
    won = [r for r in results if isinstance(r, Reserved)]
    assert len(won) == 1, results
    # The others are refused, or fail closed (contended past their attempts: the emulator's
    # lock contention can do that; the caller then writes nothing).
    assert all(isinstance(r, Denied | LedgerError) for r in results if r is not won[0]), results
    writes = [a for a in ledger.audit_for_run(run.run_id) if "attempt" in a]
    assert [w["id"] for w in writes] == [won[0].audit_id]


# ---- idempotent ids ----------------------------------------------------------------------------


def test_the_same_write_reserved_twice_is_one_audit_record(ledger: Ledger) -> None:
    run = seed_run(ledger, name="ApplicationDown", labels=LABELS)
    req = write_request(run)
    first = ledger.reserve_write(req)
    again = ledger.reserve_write(req)
    assert isinstance(first, Reserved) and isinstance(again, Earlier)
    assert again.audit_id == first.audit_id
    assert [a["id"] for a in ledger.audit_for_run(run.run_id) if "attempt" in a] == [first.audit_id]


def test_the_same_stage_claim_and_poison_message_are_one_document(ledger: Ledger) -> None:
    first = ledger.begin("r1", "investigate", ttl_seconds=60)
    again = ledger.begin("r1", "investigate", ttl_seconds=60)
    assert (first.outcome, again.outcome, again.attempts) == ("started", "in_progress", 1)
    ledger.store_poison("m1", {"stage": "notify", "raw": "x"})
    ledger.store_poison("m1", {"stage": "notify", "raw": "x"})
    assert [mid for mid, _ in ledger.poison_messages(10)] == ["m1"]


def test_an_outcome_check_is_scheduled_once(ledger: Ledger) -> None:
    due = utcnow() + timedelta(minutes=5)
    assert ledger.schedule_outcome({"audit_id": "wabc", "due_at": due}) is True
    assert ledger.schedule_outcome({"audit_id": "wabc", "due_at": due}) is False


# ---- TTL fields --------------------------------------------------------------------------------


def test_the_ttl_fields_are_timestamps(ledger: Ledger) -> None:
    """terraform/locals.tf: TTL on `expires_at` of idempotency, leases, locks, interactions;
    Firestore's TTL only expires documents whose field holds a timestamp."""
    run = seed_run(ledger, name="ApplicationDown", labels=LABELS)
    before = utcnow()
    ledger.begin(run.run_id, "investigate", ttl_seconds=60)
    assert ledger.acquire_lease("notify-x", "me", ttl_seconds=60)
    reserved = ledger.reserve_write(write_request(run))
    assert isinstance(reserved, Reserved)
    ledger.claim_interaction("i1", {"action": "ack"}, ttl_seconds=60)
    docs = {
        "idempotency": ledger._get("idempotency", f"{run.run_id}:investigate"),
        "leases": ledger._get("leases", "notify-x"),
        "locks": ledger._get("locks", write_request(run).lock_id),
        "interactions": ledger._get("interactions", "i1"),
    }
    for collection, doc in docs.items():
        expires = (doc or {}).get("expires_at")
        assert isinstance(expires, datetime) and expires.tzinfo is not None, (collection, doc)
        assert expires > before, collection


# ---- queries the console and /metrics use ------------------------------------------------------


def test_incident_pages_are_newest_first_with_a_cursor(ledger: Ledger) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(7):
        ledger._merge(
            "incidents",
            f"inc{i}",
            {"opened_at": t0 + timedelta(minutes=i), "status": "open" if i % 2 else "resolved"},
        )
    ledger._merge("incidents", "no-time", {"status": "open"})  # no opened_at: never listed
    page = ledger.incidents_page(IncidentFilter(), limit=3)
    assert [i["incident_id"] for i in page.incidents] == ["inc6", "inc5", "inc4"]
    page = ledger.incidents_page(IncidentFilter(), cursor=page.next_cursor, limit=3)
    assert [i["incident_id"] for i in page.incidents] == ["inc3", "inc2", "inc1"]
    last = ledger.incidents_page(IncidentFilter(), cursor=page.next_cursor, limit=3)
    assert ([i["incident_id"] for i in last.incidents], last.next_cursor) == (["inc0"], "")
    open_ = ledger.incidents_page(IncidentFilter(status="open"), limit=10)
    assert [i["incident_id"] for i in open_.incidents] == ["inc5", "inc3", "inc1"]
    since = ledger.incidents_page(
        IncidentFilter(since=t0 + timedelta(minutes=2), until=t0 + timedelta(minutes=5)), limit=10
    )
    assert [i["incident_id"] for i in since.incidents] == ["inc4", "inc3", "inc2"]


def test_windows_are_newest_first_limited_and_projected(ledger: Ledger) -> None:
    t0 = utcnow() - timedelta(hours=1)
    for i in range(5):
        ledger._merge("audit", f"a{i}", {"at": t0 + timedelta(minutes=i), "action": "x", "n": i})
    ledger._merge("audit", "a-text", {"at": "not a timestamp", "action": "x"})
    window = ledger.audit_window(t0 + timedelta(minutes=1), fields=("action", "at"), limit=3)
    assert [a["id"] for a in window] == ["a4", "a3", "a2"]
    assert all(set(a) == {"id", "action", "at"} for a in window), window


def test_equality_queries_find_exactly_the_matching_documents(ledger: Ledger) -> None:
    for i, workload in enumerate(["deployment/a", "deployment/b", "deployment/a"]):
        ledger._merge("audit", f"w{i}", {"workload": workload, "attempt": 1, "at": utcnow()})
    assert sorted(a["id"] for a in ledger.writes_to("deployment/a")) == ["w0", "w2"]


# ---- schema refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"a": [[1]]},
        {"__name__": 1},
        {"big": "x" * 1_100_000},
        {"deep": {"a": {"b": [{"c": [[]]}]}}},
    ],
)
def test_what_firestore_refuses_the_ledger_refuses_first(
    ledger: Ledger, fields: dict[str, Any]
) -> None:
    with pytest.raises(DocumentRefused):
        ledger._merge("contract", "refused", fields)
    if "__name__" not in fields:  # audit records escape reserved names instead (schema.py)
        with pytest.raises(DocumentRefused):
            ledger.audit({"run_id": "r", **fields})
    assert ledger._get("contract", "refused") is None


def test_the_store_itself_refuses_an_array_in_an_array(ledger: Ledger) -> None:
    with pytest.raises(gexc.InvalidArgument):
        raw(ledger).document("nested").set({"a": [[1]]})
    assert not raw(ledger).document("nested").get().exists


# ---- the Firestore behaviours the memory store imitates ----------------------------------------


def test_create_of_an_existing_document_is_already_exists(ledger: Ledger) -> None:
    ref = raw(ledger).document("once")
    ref.create({"n": 1})
    with pytest.raises(gexc.AlreadyExists) as caught:
        ref.create({"n": 2})
    assert caught.value.code == 409
    assert ref.get().to_dict() == {"n": 1}


def test_update_of_a_missing_document_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(gexc.NotFound):
        raw(ledger).document("missing").update({"n": 1})
    assert not raw(ledger).document("missing").get().exists


def test_set_replaces_and_merge_merges_nested_maps(ledger: Ledger) -> None:
    ref = raw(ledger).document("m")
    ref.set({"a": {"x": 1, "y": 2}, "b": [1, 2], "c": 1})
    ref.set({"a": {"y": 3, "z": 4}, "b": [3]}, merge=True)
    assert ref.get().to_dict() == {"a": {"x": 1, "y": 3, "z": 4}, "b": [3], "c": 1}
    ref.set({"a": {"y": 5}})
    assert ref.get().to_dict() == {"a": {"y": 5}}
    # set() takes field names: a dotted key is one field, not a path (the ledger nests first).
    ref.set({"a.y": 6}, merge=True)
    assert ref.get().to_dict() == {"a": {"y": 5}, "a.y": 6}


def test_the_ledgers_merge_of_dotted_fields_merges_into_the_nested_map(ledger: Ledger) -> None:
    ledger._merge("contract", "d", {"runs": {"r1": {"status": "firing"}}, "title": "t"})
    ledger._merge("contract", "d", {"runs.r2": {"status": "resolved"}, "runs.r1.seen": 2})
    assert ledger._get("contract", "d") == {
        "runs": {"r1": {"status": "firing", "seen": 2}, "r2": {"status": "resolved"}},
        "title": "t",
    }


def test_update_takes_field_paths_and_replaces_the_map_it_names(ledger: Ledger) -> None:
    ref = raw(ledger).document("u")
    ref.set({"a": {"x": 1, "y": {"deep": 1}}, "n": 1})
    ref.update({"a.y": {"other": 2}, "a.z": 3})
    assert ref.get().to_dict() == {"a": {"x": 1, "y": {"other": 2}, "z": 3}, "n": 1}


def test_transforms_increment_timestamp_and_delete(ledger: Ledger) -> None:
    ref = raw(ledger).document("t")
    ref.set({"n": 1, "f": 1.5, "s": "text", "gone": True})
    before = datetime.now(UTC) - timedelta(seconds=5)
    ref.update(
        {
            "n": firestore.Increment(2),
            "f": firestore.Increment(1),
            "s": firestore.Increment(3),  # not a number: set to the increment
            "new": firestore.Increment(4),
            "at": firestore.SERVER_TIMESTAMP,
            "gone": firestore.DELETE_FIELD,
        }
    )
    doc = ref.get().to_dict() or {}
    assert {k: doc[k] for k in ("n", "f", "s", "new")} == {"n": 3, "f": 2.5, "s": 3, "new": 4}
    assert isinstance(doc["n"], int) and isinstance(doc["f"], float)
    assert isinstance(doc["at"], datetime) and doc["at"] > before
    assert "gone" not in doc


def test_timestamps_come_back_in_utc(ledger: Ledger) -> None:
    ref = raw(ledger).document("ts")
    aware = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    naive = datetime(2026, 3, 4, 5, 6, 7, 123456)
    ref.set({"aware": aware, "naive": naive, "tuple": (1, 2)})
    doc = ref.get().to_dict() or {}
    assert doc["aware"] == aware and doc["naive"] == aware
    assert doc["aware"].utcoffset() == timedelta(0)
    assert doc["tuple"] == [1, 2]


def test_queries_skip_documents_without_the_field_and_compare_within_a_type(
    ledger: Ledger,
) -> None:
    col = raw(ledger)
    col.document("n1").set({"v": 1})
    col.document("n2").set({"v": 2.5})
    col.document("s").set({"v": "2"})
    col.document("none").set({"other": 1})
    ge = col.where(filter=firestore.FieldFilter("v", ">=", 2)).stream()
    assert [s.id for s in ge] == ["n2"]
    eq = col.where(filter=firestore.FieldFilter("v", "==", 1.0)).stream()
    assert [s.id for s in eq] == ["n1"]
    ordered = col.order_by("v", direction=firestore.Query.DESCENDING).stream()
    assert [s.id for s in ordered] == ["s", "n2", "n1"]
    by_id = col.limit(3).stream()
    assert [s.id for s in by_id] == ["n1", "n2", "none"]


def test_get_all_returns_each_document_once_and_missing_ones_as_absent(ledger: Ledger) -> None:
    col = raw(ledger)
    col.document("g1").set({"n": 1})
    refs = [col.document("g1"), col.document("g2"), col.document("g1")]
    snaps = {s.id: s.exists for s in ledger.client.get_all(refs)}
    assert snaps == {"g1": True, "g2": False}


def test_a_batch_is_all_or_nothing(ledger: Ledger) -> None:
    col = raw(ledger)
    col.document("b1").set({"n": 1})
    batch = ledger.client.batch()
    batch.set(col.document("b2"), {"n": 2})
    batch.create(col.document("b1"), {"n": 3})  # exists: the whole batch fails
    with pytest.raises(gexc.AlreadyExists):
        batch.commit()
    assert not col.document("b2").get().exists
    assert col.document("b1").get().to_dict() == {"n": 1}

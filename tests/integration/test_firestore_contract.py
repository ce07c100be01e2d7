"""The ledger writes nothing Firestore would refuse (checked on the Firestore emulator).

Firestore refuses an array directly inside an array, documents over 1 MiB and `__.*__` field
names (https://firebase.google.com/docs/firestore/quotas). `shared.ledger.schema` checks every
write first; these tests pass findings, routing problems, evidence and audit entries through
the code that stores them and read them back from the emulator.
"""

from __future__ import annotations

import base64
import json
import string
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.clusters.routing import RoutingProblem, unrouted
from shared.k8s.reads import pod_summary
from shared.ledger import Ledger
from shared.ledger.schema import DocumentRefused, check_fields, document_size
from shared.messages import StageMessage
from shared.model import Finding
from shared.stage import StageRunner
from tests.pipeline import notify_messages
from tests.seed import make_alert, seed_run

pytestmark = pytest.mark.integration

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _pointer(run_id: str, stage: str = "investigate") -> SimpleNamespace:
    payload = StageMessage(run_id=run_id, stage=stage).to_bytes()
    message = {"data": base64.b64encode(payload).decode(), "attributes": {}, "messageId": "1"}
    return SimpleNamespace(data={"message": message})


# --------------------------------------------------------------------------- the failure found


def test_an_alert_from_an_unknown_cluster_stores_its_finding_and_reaches_notify(
    topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.investigate import _handle

    contexts = {"east": {"kubeconfig_context": "east"}, "west": {"kubeconfig_context": "west"}}
    table = {"clusters": contexts}
    monkeypatch.setenv("ALERTLOOP_CLUSTERS", json.dumps(table))
    monkeypatch.delenv("ALERTLOOP_CLUSTERS_FILE", raising=False)
    alert = make_alert("HighErrorRate", labels={"namespace": "shop", "cluster": "nowhere"})
    run = seed_run(Ledger(), alert, plan=["investigate"])
    StageRunner("investigate", _handle)(_pointer(run.run_id))
    doc = Ledger().get_run(run.run_id)
    assert doc is not None
    finding = doc["findings"]["investigate"]
    assert finding["status"] == "skipped"
    assert "not configured (cluster='nowhere')" in finding["summary"]
    routing = finding["details"]["routing"]
    assert routing["cluster_labels"] == [{"label": "cluster", "value": "nowhere"}]
    assert routing["configured"] == ["east", "west"]
    assert [n.id for n in notify_messages(topics)] == [run.incident_id]


# --------------------------------------------------------------------------- the checks


def test_the_check_refuses_what_firestore_refuses() -> None:
    with pytest.raises(DocumentRefused, match="an array directly inside an array"):
        check_fields({"a": [[1, 2]]})
    with pytest.raises(DocumentRefused, match="reserved"):
        check_fields({"m": {"__name__": 1}})
    with pytest.raises(DocumentRefused, match="1 MiB"):
        check_fields({"big": "x" * (1024 * 1024)})
    with pytest.raises(DocumentRefused, match="64-bit"):
        check_fields({"n": 2**64})
    with pytest.raises(DocumentRefused, match="not a Firestore value"):
        check_fields({"s": {1, 2}})
    with pytest.raises(DocumentRefused, match="reserved"):
        check_fields({"findings.__x__": 1}, dotted=True)
    # tuples are arrays; arrays of maps holding arrays are fine
    assert check_fields({"t": (1, {"u": [2]})}) == {"t": [1, {"u": [2]}]}


def test_the_size_follows_firestores_storage_size_rules() -> None:
    # https://firebase.google.com/docs/firestore/storage-size works this example: the task
    # document users/jeff/tasks/my_task_id is 147 bytes.
    doc = {
        "type": "Personal",
        "done": False,
        "priority": 1,
        "description": "Learn Cloud Firestore",
    }
    # name: "users"(6)+"jeff"(5)+"tasks"(6)+"my_task_id"(11)+16 = 44; fields: 5+9 + 5+1 +
    # 9+8 + 12+22 = 71; + 32 = 147
    assert document_size("users/jeff/tasks/my_task_id", doc) == 147


def test_a_finding_firestore_would_refuse_is_stored_with_why(store: Ledger) -> None:
    run = seed_run(store, make_alert("HighErrorRate", labels={"namespace": "shop"}))
    bad = Finding(stage="investigate", status="ok", summary="s", details={"pairs": [[1, 2]]})
    store.record_finding(run.run_id, bad)
    got = store.get_run(run.run_id)["findings"]["investigate"]  # type: ignore[index]
    assert got["summary"] == "s"
    assert "an array directly inside an array" in got["details"]["unstorable"]


def test_a_dead_letter_finding_firestore_would_refuse_is_stored_with_why(store: Ledger) -> None:
    run = seed_run(store, make_alert("HighErrorRate", labels={"namespace": "shop"}))
    bad = Finding(stage="deadletter", status="error", summary="gave up", details={"e": [[1]]})
    store.record_failure(run.run_id, "investigate", bad, 5, "alertloop replay x")
    got = store.get_run(run.run_id)
    assert got is not None and got["state"] == "failed"
    assert (
        "an array directly inside an array"
        in got["findings"]["deadletter"]["details"]["unstorable"]
    )


def test_an_audit_record_firestore_would_refuse_is_refused_before_the_write(
    store: Ledger,
) -> None:
    before = len(store.audit_for_run("r-refused"))
    with pytest.raises(DocumentRefused):
        store.audit({"run_id": "r-refused", "patch": {"args": [["--x"]]}})
    assert len(store.audit_for_run("r-refused")) == before


# --------------------------------------------------------------------------- properties

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_keys = st.text(string.ascii_letters + string.digits + "-_./:", min_size=1, max_size=30)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    _text,
)
# Any JSON a stage might put in its details, including what Firestore refuses (arrays in
# arrays, reserved names): the ledger must store the finding either way.
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(_keys, st.just("__reserved__")), inner, max_size=4),
    ),
    max_leaves=20,
)
# Kubernetes-shaped JSON (arrays hold scalars or objects), as audit records carry.
_k8s_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(st.one_of(_scalar, st.dictionaries(_keys, inner, max_size=3)), max_size=4),
        st.dictionaries(_keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@EXAMPLES
@given(summary=_text, details=st.dictionaries(_keys, _json, max_size=5))
def test_any_finding_is_storable(store: Ledger, summary: str, details: dict[str, Any]) -> None:
    run = seed_run(store, make_alert("HighErrorRate", labels={"namespace": "shop"}))
    finding = Finding(stage="investigate", status="ok", summary=summary, details=details)
    store.record_finding(run.run_id, finding)
    got = store.get_run(run.run_id)["findings"]["investigate"]  # type: ignore[index]
    assert got["summary"] == summary
    expected = finding.model_dump(mode="json")["details"]
    try:
        check_fields({"d": expected})
    except DocumentRefused:
        assert "unstorable" in got["details"]
    else:
        assert got["details"] == expected


@EXAMPLES
@given(
    reason=st.sampled_from(["no_label", "unknown", "conflict", "config"]),
    message=_text,
    seen=st.lists(_keys, max_size=5),
    pairs=st.lists(st.tuples(_keys, _text), max_size=4),
    configured=st.lists(_keys, max_size=4),
)
def test_any_routing_problem_is_stored_as_is(
    store: Ledger,
    reason: Any,
    message: str,
    seen: list[str],
    pairs: list[tuple[str, str]],
    configured: list[str],
) -> None:
    run = seed_run(store, make_alert("HighErrorRate", labels={"namespace": "shop"}))
    problem = RoutingProblem(reason, message, tuple(seen), tuple(pairs), tuple(configured))
    store.record_finding(run.run_id, unrouted("investigate", problem))
    got = store.get_run(run.run_id)["findings"]["investigate"]  # type: ignore[index]
    routing = got["details"]["routing"]  # stored whole, never replaced by "unstorable"
    assert routing["cluster_labels"] == [{"label": k, "value": v} for k, v in pairs]
    assert routing["labels_seen"] == seen


@EXAMPLES
@given(pod=st.dictionaries(st.sampled_from(["metadata", "spec", "status", "x"]), _k8s_json))
def test_any_pod_as_evidence_is_storable(store: Ledger, pod: dict[str, Any]) -> None:
    run = seed_run(store, make_alert("HighErrorRate", labels={"namespace": "shop"}))
    evidence = {"pods": [pod_summary(pod)]}
    store.record_finding(
        run.run_id, Finding(stage="investigate", status="ok", summary="e", details=evidence)
    )
    got = store.get_run(run.run_id)["findings"]["investigate"]  # type: ignore[index]
    assert got["details"] == json.loads(json.dumps(evidence, default=str))


@EXAMPLES
@given(
    action=_keys,
    before=st.dictionaries(_keys, _k8s_json, max_size=4),
    patch=st.dictionaries(_keys, _k8s_json, max_size=4),
    reason=_text,
)
def test_any_audit_entry_is_storable(
    store: Ledger, action: str, before: dict[str, Any], patch: dict[str, Any], reason: str
) -> None:
    record = {"run_id": "r-audit", "action": action, "before": before, "patch": patch,
              "reason": reason}  # fmt: skip
    audit_id = store.audit(record)
    got = store.get_audit(audit_id)
    assert got is not None
    assert {k: got[k] for k in record} == record


def test_an_audit_entry_with_reserved_names_round_trips(store: Ledger) -> None:
    """Found by the property above: a patch key Firestore reserves (__.*__) was refused, so the
    audit write failed. Such names (and names starting with the escape) are stored escaped."""
    record = {
        "run_id": "r-audit",
        "action": "restart",
        "patch": {"____": None, "~x": [{"__name__": 1}], "spec": {"replicas": 2}},
    }
    audit_id = store.audit(record)
    got = store.get_audit(audit_id)
    assert got is not None
    assert {k: got[k] for k in record} == record
    store.update_audit(audit_id, {"after": {"__a__": "b"}})
    assert (store.get_audit(audit_id) or {})["after"] == {"__a__": "b"}

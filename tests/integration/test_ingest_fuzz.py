"""Fuzzing ingest through functions-framework's Flask app (hypothesis).

Invalid bodies (over 10,000 generated): ingest runs with Pub/Sub and Firestore pointed at a dead
port AND with clients that raise on any use, so an invalid body that slipped through to the
ledger or the bus would come back as 503 and fail the test. Every answer must be a 4xx carrying
JSON `{"error": "<non-empty>"}`; never a 5xx. A smaller property test sends valid bodies to the
real emulators: always 200, every alert recorded and published.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import reset_settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE: dict[str, Any] = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEAD = "127.0.0.1:9"  # discard port: nothing listens there
MAX_BODY = 64 * 1024  # small limit so "oversized" is cheap to generate

FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the fixture only re-points module state
    ],
)


def examples(n: int) -> settings:
    return settings(FUZZ, max_examples=n)


class Untouchable:
    """Stands in for the Ledger and the Bus: any use is an invalid body getting through."""

    def __init__(self, what: str) -> None:
        self._what = what
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        from shared.bus import PublishError
        from shared.ledger import LedgerError

        self.touched.append(name)
        err = LedgerError if self._what == "ledger" else PublishError
        raise err(f"fuzz: an invalid body reached {self._what}.{name}")


class Ingest:
    def __init__(self) -> None:
        from functions_framework import create_app

        import functions.ingest as ingest_mod

        self.mod = ingest_mod
        self.client = create_app("ingest", str(ROOT / "main.py"), "http").test_client()
        self.bus = Untouchable("bus")
        self.sent = 0

    def isolate(self) -> None:
        self.mod._ingest.bus = self.bus  # type: ignore[assignment]

    def post(self, data: bytes, content_type: str = "application/json", **kw: Any) -> Any:
        self.sent += 1
        self.bus.touched.clear()
        headers = kw.pop("headers", AUTH)
        return self.client.open(
            "/",
            method=kw.pop("method", "POST"),
            data=data,
            content_type=content_type,
            headers=headers,
            **kw,
        )


@pytest.fixture(scope="module")
def ingest() -> Iterator[Ingest]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALERTLOOP_WEBHOOK_TOKEN", TOKEN)
        mp.setenv("ALERTLOOP_MAX_BODY_BYTES", str(MAX_BODY))
        mp.setenv("PUBSUB_EMULATOR_HOST", DEAD)
        mp.setenv("FIRESTORE_EMULATOR_HOST", DEAD)
        mp.setenv("GOOGLE_CLOUD_PROJECT", "alertloop-fuzz")
        mp.delenv("ALERTLOOP_ALLOW_UNAUTHENTICATED", raising=False)
        mp.delenv("ALERTLOOP_POLICY_FILE", raising=False)
        reset_settings()
        app = Ingest()
        yield app
        app.mod._ingest.bus = None  # the next user builds a publisher for its own settings


@pytest.fixture
def fuzz(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> Ingest:
    # The autouse settings fixture cleared the cache: rebuild from this module's environment.
    for key, value in {
        "ALERTLOOP_WEBHOOK_TOKEN": TOKEN,
        "ALERTLOOP_MAX_BODY_BYTES": str(MAX_BODY),
        "PUBSUB_EMULATOR_HOST": DEAD,
        "FIRESTORE_EMULATOR_HOST": DEAD,
        "GOOGLE_CLOUD_PROJECT": "alertloop-fuzz",
    }.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    ingest.isolate()
    return ingest


def assert_refused(resp: Any, body: Any, app: Ingest, statuses: tuple[int, ...] = ()) -> None:
    shown = repr(body)[:600]
    assert resp.status_code < 500, f"{resp.status_code} for {shown}: {resp.get_data()[:400]!r}"
    assert 400 <= resp.status_code < 500, f"{resp.status_code} (not refused) for {shown}"
    if statuses:
        assert resp.status_code in statuses, f"{resp.status_code} for {shown}"
    assert resp.mimetype == "application/json", f"{resp.mimetype} for {shown}"
    payload = resp.get_json()
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    assert isinstance(payload["error"], str) and payload["error"].strip(), payload
    assert not app.bus.touched, (app.bus.touched, shown)


# ---- strategies ---------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=12,
)
not_a_string = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)
not_a_map = (
    st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.lists(scalars, max_size=3)
)
# A map whose values are not all strings (one bad value among good ones).
bad_str_map = st.builds(
    lambda good, key, bad: {**good, key: bad},
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
    st.text(min_size=1, max_size=10),
    not_a_string,
)
not_a_status = json_values.filter(lambda v: v not in ("firing", "resolved"))
# Text that no datetime parser accepts (not a number, not ISO 8601).
not_a_time = (
    st.text(max_size=30).map(lambda s: "x" + s) | st.lists(scalars, max_size=2) | st.just({})
)
huge = st.integers(min_value=4097, max_value=15_000).map(lambda n: "é" * n)


def am_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    """(description, body): the sample webhook with exactly one thing made invalid."""

    def top(field: str, value: Any) -> tuple[str, Any]:
        body = copy.deepcopy(SAMPLE)
        body[field] = value
        return f"{field}={value!r:.60}", body

    def drop_top(field: str) -> tuple[str, Any]:
        body = copy.deepcopy(SAMPLE)
        del body[field]
        return f"without {field}", body

    def alert(i: int, field: str, value: Any) -> tuple[str, Any]:
        body = copy.deepcopy(SAMPLE)
        body["alerts"][i % 2][field] = value
        return f"alerts[{i % 2}].{field}={value!r:.60}", body

    def drop_alert(i: int, field: str) -> tuple[str, Any]:
        body = copy.deepcopy(SAMPLE)
        del body["alerts"][i % 2][field]
        return f"alerts[{i % 2}] without {field}", body

    def label(i: int, where: str, key: str, value: Any) -> tuple[str, Any]:
        body = copy.deepcopy(SAMPLE)
        body["alerts"][i % 2][where][key] = value
        return f"alerts[{i % 2}].{where}[{key!r:.20}]={value!r:.60}", body

    idx = st.integers(0, 1)
    return st.one_of(
        st.builds(drop_top, st.sampled_from(["version", "status", "alerts"])),
        st.builds(top, st.just("version"), json_values.filter(lambda v: v != "4")),
        st.builds(top, st.just("status"), not_a_status),
        st.builds(top, st.just("alerts"), not_a_map.filter(lambda v: v != []) | st.just([])),
        st.builds(
            top,
            st.sampled_from(["groupLabels", "commonLabels", "commonAnnotations"]),
            not_a_map | bad_str_map,
        ),
        st.builds(top, st.sampled_from(["groupKey", "receiver", "externalURL"]), not_a_string),
        st.builds(
            top, st.just("truncatedAlerts"), st.text(alphabet="xyz", min_size=1) | st.just([])
        ),
        st.builds(drop_alert, idx, st.sampled_from(["status", "labels", "startsAt"])),
        st.builds(alert, idx, st.just("status"), not_a_status),
        st.builds(alert, idx, st.sampled_from(["labels", "annotations"]), not_a_map | bad_str_map),
        st.builds(alert, idx, st.sampled_from(["startsAt", "endsAt"]), not_a_time),
        st.builds(alert, idx, st.sampled_from(["generatorURL", "fingerprint"]), not_a_string),
        st.builds(label, idx, st.just("labels"), st.just("alertname"), not_a_string | st.just("")),
        # (a huge annotation is shortened and accepted: tests/unit/test_webhook.py)
        st.builds(label, idx, st.just("labels"), st.text(max_size=10), huge),
        st.builds(
            label,
            idx,
            st.sampled_from(["labels", "annotations"]),
            st.text(max_size=10),
            not_a_string,
        ),
    )


DISPATCH = {
    "event_type": "alert-fired",
    "client_payload": {
        "alert_type": "HighErrorRate",
        "severity": "critical",
        "action": "auto",
        "labels": {"namespace": "shop"},
        "annotations": {},
        "dry_run": False,
    },
}


def dispatch_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    def top(field: str, value: Any) -> tuple[str, Any]:
        body = copy.deepcopy(DISPATCH)
        body[field] = value
        return f"{field}={value!r:.60}", body

    def drop(field: str) -> tuple[str, Any]:
        body = copy.deepcopy(DISPATCH)
        del body[field]
        return f"without {field}", body

    def payload(field: str, value: Any) -> tuple[str, Any]:
        body = copy.deepcopy(DISPATCH)
        body["client_payload"][field] = value
        return f"client_payload.{field}={value!r:.60}", body

    known = set(DISPATCH["client_payload"])  # type: ignore[arg-type]
    return st.one_of(
        st.builds(drop, st.sampled_from(["event_type", "client_payload"])),
        st.builds(top, st.just("event_type"), json_values.filter(lambda v: v != "alert-fired")),
        st.builds(top, st.just("client_payload"), not_a_map | st.none()),
        st.builds(payload, st.just("alert_type"), not_a_string | st.just("") | st.just("a" * 201)),
        st.builds(
            payload,
            st.just("action"),
            json_values.filter(lambda v: v not in ("auto", "investigate", "remediate", "notify")),
        ),
        st.builds(payload, st.sampled_from(["labels", "annotations"]), not_a_map | bad_str_map),
        st.builds(
            payload,
            st.sampled_from(["labels", "annotations"]),
            st.builds(lambda k, v: {k: v}, st.text(max_size=10), huge),
        ),
        st.builds(payload, st.just("severity"), not_a_string.filter(lambda v: v is not None)),
        st.builds(
            payload,
            st.just("dry_run"),
            st.lists(scalars, max_size=2) | st.text(alphabet="qz", min_size=1),
        ),
        st.builds(
            payload, st.text(min_size=1, max_size=15).filter(lambda k: k not in known), scalars
        ),
    )


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    # Deep nesting inside an otherwise valid-looking webhook's `alerts`.
    return b'{"version":"4","status":"firing","alerts":' + b"[" * depth + b"]" * depth + b"}"


# ---- invalid bodies: never published, never a 5xx -------------------------------------------


@examples(1800)
@given(body=json_values)
def test_arbitrary_json_values(fuzz: Ingest, body: Any) -> None:
    resp = fuzz.post(json.dumps(body, ensure_ascii=False).encode())
    assert_refused(resp, body, fuzz, (400,))


@examples(2500)
@given(case=am_mutations())
def test_near_valid_alertmanager_payloads(fuzz: Ingest, case: tuple[str, Any]) -> None:
    what, body = case
    resp = fuzz.post(json.dumps(body, ensure_ascii=False).encode())
    assert_refused(resp, what, fuzz, (400,))


@examples(1300)
@given(case=dispatch_mutations())
def test_near_valid_dispatch_payloads(fuzz: Ingest, case: tuple[str, Any]) -> None:
    what, body = case
    resp = fuzz.post(json.dumps(body, ensure_ascii=False).encode())
    assert_refused(resp, what, fuzz, (400,))


@examples(3000)
@given(data=st.binary(max_size=2000))
def test_garbage_bytes(fuzz: Ingest, data: bytes) -> None:
    resp = fuzz.post(data)
    assert_refused(resp, data, fuzz, (400,))


@examples(700)
@given(
    data=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(
        ["text/plain", "application/x-www-form-urlencoded", "application/xml", "", "text/json"]
    )
    | st.text(alphabet=string.ascii_lowercase + "/+-.", min_size=1, max_size=30).filter(
        lambda c: c.split(";")[0].strip() != "application/json"
    ),
)
def test_wrong_content_types(fuzz: Ingest, data: bytes, content_type: str) -> None:
    resp = fuzz.post(data or json.dumps(SAMPLE).encode(), content_type=content_type)
    assert_refused(resp, (content_type, data), fuzz, (415,))


@examples(300)
@given(extra=st.integers(min_value=1, max_value=4 * MAX_BODY), filler=st.sampled_from(" xé"))
def test_oversized_bodies(fuzz: Ingest, extra: int, filler: str) -> None:
    text = json.dumps({**SAMPLE, "pad": ""})
    pad = filler * (MAX_BODY + extra)
    data = text.replace('"pad": ""', f'"pad": "{pad}"').encode()[: MAX_BODY + extra]
    resp = fuzz.post(data)
    assert_refused(resp, f"{len(data)} bytes", fuzz, (413,))


@examples(600)
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "POST"]),
    auth=st.none()
    | st.text(alphabet=string.printable.strip() + " \t", max_size=40)
    | st.sampled_from(["Bearer", "Bearer ", "Basic x", "Bearer wrong", f"Basic {TOKEN}"]),
)
def test_methods_and_credentials(fuzz: Ingest, method: str, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    if method == "POST" and auth is not None and TOKEN in auth:
        return
    resp = fuzz.post(json.dumps(SAMPLE).encode(), method=method, headers=headers)
    assert_refused(resp, (method, auth), fuzz, (405,) if method != "POST" else (401,))


# Deeply nested JSON makes json.loads raise RecursionError (not JSONDecodeError); ingest used to
# answer 500 for a 2 KB body, and Alertmanager would have retried it forever. Now a clear 400.
@examples(200)
@given(
    depth=st.integers(min_value=1, max_value=20_000),
    kind=st.sampled_from(["array", "object", "webhook"]),
)
def test_deep_nesting(fuzz: Ingest, depth: int, kind: str) -> None:
    data = nested(depth, kind)
    resp = fuzz.post(data)
    expected = (413,) if len(data) > MAX_BODY else (400,)
    assert_refused(resp, f"{kind} nested {depth} deep ({len(data)} bytes)", fuzz, expected)


def test_deep_nesting_examples(fuzz: Ingest) -> None:
    """The shapes that found the RecursionError, pinned (not left to hypothesis's luck)."""
    for kind in ("array", "object", "webhook"):
        for depth in (900, 1000, 5000, 30_000):
            data = nested(depth, kind)
            expected = (413,) if len(data) > MAX_BODY else (400,)
            assert_refused(fuzz.post(data), f"{kind} nested {depth} deep", fuzz, expected)


# ---- valid bodies: always accepted and published (real emulators) ------------------------------

# Not only what Alertmanager usually sends: UTF-8 label names (Prometheus 3), dots and slashes,
# names Firestore reserves (__name__), odd fingerprints (replaced by a label hash).
label_names = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,20}\Z") | st.text(min_size=1, max_size=30)
label_values = st.text(max_size=200)
starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@st.composite
def valid_webhooks(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    alerts = []
    for _ in range(n):
        labels = draw(st.dictionaries(label_names, label_values, max_size=6))
        labels["alertname"] = draw(
            st.sampled_from(["HighErrorRate", "HighMemoryUsage", "ErrorBudgetExhausted"])
            | st.text(min_size=1, max_size=40)
        )
        start = draw(starts)
        alerts.append(
            {
                "status": draw(st.sampled_from(["firing", "resolved"])),
                "labels": labels,
                "annotations": draw(st.dictionaries(label_names, label_values, max_size=4)),
                "startsAt": start.isoformat(),
                "endsAt": draw(
                    st.sampled_from(
                        ["0001-01-01T00:00:00Z", (start + timedelta(hours=1)).isoformat()]
                    )
                ),
                "generatorURL": draw(st.text(max_size=50)),
                "fingerprint": draw(
                    st.text(alphabet="0123456789abcdef", max_size=16) | st.text(max_size=70)
                ),
            }
        )
    return {
        "version": "4",
        "groupKey": draw(st.text(max_size=50)),
        "truncatedAlerts": 0,
        "status": draw(st.sampled_from(["firing", "resolved"])),
        "receiver": "alertloop",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }


@st.composite
def valid_dispatches(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_type": "alert-fired",
        "client_payload": {
            "alert_type": draw(st.text(min_size=1, max_size=50)),
            "severity": draw(st.sampled_from(["info", "warning", "critical"])),
            "action": draw(st.sampled_from(["auto", "investigate", "remediate", "notify"])),
            "labels": draw(st.dictionaries(label_names, label_values, max_size=5)),
            "annotations": draw(st.dictionaries(label_names, label_values, max_size=3)),
            "dry_run": draw(st.booleans()),
        },
    }


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:The return_immediately flag:DeprecationWarning")
def test_valid_bodies_are_recorded_and_published(topics) -> None:
    from functions_framework import create_app

    import functions.ingest as ingest_mod
    from shared.ledger import Ledger
    from tests.pipeline import dispatch_all, stage_messages

    ingest_mod._ingest.bus = None
    client = create_app("ingest", str(ROOT / "main.py"), "http").test_client()
    auth = {"Authorization": "Bearer test-token"}
    accepted: set[str] = set()
    ledger = Ledger()

    @examples(30)
    @given(body=valid_webhooks() | valid_dispatches())
    def check(body: dict[str, Any]) -> None:
        resp = client.post("/", json=body, headers=auth)
        assert resp.status_code == 200, (resp.status_code, resp.get_json(), body)
        summary = resp.get_json()
        n = len(body.get("alerts", [None]))
        assert summary["received"] == n
        # Durable first: dispatch, fed from intake, records every alert — whatever its labels.
        dispatch_all(topics, ledger=ledger)
        for r in summary["results"]:
            run = ledger.load_run(r["run_id"])
            assert run is not None, r
            if run.status == "firing" and run.plan:
                accepted.add(r["run_id"])

    check()
    published = {m.run_id for m in stage_messages(topics, "investigate", timeout=5)}
    assert accepted <= published

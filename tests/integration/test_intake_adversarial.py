"""Adversarial inputs at the webhook intake: what real senders can send is accepted, what cannot
be stored is refused with a 4xx naming the field, and nothing crashes into a 5xx. Through
functions-framework's app and the Pub/Sub emulator: what was accepted is on `intake`, what was
refused is not."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared.bus import Outgoing
from shared.config import settings
from shared.intake import intake_messages
from shared.messages import IntakeGroup
from shared.model import valid_fingerprint
from shared.webhook import BadRequest, parse_body

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE: dict[str, Any] = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
AUTH = {"Authorization": "Bearer test-token"}
INT64_MAX = 2**63 - 1
FIRESTORE_FIELD_BYTES = 1500


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


class Intake:
    """What ingest published to the `intake` topic of the Pub/Sub emulator."""

    def __init__(self, topics: Any) -> None:
        self.topics = topics

    @property
    def sent(self) -> list[Any]:
        return self.topics.pull("intake", max_messages=1000, timeout=1.0)


@pytest.fixture
def env(topics: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLOOP_STORM_THRESHOLD", "2")
    settings.cache_clear()


@pytest.fixture
def bus(env: None, topics: Any) -> Intake:
    import functions.ingest as ingest_mod

    ingest_mod._ingest.bus = None  # a fresh publisher for this test's topic prefix
    return Intake(topics)


@pytest.fixture
def client(bus: Intake) -> FlaskClient:
    return create_app("ingest", str(ROOT / "main.py"), "http").test_client()


def post(client: FlaskClient, data: bytes, content_type: str = "application/json") -> Any:
    return client.post("/", data=data, headers={**AUTH, "Content-Type": content_type})


def published(body: dict[str, Any]) -> list[Outgoing]:
    """Everything ingest would publish for this body (serialised, as the bus gets it)."""
    _, messages = intake_messages(parse_body(body), settings())
    return [Outgoing.intake(m) for m in messages]


# ---- real senders' shapes: always accepted ----------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        # Go's RFC 3339 with nanoseconds, and an Alertmanager running with a local time zone.
        lambda b: b["alerts"][0].update(startsAt="2026-11-27T06:00:00.123456789Z"),
        lambda b: b["alerts"][0].update(startsAt="2026-11-27T08:00:00.123456789+02:00"),
        lambda b: b["alerts"][0].pop("endsAt"),
        lambda b: b["alerts"][0].update(endsAt="2020-01-01T00:00:00Z"),  # before startsAt
        lambda b: b["alerts"][0].update(fingerprint=""),
        lambda b: b["alerts"][0].update(generatorURL=""),
        lambda b: b["alerts"][0].update(generatorURL="not a url"),
        lambda b: [b.pop(k) for k in ("groupKey", "receiver", "externalURL", "truncatedAlerts")],
        lambda b: b["alerts"][0]["labels"].update(
            {"名前": "値", "k8s.io/app": "", "__name__": "x"}
        ),
        lambda b: b["alerts"].append(copy.deepcopy(b["alerts"][0])),  # duplicate alert
        # Grafana's extra alert fields.
        lambda b: b["alerts"][0].update(values={"B": 44.2, "C": 1}, silenceURL="", orgId=1),
    ],
)
def test_odd_but_real_bodies_are_accepted(client: FlaskClient, bus: Intake, mutate) -> None:
    body = sample()
    mutate(body)
    resp = post(client, json.dumps(body, ensure_ascii=False).encode())
    assert resp.status_code == 200, resp.get_json()
    assert bus.sent


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (json.dumps(SAMPLE).encode(), "application/json; charset=utf-8"),
        (b"\xef\xbb\xbf" + json.dumps(SAMPLE).encode(), "application/json"),
    ],
)
def test_charset_and_bom_are_accepted(
    client: FlaskClient, bus: Intake, data: bytes, content_type: str
) -> None:
    assert post(client, data, content_type).status_code == 200
    assert bus.sent


# ---- fingerprints -------------------------------------------------------------------------------


@pytest.mark.parametrize("fingerprint", ["a1b2c3d4e5f60718\n", "abc\n"])
def test_a_fingerprint_with_a_trailing_newline_is_replaced(env: None, fingerprint: str) -> None:
    # `$` matches before a final newline: "abc\n" passed as hex and became a document id.
    assert not valid_fingerprint(fingerprint)
    body = sample()
    body["alerts"][0]["fingerprint"] = fingerprint
    _, alerts, _ = parse_body(body)
    assert alerts[0].fingerprint != fingerprint
    assert valid_fingerprint(alerts[0].fingerprint)


# ---- text that is not Unicode (a lone surrogate escape) ------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["alerts"][0]["labels"].update(deployment="\ud800"), "alerts.0.labels"),
        (lambda b: b["alerts"][0]["labels"].update({"\udfff": "x"}), "alerts.0.labels"),
        (lambda b: b["alerts"][1]["labels"].update(alertname="A\ud83d"), "alerts.1.labels"),
        (lambda b: b.update(groupKey='{}:{alertname="\ud800"}'), "groupKey"),
    ],
)
def test_lone_surrogates_in_identity_are_a_400_not_a_500(
    client: FlaskClient, bus: Intake, mutate, field: str
) -> None:
    body = sample()
    mutate(body)
    with pytest.raises(BadRequest, match=re.escape(field)):
        parse_body(body)
    # json.dumps escapes the surrogate (\ud800): valid JSON text that json.loads accepts.
    resp = post(client, json.dumps(body).encode())
    assert resp.status_code == 400, resp.get_data()[:300]
    assert field in resp.get_json()["error"]
    assert not bus.sent


def test_lone_surrogates_in_text_for_people_are_replaced(env: None) -> None:
    body = sample()
    body["alerts"][0]["annotations"]["description"] = "bad \ud800 text"
    body["alerts"][0]["annotations"]["\udc00x"] = "v"
    body["alerts"][0]["generatorURL"] = "http://p/\udfff"
    out = published(body)  # serialises: used to raise PydanticSerializationError (a 500)
    assert out
    _, alerts, _ = parse_body(body)
    assert alerts[0].annotations["description"] == "bad \ufffd text"
    assert alerts[0].annotations["\ufffdx"] == "v"
    assert alerts[0].generator_url == "http://p/\ufffd"


@pytest.mark.parametrize("field", ["alert_type", "severity"])
def test_lone_surrogates_in_a_dispatch_are_a_400(env: None, field: str) -> None:
    payload = {"alert_type": "X", "severity": "warning", field: "x\ud800"}
    with pytest.raises(BadRequest, match=re.escape(f"client_payload.{field}")):
        parse_body({"event_type": "alert-fired", "client_payload": payload})


# ---- times outside what a UTC timestamp can hold ------------------------------------------------


@pytest.mark.parametrize("starts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_start_outside_utc_range_is_a_400_not_a_500(
    client: FlaskClient, bus: Intake, starts: str
) -> None:
    body = sample()
    body["alerts"][0]["startsAt"] = starts
    with pytest.raises(BadRequest, match=re.escape("alerts.0.startsAt")):
        parse_body(body)
    resp = post(client, json.dumps(body).encode())
    assert resp.status_code == 400, resp.get_data()[:300]
    assert not bus.sent


@pytest.mark.parametrize("ends", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_end_outside_utc_range_means_no_end(env: None, ends: str) -> None:
    body = sample()
    body["alerts"][0]["endsAt"] = ends
    _, alerts, _ = parse_body(body)
    assert alerts[0].ends_at is None
    assert published(body)


# ---- truncatedAlerts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "kept"), [(-5, 0), (2**63, INT64_MAX), (2**64 + 7, INT64_MAX)])
def test_truncated_alerts_is_clamped_to_what_the_ledger_can_store(
    env: None, sent: int, kept: int
) -> None:
    # Alertmanager's truncatedAlerts is a uint64; Firestore integers are int64.
    body = sample()
    body["truncatedAlerts"] = sent
    _, _, options = parse_body(body)
    assert options["truncated"] == kept
    result, messages = intake_messages(parse_body(body), settings())
    assert result.truncated == kept
    groups = [m for m in messages if isinstance(m, IntakeGroup)]
    assert len(groups) == 1 and groups[0].snapshot.truncated == kept


# ---- names Firestore cannot hold (its limit is in bytes, not characters) -------------------------


def test_a_label_name_over_the_byte_limit_is_refused(env: None) -> None:
    body = sample()
    body["alerts"][0]["labels"]["é" * 1024] = "v"  # 1,024 characters, 2,048 bytes
    with pytest.raises(BadRequest, match="names must be"):
        parse_body(body)
    body = sample()
    body["alerts"][0]["labels"]["é" * 512] = "v"  # 1,024 bytes: fine
    assert published(body)


def test_storm_digest_keys_stay_within_firestore_field_name_limit(env: None) -> None:
    body = sample()
    for alert in body["alerts"]:
        alert["labels"]["alertname"] = "名" * 4000  # a valid label value (12,000 bytes)
        alert["labels"]["namespace"] = "n" * 4000
    _, messages = intake_messages(parse_body(body), settings())
    groups = [m for m in messages if isinstance(m, IntakeGroup)]
    assert len(groups) == 1
    snap = groups[0].snapshot
    assert snap.total == 2 and sum(snap.by_name.values()) == 2
    for key in [*snap.by_name, *snap.by_workload]:
        assert 0 < len(key.encode()) < FIRESTORE_FIELD_BYTES


# ---- annotations are for people: never a reason to lose the alert -------------------------------


def test_many_annotations_are_trimmed_not_refused(client: FlaskClient, bus: Intake) -> None:
    body = sample()
    body["alerts"][0]["annotations"] = {f"a{i:03}": "v" for i in range(150)}
    resp = post(client, json.dumps(body).encode())
    assert resp.status_code == 200, resp.get_json()
    _, alerts, _ = parse_body(body)
    assert len(alerts[0].annotations) == 100


@pytest.mark.parametrize("name", ["", "x" * 1025, "é" * 600])
def test_an_annotation_name_firestore_cannot_hold_is_dropped(env: None, name: str) -> None:
    body = sample()
    body["alerts"][0]["annotations"][name] = "v"
    _, alerts, _ = parse_body(body)
    assert name not in alerts[0].annotations
    assert alerts[0].annotations["summary"] == "Error rate above 5%"


def test_an_annotation_value_that_is_not_a_string_is_still_refused(env: None) -> None:
    body = sample()
    body["alerts"][0]["annotations"]["x"] = 5
    with pytest.raises(BadRequest, match=re.escape("alerts.0.annotations")):
        parse_body(body)

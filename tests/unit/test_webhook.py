import copy
import json
from pathlib import Path

import pytest

from shared.webhook import BadRequest, parse_body

SAMPLE = json.loads((Path(__file__).parent.parent / "data" / "alertmanager_v4.json").read_text())


def sample() -> dict:
    return copy.deepcopy(SAMPLE)


def test_alertmanager_group_is_split_into_alerts() -> None:
    source, alerts, options = parse_body(sample())
    assert source == "alertmanager"
    assert [a.labels["deployment"] for a in alerts] == ["checkout", "cart"]
    first = alerts[0]
    assert first.name == "HighErrorRate"
    assert first.severity == "critical"
    assert first.fingerprint == "a1b2c3d4e5f60718"
    assert first.ends_at is None  # 0001-01-01 means "no end"
    assert first.group_key == SAMPLE["groupKey"]
    assert first.annotations["runbook_url"].startswith("https://")
    assert options["action"] == "auto"


def test_newer_fields_are_tolerated() -> None:
    body = sample()
    body["someFutureField"] = {"x": 1}
    body["alerts"][0]["anotherNewField"] = True
    _, alerts, _ = parse_body(body)
    assert len(alerts) == 2


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b.pop("version"), "version"),
        (lambda b: b.update(version="3"), "version"),
        (lambda b: b.update(alerts=[]), "alerts"),
        (lambda b: b["alerts"][0].pop("startsAt"), "alerts.0.startsAt"),
        (lambda b: b["alerts"][1]["labels"].pop("alertname"), "alertname"),
        (lambda b: b["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda b: b["alerts"][0]["labels"].update(severity=5), "severity"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
    ],
)
def test_bad_webhook_names_the_field(mutate, expected: str) -> None:
    body = sample()
    mutate(body)
    with pytest.raises(BadRequest) as err:
        parse_body(body)
    assert expected in str(err.value)


def test_missing_fingerprint_is_derived_from_labels() -> None:
    body = sample()
    del body["alerts"][0]["fingerprint"]
    _, a1, _ = parse_body(body)
    _, a2, _ = parse_body(copy.deepcopy(body))
    assert a1[0].fingerprint and a1[0].fingerprint == a2[0].fingerprint


def test_dispatch_body_as_the_old_github_flow_sent_it() -> None:
    body = {
        "event_type": "alert-fired",
        "client_payload": {
            "alert_type": "HighErrorRate",
            "severity": "critical",
            "action": "investigate",
        },
    }
    source, alerts, options = parse_body(body)
    assert source == "dispatch"
    assert alerts[0].name == "HighErrorRate" and alerts[0].severity == "critical"
    assert options["action"] == "investigate"


def test_each_manual_fire_is_a_new_incident() -> None:
    body = {"event_type": "alert-fired", "client_payload": {"alert_type": "X"}}
    _, a, _ = parse_body(body)
    _, b, _ = parse_body(body)
    assert a[0].fingerprint != b[0].fingerprint


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], "JSON object"),
        ("text", "JSON object"),
        ({"hello": 1}, "neither"),
        ({"event_type": "push", "client_payload": {"alert_type": "X"}}, "event_type"),
        ({"event_type": "alert-fired", "client_payload": {}}, "client_payload.alert_type"),
        (
            {
                "event_type": "alert-fired",
                "client_payload": {"alert_type": "X", "action": "rollback"},
            },
            "client_payload.action",
        ),
        (
            {"event_type": "alert-fired", "client_payload": {"alert_type": "X", "surprise": 1}},
            "surprise",
        ),
    ],
)
def test_bad_dispatch_names_the_field(body, expected: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_body(body)
    assert expected in str(err.value)


def test_oversized_label_value_is_rejected_but_a_long_annotation_is_shortened() -> None:
    body = sample()
    body["alerts"][0]["labels"]["pod"] = "x" * 5000  # labels identify the alert: refused
    with pytest.raises(BadRequest, match="longer than"):
        parse_body(body)
    body = sample()
    body["alerts"][0]["annotations"]["description"] = "x" * 5000  # for people: shortened
    _, alerts, _ = parse_body(body)
    assert len(alerts[0].annotations["description"]) == 4096
    body["alerts"][0]["annotations"] = {f"a{i}": "y" * 4000 for i in range(50)}  # 200 KB
    _, alerts, _ = parse_body(body)
    assert sum(len(v) for v in alerts[0].annotations.values()) <= 64 * 1024


@pytest.mark.parametrize("name", ["", "x" * 1025])
def test_label_names_firestore_cannot_hold_are_refused(name: str) -> None:
    body = sample()
    body["alerts"][0]["labels"][name] = "v"
    with pytest.raises(BadRequest, match="names must be"):
        parse_body(body)

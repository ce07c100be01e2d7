"""The incident's human state and buttons on its Slack parent; exact silence matchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.alertmanager import exact_matchers
from shared.slack.blocks import blocks_as_text
from shared.slack.controls import human_lines, render_controls
from shared.slack.simulated_clicks import find_button

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def incident(**fields: Any) -> dict[str, Any]:
    return {"incident_id": "i0123456789abcdef012", "status": "open", **fields}


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        e["action_id"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if "url" not in e
    ]


def test_an_open_incident_offers_every_button() -> None:
    blocks = render_controls(incident())
    assert buttons(blocks) == [
        "acknowledge",
        "silence_1h",
        "silence_4h",
        "silence_24h",
        "take_over",
        "verdict_useful",
        "verdict_noise",
        "verdict_manual",
    ]
    for b in blocks:
        if b["type"] == "actions":
            assert all(e.get("value") == "i0123456789abcdef012" for e in b["elements"])
    take = find_button(blocks, "take_over")
    assert take is not None and "confirm" in take[1]  # stopping automation asks first


def test_clicked_buttons_are_replaced_by_who_did_it_and_when() -> None:
    state = incident(
        acknowledged={"by": "U1", "at": AT},
        hands_off={"by": "U2", "at": AT},
        silences={
            "s-1": {
                "id": "s-1",
                "by": "U3",
                "at": AT,
                "ends_at": AT + timedelta(hours=4),
                "status": "active",
                "source": "alertloop",
            }
        },
        verdict={"value": "noise", "by": "U4", "at": AT},
    )
    blocks = render_controls(state)
    assert buttons(blocks) == [
        "unsilence",
        "resume_automation",
        "verdict_useful",
        "verdict_noise",
        "verdict_manual",
    ]
    text = blocks_as_text(blocks)
    assert "Acknowledged by <@U1> at 2026-11-27 09:30 UTC" in text
    assert "Silenced in Alertmanager until 2026-11-27 13:30 UTC by <@U3>" in text
    assert "Taken over by <@U2>" in text and "automation makes no further changes" in text
    assert "Verdict: *Noise* — <@U4>" in text
    chosen = find_button(blocks, "verdict_noise")
    assert chosen is not None and chosen[1]["style"] == "primary"  # changeable, shown chosen


def test_a_resolved_incident_keeps_only_the_verdict() -> None:
    assert buttons(render_controls(incident(status="resolved"))) == [
        "verdict_useful",
        "verdict_noise",
        "verdict_manual",
    ]


def test_a_silence_made_in_alertmanager_is_shown_not_offered_for_unsilence() -> None:
    state = incident(
        silences={
            "ext": {
                "id": "ext",
                "status": "active",
                "source": "alertmanager",
                "by_name": "<@UEVIL> *ops*",
                "ends_at": AT,
            }
        }
    )
    blocks = render_controls(state)
    assert "unsilence" not in buttons(blocks) and "silence_1h" not in buttons(blocks)
    line = human_lines(state)[0]
    assert "seen by the sweeper" in line
    assert "<@UEVIL>" not in line  # a name from outside never becomes a mention


def test_only_slack_user_ids_become_mentions() -> None:
    lines = human_lines(incident(acknowledged={"by": "<!here>", "by_name": "*x*", "at": AT}))
    assert "<!here>" not in lines[0] and "<@" not in lines[0]


def test_console_link_when_configured() -> None:
    url = "https://console.example.com/incidents/i0123456789abcdef012"
    blocks = render_controls(incident(), console_url=url)
    links = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert [(e["url"], e["action_id"]) for e in links] == [(url, "link_console")]


def test_matchers_are_exact_on_every_label_of_the_alert() -> None:
    labels = {
        "alertname": "HighErrorRate",
        "namespace": "shop",
        "deployment": "checkout",
        "severity": "critical",
        "path": '/a.*|"b"',
        "empty": "",
    }
    matchers = exact_matchers(labels)
    assert [(m.name, m.value) for m in matchers] == [
        ("alertname", "HighErrorRate"),
        ("deployment", "checkout"),
        ("namespace", "shop"),
        ("path", '/a.*|"b"'),
        ("severity", "critical"),
    ]
    assert all(m.to_api()["isRegex"] is False and m.to_api()["isEqual"] for m in matchers)

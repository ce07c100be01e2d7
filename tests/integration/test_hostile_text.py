"""Hostile alert text through the real path: Notifier -> slack_sdk -> the local Slack Web API
server (sandbox.slack_api), with the run in the Firestore emulator. Every assertion is on what
the server received: no secret, no live mention/link/emoji status mark, no bidi or zero-width
character, no URL Slack would auto-link, Slack's length limits respected."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.slack_api import SlackApiServer, SlackMessage
from shared.config import settings
from shared.intake import group_id_for, group_snapshot
from shared.ledger import Ledger
from shared.messages import NotifyMessage
from shared.model import Alert, Finding, utcnow
from shared.notifier import Notifier
from shared.run import Run
from tests.seed import seed_run

pytestmark = pytest.mark.integration

GHP = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
SECRETS = {
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789": "token=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "hunter2hunter2": "password=hunter2hunter2",
    "pg-S3cret": "PGPASSWORD=pg-S3cret psql -h db",
    "two words here": 'db_password="two words here"',
    "xyzAccess123": "accessToken=xyzAccess123",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE": (
        '{"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE"}'
    ),
    "mysqlP4ss": "mysql -u root -pmysqlP4ss shop",
    "Azur3Key+/==": "AccountName=a;AccountKey=Azur3Key+/==;EndpointSuffix=core.windows.net",
    "p@ss@w0rd": "postgres://app:p@ss@w0rd@db.shop.svc:5432/orders",
    "eyJzdWIiOiJhZG1pbiJ9": (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.sig_sig"
    ),
    "c2Vzc2lvbjE": "Set-Cookie: session=c2Vzc2lvbjE; Path=/",
    "MIIEvQIBADANBg": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
}
MARKUP = (
    ":white_check_mark: *Rollback* — ok\n"
    "> quoted _italic_ ~struck~ `code` ```block```\n"
    "<!channel> <!here> <!everyone> <@U0ADMIN> <#C0GENERAL> <!subteam^S1|oncall>\n"
    "<https://evil.example/login|Click to approve> https://evil.example/phish "
    "www.evil.example @here @channel :rotating_light:"
)
INVISIBLE = "\u202e\u2066\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff\U000e0041"
HOSTILE = MARKUP + " " + " ".join(SECRETS.values()) + INVISIBLE


def _hostile_alert() -> Alert:
    alert = Alert(
        name=f"HighErrorRate <!channel> :x: {INVISIBLE}",
        severity="critical *really*",
        labels={
            "namespace": "shop <@U0ADMIN>",
            "deployment": f"checkout{INVISIBLE}`evil`",
            "service": 'x"} or vector(0)',
        },
        annotations={
            "summary": "Checkout *down* <!here> token=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "description": HOSTILE + " " + "y" * 5000,
            "runbook_url": "javascript:alert(1)",
        },
        starts_at=utcnow(),
        fingerprint="fadedfadedfade00",
        generator_url=f"https://prometheus.example/graph{INVISIBLE[0]}",
    )
    return alert


def _hostile_run(ledger: Ledger) -> Run:
    return seed_run(ledger, _hostile_alert(), plan=["investigate", "remediate"])


def _findings() -> list[Finding]:
    log = "\n".join(f"  {line}" for line in [*SECRETS.values(), MARKUP])
    return [
        Finding(
            stage="investigate",
            status="ok",
            summary=f"HighErrorRate on deployment/checkout{INVISIBLE}\nLast log lines:\n{log}\n"
            f"Event: BackOff {HOSTILE}",
        ),
        Finding(
            stage="remediate",
            status="skipped",
            summary="Rollback proposed for checkout <@U0ADMIN> " + "z" * 4000,
            details={"approval_id": "appr-1", "action": "propose_rollback"},
        ),
    ]


def _texts(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (field, text) a Slack client would render; button URLs excluded."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("url", "value", "action_id", "block_id"):
                yield from _texts(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v, key)
    elif isinstance(value, str) and key == "text":
        yield key, value


def _text_objects(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block type, text object) pairs."""
    for b in blocks:
        if isinstance(b.get("text"), dict):
            yield b["type"], b["text"]
        for f in b.get("fields", []):
            yield "field", f
        for e in b.get("elements", []):
            if e.get("type") in ("mrkdwn", "plain_text"):
                yield "context", e
            elif isinstance(e.get("text"), dict):
                yield e.get("type", "?"), e["text"]


_OWN_DATE = re.compile(r"^\*Started\*\n<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|]*>$")
_LIVE = re.compile(r"<[!@#]|<https?:|<mailto:")
_AUTOLINK = re.compile(r"[A-Za-z0-9+.-]://|(?i:www)\.")
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
OWN_MARKS = {
    ":white_check_mark:",
    ":fast_forward:",
    ":x:",
    ":hourglass_flowing_sand:",
    ":red_circle:",
    ":large_orange_circle:",
    ":large_green_circle:",
}


def _assert_inert(messages: list[SlackMessage]) -> None:
    assert messages
    for m in messages:
        for blocks in [*m.history, m.blocks]:
            raw = json.dumps(blocks, ensure_ascii=False) + m.text
            for secret in SECRETS:
                assert secret not in raw, secret
            assert not _INVISIBLE.search(raw)
            for kind, obj in _text_objects(blocks):
                # Our own date token (<!date^...>) is the one live sequence we send.
                text = _OWN_DATE.sub("", obj["text"])
                if obj["type"] == "mrkdwn":
                    assert obj.get("verbatim") is True, (kind, text[:80])
                    assert "<" not in text and ">" not in text, text[:200]
                    assert not _LIVE.search(text), text[:200]
                    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text[:200]
                    assert not re.search(r"(?m)^[ \t]*(?:>|&gt;)", text), text[:200]
                else:
                    assert obj.get("emoji") is False, text
                assert not _AUTOLINK.search(text), text[:200]
                assert "*Rollback*" not in text and "*down*" not in text
                assert "*really*" not in text and "`evil`" not in text
                for code in re.findall(r":[\w+'-]+:", text):
                    assert code in OWN_MARKS, (code, text[:120])
                limit = {"header": 150, "field": 2000}.get(kind, 3000)
                assert len(obj["text"]) <= limit, (kind, len(obj["text"]))
            for _, text in _texts(blocks):
                assert "@here" not in text and "@channel" not in text
        assert len(m.text) <= 3000
        assert not _LIVE.search(m.text)


def test_hostile_run_reaches_slack_inert(topics: Any, slack_api: SlackApiServer) -> None:
    env = _hostile_run(Ledger())
    ledger = Ledger()
    Notifier()(NotifyMessage(id=env.incident_id, run_id=env.run_id))
    findings = _findings()
    for f in findings:
        ledger.record_finding(env.run_id, f)
    Notifier()(NotifyMessage(id=env.incident_id, run_id=env.run_id))

    (parent,) = slack_api.parents()
    replies = slack_api.replies(parent.ts)
    assert parent.updates == 1 and len(replies) == 2
    _assert_inert([parent, *replies])

    # The content is still there, readable: redacted, defanged, neutralised — not dropped.
    body = json.dumps(parent.blocks, ensure_ascii=False)
    assert "token=[REDACTED]" in body and "password=[REDACTED]" in body
    assert "&lt;!channel&gt;" in body and "hxxps[://]evil[.]example" in body
    assert "\u2236white_check_mark: \u2217Rollback\u2217" in body  # the fake status mark, inert
    assert (
        parent.blocks[0]["text"]["text"] == "PROPOSED: HighErrorRate \u2039!channel\u203a \u2236x:"
    )
    # No button for a javascript: runbook or a URL with a bidi override.
    links = [
        e for b in parent.blocks if b["type"] == "actions" for e in b["elements"] if "url" in e
    ]
    assert [e["text"]["text"] for e in links] == ["Run log"]  # our own link only
    # Our own formatting survives next to the outside text.
    assert "*Severity*" in body and ":white_check_mark: Investigation" in body
    investigation = replies[0].blocks[0]["text"]["text"]
    assert investigation.startswith(":white_check_mark: *Investigation* — ok")
    assert "PGPASSWORD=[REDACTED]" in investigation and "-p[REDACTED]" in investigation
    assert "postgres[://]app:[REDACTED]" in investigation
    # The rollback proposal keeps its buttons (our own values), under an inert summary.
    assert [e["action_id"] for e in replies[1].blocks[1]["elements"]] == [
        "approve_rollback",
        "reject_rollback",
    ]


def test_hostile_storm_digest_is_inert(topics: Any, slack_api: SlackApiServer) -> None:
    alerts = [
        Alert(
            name=f"Storm <!channel> *{i}* :white_check_mark:{INVISIBLE}",
            labels={
                "namespace": "shop",
                "deployment": f"api-{i} <@U0ADMIN> password=hunter2hunter2",
            },
            starts_at=utcnow(),
            fingerprint=f"fp{i}",
            group_key=f'{{}}:{{alertname="x"}} <!here> https://evil.example {SECRETS[GHP]}',
        )
        for i in range(3)
    ]
    group = group_id_for(alerts)
    run_ids = [f"storm-{i}" for i in range(len(alerts))]
    ledger = Ledger()
    ledger.record_group(group, group_snapshot(alerts, run_ids, truncated=7), utcnow())
    Notifier()(NotifyMessage(kind="group", id=group))
    (digest,) = slack_api.parents()
    _assert_inert([digest])
    assert digest.blocks[0]["text"]["text"] == "ALERT STORM: 3 alerts in one group (3 firing)"


def test_without_a_token_the_logged_message_is_inert_too(
    topics: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings.cache_clear()
    env = _hostile_run(Ledger())
    with caplog.at_level("INFO"):
        Notifier()(NotifyMessage(id=env.incident_id, run_id=env.run_id))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "no token" in logged
    for secret in SECRETS:
        assert secret not in logged
    assert not _INVISIBLE.search(logged)

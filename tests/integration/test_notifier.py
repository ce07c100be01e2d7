"""notify against the local Slack Web API server and the Firestore emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.envelope import Alert, Envelope, Finding, utcnow
from shared.ledger import Ledger
from shared.notifier import Notifier

pytestmark = pytest.mark.integration


def make_env(**annotations: str) -> Envelope:
    alert = Alert(
        name="ApplicationDown",
        severity="critical",
        starts_at=utcnow(),
        fingerprint="fp",
        labels={"namespace": "shop", "deployment": "api"},
        annotations=annotations,
    )
    return Envelope(
        run_id="n-" + utcnow().strftime("%H%M%S%f"),
        source="alertmanager",
        alert=alert,
        alert_type="ApplicationDown",
        plan=["investigate", "remediate"],
    )


def test_one_parent_updated_in_place_and_one_reply_per_finding(topics, slack_api) -> None:
    env = make_env(summary="api is down")
    ledger = Ledger()
    ledger.register_alert(env)
    notifier = Notifier()
    notifier(env)
    notifier(env)  # redelivery: nothing new
    assert len(slack_api.parents()) == 1 and slack_api.parents()[0].updates == 0
    finding = Finding(stage="investigate", status="ok", summary="3 pods in CrashLoopBackOff")
    ledger.record_finding(env.run_id, finding)
    with_finding = env.model_copy(update={"findings": [finding]})
    for _ in range(3):
        notifier(with_finding)
    parent = slack_api.parents()[0]
    assert parent.updates == 1
    assert "INVESTIGATED" in parent.blocks[0]["text"]["text"]
    replies = slack_api.replies(parent.ts)
    assert len(replies) == 1 and "CrashLoopBackOff" in replies[0].text
    run = ledger.get_run(env.run_id)
    assert run["slack"]["ts"] == parent.ts
    assert run["slack"]["replies"]["investigate"] == replies[0].ts


def test_resolution_updates_the_parent_and_says_how_long(topics, slack_api) -> None:
    env = make_env(summary="api is down")
    ledger = Ledger()
    ledger.register_alert(env)
    Notifier()(env)
    ends = env.alert.starts_at + timedelta(minutes=12)
    resolved = env.model_copy(
        update={"alert": env.alert.model_copy(update={"status": "resolved", "ends_at": ends})}
    )
    assert ledger.register_alert(resolved) == "resolved"
    Notifier()(resolved)
    parent = slack_api.parents()[0]
    assert parent.blocks[0]["text"]["text"].startswith("RESOLVED after 12 min")
    assert any("Resolved after 12 min" in r.text for r in slack_api.replies(parent.ts))


def test_rate_limits_and_server_errors_are_retried_by_slack_sdk(topics, slack_api) -> None:
    env = make_env(summary="x")
    Ledger().register_alert(env)
    slack_api.faults = [429, 429, 500]
    Notifier()(env)
    assert len(slack_api.parents()) == 1
    statuses = [s for m, s in slack_api.calls if m == "chat.postMessage"]
    assert statuses == [429, 429, 500, 200]


def test_bad_token_is_recorded_not_retried_forever(topics, slack_api, monkeypatch) -> None:
    from shared.config import settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    settings.cache_clear()
    env = make_env(summary="x")
    Ledger().register_alert(env)
    Notifier()(env)  # does not raise: retrying cannot fix a bad token
    assert slack_api.parents() == []
    assert "invalid_auth" in Ledger().get_run(env.run_id)["slack"]["error"]


def test_without_a_token_the_message_goes_to_the_log(topics, monkeypatch, caplog) -> None:
    from shared.config import settings

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings.cache_clear()
    env = make_env(summary="api is down <!channel>")
    Ledger().register_alert(env)
    with caplog.at_level("INFO"):
        Notifier()(env)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "no token" in logged and "api is down &lt;!channel&gt;" in logged

"""Slack clicks end to end on the emulators and the local Slack server: interact answers from
configuration alone and queues the click; the act worker does it once, audits it, replies
through response_url and updates the parent; refusals change nothing."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from typing import Any

import pytest

from functions.interact import _Clients
from sandbox.slack_api import SlackApiServer
from shared.bus import Bus, Outgoing
from shared.health import loop_health
from shared.interaction.request import parse_message
from shared.interaction.worker import Worker
from shared.ledger import Ledger
from shared.messages import StageMessage, parse_stage
from shared.model import Finding, utcnow
from shared.notifier import Notifier
from shared.run import Run
from tests import clicks
from tests.clicks import (
    INTRUDER,
    ONCALL,
    act,
    buttons,
    click,
    deliver,
    queued,
)
from tests.conftest import reset_settings
from tests.seed import make_alert, resolve_run, seed_run

pytestmark = pytest.mark.integration

# The clicking fixtures (the Slack app set up, interact's test client), found here by name.
slack = clicks.slack
client = clicks.client


def on_slack(name: str = "ApplicationDown", deployment: str = "api", **kw: Any) -> Run:
    """An incident as notify posts it: a parent with its buttons."""
    alert = make_alert(
        name,
        labels={"namespace": "shop", "deployment": deployment},
        starts_at=kw.pop("starts_at", utcnow() - timedelta(minutes=3)),
    )
    run = seed_run(Ledger(), alert, **kw)
    Notifier().project_incident(run.incident_id)
    return run


def parent(slack: SlackApiServer, run: Run) -> Any:
    inc = Ledger().get_incident(run.incident_id) or {}
    msg = slack.message(inc["slack"]["ts"])
    assert msg is not None
    return msg


def audits(ledger: Ledger) -> list[dict[str, Any]]:
    return sorted((s.to_dict() for s in ledger._col("audit").stream()), key=lambda a: a["at"])


def replies_to(slack: SlackApiServer, user: str) -> list[str]:
    return [r.text for r in slack.responses_for(user)]


def test_interact_answers_from_configuration_and_the_click_waits_for_the_worker(
    slack: SlackApiServer, client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = on_slack()
    ledger = Ledger()
    assert ledger.get_incident(run.incident_id)  # this client talks to the real emulator
    firestore = os.environ["FIRESTORE_EMULATOR_HOST"]
    # Firestore is unreachable for interact: it must not need it to answer.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    reset_settings()
    resp = click(client, slack, "acknowledge", ONCALL)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore)
    reset_settings()
    assert resp.status_code == 200, resp.data
    answer = resp.get_json()
    assert answer["outcome"] == "queued" and "acknowledge" in answer["text"]
    # The worker is "stopped": the click waits in the topic, nothing happened yet.
    waiting = queued(topics)
    assert len(waiting) == 1
    assert (ledger.get_incident(run.incident_id) or {}).get("acknowledged") is None
    assert "acknowledge" in buttons(parent(slack, run).blocks)
    # The worker starts and takes the click from the topic.
    outcome = Worker().handle(parse_message(bytes(waiting[0].message.data)))
    assert outcome is not None and outcome.result == "done"
    inc = ledger.get_incident(run.incident_id) or {}
    assert inc["acknowledged"]["by"] == ONCALL
    shown = parent(slack, run)
    assert "acknowledge" not in buttons(shown.blocks)  # the button became the decision
    assert f"Acknowledged by <@{ONCALL}>" in json.dumps(shown.blocks)
    assert replies_to(slack, ONCALL) == [f"Acknowledged: <@{ONCALL}> owns this incident."]
    (audit,) = audits(ledger)
    assert (audit["action"], audit["outcome"], audit["slack_user"]) == (
        "acknowledge",
        "done",
        ONCALL,
    )
    assert audit["incident_id"] == run.incident_id


def test_duplicate_clicks_act_once_and_a_redelivery_is_not_a_click(
    slack: SlackApiServer, client: Any, topics: Any
) -> None:
    run = on_slack()
    ledger = Ledger()
    # Two people (or one impatient one) click before the parent changed.
    assert click(client, slack, "take_over", ONCALL).get_json()["outcome"] == "queued"
    assert click(client, slack, "take_over", ONCALL).get_json()["outcome"] == "queued"
    messages = queued(topics)
    assert len(messages) == 2
    worker = Worker()
    for m in messages:
        deliver(worker, m)
    deliver(worker, messages[0])  # Pub/Sub redelivers the first click
    inc = ledger.get_incident(run.incident_id) or {}
    assert inc["hands_off"]["by"] == ONCALL
    assert sorted(a["outcome"] for a in audits(ledger)) == ["done", "unchanged"]
    said = replies_to(slack, ONCALL)
    assert len(said) == 2 and said[1].startswith(f"Already taken over by <@{ONCALL}>")
    shown = parent(slack, run)
    assert buttons(shown.blocks)[:1] == ["acknowledge"] and "resume_automation" in buttons(
        shown.blocks
    )
    assert "take_over" not in buttons(shown.blocks)


def test_forged_stale_and_unpermitted_clicks_change_nothing(
    slack: SlackApiServer, client: Any, topics: Any
) -> None:
    run = on_slack()
    ledger = Ledger()
    forged = click(client, slack, "take_over", ONCALL, secret="not-the-app-secret")
    assert (
        forged.status_code == 401 and "not a verified Slack request" in forged.get_json()["error"]
    )
    stale = click(client, slack, "take_over", ONCALL, timestamp=int(time.time()) - 400)
    assert stale.status_code == 401 and "stale" in stale.get_json()["error"]
    body, headers = slack.click_request("take_over", ONCALL)
    tampered = body.replace(ONCALL.encode(), b"UOTHERPERSON")
    assert client.post("/", data=tampered, headers=headers).status_code == 401
    assert queued(topics) == []  # nothing from outside Slack is ever queued

    refused = click(client, slack, "take_over", INTRUDER).get_json()
    assert refused["outcome"] == "refused"
    assert "may not take over incidents or resume automation" in refused["text"]
    # Refused clicks are queued too, marked, so the worker audits them.
    (outcome,) = act(topics)
    assert outcome is not None and outcome.result == "refused"
    assert (ledger.get_incident(run.incident_id) or {}).get("hands_off") is None
    (audit,) = audits(ledger)
    assert (audit["outcome"], audit["guard"], audit["slack_user"]) == (
        "refused",
        "not_permitted",
        INTRUDER,
    )
    assert "may not take over" in replies_to(slack, INTRUDER)[0]


def test_group_membership_is_resolved_and_an_unreadable_group_refuses(
    slack: SlackApiServer, client: Any, topics: Any
) -> None:
    on_slack()
    assert click(client, slack, "take_over", "UNEWHIRE").get_json()["outcome"] == "refused"
    slack.usergroups["S0ONCALL"].append("UNEWHIRE")  # joins on-call…
    _Clients.groups = None  # …and is seen by an instance that has not cached the group yet
    assert click(client, slack, "take_over", "UNEWHIRE").get_json()["outcome"] == "queued"
    # interact's refusal stands (it was answered); the later click is done.
    results = [o.result for o in act(topics) if o is not None]
    assert results == ["refused", "done"]
    # Slack cannot say who is in the group: interact defers, the worker refuses (fail closed).
    slack.usergroups.pop("S0ONCALL")
    _Clients.groups = None
    on_slack(deployment="cart")
    answer = click(client, slack, "take_over", ONCALL).get_json()
    assert answer["outcome"] == "queued"  # undecided at interact: the worker decides
    (outcome,) = act(topics)
    assert outcome is not None and outcome.result == "refused"
    assert "could not verify your permission" in outcome.message


def test_take_over_refuses_a_remediation_that_was_already_queued(
    slack: SlackApiServer,
    client: Any,
    topics: Any,
    remediation_cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTLOOP_REMEDIATE_NAMESPACES", "shop")
    reset_settings()
    investigated = Finding(
        stage="investigate",
        status="ok",
        summary="investigated",
        details={"workload": {"kind": "Deployment", "name": "api", "namespace": "shop"}},
    )
    run = on_slack(plan=["investigate", "remediate"], findings=[investigated])
    # Investigation already forwarded the run: the remediation waits in its topic…
    Bus().publish(Outgoing.stage(StageMessage(run_id=run.run_id, stage="remediate")))
    # …when a person takes the incident over.
    assert click(client, slack, "take_over", ONCALL).get_json()["outcome"] == "queued"
    (outcome,) = act(topics)
    assert outcome is not None and outcome.result == "done"
    from functions.remediate import _handle
    from shared.stage import StageRunner

    runner = StageRunner("remediate", _handle)
    (msg,) = [parse_stage(bytes(m.message.data)) for m in topics.pull("remediate")]
    runner.run(msg)
    finding = (Ledger().load_run(run.run_id) or run).finding("remediate")
    assert finding is not None
    assert finding.details["refused"]["guard"] == "taken_over", finding.summary
    assert remediation_cluster.requests_matching("PATCH") == []
    refusal = next(a for a in audits(Ledger()) if a.get("guard") == "taken_over")
    assert refusal["outcome"] == "refused" and ONCALL in refusal["reason"]
    # Resume automation gives it back (the next run of the incident may act again).
    click(client, slack, "resume_automation", ONCALL)
    (resumed,) = act(topics)
    assert resumed is not None and resumed.result == "done"
    assert (Ledger().get_incident(run.incident_id) or {}).get("hands_off") is None


def test_verdicts_are_changeable_mirrored_onto_runs_and_feed_loop_health(
    slack: SlackApiServer, client: Any, topics: Any
) -> None:
    ledger = Ledger()
    run = on_slack(plan=["investigate"])
    resolve_run(ledger, run, ends_at=run.alert.starts_at + timedelta(minutes=40))
    Notifier().project_incident(run.incident_id)
    assert buttons(parent(slack, run).blocks) == [
        "verdict_useful",
        "verdict_noise",
        "verdict_manual",
    ]
    # Without a verdict, a 40-minute resolve is not guessed a false positive.
    before = loop_health([ledger.get_run(run.run_id) or {}], utcnow())["overall"]
    assert before["false_positive_rate"] == 0.0 and before["false_positive_verdict_share"] == 0.0
    click(client, slack, "verdict_noise", "UANYONE")
    click(client, slack, "verdict_noise", "UANYONE")
    assert [o.result for o in act(topics) if o] == ["done", "unchanged"]
    doc = ledger.get_run(run.run_id) or {}
    assert doc["verdict"]["value"] == "noise" and doc["verdict"]["by"] == "UANYONE"
    after = loop_health([doc], utcnow())["overall"]
    assert after["false_positive_rate"] == 1.0 and after["false_positive_verdict_share"] == 1.0
    assert "Verdict: *Noise*" in json.dumps(parent(slack, run).blocks)
    # Changed later (the alert was worth it after all): the newest verdict counts.
    click(client, slack, "verdict_useful", "UOTHER")
    act(topics)
    doc = ledger.get_run(run.run_id) or {}
    assert doc["verdict"]["value"] == "useful"
    assert loop_health([doc], utcnow())["overall"]["false_positive_rate"] == 0.0
    assert "Verdict: *Useful*" in json.dumps(parent(slack, run).blocks)


def test_a_click_that_waited_too_long_is_refused_not_acted_on(
    slack: SlackApiServer, client: Any, topics: Any
) -> None:
    run = on_slack()
    click(client, slack, "take_over", ONCALL)
    (waiting,) = queued(topics)
    it = parse_message(bytes(waiting.message.data))
    old = it.model_copy(update={"received_at": utcnow() - timedelta(hours=2)})
    outcome = Worker().handle(old)
    assert outcome is not None and outcome.result == "refused"
    assert "waited 120 min" in outcome.message
    assert (Ledger().get_incident(run.incident_id) or {}).get("hands_off") is None
    (audit,) = audits(Ledger())
    assert audit["guard"] == "stale"

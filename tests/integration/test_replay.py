"""`alertloop replay` on the emulators: runs, dead letters, seek and snapshots."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shared import cli
from shared.bus import Bus
from shared.config import settings
from shared.dead_lettering import handle_dead_letter, parse_dead_letter
from shared.dispatch import dispatch_alert
from shared.intake import accept
from shared.ledger import Ledger
from shared.messages import StageMessage, parse_intake, parse_notify, parse_stage
from shared.model import Finding
from shared.policy import load_policy
from shared.replay import load_stack_env
from shared.run import Run
from shared.stage import StageRunner
from tests.conftest import PROJECT, reset_settings

pytestmark = [
    pytest.mark.integration,
    # Non-blocking pulls keep the suite fast on the emulator.
    pytest.mark.filterwarnings("ignore:The return_immediately flag:DeprecationWarning"),
]

DISPATCH = {
    "event_type": "alert-fired",
    "client_payload": {
        "alert_type": "HighErrorRate",
        "severity": "critical",
        "labels": {"namespace": "shop", "deployment": "web"},
    },
}


@pytest.fixture(autouse=True)
def _no_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Replay reads .stack/stack.json relative to the working directory: keep a developer's
    # running `make run` stack out of the tests.
    monkeypatch.chdir(tmp_path)


class Counter:
    """A stage handler that counts its calls and keeps the runs it was given (as loaded from
    the ledger by the stage runner)."""

    def __init__(self, stage: str, fail: bool = False) -> None:
        self.stage = stage
        self.calls = 0
        self.fail = fail
        self.runs: list[Run] = []

    def __call__(self, run: Run) -> Finding:
        self.calls += 1
        self.runs.append(run)
        if self.fail:
            raise RuntimeError(f"{self.stage} cannot reach its backend")
        return Finding(stage=self.stage, status="ok", summary=f"{self.stage} call {self.calls}")


class StubNotifier:
    """Stands in for the Slack notifier when driving the deadletter handler directly."""

    def __init__(self) -> None:
        self.projected: list[str] = []
        self.posted: list[str] = []

    def project_run(self, run_id: str) -> None:
        self.projected.append(run_id)

    def post_notice(self, text: str) -> None:
        self.posted.append(text)


def pull(topics: Any, stage: str, wait: float = 3.0) -> list[Any]:
    """What is on a stage topic now (acknowledged): Topics.pull, whose first empty pull is the
    positive signal that nothing more is there (`wait` only bounds a topic that never drains)."""
    return pull_sub(topics.subscriber, topics.subs[stage], wait)


def pull_sub(subscriber: Any, sub: str, wait: float = 3.0) -> list[Any]:
    """Everything on a subscription now, acknowledged; ends at the first empty non-blocking
    pull (the code under test waits for its publishes and seeks, and the emulator has stored
    a message, or moved a cursor, before it answers)."""
    out: list[Any] = []
    deadline = time.monotonic() + max(wait, 30.0)
    while time.monotonic() < deadline:
        resp = subscriber.pull(
            request={"subscription": sub, "max_messages": 100, "return_immediately": True}
        )
        if not resp.received_messages:
            break
        out.extend(resp.received_messages)
        subscriber.acknowledge(
            request={"subscription": sub, "ack_ids": [m.ack_id for m in resp.received_messages]}
        )
    return out


def cloud_event(payload: bytes, message_id: str = "1", **attributes: str) -> SimpleNamespace:
    return SimpleNamespace(
        data={
            "message": {
                "data": base64.b64encode(payload).decode(),
                "attributes": attributes,
                "messageId": message_id,
            }
        }
    )


def deliver(runner: StageRunner, messages: list[Any]) -> None:
    for m in messages:
        runner(cloud_event(bytes(m.message.data), m.message.message_id, **m.message.attributes))


def pointers(messages: list[Any]) -> list[StageMessage]:
    """Stage messages are pointers: a run id and what routing needs, never the run itself."""
    out = []
    for m in messages:
        assert set(json.loads(m.message.data)) <= {
            "v",
            "run_id",
            "stage",
            "force",
            "approval_id",
            "sent_at",
        }, m.message.data
        out.append(parse_stage(m.message.data))
    return out


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fire(topics: Any) -> str:
    """A run as ingest and dispatch record and publish it (real intake, dispatch, Ledger, Bus)."""
    cfg = settings()
    result = accept(DISPATCH, cfg, Bus())
    (run_id,) = result.run_ids
    (intake,) = pull(topics, "intake")
    dispatch_alert(parse_intake(intake.message.data), load_policy(), cfg, Ledger(), Bus())
    assert [p.run_id for p in pointers(pull(topics, "investigate"))] == [run_id]
    pull(topics, "notify")
    return run_id


def test_replay_from_a_stage_points_at_the_run_with_its_earlier_findings(topics, capsys) -> None:
    run_id = fire(topics)
    investigate = Counter("investigate")
    # Replay with no --from: the plan's first stage, read from the ledger.
    code, out, err = replay(capsys, run_id)
    assert code == 0, err
    assert f"published run {run_id}" in out and "investigate" in out
    assert "plan investigate -> remediate -> notify" in out
    first = pull(topics, "investigate")
    assert len(first) == 1
    (msg,) = pointers(first)
    assert msg.run_id == run_id and msg.stage == "investigate" and msg.force is False
    assert first[0].message.attributes["run_id"] == run_id
    deliver(StageRunner("investigate", investigate), first)
    assert investigate.calls == 1
    (seen,) = investigate.runs
    assert seen.findings == [] and seen.alert_type == "HighErrorRate"
    assert seen.plan == ["investigate", "remediate"]
    pull(topics, "remediate")
    pull(topics, "notify")

    code, out, err = replay(capsys, run_id, "--from", "remediate")
    assert code == 0, err
    assert pull(topics, "investigate", wait=0.5) == []
    remediate_msgs = pull(topics, "remediate")
    (msg,) = pointers(remediate_msgs)
    assert msg.run_id == run_id and msg.stage == "remediate"
    # The earlier findings are not carried on the wire: the stage loads them from the ledger.
    remediate = Counter("remediate")
    deliver(StageRunner("remediate", remediate), remediate_msgs)
    (seen,) = remediate.runs
    assert [(f.stage, f.summary) for f in seen.findings] == [("investigate", "investigate call 1")]
    assert seen.alert.labels["deployment"] == "web"
    pull(topics, "notify")

    # --from notify re-projects the run's incident (everything the ledger has) onto Slack.
    code, out, err = replay(capsys, run_id, "--from", "notify")
    assert code == 0, err
    (note,) = pull(topics, "notify")
    run = Ledger().load_run(run_id)
    assert run is not None
    notify = parse_notify(note.message.data)
    assert notify.kind == "incident" and notify.id == run.incident_id
    assert notify.run_id == run_id
    assert note.message.ordering_key == f"incident-{run.incident_id}"
    assert [f.stage for f in run.findings] == ["investigate", "remediate"]
    assert Ledger().get_run(run_id)["last_replay"]["stage"] == "notify"


def test_completed_stage_is_not_rerun_without_force_and_is_with_force(topics, capsys) -> None:
    run_id = fire(topics)
    investigate = Counter("investigate")
    runner = StageRunner("investigate", investigate)

    assert replay(capsys, run_id)[0] == 0
    deliver(runner, pull(topics, "investigate"))
    assert investigate.calls == 1
    assert len(pull(topics, "remediate")) == 1

    # Without --force: the stage acknowledges the duplicate, nothing re-runs or re-forwards.
    code, out, _ = replay(capsys, run_id, "--from", "investigate")
    assert code == 0 and "without re-running" in out
    deliver(runner, pull(topics, "investigate"))
    assert investigate.calls == 1
    assert pull(topics, "remediate", wait=1) == []
    assert not Ledger().get_run(run_id).get("force_count")

    # With --force: force_count goes up on the run first (a fresh write identity), then the
    # stage runs again and forwards an unforced pointer; the new finding is in the ledger.
    code, out, _ = replay(capsys, run_id, "--from", "investigate", "--force")
    assert code == 0 and "force=true" in out
    assert Ledger().get_run(run_id)["force_count"] == 1
    replayed = pull(topics, "investigate")
    assert [p.force for p in pointers(replayed)] == [True]
    deliver(runner, replayed)
    assert investigate.calls == 2
    forced = investigate.runs[-1]
    assert forced.force is True and forced.force_count == 1
    (nxt,) = pointers(pull(topics, "remediate"))
    assert nxt.run_id == run_id and nxt.force is False
    run = Ledger().load_run(run_id)
    assert run is not None
    assert [f.summary for f in run.findings] == ["investigate call 2"]


def test_failed_stage_replayed_after_the_fix_completes_the_run(topics, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "2")
    reset_settings()
    run_id = fire(topics)
    assert replay(capsys, run_id)[0] == 0
    broken = Counter("investigate", fail=True)
    runner = StageRunner("investigate", broken)
    (msg,) = pull(topics, "investigate")
    with pytest.raises(RuntimeError):
        deliver(runner, [msg])  # attempt 1: raise, Pub/Sub redelivers
    deliver(runner, [msg])  # attempt 2: dead-lettered
    (dead,) = pull(topics, "deadletter")
    # The dead letter is our record around the pointer, not a copy of the run.
    body = json.loads(dead.message.data)
    assert set(body) == {"stage", "error", "attempts", "message"}
    assert body["stage"] == "investigate" and body["attempts"] == 2
    assert "cannot reach its backend" in body["error"]
    assert StageMessage.model_validate(body["message"]).run_id == run_id
    notifier = StubNotifier()
    record = parse_dead_letter(bytes(dead.message.data), dict(dead.message.attributes))
    handle_dead_letter(record, dead.message.message_id, Ledger(), notifier)  # type: ignore[arg-type]
    assert notifier.projected == [run_id] and notifier.posted == []
    run = Ledger().get_run(run_id)
    assert run["state"] == "failed"
    assert (
        run["failures"]["investigate"]["replay"] == f"alertloop replay {run_id} --from investigate"
    )

    code, _out, err = replay(capsys, run_id, "--from", "investigate")
    assert code == 0, err
    run = Ledger().get_run(run_id)
    assert run["failures"]["investigate"]["replayed"] is True
    assert run["last_replay"]["force"] is False
    # The fix is in: the replayed stage runs (a fresh retry budget: one failure would not
    # dead-letter it at once) and the run moves on.
    fixed = Counter("investigate")
    deliver(StageRunner("investigate", fixed), pull(topics, "investigate"))
    assert fixed.calls == 1
    (nxt,) = pointers(pull(topics, "remediate"))
    assert nxt.run_id == run_id
    after = Ledger().load_run(run_id)
    assert after is not None and after.state == "investigated"
    found = after.finding("investigate")
    assert found is not None and found.summary == "investigate call 1"


def test_replayed_stage_gets_a_fresh_retry_budget(topics, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "2")
    reset_settings()
    run_id = fire(topics)
    replay(capsys, run_id)
    runner = StageRunner("investigate", Counter("investigate", fail=True))
    (msg,) = pull(topics, "investigate")
    with pytest.raises(RuntimeError):
        deliver(runner, [msg])
    deliver(runner, [msg])
    assert len(pull(topics, "deadletter")) == 1
    replay(capsys, run_id, "--from", "investigate")
    (again,) = pull(topics, "investigate")
    with pytest.raises(RuntimeError):  # still broken: retried, not dead-lettered at once
        deliver(runner, [again])
    assert pull(topics, "deadletter", wait=1) == []


def test_dead_letters_are_drained_back_to_their_stages(topics, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "1")
    reset_settings()
    # First use creates the pull subscription; nothing to replay yet.
    code, out, _ = replay(capsys, "--dead-letters")
    assert code == 1 and "created pull subscription" in out
    assert f"{topics.prefix}deadletter-replay" in out

    run_a, run_b = fire(topics), fire(topics)
    for run_id in (run_a, run_b):
        replay(capsys, run_id)
    inv = pull(topics, "investigate")
    deliver(StageRunner("investigate", Counter("investigate", fail=True)), inv)
    # remediate fails too, on a run that already has an investigation (in the ledger).
    Ledger().record_finding(
        run_b, Finding(stage="investigate", status="ok", summary="found it"), complete=True
    )
    StageRunner("remediate", Counter("remediate", fail=True)).run(
        StageMessage(run_id=run_b, stage="remediate")
    )
    # And a poison message.
    StageRunner("budget", Counter("budget"))(cloud_event(b"\xff not a pointer", "poison-1"))
    assert len(pull(topics, "deadletter")) == 4  # the watch subscription saw all of them

    code, out, _ = replay(capsys, "--dead-letters", "--dry-run")
    assert code == 0
    assert out.count("would replay") == 3 and "poison" in out
    assert "0 replayed, 0 poison stored, 4 left" in out
    assert pull(topics, "investigate", wait=1) == []

    code, out, err = replay(capsys, "--dead-letters")
    assert code == 0, err
    assert "3 replayed, 1 poison stored, 0 left" in out
    back = pointers(pull(topics, "investigate"))
    assert sorted(p.run_id for p in back) == sorted([run_a, run_b])
    assert all(p.force is False for p in back)
    rem_msgs = pull(topics, "remediate")
    (rem,) = pointers(rem_msgs)
    assert rem.run_id == run_b and rem.force is False
    assert Ledger().get_run(run_b)["last_replay"]["source"] == "dead-letters"
    # Replayed, the remediate stage finds the earlier investigation in the ledger.
    remediate = Counter("remediate")
    deliver(StageRunner("remediate", remediate), rem_msgs)
    (seen,) = remediate.runs
    assert [f.summary for f in seen.findings] == ["found it"]

    # The poison message was stored for inspection (ledger.store_poison); drained means drained.
    (poison,) = Ledger().poison_messages(10)
    assert poison[1]["stage"] == "budget" and poison[1]["reason"] == "poison"
    assert "not a pointer" in poison[1]["raw"]
    code, out, _ = replay(capsys, "--list-dead-letters")
    assert code == 0 and "stage=budget" in out and "not a pointer" in out
    code, out, _ = replay(capsys, "--dead-letters")
    assert code == 1 and "0 replayed" in out


def test_a_rollback_dead_letter_is_kept_with_its_pointer(topics, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_STAGE_ATTEMPTS", "1")
    reset_settings()
    replay(capsys, "--dead-letters")  # creates the pull subscription
    run_id = fire(topics)
    # Only the act worker (approvals) publishes to `rollback`: a rollback that gave up is not sent
    # back there, and what it was about (run, approval) must survive the drain.
    StageRunner("rollback", Counter("rollback", fail=True)).run(
        StageMessage(run_id=run_id, stage="rollback", approval_id="appr-1")
    )
    assert len(pull(topics, "deadletter")) == 1
    code, out, err = replay(capsys, "--dead-letters")
    assert code == 0, err
    assert "0 replayed, 1 poison stored, 0 left" in out
    assert pull(topics, "rollback", wait=1) == []
    (poison,) = Ledger().poison_messages(10)
    assert poison[1]["stage"] == "rollback"
    kept = parse_stage(poison[1]["raw"].encode())
    assert kept.run_id == run_id and kept.approval_id == "appr-1"


def test_unknown_run_and_usage_errors(topics, capsys) -> None:
    code, out, err = replay(capsys, "no-such-run")
    assert code == 1 and out == ""
    assert "no run 'no-such-run'" in err
    code, _, err = replay(capsys, "--list-dead-letters")
    assert code == 1
    run_id = fire(topics)
    code, _, err = replay(capsys, run_id, "--from", "budget")
    assert code == 2 and "not in run" in err and "investigate, remediate, notify" in err
    for args in (
        [],
        [run_id, "--dead-letters"],
        ["--dead-letters", "--force"],
        ["--seek", "sub"],
        ["--seek", "sub", "--to-time", "yesterday"],
        ["--create-snapshot", "snap"],
        ["--list-dead-letters", "--dry-run"],
    ):
        code, _, err = replay(capsys, *args)
        assert code == 2, (args, err)
        assert err.startswith("alertloop replay: "), args
    assert pull(topics, "investigate", wait=0.5) == []


def test_seek_to_a_time_and_to_a_snapshot_redeliver(topics, capsys) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = f"projects/{PROJECT}/topics/{topics.prefix}budget"
    sub_id = f"{topics.prefix}budget-seekable"
    sub = f"projects/{PROJECT}/subscriptions/{sub_id}"
    # Seeking back in time redelivers acknowledged messages only if the subscription keeps them.
    topics.subscriber.create_subscription(
        request={"name": sub, "topic": topic, "retain_acked_messages": True}
    )
    before = datetime.now(UTC) - timedelta(seconds=5)
    publisher.publish(topic, b"one").result()
    assert [m.message.data for m in pull_sub(topics.subscriber, sub)] == [b"one"]  # acked

    code, out, err = replay(capsys, "--seek", sub_id, "--to-time", before.isoformat())
    assert code == 0, err
    assert f"seeked {sub} to time" in out
    assert [m.message.data for m in pull_sub(topics.subscriber, sub)] == [b"one"]

    code, out, err = replay(capsys, "--create-snapshot", "before-two", "--subscription", sub_id)
    assert code == 0, err
    assert f"projects/{PROJECT}/snapshots/before-two" in out
    publisher.publish(topic, b"two").result()
    assert [m.message.data for m in pull_sub(topics.subscriber, sub)] == [b"two"]
    code, _, err = replay(capsys, "--seek", sub, "--to-snapshot", "before-two")
    assert code == 0, err
    assert [m.message.data for m in pull_sub(topics.subscriber, sub)] == [b"two"]

    code, _, err = replay(capsys, "--seek", "no-such-sub", "--to-snapshot", "before-two")
    assert code == 1 and "not found" in err


def test_stack_file_fills_only_unset_settings(tmp_path: Path) -> None:
    stack = tmp_path / "stack.json"
    stack.write_text(
        json.dumps(
            {
                "ingest_url": "http://127.0.0.1:1/",
                "pubsub_host": "127.0.0.1:8681",
                "firestore_host": "127.0.0.1:8682",
                "project": "alertloop-local",
            }
        )
    )
    environ = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:9999"}
    filled = load_stack_env(stack, environ)
    assert sorted(filled) == ["GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST"]
    assert environ == {
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9999",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:8681",
        "GOOGLE_CLOUD_PROJECT": "alertloop-local",
    }
    assert load_stack_env(tmp_path / "missing.json", environ) == []


def test_an_intake_alert_pubsub_gave_up_on_is_recorded_told_and_replayed(topics, capsys) -> None:
    """Pub/Sub's own dead-letter policy (dispatch failed on an alert until its attempts ran out)
    hands the original intake message to the deadletter function: it is stored, said in Slack
    with the command that puts it back, and replaying it makes the run nothing else made."""
    replay(capsys, "--dead-letters")  # creates the replay subscription
    gives_up = f"projects/{PROJECT}/subscriptions/{topics.prefix}intake-gives-up"
    topics.subscriber.create_subscription(
        request={
            "name": gives_up,
            "topic": f"projects/{PROJECT}/topics/{topics.prefix}intake",
            "dead_letter_policy": {
                "dead_letter_topic": f"projects/{PROJECT}/topics/{topics.prefix}deadletter",
                "max_delivery_attempts": 5,
            },
        }
    )
    cfg = settings()
    (run_id,) = accept(DISPATCH, cfg, Bus()).run_ids
    pull(topics, "intake")
    deliveries = 0
    while True:  # dispatch failing: every delivery is refused, until Pub/Sub gives up
        resp = topics.subscriber.pull(
            request={"subscription": gives_up, "max_messages": 1, "return_immediately": True}
        )
        if not resp.received_messages:
            break
        deliveries += 1
        assert deliveries <= 5
        topics.subscriber.modify_ack_deadline(
            request={
                "subscription": gives_up,
                "ack_ids": [resp.received_messages[0].ack_id],
                "ack_deadline_seconds": 0,
            }
        )
    assert deliveries == 5
    (dead,) = pull(topics, "deadletter", wait=10)
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    letter = parse_dead_letter(bytes(dead.message.data), dict(dead.message.attributes))
    assert (letter.stage, letter.reason) == ("intake", "native") and letter.intake
    notifier = StubNotifier()
    handle_dead_letter(letter, dead.message.message_id, Ledger(), notifier)  # type: ignore[arg-type]
    (notice,) = notifier.posted
    assert "an alert dispatch could not record" in notice
    assert "alertloop replay --dead-letters" in notice
    assert Ledger().get_run(run_id) is None
    (stored,) = Ledger().poison_messages(10)
    assert stored[0] == dead.message.message_id and stored[1]["stage"] == "intake"

    code, out, err = replay(capsys, "--dead-letters")
    assert code == 0, err
    assert "1 replayed" in out
    (back,) = pull(topics, "intake")
    assert back.message.attributes["replayed"] == "dead-letter"
    dispatch_alert(parse_intake(back.message.data), load_policy(), cfg, Ledger(), Bus())
    run = Ledger().get_run(run_id)
    assert run is not None and run["status"] == "firing"

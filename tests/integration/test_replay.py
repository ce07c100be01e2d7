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
from shared.deadletters import handle_dead_letter, parse_dead_letter
from shared.envelope import Envelope, Finding
from shared.intake import accept
from shared.ledger import Ledger
from shared.policy import load_policy
from shared.replay import load_stack_env
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
    def __init__(self, stage: str, fail: bool = False) -> None:
        self.stage = stage
        self.calls = 0
        self.fail = fail

    def __call__(self, env: Envelope) -> Finding:
        self.calls += 1
        if self.fail:
            raise RuntimeError(f"{self.stage} cannot reach its backend")
        return Finding(stage=self.stage, status="ok", summary=f"{self.stage} call {self.calls}")


class StubNotifier:
    """Stands in for the Slack notifier when driving the deadletter handler directly."""

    def __init__(self) -> None:
        self.projected: list[Envelope] = []
        self.posted: list[str] = []
        self.poster = SimpleNamespace(post=lambda text, blocks: self.posted.append(text))

    def __call__(self, env: Envelope) -> None:
        self.projected.append(env)


def pull(topics: Any, stage: str, wait: float = 3.0) -> list[Any]:
    """What is on a stage topic now (acknowledged). Returns once messages stop arriving, or
    after `wait` seconds when none come; non-blocking pulls keep the suite fast."""
    return pull_sub(topics.subscriber, topics.subs[stage], wait)


def pull_sub(subscriber: Any, sub: str, wait: float = 3.0) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        resp = subscriber.pull(
            request={"subscription": sub, "max_messages": 100, "return_immediately": True}
        )
        if resp.received_messages:
            out.extend(resp.received_messages)
            subscriber.acknowledge(
                request={"subscription": sub, "ack_ids": [m.ack_id for m in resp.received_messages]}
            )
            deadline = time.monotonic() + 0.3
        else:
            time.sleep(0.05)
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


def envelopes(messages: list[Any]) -> list[Envelope]:
    return [Envelope.from_bytes(m.message.data) for m in messages]


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fire(topics: Any) -> str:
    """A run recorded and published by ingest's own intake (real Ledger and Bus)."""
    cfg = settings()
    result = accept(DISPATCH, cfg, load_policy(), Ledger(), Bus())
    run_id: str = result.results[0]["run_id"]
    assert [e.run_id for e in envelopes(pull(topics, "investigate"))] == [run_id]
    pull(topics, "notify")
    return run_id


def test_replay_from_a_stage_carries_the_earlier_findings(topics, capsys) -> None:
    run_id = fire(topics)
    investigate = Counter("investigate")
    # Replay with no --from: the plan's first stage, rebuilt from the ledger.
    code, out, err = replay(capsys, run_id)
    assert code == 0, err
    assert f"published run {run_id}" in out and "investigate" in out
    first = pull(topics, "investigate")
    assert len(first) == 1
    env = envelopes(first)[0]
    assert env.source == "replay" and env.findings == [] and env.force is False
    assert env.plan == ["investigate", "remediate"] and env.alert_type == "HighErrorRate"
    assert first[0].message.attributes["run_id"] == run_id
    deliver(StageRunner("investigate", investigate), first)
    assert investigate.calls == 1
    pull(topics, "remediate")
    pull(topics, "notify")

    code, out, err = replay(capsys, run_id, "--from", "remediate")
    assert code == 0, err
    assert pull(topics, "investigate", wait=0.5) == []
    (env,) = envelopes(pull(topics, "remediate"))
    assert env.source == "replay" and env.run_id == run_id
    assert [(f.stage, f.summary) for f in env.findings] == [("investigate", "investigate call 1")]
    assert env.alert.labels["deployment"] == "web"

    # --from notify re-projects everything the run has onto Slack.
    code, out, err = replay(capsys, run_id, "--from", "notify")
    assert code == 0, err
    (msg,) = pull(topics, "notify")
    assert msg.message.ordering_key == run_id
    assert [f.stage for f in Envelope.from_bytes(msg.message.data).findings] == ["investigate"]
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

    # With --force: it runs again, and forwards an unforced envelope with the new finding.
    code, out, _ = replay(capsys, run_id, "--from", "investigate", "--force")
    assert code == 0 and "force=true" in out
    replayed = pull(topics, "investigate")
    assert [e.force for e in envelopes(replayed)] == [True]
    deliver(runner, replayed)
    assert investigate.calls == 2
    (nxt,) = envelopes(pull(topics, "remediate"))
    assert nxt.force is False
    assert [f.summary for f in nxt.findings] == ["investigate call 2"]
    assert Ledger().get_run(run_id)["findings"]["investigate"]["summary"] == "investigate call 2"


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
    notifier = StubNotifier()
    record = parse_dead_letter(bytes(dead.message.data), dict(dead.message.attributes))
    handle_dead_letter(record, dead.message.message_id, Ledger(), notifier)  # type: ignore[arg-type]
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
    (nxt,) = envelopes(pull(topics, "remediate"))
    assert [f.summary for f in nxt.findings] == ["investigate call 1"]
    assert Ledger().get_run(run_id)["state"] == "investigated"


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
    # remediate fails too, on a run that already has an investigation.
    env_b = next(e for e in envelopes(inv) if e.run_id == run_b)
    env_b = env_b.model_copy(
        update={"findings": [Finding(stage="investigate", status="ok", summary="found it")]}
    )
    StageRunner("remediate", Counter("remediate", fail=True)).run(env_b)
    # And a poison message.
    StageRunner("budget", Counter("budget"))(cloud_event(b"\xff not an envelope", "poison-1"))
    assert len(pull(topics, "deadletter")) == 4  # the watch subscription saw all of them

    code, out, _ = replay(capsys, "--dead-letters", "--dry-run")
    assert code == 0
    assert out.count("would replay") == 3 and "poison" in out
    assert "0 replayed, 0 poison stored, 4 left" in out
    assert pull(topics, "investigate", wait=1) == []

    code, out, err = replay(capsys, "--dead-letters")
    assert code == 0, err
    assert "3 replayed, 1 poison stored, 0 left" in out
    back = envelopes(pull(topics, "investigate"))
    assert sorted(e.run_id for e in back) == sorted([run_a, run_b])
    assert all(e.force is False for e in back)
    (rem,) = envelopes(pull(topics, "remediate"))
    assert rem.run_id == run_b and [f.summary for f in rem.findings] == ["found it"]
    assert Ledger().get_run(run_b)["last_replay"]["source"] == "dead-letters"

    # The poison message was stored for inspection; drained means drained.
    code, out, _ = replay(capsys, "--list-dead-letters")
    assert code == 0 and "stage=budget" in out and "not an envelope" in out
    code, out, _ = replay(capsys, "--dead-letters")
    assert code == 1 and "0 replayed" in out


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

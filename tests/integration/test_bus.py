"""The Bus against the Pub/Sub emulator: unordered messages go out as direct Publish requests
(split at Pub/Sub's per-request limits), ordered ones through the batcher; every message lands
exactly once, ids come back in the caller's order, and a failure is never half-reported."""

from __future__ import annotations

import json

import pytest

from shared import bus as bus_mod
from shared.bus import Bus, Outgoing, PublishError

pytestmark = pytest.mark.integration


def payloads(topics, stage: str) -> list[dict]:
    out = []
    while True:
        got = topics.pull(stage, max_messages=1000, timeout=2.0)
        if not got:
            return out
        out += [
            {"data": m.message.data, "id": m.message.message_id, **m.message.attributes}
            for m in got
        ]


def test_a_large_publish_is_split_into_requests_and_every_message_lands_once(
    topics, monkeypatch
) -> None:
    monkeypatch.setattr(bus_mod, "REQUEST_MAX_MESSAGES", 300)  # 2,050 messages: 7 requests
    msgs = [Outgoing("intake", json.dumps({"n": i}).encode(), {"n": str(i)}) for i in range(2050)]
    ids = Bus().publish_many(msgs)
    assert len(ids) == len(set(ids)) == 2050 and all(ids)
    got = payloads(topics, "intake")
    assert sorted(json.loads(g["data"])["n"] for g in got) == list(range(2050))
    by_n = {json.loads(g["data"])["n"]: g["id"] for g in got}
    assert [by_n[i] for i in range(2050)] == ids  # ids in the caller's order


def test_requests_are_split_by_size_too(topics, monkeypatch) -> None:
    monkeypatch.setattr(bus_mod, "REQUEST_MAX_BYTES", 50_000)
    big = b"x" * 20_000
    msgs = [Outgoing("intake", big, {"n": str(i)}) for i in range(7)]
    chunks = list(bus_mod._requests(list(enumerate(msgs))))
    assert [len(items) for _, items in chunks] == [2, 2, 2, 1]
    assert len(Bus().publish_many(msgs)) == 7
    assert sorted(int(g["n"]) for g in payloads(topics, "intake")) == list(range(7))


def test_ordered_and_unordered_messages_in_one_call(topics) -> None:
    msgs = [
        Outgoing("notify", b'{"k": 1}', {"k": "1"}, ordering_key="inc-1"),
        Outgoing("investigate", b'{"k": 2}', {"k": "2"}),
        Outgoing("notify", b'{"k": 3}', {"k": "3"}, ordering_key="inc-1"),
        Outgoing("remediate", b'{"k": 4}', {"k": "4"}),
    ]
    ids = Bus().publish_many(msgs)
    assert all(ids) and len(set(ids)) == 4
    notify = payloads(topics, "notify")
    assert [n["k"] for n in notify] == ["1", "3"]  # the key's order kept
    assert [m["k"] for m in payloads(topics, "investigate")] == ["2"]
    assert [m["k"] for m in payloads(topics, "remediate")] == ["4"]


def test_a_missing_topic_is_a_publish_error_naming_it(topics) -> None:
    topics.delete_topic("remediate")
    msgs = [Outgoing("investigate", b"{}"), Outgoing("remediate", b"{}")]
    with pytest.raises(PublishError, match="remediate"):
        Bus().publish_many(msgs)

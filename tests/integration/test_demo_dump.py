"""`make run`'s demo cluster is a dump (sandbox/demo/), replayed as of now when it is loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from sandbox.kube.dump import DUMPED_AT, DumpError, load_dump, parse_dump, shift_timestamps
from sandbox.kube_scenarios import DEMO_DUMP, build
from sandbox.run import dump_plan

NOW = datetime(2026, 12, 7, 6, 30, 15, tzinfo=UTC)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _get(objects: list[dict], kind: str, ns: str, name: str) -> dict:
    return next(
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"].get("namespace") == ns
        and o["metadata"]["name"] == name
    )


def test_the_demo_is_a_dump_in_the_format_make_run_scenario_reads() -> None:
    doc = yaml.safe_load(DEMO_DUMP.read_text())
    assert doc["kind"] == "List" and DUMPED_AT in doc["metadata"]["annotations"]
    assert (DEMO_DUMP.parent / "dump.logs.yaml").is_file()  # the default side file
    plan = dump_plan(str(DEMO_DUMP), "", {})  # what `make run SCENARIO=` checks first
    assert plan.namespaces == ["data", "shop"]
    sc = load_dump(DEMO_DUMP, now=NOW)
    assert any(ns == "shop" and pod.startswith("checkout-") for ns, pod, _c, _p in sc.logs)


def test_the_demo_is_replayed_as_of_now() -> None:
    """checkout's 1.5.0 rollout is 12 minutes old whenever the demo starts."""
    for now in (NOW, NOW + timedelta(days=40, seconds=7)):
        objects = build("demo", now).objects
        rs = [
            o
            for o in objects
            if o["kind"] == "ReplicaSet" and o["metadata"]["name"].startswith("checkout-")
        ]
        newest = max(rs, key=lambda o: o["metadata"]["creationTimestamp"])
        assert newest["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
        assert now - _when(newest["metadata"]["creationTimestamp"]) == timedelta(minutes=12)
        event = next(
            o for o in objects if o["kind"] == "Event" and o["reason"] == "Unhealthy"
        )  # payments' readiness probe, 3 minutes ago
        assert now - _when(event["lastTimestamp"]) == timedelta(minutes=3)


def test_the_demo_logs_move_with_the_dump() -> None:
    sc = load_dump(DEMO_DUMP, now=NOW)
    (lines,) = [v for k, v in sc.logs.items() if k[1].startswith("checkout-")][:1]
    last = _when(lines[-1].split()[0])
    assert timedelta(0) < NOW - last <= timedelta(minutes=5)


def _dump(tmp_path: Path, annotations: dict | None, created: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"annotations": annotations} if annotations is not None else {},
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web-1", "namespace": "shop", "creationTimestamp": created},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                "status": {"startTime": created, "message": f"started {created}"},
            }
        ],
    }
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    (tmp_path / "dump.logs.yaml").write_text(
        yaml.safe_dump({"shop/web-1/web": f"{created} INFO up\nno time here\n"})
    )
    return path


def test_a_kubectl_dump_keeps_its_times(tmp_path: Path) -> None:
    """kubectl never writes the annotation: a user's dump is served as it was taken."""
    sc = load_dump(_dump(tmp_path, None, "2024-06-12T10:00:00Z"), now=NOW)
    pod = _get(sc.objects, "Pod", "shop", "web-1")
    assert pod["metadata"]["creationTimestamp"] == "2024-06-12T10:00:00Z"
    assert sc.logs[("shop", "web-1", "web", False)][0].startswith("2024-06-12T10:00:00Z")
    assert sc.time_shift == timedelta(0)


def test_an_annotated_dump_moves_every_timestamp_and_nothing_else(tmp_path: Path) -> None:
    path = _dump(tmp_path, {DUMPED_AT: "2024-06-12T10:05:00Z"}, "2024-06-12T10:00:00Z")
    sc = load_dump(path, now=NOW + timedelta(microseconds=999))  # whole seconds
    pod = _get(sc.objects, "Pod", "shop", "web-1")
    assert pod["metadata"]["creationTimestamp"] == "2026-12-07T06:25:15Z"
    assert pod["status"]["startTime"] == "2026-12-07T06:25:15Z"
    assert pod["status"]["message"] == "started 2024-06-12T10:00:00Z"  # text, not a time field
    assert sc.logs[("shop", "web-1", "web", False)] == [
        "2026-12-07T06:25:15Z INFO up",
        "no time here",
    ]


@pytest.mark.parametrize("value", ["yesterday", "2024-06-12T10:05:00", "2024-13-12T10:05:00Z"])
def test_a_bad_dumped_at_annotation_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(DumpError, match=f"annotation {DUMPED_AT} must be an RFC 3339 time"):
        load_dump(_dump(tmp_path, {DUMPED_AT: value}, "2024-06-12T10:00:00Z"))


def test_shift_timestamps_keeps_each_format() -> None:
    by = timedelta(hours=1, microseconds=250)
    assert shift_timestamps("2024-06-12T10:00:00Z", by) == "2024-06-12T11:00:00Z"
    assert shift_timestamps("2024-06-12T10:00:00.000000Z", by) == "2024-06-12T11:00:00.000250Z"
    assert shift_timestamps("2024-06-12T10:00:00.5+02:00", by) == "2024-06-12T11:00:00.5+02:00"
    assert shift_timestamps("at 2024-06-12T23:30:00Z and 2024-06-12T10:00:00Z", by) == (
        "at 2024-06-13T00:30:00Z and 2024-06-12T11:00:00Z"
    )
    assert shift_timestamps("2024-13-40T10:00:00Z", by) == "2024-13-40T10:00:00Z"


def test_parse_dump_without_now_moves_to_the_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    sc = parse_dump(DEMO_DUMP.read_text())
    after = datetime.now(UTC)
    rs = [
        o
        for o in sc.objects
        if o["kind"] == "ReplicaSet" and o["metadata"]["name"].startswith("checkout-")
    ]
    newest = _when(max(o["metadata"]["creationTimestamp"] for o in rs))
    assert before - timedelta(minutes=12) <= newest <= after - timedelta(minutes=12)

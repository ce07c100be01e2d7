"""`alertloop replay --seek` and `--create-snapshot`: Pub/Sub seek and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from shared.config import Settings
from shared.replay.errors import OK, USAGE, ReplayError


def subscription_path(cfg: Settings, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{cfg.project}/subscriptions/{name}"


def snapshot_path(cfg: Settings, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{cfg.project}/snapshots/{name}"


def parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"--to-time needs an ISO 8601 time, got {text!r}", USAGE) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def seek(
    cfg: Settings, out: TextIO, sub_name: str, when: str, snapshot: str, subscriber: Any
) -> int:
    from google.protobuf import timestamp_pb2

    path = subscription_path(cfg, sub_name)
    request: dict[str, Any] = {"subscription": path}
    if when:
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(parse_time(when).astimezone(UTC).replace(tzinfo=None))
        request["time"] = ts
        target = f"time {parse_time(when).isoformat()}"
    else:
        request["snapshot"] = snapshot_path(cfg, snapshot)
        target = f"snapshot {request['snapshot']}"
    subscriber.seek(request=request)
    print(f"seeked {path} to {target}", file=out)
    return OK


def create_snapshot(cfg: Settings, out: TextIO, name: str, sub_name: str, subscriber: Any) -> int:
    snap = subscriber.create_snapshot(
        request={"name": snapshot_path(cfg, name), "subscription": subscription_path(cfg, sub_name)}
    )
    print(f"created snapshot {snap.name} of {subscription_path(cfg, sub_name)}", file=out)
    return OK

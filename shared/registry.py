"""The deployable units, in one table: Terraform and the local stack are both checked against it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # entry point in main.py, and the function's name
    kind: Literal["http", "cloudevent"]
    topic: str | None  # the stage topic it consumes (None for HTTP functions)
    publishes: tuple[str, ...] = ()  # topics it may publish to
    env: tuple[str, ...] = field(default=())  # env vars it reads beyond the core ones
    secrets: tuple[str, ...] = ()  # env vars that must come from Secret Manager


STAGE_TOPICS = ("investigate", "remediate", "budget", "notify", "deadletter", "rollback")

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "ingest",
        "http",
        None,
        publishes=("investigate", "remediate", "budget", "notify"),
        secrets=("ALERTLOOP_WEBHOOK_TOKEN",),
    ),
    FunctionSpec(
        "investigate",
        "cloudevent",
        "investigate",
        publishes=("remediate", "budget", "notify", "deadletter"),
        secrets=("KUBE_CONFIG_DATA", "PROMETHEUS_BEARER_TOKEN"),
    ),
    FunctionSpec(
        "remediate",
        "cloudevent",
        "remediate",
        publishes=("budget", "notify", "deadletter"),
        secrets=("KUBE_CONFIG_DATA",),
    ),
    FunctionSpec(
        "budget",
        "cloudevent",
        "budget",
        publishes=("notify", "deadletter"),
        secrets=("PROMETHEUS_BEARER_TOKEN",),
    ),
    FunctionSpec("notify", "cloudevent", "notify", secrets=("SLACK_BOT_TOKEN",)),
    FunctionSpec("deadletter", "cloudevent", "deadletter", secrets=("SLACK_BOT_TOKEN",)),
)

BY_NAME = {f.name: f for f in FUNCTIONS}

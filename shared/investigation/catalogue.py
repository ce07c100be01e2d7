"""The diagnosis catalogue: causes as data (shared/investigation/catalogue.yaml).

Each entry names the evidence it needs (`all`: every matcher must find one item), the cause it
names and the fix a person would apply — both templates filled from the matchers' captures
(named regex groups and fields such as `container`, `exit_code`, `memory_limit`) — and how strong
that evidence is (0-100). `shared.investigation.diagnose` matches it; docs/diagnosis.md says how
to add an entry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HIGH = 80  # strength from which a cause is stated with high confidence
NAMED = 50  # below this the evidence is too weak: the reply says "unknown"

LogSource = Literal["any", "previous", "current", "init"]
ChangeKind = Literal["rollout", "config", "scale"]


def _compile(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContainerMatch(_Strict):
    """A container (or init container) status: waiting or last-terminated reason, exit code,
    and the waiting/termination message."""

    reason: str | None = None  # regex on the waiting reason or a termination reason
    exit_code: list[int] | None = None
    message: str | None = None  # regex on the waiting or termination message
    init: bool | None = None  # only init containers (True) or only app containers (False)
    min_restarts: int = 0

    _re = field_validator("reason", "message")(_compile)


class EventMatch(_Strict):
    reason: str  # regex on the event reason
    message: str | None = None  # regex on the event message (named groups are captured)
    object: str | None = None  # regex on "kind/name" of the involved object
    type: Literal["Warning", "Normal"] | None = None
    # transient evidence (a readiness probe failing): it counts only while it goes on, i.e. seen
    # within diagnose.ONGOING of the incident's start or after it
    ongoing: bool = False

    _re = field_validator("reason", "message", "object")(_compile)


class LogMatch(_Strict):
    pattern: str  # regex on one log line (named groups are captured)
    source: LogSource = "any"
    # lines searched together (joined with "\n") for a record that spans lines
    span: int = Field(default=1, ge=1, le=5)
    # The level rule (diagnose._not_a_cause): the lowest log level at which a line counts. By
    # default only error records (or lines without a level): a missing setting logged at WARN is
    # the app coping. "warn": evidence apps retry and log as warnings (a dependency that times
    # out in a Sidekiq job). "any": context, not the cause itself ("Running upgrade" says an
    # init container runs a migration).
    level: Literal["error", "warn", "any"] = "error"

    _re = field_validator("pattern")(_compile)


class PodMatch(_Strict):
    """The pod's own status: `reason` (Evicted, …) and `message`; or unschedulable."""

    reason: str | None = None
    message: str | None = None
    unschedulable: bool | None = None

    _re = field_validator("reason", "message")(_compile)


class WorkloadMatch(_Strict):
    condition: str  # condition type, e.g. Progressing
    status: str = "False"
    reason: str | None = None

    _re = field_validator("reason")(_compile)


class HpaMatch(_Strict):
    at_max: bool | None = None
    scaling_active: bool | None = None
    message: str | None = None  # regex on a failing condition's message
    # The HPA's own status shows its metrics are read (ScalingActive=True or a current resource
    # metric value): the authority on whether metrics-server works for it.
    metrics_readable: bool | None = None
    # metrics-server as our read of the cluster saw it: "unavailable" (the APIService says it is
    # not Available: direct evidence), "absent" (not found / not in discovery: absence only),
    # "available", "unknown".
    metrics_server: str | None = None

    _re = field_validator("message", "metrics_server")(_compile)


class UpstreamMatch(_Strict):
    """The in-cluster state of the upstream named by the `host` capture of an earlier matcher:
    no-endpoints, scaled-to-zero, crash-looping, not-found, ready."""

    state: str

    _re = field_validator("state")(_compile)


class NodeMatch(_Strict):
    condition: str  # regex on a bad condition's type (Ready False/Unknown, MemoryPressure …)

    _re = field_validator("condition")(_compile)


class PromMatch(_Strict):
    """A figure from the Prometheus analysis (shared.investigation.analysis)."""

    figure: Literal["cpu_throttled_ratio", "memory_verdict"]
    above: float | None = None
    equals: str | None = None


class ChangeMatch(_Strict):
    """A change within `before_minutes` before the incident began (up to 2 min after)."""

    kind: ChangeKind
    before_minutes: float = 60


class Matcher(_Strict):
    container: ContainerMatch | None = None
    event: EventMatch | None = None
    log: LogMatch | None = None
    pod: PodMatch | None = None
    workload: WorkloadMatch | None = None
    hpa: HpaMatch | None = None
    upstream: UpstreamMatch | None = None
    node: NodeMatch | None = None
    prom: PromMatch | None = None
    change: ChangeMatch | None = None

    @model_validator(mode="after")
    def _one(self) -> Matcher:
        set_ = [k for k, v in self.__dict__.items() if v is not None]
        if len(set_) != 1:
            raise ValueError(f"a matcher has exactly one kind (got {set_ or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self.__dict__.items() if v is not None)


class Entry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    family: str  # causes of one family are alternatives: only the strongest is a runner-up
    strength: int = Field(ge=0, le=100)
    all: list[Matcher] = Field(default_factory=list)  # every one must match
    # then at least one of these (the same evidence as components say it in different places)
    any: list[Matcher] = Field(default_factory=list)
    none: list[Matcher] = Field(default_factory=list)  # any of these vetoes the entry
    cause: str
    # The cause said instead when the exception was handled: its line is in the current log of
    # a container running, ready and never restarted (then the strength is lowered too)
    handled_cause: str | None = None
    fix: str
    # Invites a change to the workload (roll back, scale): never offered for database class.
    changes_workload: bool = False
    # A correlation ("a rollout happened") or a symptom ("exit code 1", "readiness failing")
    # rather than a cause: ranked below every specific cause that is named.
    generic: bool = False
    # A language runtime's crash report (an uncaught exception, a panic): it defers to any
    # specific entry that matched in the same exception block (the text names the real cause)
    language: bool = False

    @model_validator(mode="after")
    def _needs_evidence(self) -> Entry:
        if not self.all and not self.any:
            raise ValueError(f"{self.id}: an entry needs `all` or `any` evidence")
        return self


class Catalogue(_Strict):
    version: int
    entries: list[Entry]

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        ids = [e.id for e in self.entries]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate catalogue ids: {', '.join(dup)}")
        return self

    def get(self, entry_id: str) -> Entry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise KeyError(entry_id)


def parse(text: str) -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    text = resources.files("shared.investigation").joinpath("catalogue.yaml").read_text()
    return parse(text)

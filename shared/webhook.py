"""Typed models of what arrives at ingest: Alertmanager's webhook (v4) and a manual dispatch."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.model import Alert, fingerprint_for, utcnow, valid_fingerprint

MAX_LABEL_VALUE = 4096


class BadRequest(ValueError):
    """The body is not something ingest accepts; the message names the bad field."""


class _Lenient(BaseModel):
    # Newer Alertmanager versions add fields (notification_reason, routeLabels): tolerate them.
    model_config = ConfigDict(extra="allow")


# Label and annotation names, in UTF-8 bytes: Firestore refuses field names over 1,500 bytes
# (a label name sits under `alert.labels.` in a run document).
MAX_NAME = 1024
MAX_ENTRIES = 100  # labels, or annotations, per alert (a run document stays far under 1 MiB)
MAX_ANNOTATIONS_TOTAL = 64 * 1024
# truncatedAlerts is a uint64 in Alertmanager; the ledger stores int64.
MAX_TRUNCATED = 2**63 - 1

# JSON's \ud800-style escapes decode to lone surrogates: a Python str that is not Unicode text,
# which no UTF-8 encoder (the Pub/Sub message, Firestore) accepts. Go senders never produce one.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: str) -> bool:
    return value.isascii() or not _SURROGATE.search(value)


def _as_text(value: str) -> str:
    """Text for people: a lone surrogate becomes U+FFFD, as Go's encoder would have sent it."""
    return value if _is_text(value) else _SURROGATE.sub("\ufffd", value)


def _name_ok(name: str) -> bool:
    """A name Firestore can hold as a map key (`name` is text: no lone surrogates)."""
    return 0 < len(name.encode()) <= MAX_NAME


def _label_map(value: Any) -> Any:
    """Labels identify the alert: refused rather than changed when out of bounds."""
    if value is None:
        return {}
    if isinstance(value, dict):
        if len(value) > MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries")
        for k, v in value.items():
            if isinstance(k, str) and not _is_text(k):
                raise ValueError(f"name {k[:60]!r} is not valid Unicode (a lone surrogate)")
            if not isinstance(k, str) or not _name_ok(k):
                raise ValueError(f"names must be 1 to {MAX_NAME} bytes, got {str(k)[:60]!r}")
            if not isinstance(v, str):
                raise ValueError(f"value of {k!r} must be a string")
            if len(v) > MAX_LABEL_VALUE:
                raise ValueError(f"value of {k!r} is longer than {MAX_LABEL_VALUE} characters")
            if not _is_text(v):
                raise ValueError(f"value of {k!r} is not valid Unicode (a lone surrogate)")
    return value


def _annotation_map(value: Any) -> Any:
    """Annotations are for people: long ones are shortened, names Firestore cannot hold and
    entries past the first MAX_ENTRIES are dropped; never a reason to lose the alert
    (Alertmanager does not retry a 4xx). Only a value that is not a string is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return value
    for k, v in value.items():
        if not isinstance(v, str):
            raise ValueError(f"value of {k!r} must be a string")
    cleaned = {_as_text(k): _as_text(v) for k, v in value.items() if isinstance(k, str)}
    value = dict([(k, v) for k, v in cleaned.items() if _name_ok(k)][:MAX_ENTRIES])
    budget = MAX_ANNOTATIONS_TOTAL // max(1, len(value))
    if sum(len(v) for v in value.values()) <= MAX_ANNOTATIONS_TOTAL:
        budget = MAX_LABEL_VALUE
    limit = min(MAX_LABEL_VALUE, budget)
    return {k: (v if len(v) <= limit else v[: limit - 1] + "…") for k, v in value.items()}


# Kept for manual dispatch bodies: small maps, refused when out of bounds.
_str_map = _label_map


class AMAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    _labels = field_validator("labels", mode="before")(_label_map)
    _annotations = field_validator("annotations", mode="before")(_annotation_map)

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname"):
            raise ValueError("labels.alertname is required")
        return labels

    @field_validator("generatorURL")
    @classmethod
    def _url_text(cls, value: str) -> str:
        return _as_text(value)

    @field_validator("startsAt")
    @classmethod
    def _start_in_range(cls, value: datetime) -> datetime:
        value = _aware(value)
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("outside the years 1 to 9999 in UTC") from None
        return value

    @field_validator("endsAt")
    @classmethod
    def _end_in_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = _aware(value)
        try:
            value.astimezone(UTC)
        except OverflowError:
            return None  # like Alertmanager's 0001-01-01: no usable end
        return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _identity_text(value: str) -> str:
    if not _is_text(value):
        raise ValueError("not valid Unicode (a lone surrogate)")
    return value


class AMWebhook(_Lenient):
    version: Literal["4"]
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AMAlert] = Field(min_length=1)

    _group_key = field_validator("groupKey")(_identity_text)


class DispatchPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_type: str = Field(min_length=1, max_length=200)
    severity: str = "warning"
    action: Literal["auto", "investigate", "remediate", "notify"] = "auto"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    dry_run: bool = False

    _maps = field_validator("labels", "annotations", mode="before")(_str_map)
    _text = field_validator("alert_type", "severity")(_identity_text)


class Dispatch(BaseModel):
    event_type: Literal["alert-fired"]
    client_payload: DispatchPayload


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _normalise_am(a: AMAlert, group_key: str) -> Alert:
    ends = a.endsAt
    if ends is not None and ends.year < 1970:
        ends = None  # Alertmanager sends 0001-01-01T00:00:00Z for "no end"
    return Alert(
        name=a.labels["alertname"],
        status=a.status,
        severity=a.labels.get("severity", "warning"),
        labels=a.labels,
        annotations=a.annotations,
        starts_at=a.startsAt,
        ends_at=ends,
        # A fingerprint becomes a document id: anything but hex is replaced by a stable hash.
        fingerprint=a.fingerprint
        if valid_fingerprint(a.fingerprint)
        else fingerprint_for(a.labels),
        generator_url=a.generatorURL,
        group_key=group_key,
    )


Parsed = tuple[Literal["alertmanager", "dispatch"], list[Alert], dict[str, Any]]


def parse_body(body: Any) -> Parsed:
    """(source, alerts, options) from a decoded JSON body, or BadRequest naming the bad field."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if "event_type" in body or "client_payload" in body:
        try:
            d = Dispatch.model_validate(body)
        except ValidationError as exc:
            raise BadRequest(_describe(exc)) from exc
        p = d.client_payload
        labels = {"alertname": p.alert_type, "severity": p.severity, **p.labels}
        now = utcnow()
        alert = Alert(
            name=p.alert_type,
            severity=p.severity,
            labels=labels,
            annotations=p.annotations,
            starts_at=now,
            # A manual fire is a new incident every time.
            fingerprint=fingerprint_for({**labels, "_fired_at": now.isoformat()}),
        )
        return "dispatch", [alert], {"action": p.action, "dry_run": p.dry_run}
    if "alerts" not in body and "version" not in body:
        raise BadRequest(
            "body is neither an Alertmanager webhook (version, alerts) nor a dispatch "
            "(event_type, client_payload)"
        )
    try:
        hook = AMWebhook.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_describe(exc)) from exc
    alerts = [_normalise_am(a, hook.groupKey) for a in hook.alerts]
    truncated = min(max(0, hook.truncatedAlerts), MAX_TRUNCATED)
    options = {"action": "auto", "dry_run": False, "truncated": truncated}
    return "alertmanager", alerts, options

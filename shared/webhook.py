"""Typed models of what arrives at ingest: Alertmanager's webhook (v4) and a manual dispatch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.envelope import Alert, fingerprint_for, utcnow, valid_fingerprint

MAX_LABEL_VALUE = 4096


class BadRequest(ValueError):
    """The body is not something ingest accepts; the message names the bad field."""


class _Lenient(BaseModel):
    # Newer Alertmanager versions add fields (notification_reason, routeLabels): tolerate them.
    model_config = ConfigDict(extra="allow")


MAX_NAME = 1024  # label and annotation names (Firestore refuses longer map keys)
MAX_ENTRIES = 100  # labels, or annotations, per alert (a run document stays far under 1 MiB)
MAX_ANNOTATIONS_TOTAL = 64 * 1024


def _names_ok(value: dict[Any, Any]) -> None:
    if len(value) > MAX_ENTRIES:
        raise ValueError(f"more than {MAX_ENTRIES} entries")
    for k in value:
        if not isinstance(k, str) or not k or len(k) > MAX_NAME:
            raise ValueError(f"names must be 1 to {MAX_NAME} characters, got {str(k)[:60]!r}")


def _label_map(value: Any) -> Any:
    """Labels identify the alert: refused rather than changed when out of bounds."""
    if value is None:
        return {}
    if isinstance(value, dict):
        _names_ok(value)
        for k, v in value.items():
            if not isinstance(v, str):
                raise ValueError(f"value of {k!r} must be a string")
            if len(v) > MAX_LABEL_VALUE:
                raise ValueError(f"value of {k!r} is longer than {MAX_LABEL_VALUE} characters")
    return value


def _annotation_map(value: Any) -> Any:
    """Annotations are for people: long ones are shortened, never a reason to lose the alert
    (Alertmanager does not retry a 4xx)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return value
    _names_ok(value)
    for k, v in value.items():
        if not isinstance(v, str):
            raise ValueError(f"value of {k!r} must be a string")
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

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


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


class DispatchPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_type: str = Field(min_length=1, max_length=200)
    severity: str = "warning"
    action: Literal["auto", "investigate", "remediate", "notify"] = "auto"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    dry_run: bool = False

    _maps = field_validator("labels", "annotations", mode="before")(_str_map)


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
    options = {"action": "auto", "dry_run": False, "truncated": max(0, hook.truncatedAlerts)}
    return "alertmanager", alerts, options

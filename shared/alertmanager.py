"""Alertmanager's API v2: silences (create, expire, read) and the alerts it holds.

Used by the Slack Silence/Unsilence buttons (shared.interaction) and by the sweeper, which asks
Alertmanager about incidents whose resolve never came. Settings, read on each call:

- ALERTMANAGER_URL (""): the Alertmanager that sends alertloop its webhooks, e.g.
  https://alertmanager.example.com (a trailing /api/v2 is accepted). Empty: silencing from
  Slack is refused with a clear message and the sweeper does nothing.
- ALERTMANAGER_BEARER_TOKEN ★ (""): sent as `Authorization: Bearer …` when set.
- ALERTMANAGER_TIMEOUT_SECONDS (5): per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import envvars

DEFAULT_TIMEOUT_SECONDS = 5.0
# Silence ids are UUIDs; checked before one becomes part of a URL path.
_SILENCE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


class AlertmanagerError(RuntimeError):
    """Alertmanager could not be reached or refused the request."""


class AlertmanagerNotConfigured(AlertmanagerError):
    """ALERTMANAGER_URL is not set."""


@dataclass(frozen=True)
class AlertmanagerSettings:
    url: str = ""
    token: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def __repr__(self) -> str:  # never show the token
        return (
            f"AlertmanagerSettings(url={self.url!r}, token={'***' if self.token else ''!r}, "
            f"timeout_seconds={self.timeout_seconds!r})"
        )


def alertmanager_settings() -> AlertmanagerSettings:
    url = envvars.read("ALERTMANAGER_URL").rstrip("/")
    url = url.removesuffix("/api/v2").rstrip("/")
    if url and not re.match(r"^https?://", url):
        raise ValueError(f"ALERTMANAGER_URL must be an http(s) URL, got {url!r}")
    return AlertmanagerSettings(
        url=url,
        token=envvars.read("ALERTMANAGER_BEARER_TOKEN"),
        timeout_seconds=envvars.number("ALERTMANAGER_TIMEOUT_SECONDS", positive=True),
    )


@dataclass(frozen=True)
class Matcher:
    """An exact equality matcher (never a regex: a silence must hit the alert, not more)."""

    name: str
    value: str

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": False, "isEqual": True}

    def filter_text(self) -> str:
        """The matcher in Alertmanager's filter syntax, `name="value"` (the value quoted and
        escaped like a Go string: prometheus/alertmanager pkg/labels parse)."""
        value = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}="{value}"'


@dataclass(frozen=True)
class HeldAlert:
    """One alert as Alertmanager holds it now (GET /api/v2/alerts)."""

    fingerprint: str
    labels: dict[str, str]
    starts_at: datetime | None
    state: str  # active | suppressed | unprocessed
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: list[dict[str, Any]] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_by: str = ""
    comment: str = ""
    state: str = ""  # active | pending | expired


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Alertmanager:
    """A small requests-based client; one session per instance, created on first use."""

    def __init__(self, cfg: AlertmanagerSettings | None = None, session: Any = None) -> None:
        self._cfg = cfg
        self._session = session

    @property
    def cfg(self) -> AlertmanagerSettings:
        return self._cfg or alertmanager_settings()

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        cfg = self.cfg
        if not cfg.configured:
            raise AlertmanagerNotConfigured(
                "ALERTMANAGER_URL is not set: alertloop cannot reach Alertmanager"
            )
        headers = {"Accept": "application/json"}
        if cfg.token:
            headers["Authorization"] = f"Bearer {cfg.token}"
        url = f"{cfg.url}/api/v2{path}"
        try:
            resp = self.session.request(
                method, url, headers=headers, timeout=cfg.timeout_seconds, **kwargs
            )
        except requests.RequestException as exc:
            raise AlertmanagerError(f"Alertmanager at {cfg.url} unreachable: {exc}") from exc
        if resp.status_code >= 300:
            raise AlertmanagerError(
                f"Alertmanager answered {method} {path} with {resp.status_code}: "
                f"{resp.text[:300].strip()}"
            )
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise AlertmanagerError(f"Alertmanager sent non-JSON for {method} {path}") from exc

    # ---- silences -----------------------------------------------------------------------------

    def create_silence(
        self,
        matchers: list[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """POST /api/v2/silences; returns the new silence id."""
        if not matchers:
            raise AlertmanagerError("refusing to create a silence without matchers")
        body = {
            "matchers": [m.to_api() for m in matchers],
            "startsAt": _iso(starts_at),
            "endsAt": _iso(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        data = self._request("POST", "/silences", json=body)
        silence_id = str((data or {}).get("silenceID") or "")
        if not _SILENCE_ID.match(silence_id):
            raise AlertmanagerError(f"Alertmanager returned no silence id: {str(data)[:200]}")
        return silence_id

    def get_silence(self, silence_id: str) -> Silence:
        data = self._request("GET", f"/silence/{_checked_id(silence_id)}") or {}
        return Silence(
            id=str(data.get("id", silence_id)),
            matchers=list(data.get("matchers") or []),
            starts_at=_time(data.get("startsAt")),
            ends_at=_time(data.get("endsAt")),
            created_by=str(data.get("createdBy", "")),
            comment=str(data.get("comment", "")),
            state=str((data.get("status") or {}).get("state", "")),
        )

    def expire_silence(self, silence_id: str) -> None:
        """DELETE /api/v2/silence/{id}. An already expired silence counts as done (some
        versions answer 500 "silence … already expired" instead of 200)."""
        try:
            self._request("DELETE", f"/silence/{_checked_id(silence_id)}")
        except AlertmanagerNotConfigured:
            raise
        except AlertmanagerError:
            if self.get_silence(silence_id).state != "expired":
                raise

    # ---- alerts and status --------------------------------------------------------------------

    def alerts(self, matchers: list[Matcher] | None = None) -> list[HeldAlert]:
        """Every alert Alertmanager holds: active, silenced, inhibited and unprocessed (resolved
        alerts are not listed). With `matchers`: only those a silence with these matchers
        would mute (Alertmanager's own `filter`: an alert matches when its labels include
        them, whatever other labels it has)."""
        params: dict[str, Any] = {
            "active": "true",
            "silenced": "true",
            "inhibited": "true",
            "unprocessed": "true",
        }
        if matchers:
            params["filter"] = [m.filter_text() for m in matchers]
        data = self._request("GET", "/alerts", params=params) or []
        if not isinstance(data, list):
            raise AlertmanagerError("Alertmanager's alert list is not a list")
        out = []
        for item in data:
            if not isinstance(item, dict):
                continue
            status = item.get("status") or {}
            out.append(
                HeldAlert(
                    fingerprint=str(item.get("fingerprint", "")),
                    labels={str(k): str(v) for k, v in (item.get("labels") or {}).items()},
                    starts_at=_time(item.get("startsAt")),
                    state=str(status.get("state", "")),
                    silenced_by=tuple(str(s) for s in status.get("silencedBy") or []),
                    inhibited_by=tuple(str(s) for s in status.get("inhibitedBy") or []),
                )
            )
        return out

    def started_at(self) -> datetime | None:
        """When this Alertmanager started (GET /api/v2/status `uptime`): one that restarted
        without its data knows only the alerts re-sent to it since."""
        data = self._request("GET", "/status") or {}
        return _time(data.get("uptime"))


def _checked_id(silence_id: str) -> str:
    if not _SILENCE_ID.match(silence_id):
        raise AlertmanagerError(f"not a silence id: {silence_id[:80]!r}")
    return silence_id


def exact_matchers(labels: dict[str, str]) -> list[Matcher]:
    """Equality matchers on every label of the alert (its identity, as Alertmanager sees it):
    the silence hits this alert and nothing with a different label set. Empty values are left
    out (an empty-value matcher would also match alerts without that label)."""
    return [Matcher(k, v) for k, v in sorted(labels.items()) if k and v != ""]

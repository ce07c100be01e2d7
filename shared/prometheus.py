"""A small client for the Prometheus HTTP API (works with Google Managed Prometheus too).

Settings come from the environment (see `PrometheusSettings.from_env`):

- ``PROMETHEUS_URL``: base URL, e.g. ``http://prometheus:9090`` or, for Google Managed
  Prometheus, ``https://monitoring.googleapis.com/v1/projects/PROJECT/location/global/prometheus``.
  Empty means "not configured": every query raises `PrometheusNotConfigured`.
- ``PROMETHEUS_AUTH``: ``none`` | ``bearer`` | ``google``. Default: ``bearer`` when a bearer token
  is set, else ``none``. ``google`` uses Application Default Credentials (``google.auth``,
  imported lazily) and refreshes the access token when it expires.
- ``PROMETHEUS_BEARER_TOKEN``: token for ``bearer`` auth (never logged).
- ``PROMETHEUS_TIMEOUT_SECONDS``: per-request timeout (default 10). Also sent to Prometheus as the
  query ``timeout`` parameter so the server gives up at the same time.

Errors are typed: `PrometheusNotConfigured`, `PrometheusUnavailable` (connection error, timeout,
5xx, unexpected body), `PrometheusAuthError` (401/403), `PrometheusQueryError` (400/422 or an
``"status": "error"`` body, carrying Prometheus's own message). All derive from `PrometheusError`.

Values: Prometheus encodes sample values as strings; ``"NaN"``, ``"+Inf"`` and ``"-Inf"`` become
the matching Python floats. `PrometheusClient.scalar` maps NaN to None (e.g. 0/0: "no answer").
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

import requests

from shared import envvars

AuthMode = Literal["none", "bearer", "google"]
AUTH_MODES: tuple[AuthMode, ...] = ("none", "bearer", "google")
GOOGLE_SCOPES = ("https://www.googleapis.com/auth/monitoring.read",)
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_POINTS_PER_QUERY = 10_000  # Prometheus' limit is 11,000 points per series and query

TimeLike = datetime | float | int


class PrometheusError(Exception):
    """Base class of every error this module raises."""


class PrometheusNotConfigured(PrometheusError):
    """PROMETHEUS_URL is empty (or the settings are otherwise unusable)."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not answer: connection error, timeout, 5xx or a body that is not the API."""


class PrometheusAuthError(PrometheusError):
    """Prometheus (or the proxy in front of it) refused our credentials: 401/403."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected the query (400 bad_data, 422 execution error); message is its own."""

    def __init__(self, message: str, error_type: str = "", status_code: int | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.status_code = status_code


class Sample(NamedTuple):
    """One instant-vector element: ``labels, value = sample``."""

    labels: dict[str, str]
    value: float


class Series(NamedTuple):
    """One range-vector series: ``labels`` and ``values`` as ``[(unix_ts, value), ...]``."""

    labels: dict[str, str]
    values: list[tuple[float, float]]


@dataclass(frozen=True)
class PrometheusSettings:
    url: str = ""
    auth: AuthMode = "none"
    bearer_token: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @classmethod
    def from_env(cls) -> PrometheusSettings:
        """From PROMETHEUS_* (shared/envvars.py); a bad value is a ValueError naming it."""
        token = envvars.read("PROMETHEUS_BEARER_TOKEN")
        auth_raw = envvars.read("PROMETHEUS_AUTH").lower() or ("bearer" if token else "none")
        if auth_raw not in AUTH_MODES:
            raise ValueError(f"PROMETHEUS_AUTH must be one of {AUTH_MODES}, got {auth_raw!r}")
        return cls(
            url=envvars.read("PROMETHEUS_URL").rstrip("/"),
            auth=auth_raw,
            bearer_token=token,
            timeout_seconds=envvars.number("PROMETHEUS_TIMEOUT_SECONDS", positive=True),
        )

    def __repr__(self) -> str:  # never show the token
        token = "***" if self.bearer_token else ""
        return (
            f"PrometheusSettings(url={self.url!r}, auth={self.auth!r}, bearer_token={token!r}, "
            f"timeout_seconds={self.timeout_seconds!r})"
        )


def to_unix(t: TimeLike) -> float:
    """Unix seconds for a datetime (naive datetimes are taken as UTC) or a number."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return t.timestamp()
    return float(t)


def _step_seconds(step: timedelta | float | int | str) -> str:
    if isinstance(step, timedelta):
        return _fmt(step.total_seconds())
    if isinstance(step, str):
        return step
    return _fmt(float(step))


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def parse_value(raw: Any) -> float:
    """A Prometheus sample value (a string such as "1.5", "NaN", "+Inf") as a float."""
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise PrometheusUnavailable(f"unexpected sample value {raw!r}") from exc


class PrometheusClient:
    """Prometheus HTTP API client. Create once per process; it is thread-safe for queries."""

    def __init__(
        self,
        settings: PrometheusSettings,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self._session = session
        self._google_credentials: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, session: requests.Session | None = None) -> PrometheusClient:
        return cls(PrometheusSettings.from_env(), session=session)

    @property
    def configured(self) -> bool:
        return self.settings.configured

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------------

    def instant(self, query: str, time: TimeLike | None = None) -> list[Sample]:
        """Evaluate `query` at `time` (default: now). A scalar result is one label-less sample."""
        params: dict[str, str] = {"query": query}
        if time is not None:
            params["time"] = _fmt(to_unix(time))
        data = self._call("query", params)
        result_type = data.get("resultType")
        result = data.get("result")
        if result_type == "vector" and isinstance(result, list):
            return [_sample(item) for item in result]
        if result_type == "scalar" and isinstance(result, list) and len(result) == 2:
            return [Sample({}, parse_value(result[1]))]
        if result_type == "matrix" and isinstance(result, list):
            raise PrometheusQueryError(
                "instant query returned a range vector; use range() or wrap it in a function",
                "bad_data",
            )
        raise PrometheusUnavailable(f"unexpected instant query result type {result_type!r}")

    def range(
        self,
        query: str,
        start: TimeLike,
        end: TimeLike,
        step: timedelta | float | int | str,
    ) -> list[Series]:
        """Evaluate `query` from `start` to `end` every `step` (seconds, timedelta or "5m")."""
        params = {
            "query": query,
            "start": _fmt(to_unix(start)),
            "end": _fmt(to_unix(end)),
            "step": _step_seconds(step),
        }
        data = self._call("query_range", params)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise PrometheusUnavailable(
                f"unexpected range query result type {data.get('resultType')!r}"
            )
        out = []
        for item in result:
            labels = _labels(item)
            values = [(float(ts), parse_value(v)) for ts, v in item.get("values") or []]
            out.append(Series(labels, values))
        return out

    def range_chunked(
        self,
        query: str,
        start: TimeLike,
        end: TimeLike,
        step_seconds: float,
        max_points: int = MAX_POINTS_PER_QUERY,
    ) -> list[Series]:
        """`range` over a span of any length: one request per `max_points` evaluations
        (Prometheus refuses more than 11,000 points per series), series merged by label set."""
        if step_seconds <= 0 or max_points < 1:
            raise ValueError("step_seconds and max_points must be positive")
        t, stop = to_unix(start), to_unix(end)
        merged: dict[tuple[tuple[str, str], ...], Series] = {}
        while t <= stop:
            chunk_end = min(t + (max_points - 1) * step_seconds, stop)
            for s in self.range(query, t, chunk_end, step_seconds):
                key = tuple(sorted(s.labels.items()))
                merged.setdefault(key, Series(s.labels, [])).values.extend(s.values)
            t = chunk_end + step_seconds
        return list(merged.values())

    def scalar(self, query: str, time: TimeLike | None = None) -> float | None:
        """The single value of `query`, or None when there is no data (or the value is NaN).

        A query that returns several series is an error: aggregate it (``sum(...)``) first.
        """
        samples = self.instant(query, time)
        if not samples:
            return None
        if len(samples) > 1:
            raise PrometheusQueryError(
                f"expected at most one series, got {len(samples)}; aggregate the query",
                "bad_data",
            )
        value = samples[0].value
        return None if math.isnan(value) else value

    # -- transport ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.auth == "bearer" and self.settings.bearer_token:
            headers["Authorization"] = f"Bearer {self.settings.bearer_token}"
        elif self.settings.auth == "google":
            headers["Authorization"] = f"Bearer {self._google_token()}"
        return headers

    def _google_token(self) -> str:
        try:
            import google.auth
            import google.auth.transport.requests
            from google.auth.exceptions import GoogleAuthError
        except ImportError as exc:  # pragma: no cover - google-auth is a dependency
            raise PrometheusNotConfigured("PROMETHEUS_AUTH=google needs google-auth") from exc
        with self._lock:
            try:
                if self._google_credentials is None:
                    creds, _ = google.auth.default(scopes=list(GOOGLE_SCOPES))
                    self._google_credentials = creds
                creds = self._google_credentials
                if not creds.valid or not creds.token:
                    creds.refresh(google.auth.transport.requests.Request())
            except GoogleAuthError as exc:
                raise PrometheusAuthError(f"Google credentials unavailable: {exc}") from exc
            return str(creds.token)

    def _call(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        if not self.settings.configured:
            raise PrometheusNotConfigured(
                "Prometheus is not configured: set PROMETHEUS_URL (and PROMETHEUS_AUTH)"
            )
        timeout = self.settings.timeout_seconds
        params = dict(params, timeout=f"{_fmt(timeout)}s")
        url = f"{self.settings.url}/api/v1/{endpoint}"
        resp = self._post(url, params, timeout)
        if resp.status_code == 401 and self.settings.auth == "google":
            # Revoked or expired before google-auth expected it: one fresh token, one retry.
            with self._lock:
                if self._google_credentials is not None:
                    self._google_credentials.token = None
            resp = self._post(url, params, timeout)
        return _decode(resp, self.settings.auth)

    def _post(self, url: str, params: dict[str, str], timeout: float) -> requests.Response:
        try:
            return self.session.post(url, data=params, headers=self._headers(), timeout=timeout)
        except requests.Timeout as exc:
            raise PrometheusUnavailable(f"Prometheus timed out after {timeout:g}s") from exc
        except requests.RequestException as exc:
            raise PrometheusUnavailable(
                f"cannot reach Prometheus at {self.settings.url}: {type(exc).__name__}"
            ) from exc


AUTH_FIX = {
    "google": "grant roles/monitoring.viewer to the function's service account",
    "bearer": "check PROMETHEUS_BEARER_TOKEN",
    "none": "it wants credentials: set PROMETHEUS_AUTH",
}


def _decode(resp: requests.Response, auth: str = "none") -> dict[str, Any]:
    code = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    error: Any = body.get("error", "") if isinstance(body, dict) else ""
    if isinstance(error, dict):  # Google's error shape: {"error": {"code", "message", "status"}}
        error = str(error.get("message") or error.get("status") or "")
    error = str(error or "")
    error_type = body.get("errorType", "") if isinstance(body, dict) else ""
    if code in (401, 403):
        detail = f" Server said: {error[:300]}" if error else ""
        raise PrometheusAuthError(
            f"Prometheus refused the credentials (HTTP {code}): {AUTH_FIX.get(auth, '')}.{detail}"
        )
    if code in (400, 422):
        raise PrometheusQueryError(
            error or f"query rejected (HTTP {code})", error_type, status_code=code
        )
    if code >= 500:
        detail = f": {error}" if error else ""
        raise PrometheusUnavailable(f"Prometheus answered HTTP {code}{detail}")
    if code != 200 or not isinstance(body, dict):
        raise PrometheusUnavailable(f"unexpected answer from Prometheus (HTTP {code})")
    if body.get("status") != "success":
        raise PrometheusQueryError(error or "query failed", error_type, status_code=code)
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusUnavailable("Prometheus answer has no data")
    return data


def _labels(item: Any) -> dict[str, str]:
    metric = item.get("metric") if isinstance(item, dict) else None
    return {str(k): str(v) for k, v in (metric or {}).items()}


def _sample(item: Any) -> Sample:
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(value, list) or len(value) != 2:
        raise PrometheusUnavailable(f"unexpected vector element {item!r}")
    return Sample(_labels(item), parse_value(value[1]))


def from_env(session: requests.Session | None = None) -> PrometheusClient:
    """A client configured from the environment (not configured when PROMETHEUS_URL is empty)."""
    return PrometheusClient.from_env(session=session)

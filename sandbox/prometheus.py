"""A real Prometheus loaded with synthetic history, for tests and the local demo.

Three steps, each usable on its own:

1. generate OpenMetrics text for synthetic series (`counter_series`, `gauge_series`,
   `openmetrics_text`): timestamps in seconds, samples ordered by time per series, one
   ``# TYPE`` per family, ending with ``# EOF``;
2. backfill it into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` (`backfill`).
   promtool 2.42 cuts 2h blocks by default and re-reads the whole input once per block (30 days
   = 360 passes, ~70 s for 260k samples); its hidden ``--max-block-duration`` flag makes a couple
   of large blocks instead (~1 s);
3. start ``prometheus`` on a free 127.0.0.1 port against those blocks, wait for ``/-/ready``, and
   stop it by PID (`PrometheusSandbox`, a context manager).

The "now" problem: Prometheus only sees a series at time t if it has a sample in the 5 minutes
before t. `aligned_end` gives an end time on the step grid, a little in the past; tests should
evaluate queries *at that end time* (``time=end``) so results do not depend on how long the test
run took. No scrape jobs are configured, so the head block stays empty and cannot overlap the
backfilled blocks (2.42 accepts overlapping blocks anyway).

Typical use (pytest, one Prometheus per session holding every scenario, told apart by a
``service`` label)::

    @pytest.fixture(scope="session")
    def prom(tmp_path_factory):
        reason = sandbox_unavailable()
        if reason:
            pytest.skip(reason)
        with PrometheusSandbox(series, tmp_path_factory.mktemp("prom")) as sandbox:
            yield sandbox          # sandbox.url, sandbox.timings

Local demo: ``python -m sandbox.prometheus`` serves the budget scenarios until Ctrl-C.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared import envvars

PROMETHEUS_BIN = envvars.read("ALERTLOOP_PROMETHEUS_BIN")
PROMTOOL_BIN = envvars.read("ALERTLOOP_PROMTOOL_BIN")

MetricKind = Literal["counter", "gauge", "unknown"]
DAY = 86400


class SandboxError(RuntimeError):
    """The sandbox could not backfill or start Prometheus (the message has the log tail)."""


@dataclass(frozen=True)
class SyntheticSeries:
    """One series: sample name (``http_requests_total``), labels, and ``(unix_s, value)`` samples.

    For counters the name must end in ``_total`` (the OpenMetrics family is the name without it).
    """

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]
    kind: MetricKind = "unknown"

    @property
    def family(self) -> str:
        if self.kind == "counter" and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name


def grid(start: float, end: float, step: float) -> list[float]:
    """Timestamps start, start+step, ..., <= end."""
    n = math.floor((end - start) / step + 1e-9)
    return [start + i * step for i in range(n + 1)]


def counter_series(
    name: str,
    labels: Mapping[str, str],
    rate: Callable[[float], float],
    start: float,
    end: float,
    step: float,
    initial: float = 0.0,
) -> SyntheticSeries:
    """A counter whose per-second rate over the interval (t - step, t] is ``rate(t)``.

    So the increase between the samples at t1 < t2 is ``sum(rate(t) * step for t in (t1, t2])``,
    which is how tests compute expected values by hand.
    """
    samples = []
    value = initial
    for i, t in enumerate(grid(start, end, step)):
        if i:
            value += max(0.0, rate(t)) * step
        samples.append((t, value))
    return SyntheticSeries(name, dict(labels), samples, "counter")


def gauge_series(
    name: str,
    labels: Mapping[str, str],
    value: Callable[[float], float],
    start: float,
    end: float,
    step: float,
) -> SyntheticSeries:
    return SyntheticSeries(
        name, dict(labels), [(t, value(t)) for t in grid(start, end, step)], "gauge"
    )


def aligned_end(step: float, margin: float = 60.0, now: float | None = None) -> float:
    """The last step-grid time at least `margin` seconds before now (integer seconds)."""
    now = time.time() if now is None else now
    return float(int((now - margin) // step * step))


def _fmt_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _fmt_ts(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _lines(series: Iterable[SyntheticSeries]) -> Iterator[str]:
    families: dict[str, list[SyntheticSeries]] = {}
    kinds: dict[str, MetricKind] = {}
    for s in series:
        if s.kind == "counter" and not s.name.endswith("_total"):
            raise ValueError(f"counter {s.name} must end in _total")
        if kinds.setdefault(s.family, s.kind) != s.kind:
            raise ValueError(f"family {s.family} mixes {kinds[s.family]} and {s.kind}")
        families.setdefault(s.family, []).append(s)
    for family, members in families.items():
        yield f"# TYPE {family} {kinds[family]}"
        for s in members:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
            head = f"{s.name}{{{labels}}}" if labels else s.name
            last = -math.inf
            for t, v in s.samples:
                if t <= last:
                    raise ValueError(f"{head}: samples must be strictly ordered by time")
                last = t
                yield f"{head} {_fmt_value(v)} {_fmt_ts(t)}"
    yield "# EOF"


def openmetrics_text(series: Iterable[SyntheticSeries]) -> str:
    return "\n".join(_lines(series)) + "\n"


def write_openmetrics(series: Iterable[SyntheticSeries], path: Path) -> Path:
    with path.open("w") as fh:
        for line in _lines(series):
            fh.write(line + "\n")
    return path


def backfill(
    openmetrics: Path,
    out_dir: Path,
    *,
    max_block_duration: str = "2400h",
    promtool: str = PROMTOOL_BIN,
    timeout: float = 300.0,
) -> None:
    """Turn an OpenMetrics file into TSDB blocks in `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
    if max_block_duration:
        cmd.append(f"--max-block-duration={max_block_duration}")
    cmd += [str(openmetrics), str(out_dir)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"promtool backfill timed out after {timeout}s") from exc
    if proc.returncode != 0:
        raise SandboxError(f"promtool backfill failed ({proc.returncode}): {proc.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sandbox_unavailable() -> str:
    """Why a sandbox cannot run here ("" when it can): for ``pytest.skip``."""
    for path in (PROMETHEUS_BIN, PROMTOOL_BIN):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not installed (Debian package prometheus)"
    return ""


MINIMAL_CONFIG = """# alertloop sandbox: no scrape jobs, the data is backfilled
global:
  scrape_interval: 1m
  evaluation_interval: 1m
"""


@dataclass
class PrometheusSandbox:
    """A Prometheus process serving backfilled data; a context manager.

    `data` is a sequence of `SyntheticSeries`, OpenMetrics text, or a path to an OpenMetrics file.
    `workdir` holds input.om, data/ (TSDB), prometheus.yml and prometheus.log.
    """

    data: Sequence[SyntheticSeries] | str | Path
    workdir: Path
    port: int = 0
    retention: str = "90d"
    ready_timeout: float = 60.0
    extra_args: Sequence[str] = ()
    prometheus: str = PROMETHEUS_BIN
    promtool: str = PROMTOOL_BIN
    timings: dict[str, float] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def prepare(self) -> Path:
        """Write the input (if needed) and backfill it; returns the TSDB directory."""
        self.workdir = Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        tsdb = self.workdir / "data"
        t0 = time.monotonic()
        if isinstance(self.data, Path):
            source = self.data
        else:
            source = self.workdir / "input.om"
            if isinstance(self.data, str):
                source.write_text(self.data)
            else:
                write_openmetrics(self.data, source)
        t1 = time.monotonic()
        backfill(source, tsdb, promtool=self.promtool)
        t2 = time.monotonic()
        self.timings.update(generate=t1 - t0, backfill=t2 - t1)
        return tsdb

    def start(self) -> PrometheusSandbox:
        if self._proc is not None:
            return self
        tsdb = self.prepare()
        config = self.workdir / "prometheus.yml"
        config.write_text(MINIMAL_CONFIG)
        t0 = time.monotonic()
        for attempt in range(3):  # a free port can be taken between probing and binding
            port = self.port or free_port()
            cmd = [
                self.prometheus,
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--config.file={config}",
                f"--storage.tsdb.retention.time={self.retention}",
                *self.extra_args,
            ]
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            _LIVE[self._proc.pid] = self._proc
            self.port = port
            if self._wait_ready():
                self.timings["startup"] = time.monotonic() - t0
                return self
            exited = self._proc.poll() is not None
            self.stop()
            if not exited or attempt == 2 or "address already in use" not in self._log_tail():
                break
            self.port = 0
        raise SandboxError(f"Prometheus did not become ready; log tail:\n{self._log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:  # noqa: S310
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process we started (by PID), SIGKILL if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _LIVE.pop(proc.pid, None)
        _terminate(proc, timeout)

    def __enter__(self) -> PrometheusSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@atexit.register
def _cleanup() -> None:  # a crashed test run must not leave Prometheus behind
    for proc in list(_LIVE.values()):
        _terminate(proc, 5)
    _LIVE.clear()


# -- demo / scenario data ---------------------------------------------------------------------


SCENARIO_NAMESPACE = "shop"


def _scaled(rps: float, ratio: Callable[[float], float], ok: bool) -> Callable[[float], float]:
    def rate(t: float) -> float:
        return rps * (1 - ratio(t)) if ok else rps * ratio(t)

    return rate


def _service_series(
    service: str,
    handlers: Mapping[str, tuple[float, Callable[[float], float]]],
    start: float,
    end: float,
    step: float,
) -> list[SyntheticSeries]:
    """http_requests_total for one service: per handler, code=200 and code=500 counters.

    handlers: {handler: (requests per second, error ratio as a function of time)}.
    """
    out = []
    for handler, (rps, ratio) in handlers.items():
        labels = {
            "job": service,
            "namespace": SCENARIO_NAMESPACE,
            "service": service,
            "handler": handler,
        }
        out.append(
            counter_series(
                "http_requests_total",
                {**labels, "code": "200"},
                _scaled(rps, ratio, ok=True),
                start,
                end,
                step,
                initial=1e6,
            )
        )
        out.append(
            counter_series(
                "http_requests_total",
                {**labels, "code": "500"},
                _scaled(rps, ratio, ok=False),
                start,
                end,
                step,
                initial=1e3,
            )
        )
    return out


def budget_scenarios(end: float, step: float = 300.0) -> dict[str, list[SyntheticSeries]]:
    """Synthetic histories for the budget analysis, one service each, ending at `end`.

    - ``checkout``: healthy (0.1% errors) until 45 min before `end`, then /api/checkout fails
      40% of requests (a spike; the matching deploy is 50 min before `end`);
    - ``search``: /api/search's error ratio ramps linearly from 0.2% to 3% over 10 days;
    - ``catalog``: healthy, 0.1% errors all month;
    - ``orders``: /api/orders fails 15% since 2 days before `end`; /api/users, /health fine.

    Counter increments are attributed to the interval ending at each sample (see
    `counter_series`), so changes take effect at samples strictly after the change time.
    """
    start = end - 30 * DAY - 3600
    spike_at = end - 45 * 60
    ramp_from = end - 10 * DAY
    orders_from = end - 2 * DAY

    def const(r: float) -> Callable[[float], float]:
        return lambda t: r

    def ramp(t: float) -> float:
        if t <= ramp_from:
            return 0.002
        return 0.002 + 0.028 * (t - ramp_from) / (end - ramp_from)

    return {
        "checkout": _service_series(
            "checkout",
            {
                "/api/checkout": (5.0, lambda t: 0.4 if t > spike_at else 0.001),
                "/api/cart": (5.0, const(0.001)),
            },
            start,
            end,
            step,
        ),
        "search": _service_series(
            "search",
            {"/api/search": (10.0, ramp), "/api/suggest": (2.0, const(0.001))},
            start,
            end,
            step,
        ),
        "catalog": _service_series(
            "catalog",
            {"/api/items": (8.0, const(0.001)), "/api/categories": (2.0, const(0.001))},
            start,
            end,
            step,
        ),
        "orders": _service_series(
            "orders",
            {
                "/api/orders": (2.0, lambda t: 0.15 if t > orders_from else 0.001),
                "/api/users": (6.0, const(0.001)),
                "/health": (2.0, const(0.0)),
            },
            start,
            end,
            step,
        ),
    }


def budget_demo_series(end: float, step: float = 300.0) -> list[SyntheticSeries]:
    """Every budget scenario in one list (one Prometheus, services told apart by labels)."""
    return [s for series in budget_scenarios(end, step).values() for s in series]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a Prometheus with budget demo data.")
    parser.add_argument("--workdir", default="", help="directory for data (default: temporary)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--step", type=float, default=300.0)
    args = parser.parse_args(argv)
    import tempfile

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="alertloop-prom-"))
    series = budget_demo_series(aligned_end(args.step), args.step)
    with PrometheusSandbox(series, workdir, port=args.port) as prom:
        print(f"PROMETHEUS_URL={prom.url}  (pid {prom.pid}, data in {workdir})", flush=True)
        print(f"timings: {prom.timings}", flush=True)
        try:
            while prom._proc and prom._proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

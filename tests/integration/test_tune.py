"""`alertloop tune` against a real Prometheus with backfilled history, verdicts from the ledger
on the Firestore emulator, and the CLI end to end.

The history (a gauge, one sample a minute on the evaluation grid, so every evaluation sees the
sample taken at that minute) is designed so the counts can be worked out by hand:

  service a: six excursions above 0.05 (values 0.09, 0.07, 0.12, 0.08 for 4, 4, 3, 4 minutes;
             0.15 and 0.058 for 20 minutes each), 0.01 otherwise;
  service b: one 10-minute excursion at 0.2;
  service c: flapping, 0.1 every other minute for 10 minutes (the keep_firing_for rule);
  service d: 20 minutes at 0.1 with 7 minutes of missing samples in the middle (a gap longer
             than the 5-minute lookback: the series disappears for a couple of evaluations);
  service e: 0.3 for the last 10 minutes of the history (an alert firing when the data ends).

A run of n evaluations above the threshold fires with `for: F` iff n > F/1m, firing F after it
started, and resolves at the first evaluation below: it stays open n - F/1m minutes. So with the
rule's `for: 2m` the four short excursions of a fire for 2, 2, 1, 2 minutes (noise, <= 5 min),
the long ones for 18 minutes, b for 8: 7 incidents, 4 noise. With `for: 4m` none of the short
ones fires (3 incidents, 0 noise, each useful incident 2 minutes later); a threshold of 0.06
misses the 0.058 excursion, 0.08 also drops the 0.07 and 0.08 ones (`>` is strict).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo_data import demo_series
from sandbox.prometheus import (
    DAY,
    PrometheusSandbox,
    SyntheticSeries,
    aligned_end,
    gauge_series,
    sandbox_unavailable,
)
from shared.cli import main
from shared.ledger import Ledger
from shared.model import Alert
from tests.seed import resolve_run, seed_run

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
END = aligned_end(60.0, margin=120)
MIN = 60.0
# service -> [(minutes before END it starts, evaluations above, value)]
EXCURSIONS = {
    "a": [
        (1200, 4, 0.09),
        (1000, 4, 0.07),
        (800, 3, 0.12),
        (600, 4, 0.08),
        (400, 20, 0.15),
        (200, 20, 0.058),
    ],
    "b": [(300, 10, 0.2)],
    "d": [(500, 20, 0.1)],
    "e": [(10, 11, 0.3)],  # still high at the last sample
}
FLAPS_AT = 700  # c: 0.1 at minutes 700, 698, …, 692 before END
GAP = range(492, 485, -1)  # d: no samples these minutes before END (inside its excursion)

RULES = textwrap.dedent(
    """\
    # Rules for the tune backtest — this comment must survive the diff.
    groups:
      - name: tune-test
        interval: 1m
        rules:
          - alert: TuneTest
            expr: tune_error_ratio{service=~"a|b"} > 0.05  # a and b only
            for: 2m
            labels:
              severity: page
          - alert: TuneFlap
            expr: tune_error_ratio{service="c"} > 0.05
            keep_firing_for: 2m
            labels:
              severity: page
          - alert: TuneGap
            expr: tune_error_ratio{service="d"} > 0.05
            for: 2m
          - alert: TuneEnd
            expr: tune_error_ratio{service="e"} > 0.05
            for: 2m
    """
)


def value(service: str, t: float) -> float:
    ago = round((END - t) / MIN)
    if service == "c":
        return 0.1 if FLAPS_AT - 8 <= ago <= FLAPS_AT and (FLAPS_AT - ago) % 2 == 0 else 0.01
    for start, n, v in EXCURSIONS.get(service, []):
        if start - n < ago <= start:
            return v
    return 0.01


def history() -> list[SyntheticSeries]:
    out = []
    for service in "abcde":
        s = gauge_series(
            "tune_error_ratio",
            {"service": service},
            lambda t, s=service: value(s, t),
            END - 2 * DAY,
            END,
            MIN,
        )
        if service == "d":
            gap = {END - m * MIN for m in GAP}
            s = SyntheticSeries(s.name, s.labels, [p for p in s.samples if p[0] not in gap], s.kind)
        out.append(s)
    return out


def minutes_ago(m: float) -> datetime:
    return datetime.fromtimestamp(END - m * MIN, UTC)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusSandbox]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    with PrometheusSandbox(history(), tmp_path_factory.mktemp("prom-tune")) as sandbox:
        yield sandbox


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no `.stack/stack.json` of a running `make run` in the way
    for name in ("PROMETHEUS_URL", "PROMETHEUS_AUTH", "PROMETHEUS_BEARER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    return path


def tune(prom: PrometheusSandbox, capsys: Any, *args: str, ledger: bool = False) -> tuple[int, Any]:
    argv = ["tune", *args, "--rules", "rules.yml", "--days", "1", "--prometheus", prom.url]
    code = main([*argv, "--json"] if ledger else [*argv, "--json", "--no-ledger"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def table(report: dict[str, Any]) -> dict[tuple[float | None, str], tuple[int, int, int, int]]:
    return {
        (a["threshold"], a["for"]): (
            a["incidents"],
            a["noise"],
            a["useful_caught"],
            a["useful_missed"],
        )
        for a in report["alternatives"]
    }


GRID_ARGS = ("--thresholds", "0.04,0.06,0.08", "--for", "4m,6m")


def test_counts_for_thresholds_and_for_durations(prom, rules, capsys) -> None:
    code, report = tune(prom, capsys, "TuneTest", *GRID_ARGS)
    assert code == 0
    assert report["split"]["left"] == 'tune_error_ratio{service=~"a|b"}'
    assert report["series"] == 2
    assert report["incidents_by_heuristic"] == 7
    assert table(report) == {
        (0.04, "2m"): (7, 4, 3, 0),
        (0.04, "4m"): (3, 0, 3, 0),
        (0.04, "6m"): (3, 0, 3, 0),
        (0.05, "2m"): (7, 4, 3, 0),  # the rule as it is
        (0.05, "4m"): (3, 0, 3, 0),
        (0.05, "6m"): (3, 0, 3, 0),
        (0.06, "2m"): (6, 4, 2, 1),  # the 0.058 excursion is missed
        (0.06, "4m"): (2, 0, 2, 1),
        (0.06, "6m"): (2, 0, 2, 1),
        (0.08, "2m"): (4, 2, 2, 1),  # 0.07 and 0.08 are not above 0.08 either
        (0.08, "4m"): (2, 0, 2, 1),
        (0.08, "6m"): (2, 0, 2, 1),
    }
    delays = {(a["threshold"], a["for"]): a["delay_seconds"] for a in report["alternatives"]}
    assert delays[(0.05, "2m")] == [0, 0, 0]
    assert delays[(0.05, "4m")] == [120, 120, 120]
    assert delays[(0.05, "6m")] == [240, 240, 240]
    assert report["recommendation"] == {"threshold": 0.05, "for": "4m"}
    assert report["diff"] == textwrap.dedent(
        """\
        --- a/rules.yml
        +++ b/rules.yml
        @@ -5,7 +5,7 @@
             rules:
               - alert: TuneTest
                 expr: tune_error_ratio{service=~"a|b"} > 0.05  # a and b only
        -        for: 2m
        +        for: 4m
                 labels:
                   severity: page
               - alert: TuneFlap
        """
    )
    assert rules.read_text() == RULES  # not without --write


def test_default_grid_and_noise_minutes(prom, rules, capsys) -> None:
    code, report = tune(prom, capsys, "TuneTest")
    assert code == 0
    t = table(report)
    assert sorted({k[0] for k in t}) == pytest.approx(
        [0.035, 0.04, 0.045, 0.05, 0.055, 0.06, 0.065]
    )
    assert sorted({k[1] for k in t}) == ["2m", "4m", "6m"]
    assert t[(0.065, "2m")] == (6, 4, 2, 1)
    assert report["recommendation"] == {"threshold": 0.05, "for": "4m"}
    # Asking for more days than there is history says so (and counts the same).
    argv = ["tune", "TuneTest", "--rules", "rules.yml", "--prometheus", prom.url, "--days", "3"]
    assert main([*argv, "--no-ledger", "--json"]) == 0
    longer = json.loads(capsys.readouterr().out)
    assert any(
        n.startswith("the history starts at") and "2.0 of the 3 days" in n for n in longer["notes"]
    )
    assert table(longer) == table(report)
    # With a 1-minute noise window only the 3-minute excursion (open 1 minute) is noise; the
    # others are "useful" by the heuristic and `for: 4m` would miss them: nothing to gain.
    code, report = tune(prom, capsys, "TuneTest", "--noise-minutes", "1")
    assert code == 1
    assert table(report)[(0.05, "2m")] == (7, 1, 6, 0)
    assert report["recommendation"] is None
    assert report["reason"].startswith("no alternative opens fewer than the current 1 noise")


def test_keep_firing_for_and_gaps_on_real_history(prom, rules, capsys) -> None:
    code, report = tune(prom, capsys, "TuneFlap")
    # keep_firing_for 2m bridges the five one-minute flaps into one 11-minute incident.
    assert table(report)[(0.05, "0s")] == (1, 0, 1, 0)
    # The flaps never hold a minute, so any `for:` misses it: nothing to recommend.
    assert table(report)[(0.05, "1m")] == (0, 0, 0, 1)
    assert code == 1
    # The gap splits d's excursion: two incidents, the second open only 3 minutes.
    code, report = tune(prom, capsys, "TuneGap", "--for", "6m")
    assert table(report)[(0.05, "2m")] == (2, 1, 1, 0)
    assert table(report)[(0.05, "6m")] == (1, 0, 1, 0)
    assert report["recommendation"] == {"threshold": 0.05, "for": "6m"}
    assert code == 0


def test_an_alert_firing_when_the_history_ends_is_ongoing(prom, rules, capsys) -> None:
    from shared.cli import build_parser
    from shared.tune.command import cmd_tune

    # An hour after the last sample: without the cut the gauge would vanish 5 minutes after
    # it (end of the lookback) and the alert would look resolved after ~13 minutes.
    argv = ["tune", "TuneEnd", "--rules", "rules.yml", "--prometheus", prom.url, "--days", "1"]
    args = build_parser().parse_args([*argv, "--no-ledger", "--json"])
    assert cmd_tune(args, now=END + 3600) == 1
    report = json.loads(capsys.readouterr().out)
    assert any(n.startswith("the history ends at") for n in report["notes"])
    current = report["alternatives"][
        report["alternatives"].index(
            next(a for a in report["alternatives"] if (a["threshold"], a["for"]) == (0.05, "2m"))
        )
    ]
    assert (current["incidents"], current["noise"], current["ongoing"]) == (1, 0, 1)
    assert report["reason"] == "the current rule opened no noise incident"


def test_write_applies_the_diff(prom, rules, capsys) -> None:
    argv = ["tune", "TuneTest", "--rules", "rules.yml", "--days", "1", "--prometheus", prom.url]
    code = main([*argv, "--no-ledger", "--write"])
    out = capsys.readouterr().out
    assert code == 0
    assert "recommended: > 0.05 for 4m (now > 0.05 for 2m)" in out
    assert "noise 4 → 0" in out
    assert "run ledger not read (--no-ledger)" in out
    assert "written to rules.yml" in out
    assert rules.read_text() == RULES.replace(
        "        for: 2m\n        labels:", "        for: 4m\n        labels:", 1
    )
    assert rules.read_text().startswith("# Rules for the tune backtest")
    # Now the rule is the recommendation itself: nothing more to recommend.
    code, report = tune(prom, capsys, "TuneTest")
    assert (code, report["recommendation"], report["current"]["for"]) == (1, None, "4m")


def test_chunked_range_queries_equal_one_range_query(prom) -> None:
    from shared.prometheus import PrometheusClient, PrometheusSettings

    client = PrometheusClient(PrometheusSettings(url=prom.url))
    whole = client.range("tune_error_ratio", END - 3 * 3600, END, 60)
    parts = client.range_chunked("tune_error_ratio", END - 3 * 3600, END, 60, max_points=7)
    assert len(whole) == 5 and all(len(s.values) == 181 for s in whole)
    assert sorted(parts, key=str) == sorted(whole, key=str)


# ---- verdicts from the run ledger (Firestore emulator) ----------------------------------------


def record_run(
    store: Ledger, service: str, fired_ago: float, minutes: float, verdict: str = ""
) -> str:
    fp = f"{abs(hash((service, fired_ago))):016x}"[:16]
    alert = Alert(
        name="TuneTest",
        severity="page",
        starts_at=minutes_ago(fired_ago),
        fingerprint=fp,
        labels={"alertname": "TuneTest", "service": service, "severity": "page"},
    )
    run = seed_run(store, alert, plan=["investigate"])
    resolve_run(store, run, ends_at=minutes_ago(fired_ago - minutes))
    if verdict:
        store.update_run(
            run.run_id, {"verdict": {"value": verdict, "by": "U123", "at": datetime.now(UTC)}}
        )
    return run.run_id


def test_no_verdicts_in_the_ledger_says_so(prom, rules, store, capsys) -> None:
    record_run(store, "a", fired_ago=400 - 2, minutes=18)  # the real excursion, not judged
    code, report = tune(prom, capsys, "TuneTest", *GRID_ARGS, ledger=True)
    assert code == 0
    assert report["judgement"].startswith("no verdicts in the run ledger (1 runs of TuneTest")
    assert report["incidents_by_verdict"] == 0
    assert report["recommendation"] == {"threshold": 0.05, "for": "4m"}


def test_a_useful_verdict_on_a_short_excursion_blocks_the_longer_for(
    prom, rules, store, capsys
) -> None:
    # The first 4-minute excursion (fired 2 minutes in) was a real problem, someone says.
    record_run(store, "a", fired_ago=1200 - 2, minutes=2, verdict="useful")
    code, report = tune(prom, capsys, "TuneTest", *GRID_ARGS, ledger=True)
    assert report["incidents_by_verdict"] == 1
    assert "1 of 7 incidents judged by people's verdicts (1 useful, 0 noise)" in report["judgement"]
    assert table(report)[(0.05, "2m")] == (7, 3, 4, 0)
    assert table(report)[(0.05, "4m")] == (3, 0, 3, 1)
    assert report["recommendation"] is None
    assert code == 1


def test_noise_verdicts_move_the_threshold(prom, rules, store, capsys) -> None:
    # People judged the long 0.058 excursion noise (a known batch job), and the b one useful.
    record_run(store, "a", fired_ago=200 - 2, minutes=18, verdict="noise")
    record_run(store, "b", fired_ago=300 - 2, minutes=8, verdict="useful")
    record_run(store, "b", fired_ago=30, minutes=3, verdict="noise")  # nothing fired then
    code, report = tune(prom, capsys, "TuneTest", *GRID_ARGS, ledger=True)
    assert "2 of 7 incidents judged by people's verdicts (1 useful, 1 noise)" in report["judgement"]
    assert "1 judged run(s) match no incident" in report["judgement"]
    assert table(report)[(0.05, "2m")] == (7, 5, 2, 0)
    assert table(report)[(0.06, "4m")] == (2, 0, 2, 0)
    assert table(report)[(0.08, "4m")] == (2, 0, 2, 0)  # as good, but a bigger change
    assert report["recommendation"] == {"threshold": 0.06, "for": "4m"}
    assert code == 0
    assert (
        '-        expr: tune_error_ratio{service=~"a|b"} > 0.05  # a and b only' in report["diff"]
    )
    assert (
        '+        expr: tune_error_ratio{service=~"a|b"} > 0.06  # a and b only' in report["diff"]
    )
    assert "+        for: 4m" in report["diff"]


def test_an_unreachable_ledger_still_tunes_with_prometheus_alone(
    prom, rules, capsys, monkeypatch
) -> None:
    from shared.config import settings

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "alertloop-test")
    settings.cache_clear()
    code, report = tune(prom, capsys, "TuneTest", *GRID_ARGS, ledger=True)
    assert code == 0
    assert "the run ledger is unreachable" in report["judgement"]
    assert report["recommendation"] == {"threshold": 0.05, "for": "4m"}


# ---- the CLI as a user runs it -----------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("alertloop")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "shared.cli"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    return subprocess.run(
        [*cmd, "tune", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_exit_codes(prom, rules) -> None:
    d = rules.parent
    ok = cli(
        "TuneTest",
        "--rules",
        "rules.yml",
        "--days",
        "1",
        "--prometheus",
        prom.url,
        "--no-ledger",
        cwd=d,
    )
    assert ok.returncode == 0, ok.stderr
    assert "+        for: 4m" in ok.stdout
    missing = cli("TuneTests", "--rules", "rules.yml", "--prometheus", prom.url, cwd=d)
    assert missing.returncode == 1
    assert (
        "no alerting rule named 'TuneTests' in rules.yml; did you mean TuneTest" in missing.stderr
    )
    down = cli("TuneTest", "--rules", "rules.yml", "--prometheus", "http://127.0.0.1:9", cwd=d)
    assert down.returncode == 2
    assert "Prometheus: cannot reach Prometheus at http://127.0.0.1:9" in down.stderr
    nowhere = cli("TuneTest", "--rules", "rules.yml", cwd=d)
    assert nowhere.returncode == 2
    assert "no Prometheus: pass --prometheus URL, set PROMETHEUS_URL" in nowhere.stderr
    bad = cli("TuneTest", "--rules", "rules.yml", "--for", "5 minutes", cwd=d)
    assert bad.returncode == 2 and "not a Prometheus duration" in bad.stderr
    usage = cli("--days", cwd=d)
    assert usage.returncode == 2  # argparse
    unreadable = cli("TuneTest", "--rules", "nope.yml", cwd=d)
    assert unreadable.returncode == 2 and "cannot read nope.yml" in unreadable.stderr


def test_the_local_stack_prometheus_is_the_fallback(prom, rules, capsys) -> None:
    stack = rules.parent / ".stack"
    stack.mkdir()
    (stack / "stack.json").write_text(json.dumps({"prometheus_url": prom.url}))
    code = main(["tune", "TuneTest", "--rules", "rules.yml", "--days", "1", "--no-ledger"])
    assert code == 0
    assert "+        for: 4m" in capsys.readouterr().out


# ---- the `make run` demo history ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusSandbox]:
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    with PrometheusSandbox(demo_series(aligned_end(60.0)), tmp_path_factory.mktemp("demo")) as p:
        yield p


def test_demo_history_gets_a_concrete_recommendation(demo_prom, rules, capsys) -> None:
    """What `make run` users see: `alertloop tune HighErrorRate` on the repo's rules file."""
    shutil.copy(ROOT / "deploy" / "prometheus-rules.yml", rules.parent / "deploy.yml")
    argv = ["tune", "HighErrorRate", "--rules", "deploy.yml", "--prometheus", demo_prom.url]
    code = main([*argv, "--no-ledger", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert any("recording rules' expressions" in n for n in report["notes"])
    now = next(a for a in report["alternatives"] if (a["threshold"], a["for"]) == (0.05, "5m"))
    # 9 blips page for a few minutes, two incidents are real, the live spike is still firing.
    assert (now["incidents"], now["noise"], now["ongoing"], now["useful_caught"]) == (12, 9, 1, 2)
    assert report["recommendation"] == {"threshold": 0.05, "for": "10m"}
    assert "-        for: 5m\n+        for: 10m\n" in report["diff"]
    raised = next(a for a in report["alternatives"] if (a["threshold"], a["for"]) == (0.055, "10m"))
    assert raised["useful_missed"] == 1  # raising the threshold would miss the 8% incident
    assert main([*argv, "--no-ledger", "--write"]) == 0
    capsys.readouterr()
    assert "for: 10m" in (rules.parent / "deploy.yml").read_text()

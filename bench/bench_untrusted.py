"""Benchmark: shared.untrusted on ordinary and hostile input, and a check for slow patterns.

    .venv/bin/python -m bench.bench_untrusted [--size 16384]

Not a test: prints timings. Part 1 renders realistic lines and adversarial inputs of `--size`
characters (runs of one repeated unit, the shapes that make backtracking regexes quadratic).
Part 2 runs every pattern — ours and detect-secrets' — on each unit at two lengths and flags
any whose time grows ~4x when the input doubles: run it after upgrading detect-secrets, and give
a flagged detector a required literal in shared.untrusted._DETECTOR_PREFILTER.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from shared import untrusted

UNITS = [
    "//", "//a", "/", "a.", "x-", "a_", ":a", "@", "a:", "eyJa.", "-p", "1", "a", "A", "aws ",
    "= ", '"', "\\", "://", "a@", "_", "mysql ", "curl ", "sqlplus ", "redis-cli ", "sshpass ",
    "Authorization: ", 'password="', 'password=\\"', "password={{", "Cookie: ", "Bearer ",
    "Basic ", "<password>", "--password ", "-----BEGIN PRIVATE KEY-----", "www.", "a=", "a=b;",
    "hooks.slack.com/services/", "sk-", "AKIA", "1234567890:", "password\n", "secret_",
]  # fmt: skip


def _time(fn: object, *args: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=untrusted.MAX_CHARS)
    args = parser.parse_args()

    t = time.perf_counter()
    untrusted.redact("warm up: loads detect-secrets and compiles the rules")
    print(f"first call (detect-secrets import + compile): {time.perf_counter() - t:.3f}s")

    corpus = Path(__file__).resolve().parents[1] / "tests" / "data" / "secrets_corpus.txt"
    lines = [r.split("\t")[-1] for r in corpus.read_text().splitlines() if r and r[0] != "#"]
    per_line = [_time(untrusted.for_mrkdwn, line, 3000, repeat=5) for line in lines]
    print(
        f"corpus: {len(lines)} lines, for_mrkdwn median {statistics.median(per_line) * 1e6:.0f}us"
        f", max {max(per_line) * 1e6:.0f}us"
    )

    worst = []
    for unit in UNITS:
        text = unit * (args.size // len(unit))
        worst.append((_time(untrusted.for_mrkdwn, text, 3000, repeat=1), unit))
    worst.sort(reverse=True)
    print(f"hostile {args.size}-char inputs, slowest five (for_mrkdwn):")
    for seconds, unit in worst[:5]:
        print(f"  {unit!r:32} {seconds:.3f}s")

    patterns: list[tuple[str, re.Pattern[str]]] = [
        (f"own:{p.pattern[:40]}", p) for p, _ in untrusted._rules()
    ] + [(f"detect-secrets:{p.pattern[:40]}", p) for p, _, _ in untrusted._detector_patterns()]
    print("patterns whose time grows quadratically (doubling the input: >3x slower):")
    flagged = 0
    for name, pattern in patterns:
        for unit in UNITS:
            small, large = (unit * (n // len(unit)) for n in (4000, 8000))
            a = _time(pattern.findall, small, repeat=1)
            b = _time(pattern.findall, large, repeat=1)
            if b > 0.02 and b / max(a, 1e-6) > 3:
                flagged += 1
                print(f"  {name!r} on {unit!r}: {a:.3f}s -> {b:.3f}s")
    print(f"  {flagged} flagged (detectors in _DETECTOR_PREFILTER only run on matching text)")


if __name__ == "__main__":
    main()

"""An alert storm: 1,000 alerts in one webhook are all recorded and followed through their plan,
and Slack gets one digest for the group instead of a thousand parents."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from sandbox.stack import Stack, fire, wait_for
from shared.envelope import utcnow

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
N = 1000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with Stack(tmp_path_factory.mktemp("stack")) as st:
        yield st


def storm_body() -> dict:
    body = json.loads((ROOT / "tests" / "data" / "alertmanager_v4.json").read_text())
    template = body["alerts"][0]
    body["groupKey"] = '{}:{alertname="HighMemoryUsage"}'
    body["alerts"] = []
    start = utcnow().isoformat()
    for i in range(N):
        a = copy.deepcopy(template)
        a["labels"] = {
            "alertname": "HighMemoryUsage",
            "namespace": f"team-{i % 7}",
            "pod": f"worker-{i}",
            "severity": "warning",
        }
        a["annotations"] = {"summary": "memory above 85% of limit"}
        a["fingerprint"] = f"storm{i:06d}"
        a["startsAt"] = start
        body["alerts"].append(a)
    return body


def test_a_thousand_alerts_one_digest_every_run_recorded(stack: Stack, monkeypatch) -> None:
    monkeypatch.setenv("ALERTLOOP_TOPIC_PREFIX", "alertloop-")
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.config import settings

    settings.cache_clear()
    storm = storm_body()
    t0 = time.monotonic()
    resp = fire(stack.ingest_url, storm, timeout=120)
    took = time.monotonic() - t0
    assert resp.status_code == 200, resp.text[:500]
    body = resp.json()
    assert body["counts"] == {"accepted": N}, body["counts"]
    print(f"ingest accepted {N} alerts in {took:.1f}s")

    runs = firestore.Client(project="alertloop-local").collection("runs")

    def investigated() -> int:
        return sum(
            1
            for s in runs.where(filter=FieldFilter("alert_type", "==", "HighMemoryUsage")).stream()
            if (s.to_dict() or {}).get("findings", {}).get("investigate")
        )

    wait_for(lambda: investigated() >= N, 240, f"all {N} runs investigated")
    parents = stack.slack.parents()
    assert len(parents) == 1, [p.text[:80] for p in parents[:5]]
    assert (
        parents[0].blocks[0]["text"]["text"] == f"ALERT STORM: {N} alerts in one group ({N} firing)"
    )
    assert "HighMemoryUsage x1000" in parents[0].blocks[1]["text"]["text"]
    # Alertmanager repeats the group (repeat_interval): nothing new, no new message.
    again = fire(stack.ingest_url, storm, timeout=120)
    assert again.json()["counts"] == {"duplicate": N}
    time.sleep(2)
    assert len(stack.slack.parents()) == 1

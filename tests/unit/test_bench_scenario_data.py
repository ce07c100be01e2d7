"""The diagnosis benchmark's dumps say what a real cluster would say.

Two writers' generators produced states no controller writes (holdout3: Ready=False with reason
KubeletReady; holdout5/6: pods without the labels their controller's selector needs), and the
scores then measured the data, not the code. These checks catch that class before a set is scored.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube.selectors import label_selector_matches
from shared.workload.resolve import selector_string

BENCH = Path(__file__).resolve().parents[2] / "bench" / "diagnosis"
DUMPS = sorted(BENCH.glob("*/*/dump.yaml"))
CONTROLLERS = ("Job", "ReplicaSet", "StatefulSet", "DaemonSet")


@functools.cache
def _items(dump: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 187 dumps in ~1 s
    return list((yaml.load(dump.read_text(), Loader=loader) or {}).get("items") or [])  # noqa: S506


def _where(dump: Path) -> str:
    return str(dump.parent.relative_to(BENCH))


def test_every_split_has_dumps() -> None:
    assert len(DUMPS) >= 180


@pytest.mark.parametrize("dump", DUMPS, ids=_where)
def test_owned_pods_carry_the_labels_of_their_controllers_selector(dump: Path) -> None:
    # A controller creates its pods from a template that its selector matches (the API server
    # refuses a Deployment/StatefulSet/DaemonSet whose template does not match; a Job gets
    # batch.kubernetes.io/controller-uid on template and pods, and a ReplicaSet's pods get
    # pod-template-hash: kubernetes.io/docs/concepts/workloads/controllers/job/#job-labels).
    items = _items(dump)
    owners = {
        (i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]): i
        for i in items
        if i.get("kind") in CONTROLLERS
    }
    wrong = []
    for pod in (i for i in items if i.get("kind") == "Pod"):
        md = pod["metadata"]
        for ref in md.get("ownerReferences") or []:
            owner = owners.get((ref.get("kind"), md.get("namespace"), ref.get("name")))
            if owner is None:
                continue
            selector = selector_string((owner.get("spec") or {}).get("selector"))
            if selector and not label_selector_matches(selector, md.get("labels") or {}):
                wrong.append(f"{md['name']} does not match {ref['kind']} selector {selector}")
            if ref.get("uid") and ref["uid"] != owner["metadata"].get("uid"):
                wrong.append(f"{md['name']}: ownerReference uid is not {ref['name']}'s")
    assert not wrong, wrong


@pytest.mark.parametrize("dump", DUMPS, ids=_where)
def test_node_ready_reasons_agree_with_the_status(dump: Path) -> None:
    # The kubelet writes Ready=True with reason KubeletReady and Ready=False with
    # KubeletNotReady (pkg/kubelet/nodestatus/setters.go); the node controller writes Unknown.
    wrong = []
    for node in (i for i in _items(dump) if i.get("kind") == "Node"):
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") != "Ready":
                continue
            reason, status = cond.get("reason"), cond.get("status")
            if (reason == "KubeletReady") != (status == "True"):
                wrong.append(f"{node['metadata']['name']}: Ready={status} reason={reason}")
    assert not wrong, wrong

"""Each function of the local stack gets only what it reads (shared/envvars.py), and its own
Kubernetes identity when it has one: what a deployed function gets."""

from __future__ import annotations

from pathlib import Path

from sandbox.stack import Stack, sandbox_identities


def test_a_function_is_withheld_what_it_does_not_read(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    for name in ("ingest", "notify", "budget", "approve"):
        assert {"KUBECONFIG", "KUBE_CONFIG_DATA"} <= set(stack.withheld(name)), name
    assert "SLACK_SIGNING_SECRET" in stack.withheld("notify")
    assert "SLACK_BOT_TOKEN" in stack.withheld("investigate")
    assert "PROMETHEUS_URL" in stack.withheld("remediate")
    assert "ALERTLOOP_WEBHOOK_TOKEN" in stack.withheld("dispatch")
    for name in ("investigate", "remediate", "rollback", "dispatch", "sweeper"):
        assert "KUBECONFIG" not in stack.withheld(name)
    assert "ALERTLOOP_TOPIC_PREFIX" not in stack.withheld("notify")  # every function's
    assert "ALERTLOOP_INGEST_URL" in stack.withheld("ingest")  # the CLI's, nobody else's


def test_an_own_identity_replaces_every_inherited_credential(tmp_path: Path) -> None:
    ids = sandbox_identities({"investigate": "/k/investigate", "rollback": "/k/rollback"})
    stack = Stack(tmp_path, function_overrides=ids)
    assert ids["rollback"] == {"KUBECONFIG": "/k/rollback"}
    withheld = set(stack.withheld("rollback"))
    assert {"KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST"} <= withheld
    assert "KUBECONFIG" not in withheld  # its own
    assert "KUBE_CONFIG_DATA" not in stack.withheld("remediate")  # no identity of its own here

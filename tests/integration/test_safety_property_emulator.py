"""The safety properties of test_safety_property.py on the Firestore emulator: the same checks and
strategies, a tenth of the examples (the full searches run on the in-memory ledger, which
test_ledger_contract.py holds to Firestore's behaviour). A file of its own so that the parallel
suite (pytest-xdist, one file per worker) runs it beside the in-memory search, not after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.kube_api import KubeApiServer
from shared.ledger import Ledger
from tests.conftest import reset_settings
from tests.integration.test_safety_property import (
    ALERTS,
    EXAMPLES,
    OWNED_EXAMPLES,
    ROLLBACK_EXAMPLES,
    OldRevision,
    Spec,
    World,
    check_rollback,
    check_world,
    events,
    kube_env,
    old_revisions,
    on_emulator,
    owned_specs,
    specs,
)

pytestmark = pytest.mark.integration

__all__ = ["kube_env"]  # the module fixture, shared by import


@pytest.fixture(scope="module")
def emulator_world(emulators, kube_env: KubeApiServer) -> Iterator[World]:
    """A smaller search on the Firestore emulator: the same checks, Firestore underneath."""
    mp = pytest.MonkeyPatch()
    for key, value in emulators.env().items():
        mp.setenv(key, value)
    reset_settings()
    try:
        yield World(kube_env, Ledger())
    finally:
        mp.undo()
        reset_settings()


@pytest.mark.timeout(max(300, int(on_emulator(EXAMPLES, 50) * 0.5)))
@settings(
    max_examples=on_emulator(EXAMPLES, 50),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(spec=specs, alert_name=st.sampled_from(ALERTS), steps=events)
def test_no_unsafe_write_whatever_happens_on_the_emulator(
    emulator_world: World, spec: Spec, alert_name: str, steps
) -> None:
    check_world(emulator_world, spec, alert_name, steps)


@pytest.mark.timeout(max(300, on_emulator(OWNED_EXAMPLES, 10) * 4))
@settings(
    max_examples=on_emulator(OWNED_EXAMPLES, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    spec=owned_specs,
    alert_name=st.sampled_from(("HighCPUUsage", "KubeHpaMaxedOut", "ApplicationDown")),
    steps=events,
)
def test_no_write_an_owner_reverts_on_the_emulator(
    emulator_world: World, spec: Spec, alert_name: str, steps
) -> None:
    check_world(emulator_world, spec, alert_name, steps)


@pytest.mark.timeout(300)
@settings(
    max_examples=on_emulator(ROLLBACK_EXAMPLES, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(old=old_revisions)
def test_no_rollback_writes_an_unsafe_template_or_settles_wrong_on_the_emulator(
    emulator_world: World, old: OldRevision
) -> None:
    check_rollback(emulator_world, old)

"""The e2e modules' shared stack: one boot (two JVM emulators, twelve functions-framework
processes) for every module that runs the loop as `make run` starts it, without settings of its
own and without killing or reconfiguring anything. A module that does either (poison replay,
humans, reliability, approval, storm) keeps a stack of its own.

Tests that share it tell their incidents apart by a marker of their own in the alert (Slack's
`find_parent(marker)`), never by counting everything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.stack import Stack


@pytest.fixture(scope="session")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("default-stack")) as stack:
        yield stack

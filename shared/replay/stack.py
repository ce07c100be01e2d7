"""Finding the local stack (`make run` writes .stack/stack.json) when the environment does not
name the emulators and project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared import envvars
from shared.config import settings
from shared.replay.errors import USAGE, ReplayError

STACK_FILE = Path(".stack/stack.json")  # written by `make run`
# stack.json key -> environment variable it fills when the environment leaves it unset.
STACK_ENV_KEYS = {
    "pubsub_host": "PUBSUB_EMULATOR_HOST",
    "firestore_host": "FIRESTORE_EMULATOR_HOST",
    "project": "GOOGLE_CLOUD_PROJECT",
}


def load_stack_env(path: Path = STACK_FILE, environ: Any = None) -> list[str]:
    """Fill unset emulator/project variables from the local stack file; returns what was set.
    (It writes the environment: the Google clients read these variables themselves.)"""
    env = os.environ if environ is None else environ
    if not path.exists():
        return []
    try:
        local = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReplayError(f"cannot read {path}: {exc}", USAGE) from exc
    if not isinstance(local, dict):
        raise ReplayError(f"{path} is not a JSON object", USAGE)
    filled = []
    for key, var in STACK_ENV_KEYS.items():
        value = local.get(key)
        if isinstance(value, str) and value and not envvars.is_set(var, env):
            env[var] = value
            filled.append(var)
    if filled:
        settings.cache_clear()
    return filled

"""`alertloop replay`: runs, dead letters, seek and snapshots (one module each)."""

from shared.replay.command import add_replay_parser, run_replay
from shared.replay.dead_letter_replay import DEAD_LETTER_SUBSCRIPTION
from shared.replay.errors import ReplayError
from shared.replay.stack import load_stack_env

__all__ = [
    "DEAD_LETTER_SUBSCRIPTION",
    "ReplayError",
    "add_replay_parser",
    "load_stack_env",
    "run_replay",
]

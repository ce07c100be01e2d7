"""Exit codes and the one error type of `alertloop replay`."""

from __future__ import annotations

OK, NOTHING, USAGE = 0, 1, 2


class ReplayError(RuntimeError):
    """Replay cannot proceed; `code` is the exit code to return."""

    def __init__(self, message: str, code: int = NOTHING) -> None:
        super().__init__(message)
        self.code = code

"""The clients a function uses, created once per instance and on first use (cold start stays
cheap); tests and callers inject their own through the constructor."""

from __future__ import annotations

from shared.bus import Bus
from shared.config import Settings, settings
from shared.ledger import Ledger


class Deps:
    def __init__(
        self, cfg: Settings | None = None, ledger: Ledger | None = None, bus: Bus | None = None
    ) -> None:
        self._cfg = cfg
        self._ledger = ledger
        self._bus = bus

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger()
        return self._ledger

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus()
        return self._bus

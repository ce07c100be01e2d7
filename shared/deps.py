"""The clients every consumer uses (settings, the ledger, the bus), built the one way
(shared.lazy): once per instance, on first use; tests and callers inject their own."""

from __future__ import annotations

from shared.bus import Bus
from shared.config import Settings, settings
from shared.lazy import lazy
from shared.ledger import Ledger


class Deps:
    """Settings, the ledger and the bus; subclasses add their own clients with `lazy`."""

    ledger = lazy(lambda _: Ledger())
    bus = lazy(lambda _: Bus())

    def __init__(
        self, cfg: Settings | None = None, ledger: Ledger | None = None, bus: Bus | None = None
    ) -> None:
        self._cfg = cfg
        self.ledger = ledger
        self.bus = bus

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

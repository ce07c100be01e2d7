"""The run ledger on Firestore: the one truth every function reads and records to.

Only this package touches Firestore collections (collection names are prefixed by
ALERTLOOP_COLLECTION_PREFIX). One class, assembled from one module per domain:

  runs          runs/, fingerprints/, incidents/, groups/         (shared.ledger.runs)
  stages        idempotency/, leases/                             (shared.ledger.stages)
  deadletters   deadletters/                                      (shared.ledger.deadletters)
"""

from __future__ import annotations

from shared.ledger.base import LedgerError
from shared.ledger.deadletters import DeadLettersLedger
from shared.ledger.runs import STAGE_STATE, Dispatch, NewRun, RunsLedger
from shared.ledger.stages import Claim, StagesLedger


class Ledger(RunsLedger, StagesLedger, DeadLettersLedger):
    """Firestore client created lazily, once per instance (cold start stays cheap)."""


__all__ = ["STAGE_STATE", "Claim", "Dispatch", "Ledger", "LedgerError", "NewRun"]

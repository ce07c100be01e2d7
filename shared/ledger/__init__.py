"""The run ledger on Firestore: the one truth every function reads and records to.

Only this package touches Firestore collections (collection names are prefixed by
ALERTLOOP_COLLECTION_PREFIX). One class, assembled from one module per domain:

  runs          runs/, fingerprints/, incidents/, groups/         (shared.ledger.runs)
  correlation   workloads/ (one incident per workload)            (shared.ledger.correlation)
  stages        idempotency/, leases/                             (shared.ledger.stages)
  guardrails    locks/, attempts/, ratelimit/, audit/             (shared.ledger.guardrails)
  approvals     approvals/                                        (shared.ledger.approvals)
  deadletters   deadletters/                                      (shared.ledger.deadletters)
  interactions  interactions/, incidents' human state, verdicts   (shared.ledger.interactions)
"""

from __future__ import annotations

from shared.ledger.approvals import ApprovalsLedger
from shared.ledger.base import LedgerError
from shared.ledger.deadletters import DeadLettersLedger
from shared.ledger.guardrails import Denied, Earlier, GuardrailLedger, Reserved, WriteRequest
from shared.ledger.interactions import HumanChange, InteractionClaim, InteractionsLedger
from shared.ledger.runs import STAGE_STATE, Dispatch, NewRun, RunsLedger
from shared.ledger.stages import Claim, StagesLedger


class Ledger(
    RunsLedger,
    StagesLedger,
    GuardrailLedger,
    ApprovalsLedger,
    DeadLettersLedger,
    InteractionsLedger,
):
    """Firestore client created lazily, once per instance (cold start stays cheap)."""


__all__ = [
    "STAGE_STATE",
    "Claim",
    "Denied",
    "Dispatch",
    "Earlier",
    "HumanChange",
    "InteractionClaim",
    "Ledger",
    "LedgerError",
    "NewRun",
    "Reserved",
    "WriteRequest",
]

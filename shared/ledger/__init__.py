"""The run ledger: the one truth every function reads and records to.

Only this package touches Firestore collections (collection names are prefixed by
ALERTLOOP_COLLECTION_PREFIX). One class, assembled from one module per domain:

  runs          runs/, fingerprints/, incidents/, groups/         (shared.ledger.runs)
  correlation   workloads/ (one incident per workload)            (shared.ledger.correlation)
  stages        idempotency/, leases/                             (shared.ledger.stages)
  guardrails    locks/, attempts/, ratelimit/, audit/             (shared.ledger.guardrails)
  approvals     approvals/                                        (shared.ledger.approvals)
  autonomy      autonomy/ (earned mode per alert type, action, workload) (shared.ledger.autonomy)
  deadletters   deadletters/                                      (shared.ledger.deadletters)
  interactions  interactions/, incidents' human state, verdicts   (shared.ledger.interactions)
  queries       read-only views for the console and /metrics      (shared.ledger.queries)
  outcomes      outcomes/, brakes/ (did the action work? the brake) (shared.ledger.outcomes)

Each part has a typed interface (shared.ledger.parts) for callers that need only one. The
storage is Firestore, or in tests the in-memory stand-in of the Firestore client
(`Ledger(client=MemoryFirestore())`, shared.ledger.memory): the same ledger code runs on both,
and tests/integration/test_ledger_contract.py holds both to one contract (docs/contracts.md).
"""

from __future__ import annotations

from shared.ledger.approvals import ApprovalsLedger
from shared.ledger.autonomy import AutonomyLedger, AutonomyUpdate
from shared.ledger.base import LedgerError, document_id_ok
from shared.ledger.deadletters import DeadLettersLedger
from shared.ledger.guardrails import Denied, Earlier, GuardrailLedger, Reserved, WriteRequest
from shared.ledger.interactions import HumanChange, InteractionClaim, InteractionsLedger
from shared.ledger.outcomes import OutcomesLedger
from shared.ledger.queries import IncidentFilter, IncidentPage, IncidentRecord, QueriesLedger
from shared.ledger.runs import STAGE_STATE, Dispatch, NewRun, RunsLedger
from shared.ledger.stages import Claim, StagesLedger


class Ledger(
    RunsLedger,
    StagesLedger,
    GuardrailLedger,
    ApprovalsLedger,
    DeadLettersLedger,
    InteractionsLedger,
    QueriesLedger,
    OutcomesLedger,
    AutonomyLedger,
):
    """Firestore client created lazily, once per instance (cold start stays cheap)."""


__all__ = [
    "STAGE_STATE",
    "AutonomyUpdate",
    "Claim",
    "Denied",
    "Dispatch",
    "Earlier",
    "HumanChange",
    "IncidentFilter",
    "IncidentPage",
    "IncidentRecord",
    "InteractionClaim",
    "Ledger",
    "LedgerError",
    "NewRun",
    "Reserved",
    "WriteRequest",
    "document_id_ok",
]

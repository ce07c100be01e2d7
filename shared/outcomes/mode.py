"""How much autonomy an action has on a workload: the one decision point remediation asks
before an automatic write (shared.remediation.core `_carry_out`).

Today: `approve` when the policy requires approval for the alert type, else `auto`. This is the
hook for owner-aware actions (Argo CD / Flux / Config Sync / KEDA / Helm) and earned autonomy
(auto / approve / off per alert type, action and workload class): they decide here, from the
plan and the workload, without touching the write path. The outcome brakes stay in the
reservation transaction (shared.ledger.guardrails), whatever this answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.policy import AlertPolicy

Mode = Literal["auto", "approve", "off"]


@dataclass(frozen=True)
class Autonomy:
    mode: Mode
    reason: str = ""  # why not `auto` (shown in the refusal or the proposal)


def action_mode(entry: AlertPolicy, action: str, workload: dict[str, str]) -> Autonomy:
    """`action`: restart | scale_deployment | raise_hpa_max; `workload`: kind/namespace/name."""
    if entry.guardrails.approval_required:
        return Autonomy("approve", "the policy requires approval (guardrails.approval_required)")
    return Autonomy("auto")

"""Remediation (issue 4): guarded, audited cluster changes and rollback proposals.

`remediate(envelope) -> Finding` is the remediate stage's entry point. Modules:

- `settings`: environment settings (allowlist, rate limit, verification wait, approval TTL)
- `decide`: pure decisions (restart / scale / raise HPA max / rollback proposal / nothing)
- `change_gate`: the one module deciding whether a change may reach the cluster (every
  guardrail, static and durable) and auditing every refusal
- the audit trail and approval proposals are `shared.audit`'s
- `verify`: bounded wait for a change to take effect
- `core`: the flow
"""

from __future__ import annotations

from shared.remediation.core import remediate

__all__ = ["remediate"]

"""Outcome verification: was the alert an action was meant to clear cleared? (docs/outcomes.md)

judge      pure: the evidence -> fixed | not fixed | cleared anyway, and the `Outcome:` line
schedule   after an automatic action or an approved rollback: the check, due after the window
evidence   the alert (ledger, Alertmanager API v2), the policy's PromQL success condition,
           the workload's pods, the `ALERTS` baseline
sweep      the sweeper's part: evaluate due checks, record each once, post, trip the brakes;
           relapses (fixed, then firing again within 24 h)
brake      trip / resume (audited); the reservation transaction reads it (shared.ledger)
"""

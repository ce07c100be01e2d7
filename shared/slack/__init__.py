"""Slack, the protocol: Block Kit helpers (blocks), incident rendering (incident, controls), the
Web API and response_url clients (client, response_url), request signing (signing) and the
clicks local tools simulate (simulated_clicks).

What alertloop does with Slack lives with the domain: shared.notifier projects an incident onto
its thread, shared.interaction acts on clicks. Modules are imported where used (no re-exports
here): interact's cold start stays small.
"""

"""People in the loop, from Slack: acknowledge, silence, take over, judge, approve.

interact (HTTP) verifies and queues a click within Slack's 3 seconds (shared.interaction.request,
.permissions); the `act` worker does it (shared.interaction.worker), the parent shows it
(shared.slack.controls). Modules are imported where used: interact's cold start stays small.
"""

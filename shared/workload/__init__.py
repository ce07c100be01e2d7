"""The workload an alert is about: one place for "which Deployment/StatefulSet/... is this?".

- labels: what the alert's labels name (pure; the one resolver of which label names the
  workload, used by intake, the Slack parent, guardrail targets and correlation).
- resolve: the same labels resolved against the cluster (a pod through its owners, a service
  through its selector, an app through a workload or pods of that name).
- incident: the workload dispatch keys an incident on, decided before the incident is chosen
  (resolved through the cluster when a label names a pod, service or app; cached per process).

Which workload remediation would *change* is remediation's own decision, with its guardrails
(shared.remediation.target): it uses these modules and stays there.
Nothing is re-exported here: the pure labels module stays free of client libraries.
"""

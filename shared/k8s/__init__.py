"""Kubernetes access shared by the stages: client factory, errors, names, reads and writes.

Import the submodules; nothing here imports the kubernetes package (cold start):

- `shared.k8s.client`: `load_clients`, `KubeClients` (typed APIs + `call`), `ClientFactory`
- `shared.k8s.settings`: `k8s_settings`, `K8sSettings` (env vars)
- `shared.k8s.errors`: `K8sError` and its subclasses
- `shared.k8s.names`: DNS-1123 validation
- `shared.k8s.reads`: pods, events, logs, rollout history, HPAs, metrics-server

Which workload an alert is about (`resolve_workload`, `WorkloadRef`) is `shared.workload`;
GKE credentials are `shared.clusters.gke`.
"""

"""Clusters: which ones alertloop may act on and how each is reached.

- table: the cluster table (ALERTLOOP_CLUSTERS_FILE / ALERTLOOP_CLUSTERS), validated; no client.
- routing: which cluster an alert and each stage of its run work on (pure `route`, a
  `RoutingProblem` otherwise: never a silent fallback), and the finding of an unrouted stage.
- clients: Kubernetes and Prometheus clients per cluster, cached per process.
- gke: GKE credentials and endpoints with the process's own Google identity.

Nothing is re-exported here: importing the table stays free of kubernetes and Google clients.
"""

"""The sandbox Kubernetes API server, one concern per module:

server        KubeApiServer: HTTP(S) on 127.0.0.1, authentication (static and Google tokens),
              RBAC, kubeconfigs, test hooks
request       path -> group/version/namespace/resource/name/subresource and the RBAC verb
handlers      REST semantics: get/list/create/update/patch/delete, pods/log, */scale, */status
validation    the field validation a write gets (422)
patches       merge, strategic merge and JSON patch
selectors     label and field selectors
store         the objects, pod logs and resourceVersions
discovery     /version, /api, /apis
controller    the deployment controller (asynchronous, like kube-controller-manager's)
objects       what the controller creates: ReplicaSets, pods, events
rbac          users; Role/ClusterRole/(Cluster)RoleBinding evaluation (the one RBAC engine)
access_review SubjectAccessReviews answered by that engine
tls           a throw-away CA and server certificate (cryptography)
faults        configured failures for tests
scenario      the objects a server starts with
dump          a user's `kubectl get … -A -o yaml` dump as a scenario
cli           `python -m sandbox.kube_api`
"""

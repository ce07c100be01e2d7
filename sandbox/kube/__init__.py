"""The sandbox Kubernetes API server, one concern per module:

server        KubeApiServer: HTTP(S) on 127.0.0.1, authentication, RBAC, kubeconfigs, test hooks
request       path -> group/version/namespace/resource/name/subresource and the RBAC verb
handlers      REST semantics: get/list/create/update/patch/delete, pods/log, */scale, */status
validation    the field validation a write gets (422)
patches       merge, strategic merge and JSON patch
selectors     label and field selectors
store         the objects, pod logs and resourceVersions
discovery     /version, /api, /apis
controller    the deployment controller (asynchronous, like kube-controller-manager's)
objects       what the controller creates: ReplicaSets, pods, events
rbac          bearer tokens -> users; Role/ClusterRole/(Cluster)RoleBinding evaluation
tls           a throw-away CA and server certificate (openssl)
faults        configured failures for tests
scenario      the objects a server starts with
dump          a user's `kubectl get … -A -o yaml` dump as a scenario
cli           `python -m sandbox.kube_api`
"""

"""The sandbox Kubernetes API server, one concern per module:

server        KubeApiServer: HTTP(S) on 127.0.0.1, kubeconfigs, test hooks
request       path -> group/version/namespace/resource/name/subresource and RBAC verb
handlers      REST semantics: get/list/create/update/patch/delete, log, scale, status
patches       merge, strategic merge and JSON patch
selectors     label and field selectors
store         the objects, pod logs and resourceVersions
discovery     /version, /api, /apis
controller    the deployment controller
faults        configured failures for tests
scenario      the objects a server starts with
"""

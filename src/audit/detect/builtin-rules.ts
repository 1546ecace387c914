// The built-in detection rules, in the same YAML format users write (`audit detect --rules FILE`
// merges a user file over these by rule name). Embedded as a string so `tsc` ships it in dist/.
// Documented rule by rule in docs/audit.md ("Detections"); keep the two in step.
export const BUILTIN_RULES_YAML = `
rules:
  - name: privileged-container
    severity: critical
    description: pod or workload template with a privileged container (containers, initContainers or ephemeralContainers)
    when:
      - field: resource
        in: [pods, deployments, daemonsets, statefulsets, replicasets, replicationcontrollers, jobs, cronjobs]
      - field: verb
        in: [create, update, patch]
      - field: subresource
        exists: false
      - any:
          - path: podSpec.containers[*].securityContext.privileged
            equals: true
          - path: podSpec.initContainers[*].securityContext.privileged
            equals: true
          - path: podSpec.ephemeralContainers[*].securityContext.privileged
            equals: true

  - name: host-path-volume
    severity: high
    description: pod or workload template mounting a hostPath volume
    when:
      - field: resource
        in: [pods, deployments, daemonsets, statefulsets, replicasets, replicationcontrollers, jobs, cronjobs]
      - field: verb
        in: [create, update, patch]
      - field: subresource
        exists: false
      - path: podSpec.volumes[*].hostPath.path
        exists: true

  - name: host-namespaces
    severity: high
    description: pod or workload template sharing the node's network, PID or IPC namespace (hostNetwork, hostPID, hostIPC)
    when:
      - field: resource
        in: [pods, deployments, daemonsets, statefulsets, replicasets, replicationcontrollers, jobs, cronjobs]
      - field: verb
        in: [create, update, patch]
      - field: subresource
        exists: false
      - any:
          - path: podSpec.hostNetwork
            equals: true
          - path: podSpec.hostPID
            equals: true
          - path: podSpec.hostIPC
            equals: true

  - name: pod-exec-attach-portforward
    severity: high
    description: exec, attach or port-forward into a pod (every attempt, whatever the response code)
    when:
      - field: resource
        equals: pods
      - field: subresource
        in: [exec, attach, portforward]

  - name: ephemeral-container-added
    severity: high
    description: ephemeral container added to a running pod (pods/ephemeralcontainers, e.g. kubectl debug)
    when:
      - field: resource
        equals: pods
      - field: subresource
        equals: ephemeralcontainers
      - field: verb
        in: [create, update, patch]

  - name: cluster-admin-binding
    severity: critical
    description: RoleBinding or ClusterRoleBinding to the cluster-admin ClusterRole created or changed
    when:
      - field: apiGroup
        equals: rbac.authorization.k8s.io
      - field: resource
        in: [rolebindings, clusterrolebindings]
      - field: subresource
        exists: false
      - field: verb
        in: [create, update, patch]
      - path: object.roleRef.kind
        equals: ClusterRole
      - path: object.roleRef.name
        equals: cluster-admin

  - name: wildcard-role
    severity: high
    description: Role or ClusterRole granting wildcard verbs or resources ("*") created or changed
    when:
      - field: apiGroup
        equals: rbac.authorization.k8s.io
      - field: resource
        in: [roles, clusterroles]
      - field: subresource
        exists: false
      - field: verb
        in: [create, update, patch]
      - any:
          - path: object.rules[*].verbs[*]
            equals: "*"
          - path: object.rules[*].resources[*]
            equals: "*"

  - name: secret-read-by-non-system-user
    severity: medium
    description: Secret read (get, list or watch) by a user that is not a system component (every attempt, whatever the response code)
    when:
      - field: resource
        equals: secrets
      - field: apiGroup
        equals: ""
      - field: verb
        in: [get, list, watch]
      - field: userKind
        in: [user, serviceaccount, anonymous]

  - name: anonymous-request-allowed
    severity: high
    description: request by system:anonymous (or an unauthenticated user) that was allowed (2xx), health and version endpoints excepted
    when:
      - field: userKind
        equals: anonymous
      - field: code
        gte: 200
      - field: code
        lt: 300
      - not:
          field: requestURI
          matches: '^/(healthz|livez|readyz|version)(/|[?]|$)'

  - name: nodeport-service
    severity: medium
    description: Service of type NodePort created or changed (opens a port on every node)
    when:
      - field: resource
        equals: services
      - field: apiGroup
        equals: ""
      - field: subresource
        exists: false
      - field: verb
        in: [create, update, patch]
      - path: object.spec.type
        equals: NodePort

  - name: kube-system-pod-by-non-system-user
    severity: high
    description: pod created in kube-system by a user that is not a system component
    when:
      - field: resource
        equals: pods
      - field: apiGroup
        equals: ""
      - field: subresource
        exists: false
      - field: verb
        equals: create
      - field: namespace
        equals: kube-system
      - field: userKind
        in: [user, serviceaccount, anonymous]
`;

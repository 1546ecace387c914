// RESOURCE arguments of `audit history`: plural (`deployments`), plural.group
// (`deployments.apps`), kubectl short names (`deploy`) and kinds (`deployment`, `Deployment`).

const ALIASES: Record<string, string> = {
  po: "pods", pod: "pods",
  svc: "services", service: "services",
  cm: "configmaps", configmap: "configmaps",
  secret: "secrets",
  ns: "namespaces", namespace: "namespaces",
  no: "nodes", node: "nodes",
  sa: "serviceaccounts", serviceaccount: "serviceaccounts",
  deploy: "deployments", deployment: "deployments",
  rs: "replicasets", replicaset: "replicasets",
  ds: "daemonsets", daemonset: "daemonsets",
  sts: "statefulsets", statefulset: "statefulsets",
  job: "jobs",
  cj: "cronjobs", cronjob: "cronjobs",
  ing: "ingresses", ingress: "ingresses",
  pvc: "persistentvolumeclaims", persistentvolumeclaim: "persistentvolumeclaims",
  pv: "persistentvolumes", persistentvolume: "persistentvolumes",
  ep: "endpoints",
  role: "roles", rolebinding: "rolebindings",
  clusterrole: "clusterroles", clusterrolebinding: "clusterrolebindings",
  crd: "customresourcedefinitions", crds: "customresourcedefinitions",
  hpa: "horizontalpodautoscalers",
  netpol: "networkpolicies",
  quota: "resourcequotas", limits: "limitranges",
};

export interface ResourceRef {
  resource: string;
  /** Undefined: any group. "" means the core group. */
  group?: string;
}

export function parseResource(arg: string): ResourceRef {
  const dot = arg.indexOf(".");
  const head = (dot > 0 ? arg.slice(0, dot) : arg).toLowerCase();
  const resource = ALIASES[head] ?? head;
  return dot > 0 ? { resource, group: arg.slice(dot + 1) } : { resource };
}

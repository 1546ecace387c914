// audit.k8s.io/v1 Policy, as the API server decodes it (k8s.io/apiserver/pkg/apis/audit/v1).
// Omitted lists are empty lists: the checker treats "empty" as "no constraint".

export const LEVELS = ["None", "Metadata", "Request", "RequestResponse"] as const;
export type Level = (typeof LEVELS)[number];

export const STAGES = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"] as const;
export type Stage = (typeof STAGES)[number];

export interface GroupResources {
  /** "" is the core API group; an omitted group decodes to "" as well. */
  group: string;
  resources: string[];
  resourceNames: string[];
  /** The file left `group` out (it still means the core group). */
  groupOmitted?: boolean;
}

export interface PolicyRule {
  level: Level;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: Stage[];
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion: string;
  rules: PolicyRule[];
  omitStages: Stage[];
  omitManagedFields?: boolean;
}

export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

export function isLevel(v: string): v is Level {
  return (LEVELS as readonly string[]).includes(v);
}

export function isStage(v: string): v is Stage {
  return (STAGES as readonly string[]).includes(v);
}

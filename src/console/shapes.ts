// The JSON the console's routes answer and its page reads: declared once, for both sides. Types
// only (no imports, no code): the server (tsconfig.json) and the page (tsconfig.web.json, bundled
// by esbuild, which drops type imports) compile this file alike.

// Audit: the filter bar's summary and the histogram (GET /api/console/audit/summary, /histogram).
export interface Summary {
  events: number;
  from: string | null;
  to: string | null;
  verbs: string[];
  resources: string[];
  namespaces: string[];
  codes: number[];
}

export interface Histogram {
  from: string | null;
  to: string | null;
  stepMs: number;
  buckets: { t: string; count: number; errors: number }[];
}

// Audit: the timeline (GET /api/console/audit/timeline).
export interface LaneRevision {
  ts: string;
  audit_id: string;
  stage: string;
  verb: string;
  subresource: string | null;
  user: string | null;
  code: number | null;
}

export type MarkType = "delete" | "error" | "denied" | "detection";

export interface LaneMark {
  ts: string;
  audit_id: string;
  stage: string;
  type: MarkType;
  label: string;
}

export interface Lane {
  /** `resource/namespace/name`: resource as `plural` or `plural.group`, namespace "-" when cluster-scoped. */
  key: string;
  /** `plural` for the core group, `plural.group` otherwise (what `history?resource=` takes). */
  resource: string;
  /** "" for the core group. */
  apiGroup: string;
  namespace: string | null;
  name: string;
  revisions: LaneRevision[];
  marks: LaneMark[];
}

export interface Timeline {
  from: string | null;
  to: string | null;
  /** Objects with at least one revision or mark under the filter (lanes holds at most `lanes` of them). */
  totalObjects: number;
  /** Lanes or events were left out (more objects than lanes, more events than MAX_TIMELINE_EVENTS, detection scan bound). */
  truncated: boolean;
  /** Events returned over all lanes (revisions + delete/error/denied marks, without detections). */
  events: number;
  lanes: Lane[];
}

// The auditor's /status as far as the console reads it (GET /api/console/auditor/status); src/auditor
// has its own types (status(), ProbeStatus), which a capability may not import.
export interface AuditorCheck {
  probe: string;
  runId: string;
  canary: string;
  namespace: string;
  result: "pass" | "fail" | "inconclusive";
  reason: string;
  inconclusive?: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  timings: { created?: number; running?: number; mainExited?: number; done?: number };
  reactionSeconds?: number;
  cleanup: "deleted" | "failed";
  cleanupError?: string;
  reaction?: unknown;
}

export interface AuditorRoll {
  at: string;
  method: string;
  deployments: string[];
  workloads?: string[];
  podsDeleted: string[];
  errors: string[];
}

export interface AuditorProbe {
  name: string;
  kind: "sidecar" | "reaction";
  stimulus?: string;
  expect?: string[];
  mode: string;
  every: number;
  consecutiveFailures: number;
  failureThreshold: number;
  lastSuccess?: string;
  lastCompleted?: string;
  rollsLastHour: number;
  rolls: AuditorRoll[];
  checks: AuditorCheck[];
}

export interface AuditorStatus {
  identity: string;
  leader: boolean;
  leadingSince?: string;
  probes: Record<string, AuditorProbe>;
}

// Control plane (GET /api/console/controlplane/overview).
export interface HealthCheckRow {
  endpoint: string;
  check: string;
  ok: boolean;
}

export interface UsageRow {
  resource?: string;
  namespace?: string;
  keys: number;
  bytes: number;
}

export interface LargestObject {
  key: string;
  resource: string;
  namespace?: string;
  name: string;
  bytes: number;
}

export interface EtcdUsageSummary {
  file: string;
  modifiedAt: string;
  endpoint: string;
  prefix: string;
  revision: number | null;
  complete: boolean;
  error: string | null;
  warnings: string[];
  scannedKeys: number;
  scannedBytes: number;
  clusterScoped: { keys: number; bytes: number };
  /** Largest first, at most USAGE_ROWS. */
  namespaces: UsageRow[];
  pairs: UsageRow[];
  largest: LargestObject[];
  totals: { namespaces: number; pairs: number; largest: number };
}

export interface ControlPlaneOverview {
  prometheus: string;
  at: string;
  /** 1/0, null when no exporter reports it. */
  apiserverUp: number | null;
  statusCodes: { endpoint: string; code: number }[];
  health: HealthCheckRow[];
  database: {
    sizeBytes: number | null;
    quotaBytes: number | null;
    /** size / quota, when both are known. */
    usedRatio: number | null;
    /** The exporter's linear forecast: seconds until the quota; null when not growing or unknown. */
    fullSeconds: number | null;
    fullAt: string | null;
    /** [unix seconds, bytes], the last HISTORY_SECONDS. */
    history: [number, number][];
  };
  objects: { resource: string; count: number }[];
  etcd: {
    usage: { resource: string; bytes: number; keys: number | null }[];
    /** 1 when the last scan covered the whole prefix; null when no scan was exported. */
    complete: boolean | null;
    scannedAt: string | null;
  };
  nodes: { node: string; ready: boolean }[];
  sources: { source: string; lastSuccess: string | null; errors: number | null }[];
  /** The --etcd-usage file, when given. */
  etcdUsageFile: EtcdUsageSummary | null;
}

// Traffic (GET /api/console/traffic/graph).
export interface TrafficNode {
  id: string;
  namespace: string;
  workload: string;
  /** HTTP requests served in the window (Hubble L7), and the share answered 5xx. */
  httpRequests: number;
  httpErrorRatio: number;
}

export interface TrafficEdge {
  source: string;
  target: string;
  bytes: number;
  requests: number;
  drops: number;
  errors: number;
  errorRatio: number;
}

export interface TrafficGraph {
  prometheus: string;
  at: string;
  window: string;
  ns: string | null;
  /** Every namespace with traffic in the window (for the filter), sorted. */
  namespaces: string[];
  nodes: TrafficNode[];
  edges: TrafficEdge[];
  /** True when more than MAX_EDGES edges matched (the lightest were left out). */
  truncated: boolean;
}

// The etcd side of `controlplane`: the shapes other parts of the product (report, serve) rely on.

/** How to reach etcd. URLs are `https://host:2379` (TLS) or `http://host:2379`. */
export interface EtcdConnection {
  endpoints: string[];
  /** PEM file of the CA that signed etcd's serving certificate. */
  cacert?: string;
  /** PEM file of the client certificate (etcd `--client-cert-auth`). */
  cert?: string;
  /** PEM file of the client certificate's private key. */
  key?: string;
  /**
   * Where each endpoint's Prometheus `/metrics` is, in the order of `endpoints` (kubeadm:
   * `http://127.0.0.1:2381`, etcd's `--listen-metrics-urls`). Default: the endpoint itself.
   */
  metricsUrls?: string[];
  /** Deadline of every single call, ms (default 5000). */
  timeoutMs?: number;
}

export interface EtcdEndpointStatus {
  endpoint: string;
  ok: boolean;
  /** Why the endpoint could not be read (status, alarms or /metrics), when it could not. */
  error?: string;
  dbSizeBytes?: number;
  dbSizeInUseBytes?: number;
  isLeader?: boolean;
  /** Member ID (hex) of this endpoint and of the leader it knows. */
  memberId?: string;
  leaderId?: string;
  raftIndex?: number;
  raftTerm?: number;
  version?: string;
  /** `etcd_server_quota_backend_bytes` from this endpoint's /metrics. */
  quotaBytes?: number;
  /** Why /metrics could not be read (status may still be fine). */
  metricsError?: string;
}

export interface EtcdAlarm {
  /** Member ID (hex) that raised the alarm. */
  memberId: string;
  /** NOSPACE, CORRUPT. */
  alarm: string;
}

export interface EtcdStatusReport {
  endpoints: EtcdEndpointStatus[];
  alarms: EtcdAlarm[];
  /** The quota the cluster reports (the first endpoint that told it). */
  quotaBytes?: number;
  /** Largest DB size over the endpoints that answered. */
  dbSizeBytes?: number;
  /** True when every endpoint answered and no alarm is raised. */
  ok: boolean;
}

/** `resources`: resource set; `namespaces`: namespace set; `pairs`: both. */
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

export interface LatencySummary {
  samples: number;
  failures: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
}

export interface EtcdUsage {
  endpoint: string;
  prefix: string;
  /** Revision all pages were read at (while it was not compacted). */
  revision?: number;
  /** False when the scan stopped early: the numbers cover only part of the prefix. */
  complete: boolean;
  /** Why the scan stopped early. */
  error?: string;
  /** Warnings that do not invalidate the numbers (e.g. the pinned revision was compacted). */
  warnings: string[];
  scannedKeys: number;
  /** Sum of the value sizes scanned. */
  scannedBytes: number;
  /** Keys under the prefix that do not look like /registry/<resource>/... */
  unparsedKeys: number;
  /** Keys and bytes of cluster-scoped objects (not in `namespaces` or `pairs`). */
  clusterScoped: { keys: number; bytes: number };
  pages: number;
  durationMs: number;
  keysPerSecond: number;
  pageSize: number;
  maxKeysPerSecond: number;
  resources: UsageRow[];
  namespaces: UsageRow[];
  pairs: UsageRow[];
  largest: LargestObject[];
  /** etcd request latency seen by a small serializable probe: before the scan (idle) and during it. */
  latency: { probeIntervalMs: number; idle: LatencySummary; during: LatencySummary };
}

export interface ScanOptions {
  /** Default "/registry/". */
  prefix?: string;
  /** Keys per range call (default 500, at most 5000). */
  pageSize?: number;
  /** Token bucket rate (default 20000 keys/s, at most 1000000). */
  maxKeysPerSecond?: number;
  /** How many largest objects to keep (default 20). */
  top?: number;
  /** Latency probe interval, ms (default 50; 0 = no probe). */
  probeIntervalMs?: number;
  /** How long to probe before the scan for the idle baseline, ms (default 1000). */
  idleProbeMs?: number;
  /** Called after every page. */
  onProgress?: (p: { keys: number; bytes: number; pages: number; estimatedTotal?: number }) => void;
  /** Stop early (the result is then partial). */
  signal?: AbortSignal;
}

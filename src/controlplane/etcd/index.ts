// etcd side of `controlplane`: status over etcd's v3 gRPC API (etcd3 client), quota from etcd's
// /metrics, the /registry/ usage scan, and the Prometheus metrics `serve` exposes.
export type {
  EtcdConnection,
  EtcdEndpointStatus,
  EtcdAlarm,
  EtcdStatusReport,
  EtcdUsage,
  UsageRow,
  LargestObject,
  LatencySummary,
  ScanOptions,
} from "./types.js";
export { etcdStatus } from "./status.js";
export { scanEtcdUsage } from "./scanner.js";
export { registerEtcdMetrics, type EtcdMetrics } from "./prom.js";
export { parseRegistryKey, type RegistryKey } from "./keys.js";

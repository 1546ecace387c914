// What the console's routes read from: the audit store (optional: the console also runs for the
// other views alone), a Prometheus URL, the auditor's /status URL and an etcd-usage report file.
import type { Logger } from "../core/logger.js";
import type { AuditStore } from "../audit/public.js";

export interface ConsoleContext {
  /** A connection of its own: every use goes through serialized(store, fn). */
  store?: AuditStore;
  /** A second connection to the same store for the aggregate routes (else they queue on `store`). */
  aggregateStore?: AuditStore;
  /** Base URL of Prometheus' HTTP API (flows, control-plane and auditor metrics). */
  prometheus?: string;
  /** The auditor's /status URL and, when it needs one, the bearer token to read it. */
  auditor?: { url: string; token?: string };
  /** JSON written by `controlplane etcd-usage --output json`: usage by namespace, largest objects. */
  etcdUsageFile?: string;
  log: Logger;
  /** Bound on every upstream call (Prometheus, the auditor). */
  fetchTimeoutMs: number;
}

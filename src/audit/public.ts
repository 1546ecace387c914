// What other capabilities may use of `audit` (they must not import its other modules): open a store
// read-only, and the load query behind `controlplane report --audit-db`.
import { openStore, type AuditStore } from "./store.js";

export type { AuditStore } from "./store.js";
export { StoreError } from "./store.js";
export { queryWhoLoads, type ClientLoad, type LoadOptions, type ResourceVerbLoad, type WhoLoadsReport } from "./load.js";
export type { LatencySplit } from "./queries.js";
export { LATENCY_ANNOTATION_PREFIX, ANNOTATION_THRESHOLD_MS } from "./latency-annotations.js";

/**
 * Opens an existing audit store read-only, with DuckDB's access to other files and extensions
 * disabled (as `audit` queries do). Throws StoreError naming the file when it does not exist or is
 * not readable. Other processes may read it at the same time; a running `audit serve` holds the
 * write lock, in which case the error says so.
 */
export async function openAuditStoreReadOnly(path: string): Promise<AuditStore> {
  const [store] = await openAuditStoreReadOnlyConnections(path, 1);
  return store!;
}

/**
 * The same, with `count` connections to the one read-only database (the web console queues rows and
 * aggregates apart), and optionally a cap on DuckDB's memory (queries that need more fail with
 * DuckDB's "Out of Memory" error). The settings are locked after every connection exists: a
 * connection made later could not set its time zone.
 */
export async function openAuditStoreReadOnlyConnections(path: string, count: number, opts: { memoryLimitBytes?: number } = {}): Promise<AuditStore[]> {
  const store = await openStore(path, { readOnly: true });
  const all = [store];
  try {
    for (let i = 1; i < count; i++) all.push(await store.duplicate());
    // DuckDB's buffer cache otherwise grows to 80 % of the machine's (or the cgroup's) memory.
    if (opts.memoryLimitBytes !== undefined) await store.run(`SET memory_limit = '${Math.floor(opts.memoryLimitBytes)}B'`);
    await store.run("SET enable_external_access = false");
    await store.run("SET lock_configuration = true");
    const t = await store.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'events'");
    const v = await store.query("SELECT count(*) AS n FROM duckdb_views() WHERE view_name = 'events'");
    if (Number(t[0]?.n ?? 0) + Number(v[0]?.n ?? 0) === 0) throw new Error(`${path} is not an audit store (no table events)`);
  } catch (err) {
    for (const c of all.slice(1)) c.close();
    store.close();
    throw err;
  }
  return all;
}

// For the web console (src/console): the request-completion predicate, one-connection serialization,
// object history with diffs, output-side redaction and the detection rules.
export { REQUEST_STAGE, ERROR_CODES_SQL, likelyCause, type QueryResult } from "./queries.js";
export { serialized } from "./serial.js";
export { objectHistory, AmbiguousObjectError, type History, type HistoryOptions, type Revision } from "./history/history.js";
export { parseResource, type ResourceRef } from "./history/resource.js";
export { redactBody, REDACTED, type BodyContext, type RedactionCounts } from "./redact.js";
export { loadRules, fromRawEvent, matches, DETECT_STAGE_SQL, type Rule, type DetectEvent } from "./detect/rules.js";
export { prefilterSql } from "./detect/run.js";

// Who loads the API server (`controlplane report|serve --audit-db FILE`): API-server metrics carry
// no per-client label, the audit log does. Reads the audit store through audit's public module only.
import { openAuditStoreReadOnly, queryWhoLoads, type ClientLoad, type ResourceVerbLoad, type WhoLoadsReport } from "../../audit/public.js";

export type { ClientLoad, ResourceVerbLoad, WhoLoadsReport } from "../../audit/public.js";
export type { LatencySplit } from "../../audit/public.js";

export interface WhoLoadsOptions {
  since?: Date;
  until?: Date;
  /** Pairs per ranking and clients per list (default 5, 1–100). */
  top?: number;
}

/**
 * The busiest (by requests) and slowest (by p99 latency) resource/verb pairs in the audit store,
 * each with its top users and user agents by requests and by latency (sum, p99), and where the time
 * went when the events carry apiserver.latency.k8s.io/* annotations. The store is opened read-only
 * and closed before returning. Throws when the file is missing or not an audit store (the message
 * names the file).
 */
export async function whoLoads(auditDb: string, opts: WhoLoadsOptions = {}): Promise<WhoLoadsReport> {
  if (opts.since && opts.until && opts.since.getTime() >= opts.until.getTime()) {
    throw new RangeError(`since (${opts.since.toISOString()}) must be before until (${opts.until.toISOString()})`);
  }
  const store = await openAuditStoreReadOnly(auditDb);
  try {
    return await queryWhoLoads(store, opts);
  } finally {
    store.close();
  }
}

/** "deployments.apps/scale", "/openapi/v2", "pods". */
export function targetOf(p: Pick<ResourceVerbLoad, "resource" | "subresource" | "nonResourceURL">): string {
  if (p.resource === null) return p.nonResourceURL ?? "";
  return p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
}

const ms = (v: number | null): string => (v === null ? "-" : String(v));

function clients(list: ClientLoad[], by: "requests" | "latency"): string {
  if (list.length === 0) return "-";
  return list
    .map((c) => `${c.name ?? "(none)"} (${by === "requests" ? `${c.requests} req` : `${ms(c.latencySumMs)} ms, p99 ${ms(c.p99Ms)}`})`)
    .join("; ");
}

function section(title: string, pairs: ResourceVerbLoad[]): string[] {
  const out = [`${title}:`];
  if (pairs.length === 0) return [...out, "  none"];
  for (const p of pairs) {
    out.push(
      `  ${p.verb ?? "?"} ${targetOf(p)}: ${p.requests} requests, ${p.errors} errors` +
        (p.longRunning ? " (long-running: no latency)" : `, p50 ${ms(p.p50Ms)} ms, p99 ${ms(p.p99Ms)} ms, total ${ms(p.latencySumMs)} ms`),
    );
    out.push(`    users by requests: ${clients(p.users.byRequests, "requests")}`);
    if (!p.longRunning) out.push(`    users by latency: ${clients(p.users.byLatency, "latency")}`);
    out.push(`    user agents by requests: ${clients(p.userAgents.byRequests, "requests")}`);
    if (!p.longRunning) out.push(`    user agents by latency: ${clients(p.userAgents.byLatency, "latency")}`);
    if (p.split) {
      const s = p.split;
      const parts = Object.entries(s)
        .filter(([k, v]) => k.endsWith("_ms") && k !== "total_ms" && k !== "p99_total_ms" && v !== 0 && v !== null)
        .map(([k, v]) => `${k.replace(/_ms$/, "")} ${String(v)}`);
      out.push(`    where the time went (${s.annotated} slow request(s), mean ms of ${ms(s.total_ms)}): ${parts.join(", ")}`);
    }
  }
  return out;
}

/** Plain-text rendering for `controlplane report` (table output). */
export function renderWhoLoads(r: WhoLoadsReport): string {
  const w = r.window;
  const lines = [
    `Who loads the API server (audit store; ${r.requests} requests${w.firstEvent ? ` from ${w.firstEvent} to ${w.lastEvent}` : ""}):`,
    ...section("Busiest (by requests)", r.busiest),
    ...section("Slowest (by p99 latency)", r.slowest),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join("\n") + "\n";
}

// GET /api/console/traffic/graph?ns=&window=5m[&at=TIME]: the workload graph from the flows
// metrics (`watch-auditor flows`), read from Prometheus over the window ending at `at` (default now).
//   nodes = workloads (namespace/workload; "world" and named CIDRs have an empty namespace)
//   edge  = client workload → server workload:
//     bytes     = TCP bytes both ways (tcp_sent_bytes_total + tcp_received_bytes_total)
//     requests  = TCP connections opened + DNS queries answered
//     errors    = flows Hubble dropped + DNS answers SERVFAIL/REFUSED/FORMERR/NOTIMP
//     errorRatio = errors / (requests + drops)        (0 when there is no traffic)
//   node.http = the HTTP requests the workload served (Hubble L7) and their 5xx ratio.
// NXDOMAIN is not an error here: Kubernetes' DNS search path makes it the normal first answer.
// `ns` keeps the edges with that namespace on either side; it is checked against the namespace
// name syntax before it goes into a label matcher, and `window` against a duration syntax.
import type { RouteHandler } from "../../core/http-server.js";
import type { ConsoleContext } from "../context.js";
import { jsonRoute, NotConfigured, str, time } from "../http.js";
import { durationParam, namespaceParam, PrometheusClient, promString, type PromSample } from "./prometheus.js";
import type { TrafficNode, TrafficEdge, TrafficGraph } from "../shapes.js";
export type { TrafficNode, TrafficEdge, TrafficGraph };

const F = "watch_auditor_flows_";
const PAIR = "src_namespace, src_workload, dst_namespace, dst_workload";
/** The flows metrics labelled by (client, server) workload pair. */
const PAIR_METRICS = ["tcp_connections_total", "tcp_sent_bytes_total", "tcp_received_bytes_total", "dns_requests_total", "drops_total"];
/** DNS response codes that mean the lookup failed (not "no such name"). */
export const DNS_ERROR_RCODES = ["SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"];
/** Edges sent to the page at most (the heaviest by bytes, then requests). */
export const MAX_EDGES = 2000;
export const WINDOW_MIN_SECONDS = 60;
export const WINDOW_MAX_SECONDS = 7 * 86400;

export const nodeId = (namespace: string, workload: string): string => `${namespace}/${workload}`;

export async function trafficGraph(ctx: ConsoleContext, opts: { ns?: string; window: string; at?: Date }): Promise<TrafficGraph> {
  if (!ctx.prometheus) throw new NotConfigured("Prometheus is not configured: start the console with --prometheus URL");
  const prom = new PrometheusClient(ctx.prometheus, ctx.fetchTimeoutMs);
  const when = opts.at ?? new Date();
  const w = opts.window;
  const q = (expr: string) => prom.query(expr, when);
  // Bytes sent and received are asked for apart: increase() drops the metric name, so one
  // selector over both would give two series with one label set (a Prometheus error).
  const [sent, received, conns, dns, dnsErrors, drops, httpAll, http5xx, nsRows] = await Promise.all([
    q(pairQuery(`__name__="${F}tcp_sent_bytes_total"`, w, opts.ns)),
    q(pairQuery(`__name__="${F}tcp_received_bytes_total"`, w, opts.ns)),
    q(pairQuery(`__name__="${F}tcp_connections_total"`, w, opts.ns)),
    q(pairQuery(`__name__="${F}dns_requests_total"`, w, opts.ns)),
    q(pairQuery(`__name__="${F}dns_requests_total", rcode=~"${DNS_ERROR_RCODES.join("|")}"`, w, opts.ns)),
    q(pairQuery(`__name__="${F}drops_total"`, w, opts.ns)),
    q(httpQuery("", w, opts.ns)),
    q(httpQuery(`status_code_class="5xx"`, w, opts.ns)),
    q(PAIR_METRICS.map((m) => `sum by (src_namespace, dst_namespace) (increase(${F}${m}[${w}]))`).join(" or ")),
  ]);

  interface Acc {
    source: string;
    target: string;
    bytes: number;
    conns: number;
    dns: number;
    dnsErrors: number;
    drops: number;
  }
  const edges = new Map<string, Acc>();
  const nodes = new Map<string, TrafficNode>();
  const node = (namespace: string, workload: string): string => {
    const id = nodeId(namespace, workload);
    if (!nodes.has(id)) nodes.set(id, { id, namespace, workload, httpRequests: 0, httpErrorRatio: 0 });
    return id;
  };
  const add = (rows: PromSample[], field: "bytes" | "conns" | "dns" | "dnsErrors" | "drops") => {
    for (const r of rows) {
      if (!Number.isFinite(r.value)) continue;
      const m = r.metric;
      const source = node(m.src_namespace ?? "", m.src_workload ?? "");
      const target = node(m.dst_namespace ?? "", m.dst_workload ?? "");
      const key = `${source}\u0000${target}`;
      let e = edges.get(key);
      if (!e) edges.set(key, (e = { source, target, bytes: 0, conns: 0, dns: 0, dnsErrors: 0, drops: 0 }));
      e[field] += r.value;
    }
  };
  add(sent, "bytes");
  add(received, "bytes");
  add(conns, "conns");
  add(dns, "dns");
  add(dnsErrors, "dnsErrors");
  add(drops, "drops");
  const fiveXX = new Map(http5xx.map((r) => [nodeId(r.metric.namespace ?? "", r.metric.workload ?? ""), r.value]));
  for (const r of httpAll) {
    const id = node(r.metric.namespace ?? "", r.metric.workload ?? "");
    const n = nodes.get(id)!;
    n.httpRequests = r.value;
    n.httpErrorRatio = r.value > 0 ? (fiveXX.get(id) ?? 0) / r.value : 0;
  }
  let list: TrafficEdge[] = [...edges.values()].map((e) => {
    const requests = e.conns + e.dns;
    const errors = e.drops + e.dnsErrors;
    const attempts = requests + e.drops;
    return { source: e.source, target: e.target, bytes: e.bytes, requests, drops: e.drops, errors, errorRatio: attempts > 0 ? errors / attempts : 0 };
  });
  list.sort((a, b) => b.bytes - a.bytes || b.requests - a.requests || a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  const truncated = list.length > MAX_EDGES;
  if (truncated) list = list.slice(0, MAX_EDGES);
  // Nodes: those of the edges kept, plus HTTP servers seen without a flow edge.
  const used = new Set(list.flatMap((e) => [e.source, e.target]));
  for (const r of httpAll) used.add(nodeId(r.metric.namespace ?? "", r.metric.workload ?? ""));
  const namespaces = new Set<string>();
  for (const r of nsRows) for (const ns of [r.metric.src_namespace, r.metric.dst_namespace]) if (ns) namespaces.add(ns);
  return {
    prometheus: prom.url,
    at: when.toISOString(),
    window: w,
    ns: opts.ns ?? null,
    namespaces: [...namespaces].sort(),
    nodes: [...nodes.values()].filter((n) => used.has(n.id)).sort((a, b) => a.namespace.localeCompare(b.namespace) || a.workload.localeCompare(b.workload)),
    edges: list,
    truncated,
  };
}

/**
 * Increase per (client, server) pair over the window, for the series `matchers` selects; with a
 * namespace, the pairs that have it on the client side or on the server side (`or` keeps one
 * copy of a pair inside the namespace).
 */
export function pairQuery(matchers: string, window: string, ns: string | undefined): string {
  const one = (side: string | undefined) => `sum by (${PAIR}) (increase({${[matchers, side !== undefined ? `${side}_namespace=${promString(ns!)}` : ""].filter(Boolean).join(", ")}}[${window}]))`;
  return ns !== undefined ? `${one("src")} or ${one("dst")}` : one(undefined);
}

/** HTTP requests served per workload over the window (`extra`: more matchers, e.g. the 5xx class). */
export function httpQuery(extra: string, window: string, ns: string | undefined): string {
  const m = [`__name__="http_server_requests_total"`, `workload!=""`, extra, ns !== undefined ? `namespace=${promString(ns)}` : ""].filter(Boolean).join(", ");
  return `sum by (namespace, workload) (increase({${m}}[${window}]))`;
}

export function trafficRoutes(ctx: ConsoleContext): Record<string, RouteHandler> {
  return {
    "/api/console/traffic/graph": jsonRoute(async (u) => {
      const ns = namespaceParam("ns", str(u, "ns"));
      const window = durationParam("window", str(u, "window"), "5m", WINDOW_MIN_SECONDS, WINDOW_MAX_SECONDS).text;
      const at = time(u, "at");
      return trafficGraph(ctx, { ...(ns !== undefined ? { ns } : {}), window, ...(at ? { at } : {}) });
    }),
  };
}

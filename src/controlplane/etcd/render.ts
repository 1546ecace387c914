// The readable table of an etcd-usage scan, and the progress line shown on a terminal.
import type { EtcdUsage, LatencySummary, UsageRow } from "./types.js";

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-");
const lat = (s: LatencySummary): string =>
  s.samples === 0 ? `no answer (${s.failures} failed probes)` : `p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, max ${s.maxMs} ms (${s.samples} probes${s.failures > 0 ? `, ${s.failures} failed` : ""})`;

export function renderUsage(u: EtcdUsage, top: number): string {
  const out: string[] = [];
  out.push(
    `etcd ${u.endpoint}, prefix ${u.prefix}${u.revision !== undefined ? ` at revision ${u.revision}` : ""}: ${u.scannedKeys} keys, ${humanBytes(u.scannedBytes)} of values` +
      ` in ${(u.durationMs / 1000).toFixed(1)} s (${u.keysPerSecond} keys/s, ${u.pages} pages of ≤ ${u.pageSize} keys, ≤ ${u.maxKeysPerSecond} keys/s)\n`,
  );
  if (!u.complete) out.push(`PARTIAL: the scan stopped early: ${u.error ?? "unknown reason"}. The figures below cover only the keys read so far.\n`);
  for (const w of u.warnings) out.push(`warning: ${w}\n`);
  out.push(`etcd latency (serializable get every ${u.latency.probeIntervalMs} ms): idle ${lat(u.latency.idle)}; during the scan ${lat(u.latency.during)}\n`);
  if (u.scannedKeys === 0) return out.join("") + (u.complete ? `no keys under ${u.prefix}\n` : "");
  const rows = (list: UsageRow[], cols: Array<(r: UsageRow) => string>): string[][] =>
    list.slice(0, top).map((r) => [...cols.map((c) => c(r)), String(r.keys), humanBytes(r.bytes), pct(r.bytes, u.scannedBytes)]);
  const more = (list: UsageRow[], what: string): string => (list.length > top ? `(${list.length - top} more ${what}; --top or --output json for all)\n` : "");
  out.push(`\nBy resource\n`);
  out.push(table(["RESOURCE", "KEYS", "BYTES", "SHARE"], rows(u.resources, [(r) => r.resource ?? ""]), new Set([1, 2, 3])));
  out.push(more(u.resources, "resources"));
  out.push(`\nBy namespace (cluster-scoped objects: ${u.clusterScoped.keys} keys, ${humanBytes(u.clusterScoped.bytes)})\n`);
  out.push(table(["NAMESPACE", "KEYS", "BYTES", "SHARE"], rows(u.namespaces, [(r) => r.namespace ?? ""]), new Set([1, 2, 3])));
  out.push(more(u.namespaces, "namespaces"));
  out.push(`\nBy resource and namespace\n`);
  out.push(table(["RESOURCE", "NAMESPACE", "KEYS", "BYTES", "SHARE"], rows(u.pairs, [(r) => r.resource ?? "", (r) => r.namespace ?? ""]), new Set([2, 3, 4])));
  out.push(more(u.pairs, "pairs"));
  out.push(`\nLargest objects\n`);
  out.push(table(["BYTES", "KEY"], u.largest.slice(0, top).map((o) => [humanBytes(o.bytes), o.key]), new Set([0])));
  return out.join("");
}

/** One progress line (`\r`-rewritten) for a terminal. */
export function progressLine(p: { keys: number; bytes: number; estimatedTotal?: number }, width = 30): string {
  const total = p.estimatedTotal ?? 0;
  const frac = total > 0 ? Math.min(1, p.keys / total) : 0;
  const filled = Math.round(frac * width);
  return `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.keys}/${total > 0 ? total : "?"} keys, ${humanBytes(p.bytes)}`;
}

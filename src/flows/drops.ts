// Dropped flows aggregated per pair of workloads, reason, direction, port and policy: the answer to
// "what is being dropped between which workloads, and by which policy?". Kept in one-minute buckets
// for a bounded time (the live process's /drops endpoint) or in one bucket (a file, one shot).

export interface DropKey {
  src_namespace: string;
  src_workload: string;
  dst_namespace: string;
  dst_workload: string;
  reason: string;
  direction: string;
  protocol: string;
  /** Destination port (TCP/UDP/SCTP); 0 for ICMP and flows without ports. */
  port: number;
  /** The denying policies, comma-separated; "" when the flow names none. */
  policy: string;
}

export interface DropRow extends DropKey {
  count: number;
  /** Seconds since the epoch of the first and last drop in the window (the flow's time when it has one). */
  first: number;
  last: number;
  /** TCP flags of the last drop (SYN alone: a new connection refused). */
  flags?: string[];
}

export interface DropReport {
  /** Seconds covered (undefined for a file: everything in it). */
  windowSeconds?: number;
  totalDrops: number;
  /** Distinct rows before the top-N cut. */
  pairs: number;
  /** Drops that did not fit the per-bucket row cap (counted, not listed). */
  folded: number;
  top: DropRow[];
}

const SEP = "\u0000";

function keyOf(k: DropKey): string {
  return k.src_namespace + SEP + k.src_workload + SEP + k.dst_namespace + SEP + k.dst_workload + SEP + k.reason + SEP + k.direction + SEP + k.protocol + SEP + k.port + SEP + k.policy;
}

interface Bucket {
  minute: number;
  rows: Map<string, DropRow>;
  folded: number;
  total: number;
}

export interface DropLogOptions {
  /** Rows per bucket (the series cap); more drops are counted as folded. */
  maxRows: number;
  /** Buckets kept, one a minute (default 60: the last hour). */
  maxMinutes?: number;
}

export class DropLog {
  private buckets: Bucket[] = [];
  private readonly maxMinutes: number;

  constructor(private readonly opts: DropLogOptions) {
    this.maxMinutes = opts.maxMinutes ?? 60;
  }

  /** The longest window the log can answer, in seconds. */
  get horizonSeconds(): number {
    return this.maxMinutes * 60;
  }

  /** Records one dropped flow seen at `nowMs` (wall clock; buckets are by arrival). */
  add(k: DropKey, nowMs: number, flowTime?: number, flags?: string[]): void {
    const minute = Math.floor(nowMs / 60_000);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.minute !== minute) {
      b = { minute, rows: new Map(), folded: 0, total: 0 };
      this.buckets.push(b);
      while (this.buckets.length > 0 && this.buckets[0]!.minute <= minute - this.maxMinutes) this.buckets.shift();
    }
    b.total++;
    const key = keyOf(k);
    const t = flowTime ?? nowMs / 1000;
    let row = b.rows.get(key);
    if (!row) {
      if (b.rows.size >= this.opts.maxRows) {
        b.folded++;
        return;
      }
      row = { ...k, count: 0, first: t, last: t };
      b.rows.set(key, row);
    }
    row.count++;
    if (t < row.first) row.first = t;
    if (t > row.last) row.last = t;
    if (flags) row.flags = flags;
  }

  /** The top `limit` rows over the last `windowSeconds` (all kept buckets when undefined). */
  report(nowMs: number, windowSeconds: number | undefined, limit: number): DropReport {
    const fromMinute = windowSeconds === undefined ? -Infinity : Math.floor((nowMs - windowSeconds * 1000) / 60_000);
    const merged = new Map<string, DropRow>();
    let total = 0;
    let folded = 0;
    for (const b of this.buckets) {
      if (b.minute < fromMinute) continue;
      total += b.total;
      folded += b.folded;
      for (const [key, r] of b.rows) {
        const m = merged.get(key);
        if (!m) merged.set(key, { ...r, ...(r.flags ? { flags: [...r.flags] } : {}) });
        else {
          m.count += r.count;
          m.first = Math.min(m.first, r.first);
          if (r.last >= m.last) {
            m.last = r.last;
            if (r.flags) m.flags = [...r.flags];
          }
        }
      }
    }
    const top = [...merged.values()].sort((a, b) => b.count - a.count || b.last - a.last || keyOf(a).localeCompare(keyOf(b))).slice(0, limit);
    return { ...(windowSeconds !== undefined ? { windowSeconds } : {}), totalDrops: total, pairs: merged.size, folded, top };
  }
}

function peer(ns: string, workload: string): string {
  return ns ? `${ns}/${workload}` : workload;
}

/** The report as a plain-text table (one line per pair, widest first column sized to fit). */
export function formatDropTable(r: DropReport): string {
  const head = ["DROPS", "SOURCE", "DESTINATION", "PORT", "REASON", "DIRECTION", "POLICY", "LAST SEEN"];
  const rows = r.top.map((d) => [
    String(d.count),
    peer(d.src_namespace, d.src_workload),
    peer(d.dst_namespace, d.dst_workload),
    d.protocol ? (d.port ? `${d.port}/${d.protocol}` : d.protocol) : "-",
    d.reason,
    d.direction,
    d.policy || "-",
    new Date(d.last * 1000).toISOString(),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const summary = `${r.totalDrops} dropped flows${r.windowSeconds !== undefined ? ` in the last ${r.windowSeconds}s` : ""}, ${r.pairs} distinct${r.folded ? `, ${r.folded} not listed (row cap)` : ""}`;
  if (rows.length === 0) return `${summary}\n`;
  return [line(head), ...rows.map(line), "", summary].join("\n") + "\n";
}

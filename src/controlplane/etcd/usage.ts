// Aggregation of a usage scan: keys and value bytes per resource, per namespace, per
// (resource, namespace) pair, and the N largest objects. Only counters are kept per key; a key is
// copied only while it is among the largest.
import { parseRegistryKey } from "./keys.js";
import type { LargestObject, UsageRow } from "./types.js";

/** Resource name of the keys that are not laid out like Kubernetes objects. */
export const OTHER_RESOURCE = "(other)";

interface Cell {
  keys: number;
  bytes: number;
}

const add = (m: Map<string, Cell>, k: string, bytes: number): void => {
  const c = m.get(k);
  if (c === undefined) m.set(k, { keys: 1, bytes });
  else {
    c.keys++;
    c.bytes += bytes;
  }
};

const byBytes = (a: UsageRow, b: UsageRow): number => b.bytes - a.bytes || b.keys - a.keys || (a.resource ?? a.namespace ?? "").localeCompare(b.resource ?? b.namespace ?? "");

export class UsageAggregator {
  keys = 0;
  bytes = 0;
  unparsed = 0;
  readonly clusterScoped = { keys: 0, bytes: 0 };
  private readonly resources = new Map<string, Cell>();
  private readonly namespaces = new Map<string, Cell>();
  private readonly pairs = new Map<string, Cell>();
  /** Min-heap by bytes of the largest objects. */
  private readonly heap: LargestObject[] = [];

  constructor(
    private readonly root: string,
    private readonly top: number,
  ) {}

  /** The cells of the last key's parent ("/registry/pods/ns"): sorted keys share it in runs. */
  private last: { parent: Buffer; resource: string; namespace?: string; cells: Cell[]; cluster: boolean } | undefined;

  /**
   * Counts the key at `buf[start, end)`. Keys arrive sorted, so runs of keys share everything but
   * the name: while the bytes before the last "/" equal the previous key's, the counters found for
   * that key are bumped without making any string; a key is decoded only when it may be among the
   * largest objects.
   */
  addRaw(buf: Buffer, start: number, end: number, valueLength: number): void {
    const slash = buf.lastIndexOf(0x2f, end - 1);
    const l = this.last;
    if (l !== undefined && slash > start && slash < end - 1 && slash - start === l.parent.length && buf.compare(l.parent, 0, l.parent.length, start, slash) === 0) {
      this.keys++;
      this.bytes += valueLength;
      for (const c of l.cells) {
        c.keys++;
        c.bytes += valueLength;
      }
      if (l.cluster) {
        this.clusterScoped.keys++;
        this.clusterScoped.bytes += valueLength;
      }
      if (this.top > 0 && (this.heap.length < this.top || valueLength > this.heap[0]!.bytes)) {
        const key = buf.toString("utf8", start, end);
        this.offer({ key, resource: l.resource, ...(l.namespace !== undefined ? { namespace: l.namespace } : {}), name: key.slice(key.lastIndexOf("/") + 1), bytes: valueLength });
      }
      return;
    }
    this.add(buf.subarray(start, end), valueLength);
    if (slash > start && slash < end - 1) {
      const k = parseRegistryKey(buf.toString("utf8", start, end), this.root);
      if (k === undefined) this.last = undefined;
      else {
        const cells = [this.resources.get(k.resource)!];
        if (k.namespace !== undefined) cells.push(this.namespaces.get(k.namespace)!, this.pairs.get(`${k.resource}\u0000${k.namespace}`)!);
        this.last = { parent: Buffer.from(buf.subarray(start, slash)), resource: k.resource, ...(k.namespace !== undefined ? { namespace: k.namespace } : {}), cells, cluster: k.namespace === undefined };
      }
    } else this.last = undefined;
  }

  add(keyBytes: Buffer, valueLength: number): void {
    this.keys++;
    this.bytes += valueLength;
    const key = keyBytes.toString("utf8");
    const k = parseRegistryKey(key, this.root);
    if (k === undefined) {
      this.unparsed++;
      add(this.resources, OTHER_RESOURCE, valueLength);
      this.offer({ key, resource: OTHER_RESOURCE, name: key, bytes: valueLength });
      return;
    }
    add(this.resources, k.resource, valueLength);
    if (k.namespace !== undefined) {
      add(this.namespaces, k.namespace, valueLength);
      add(this.pairs, `${k.resource}\u0000${k.namespace}`, valueLength);
    } else {
      this.clusterScoped.keys++;
      this.clusterScoped.bytes += valueLength;
    }
    this.offer({ key, resource: k.resource, ...(k.namespace !== undefined ? { namespace: k.namespace } : {}), name: k.name, bytes: valueLength });
  }

  private offer(o: LargestObject): void {
    const h = this.heap;
    if (this.top <= 0) return;
    if (h.length < this.top) {
      h.push(o);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p]!.bytes <= h[i]!.bytes) break;
        [h[p], h[i]] = [h[i]!, h[p]!];
        i = p;
      }
      return;
    }
    if (o.bytes <= h[0]!.bytes) return;
    h[0] = o;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.bytes < h[m]!.bytes) m = l;
      if (r < h.length && h[r]!.bytes < h[m]!.bytes) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }

  result(): { resources: UsageRow[]; namespaces: UsageRow[]; pairs: UsageRow[]; largest: LargestObject[] } {
    return {
      resources: [...this.resources].map(([resource, c]) => ({ resource, keys: c.keys, bytes: c.bytes })).sort(byBytes),
      namespaces: [...this.namespaces].map(([namespace, c]) => ({ namespace, keys: c.keys, bytes: c.bytes })).sort(byBytes),
      pairs: [...this.pairs]
        .map(([k, c]) => {
          const [resource, namespace] = k.split("\u0000") as [string, string];
          return { resource, namespace, keys: c.keys, bytes: c.bytes };
        })
        .sort(byBytes),
      largest: [...this.heap].sort((a, b) => b.bytes - a.bytes || a.key.localeCompare(b.key)),
    };
  }
}

import { Registry } from "prom-client";

export const OVERFLOW = "overflow";

/**
 * The same text as one flat string. Keys and label texts are built by concatenation, which V8
 * keeps as a tree of ~30-byte cons strings (one per `+`); a table keeps them for good, and at
 * 10 000 rows the trees were 6 MiB of the tcp table's 11. Used once per row, never per event.
 */
export function flat(s: string): string {
  // slice() of a concatenation flattens it into one new string (and returns a view of that).
  return (" " + s).slice(1);
}

/** A row of a table: its label values and one or more accumulated numbers. */
export interface Row {
  labels: string[];
  values: Float64Array;
  /** The label pairs as exposition text (`a="x",b="y"`), made on the first scrape and kept. */
  text?: string;
}

/**
 * Label set → numbers, kept in a plain Map on the hot path (prom-client hashes labels on every
 * inc, which costs more than everything else we do per event). At most `maxSeries` distinct label
 * sets; beyond that, additions fold into one row whose labels are all "overflow" and are counted.
 */
export class SeriesTable {
  readonly rows = new Map<string, Row>();
  overflowRow: Row | undefined;
  /** Observations folded into the overflow row. */
  folded = 0;

  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    readonly width: number,
    readonly maxSeries: number,
  ) {}

  /** The row for labels (created if there is room), else the overflow row. key must identify labels. */
  row(key: string, labels: () => string[]): Row {
    const r = this.rows.get(key);
    if (r) return r;
    if (this.rows.size < this.maxSeries) {
      const nr = { labels: labels(), values: new Float64Array(this.width) };
      this.rows.set(flat(key), nr);
      return nr;
    }
    this.folded++;
    return (this.overflowRow ??= { labels: this.labelNames.map(() => OVERFLOW), values: new Float64Array(this.width) });
  }

  *all(): Iterable<Row> {
    yield* this.rows.values();
    if (this.overflowRow) yield this.overflowRow;
  }

  clear(): void {
    this.rows.clear();
    this.overflowRow = undefined;
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) o[names[i]!] = values[i]!;
  return o;
}

// The exposition format's escaping and number rendering, as prom-client writes them.
const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "Nan";
  if (!Number.isFinite(v)) return v < 0 ? "-Inf" : "+Inf";
  return `${v}`;
}

/** The row's label pairs as text, cached on the row (rows are created once and kept). */
function labelText(names: readonly string[], row: Row): string {
  if (row.text !== undefined) return row.text;
  let t = "";
  for (let i = 0; i < names.length; i++) t += `${i ? "," : ""}${names[i]}="${escapeLabel(row.labels[i]!)}"`;
  return (row.text = flat(t));
}

/**
 * A metric prom-client's Registry can render, whose values are read from a table only when
 * scraped. Implements the small part of prom-client's metric interface the Registry uses, and
 * `lines()`, the same text written straight from the table, line by line (see TableRegistry).
 */
class TableMetric {
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    private readonly values: () => MetricValue[],
    readonly lines: () => Iterable<string>,
  ) {}

  render(): string {
    return [...this.lines()].join("\n");
  }

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  reset(): void {}
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`;
}

/**
 * A Registry that writes table-backed metrics itself: one cached label string per row and one
 * line per series, instead of prom-client's label object, value object and label formatting per
 * series on every scrape. With 10 000 series per table a scrape made ~30 MB of short-lived objects
 * that lived through the (async) rendering, were promoted, and grew the old generation by that
 * much per scrape until a full GC. The text is identical (test/flows/series.test.ts).
 */
export class TableRegistry extends Registry {
  constructor() {
    super();
    // prom-client's Registry.metrics() formats each metric with getMetricsAsString (not in its types).
    const self = this as unknown as { getMetricsAsString(m: unknown): Promise<string> };
    const base = self.getMetricsAsString.bind(this);
    self.getMetricsAsString = (m) => (m instanceof TableMetric ? Promise.resolve(m.render()) : base(m));
  }

  /**
   * The text of `metrics()`, handed to `write` in pieces of about 64 KiB, each awaited (the
   * socket's backpressure). A scrape of 10 000-series tables was a 4 MB string, the three
   * 1.3 MB strings it was joined from and a 4 MB Buffer for the socket, all at once; now it is a
   * few pieces at a time. Rows may advance between pieces (a scrape is not a snapshot; neither is
   * prom-client's, whose collect callbacks run at different moments).
   */
  async writeMetrics(write: (chunk: string) => Promise<void> | void): Promise<void> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) {
      await write(await this.metrics());
      return;
    }
    const self = this as unknown as { getMetricsAsString(m: unknown): Promise<string> };
    let chunk = "";
    let firstMetric = true;
    for (const m of this.getMetricsAsArray() as unknown[]) {
      if (!firstMetric) chunk += "\n\n";
      firstMetric = false;
      if (!(m instanceof TableMetric)) {
        chunk += await self.getMetricsAsString(m);
        continue;
      }
      let firstLine = true;
      for (const line of m.lines()) {
        chunk += firstLine ? line : "\n" + line;
        firstLine = false;
        if (chunk.length >= WRITE_CHUNK) {
          await write(chunk);
          chunk = "";
        }
      }
    }
    await write(chunk + "\n");
  }
}

const WRITE_CHUNK = 64 << 10;

/** What a table-backed metric reads: label names and rows. */
export type RowSource = Pick<SeriesTable, "labelNames" | "all">;

/** Registers a counter (or gauge) that reads column `column` of table. */
export function registerTableCounter(registry: Registry, table: RowSource, column: number, name: string, help: string, type: "counter" | "gauge" = "counter"): void {
  const metric = new TableMetric(
    name,
    help,
    type,
    () => {
      const out: MetricValue[] = [];
      for (const r of table.all()) out.push({ labels: labelObject(table.labelNames, r.labels), value: r.values[column]! });
      return out;
    },
    function* lines() {
      yield header(name, help, type);
      for (const r of table.all()) {
        const t = labelText(table.labelNames, r);
        yield `${name}${t ? `{${t}}` : ""} ${formatValue(r.values[column]!)}`;
      }
    },
  );
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric(metric);
}

/**
 * A histogram in a SeriesTable: columns 0..n-1 are per-bucket (non-cumulative) counts,
 * column n the +Inf overflow count, n+1 the sum.
 */
export class HistogramTable extends SeriesTable {
  constructor(name: string, labelNames: readonly string[], readonly buckets: readonly number[], maxSeries: number) {
    super(name, labelNames, buckets.length + 2, maxSeries);
  }

  observe(row: Row, v: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    row.values[i]!++;
    row.values[b.length + 1]! += v;
  }
}

export function registerHistogram(registry: Registry, table: HistogramTable, name: string, help: string): void {
  const n = table.buckets.length;
  const metric = new TableMetric(
    name,
    help,
    "histogram",
    () => {
      const out: MetricValue[] = [];
      for (const r of table.all()) {
        const labels = labelObject(table.labelNames, r.labels);
        let cum = 0;
        for (let i = 0; i < n; i++) {
          cum += r.values[i]!;
          out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: table.buckets[i]! }, value: cum });
        }
        cum += r.values[n]!;
        out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: cum });
        out.push({ metricName: `${name}_sum`, labels, value: r.values[n + 1]! });
        out.push({ metricName: `${name}_count`, labels, value: cum });
      }
      return out;
    },
    function* lines() {
      yield header(name, help, "histogram");
      for (const r of table.all()) {
        const t = labelText(table.labelNames, r);
        const pre = t ? `${t},` : "";
        let cum = 0;
        for (let i = 0; i < n; i++) {
          cum += r.values[i]!;
          yield `${name}_bucket{${pre}le="${table.buckets[i]}"} ${formatValue(cum)}`;
        }
        cum += r.values[n]!;
        yield `${name}_bucket{${pre}le="+Inf"} ${formatValue(cum)}`;
        yield `${name}_sum${t ? `{${t}}` : ""} ${formatValue(r.values[n + 1]!)}`;
        yield `${name}_count${t ? `{${t}}` : ""} ${formatValue(cum)}`;
      }
    },
  );
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric(metric);
}

/** A small counter keyed by a few bounded labels (event types, reasons), rendered like a table. */
export class KeyedCounter {
  private readonly table: SeriesTable;
  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    // Label values here come from fixed sets; the cap only guards against a bug.
    this.table = new SeriesTable(name, labelNames, 1, 1000);
    registerTableCounter(registry, this.table, 0, name, help);
  }

  inc(labels: string[], v = 1): void {
    this.table.row(labels.join("\u0000"), () => labels).values[0]! += v;
  }

  // The per-event path (one counter increment per line): two Map lookups by the label strings
  // instead of an array, a join and a closure.
  private readonly byPair = new Map<string, Map<string, Row>>();

  /** inc([a, b], v) for a two-label counter. */
  inc2(a: string, b: string, v = 1): void {
    let inner = this.byPair.get(a);
    if (inner === undefined) this.byPair.set(a, (inner = new Map()));
    let row = inner.get(b);
    if (row === undefined) {
      row = this.table.row(a + "\u0000" + b, () => [a, b]);
      inner.set(b, row);
    }
    row.values[0]! += v;
  }

  get(labels: string[]): number {
    return this.table.rows.get(labels.join("\u0000"))?.values[0] ?? 0;
  }
}

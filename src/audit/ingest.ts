import { readFile, stat } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { EVENT_COLUMNS } from "./schema.js";
import { stageSelectSql } from "./event-sql.js";
import { firstLine, isGzip, scanLines } from "./line-scan.js";
import { resolveInputs, type ResolvedInput } from "./inputs.js";
import type { AuditStore } from "./store.js";
import { serialized } from "./serial.js";
import { REDACTION_CANDIDATE_SQL, redactBodyText, type RedactionCounts, type RedactionKind } from "./redact.js";

export interface MalformedLine {
  /** The file as named by the user ("-" for stdin, "webhook" for webhook batches). */
  file: string;
  line: number;
  reason: string;
}

/** An `apiserver.latency.k8s.io/*` annotation whose value is not a Go duration (its column is NULL). */
export interface MalformedAnnotation {
  file: string;
  /** file:line as in `source` (`#items[i]` inside an EventList). */
  line: number;
  item?: number;
  annotation: string;
  /** The value as received (first 200 characters). */
  value: string;
}

export interface IngestReport {
  files: number;
  /** Audit events found (EventList items count one each), including duplicates. */
  eventsRead: number;
  inserted: number;
  /** Events already in the store, or repeated in the input, by (auditID, stage). */
  duplicates: number;
  malformed: number;
  /** The first `maxMalformedListed` malformed lines, in file order. */
  malformedLines: MalformedLine[];
  /** Body values replaced by the redaction marker, by kind (empty with keepSecretData). */
  redactions: RedactionCounts;
  /** `apiserver.latency.k8s.io/*` values that are not Go durations, in events that were read (stored as NULL). */
  malformedAnnotations: number;
  /** The first `maxMalformedListed` of them, in file order. */
  malformedAnnotationList: MalformedAnnotation[];
}

export interface IngestOptions {
  /** Largest single event line DuckDB will parse (default 64 MiB). */
  maxEventBytes?: number;
  /** Largest whole-file JSON document (EventList) held in memory (default 256 MiB). */
  maxDocumentBytes?: number;
  maxMalformedListed?: number;
  stdin?: Readable;
  /** Store Secret data and tokens in bodies as they came (`--keep-secret-data`); default false. */
  keepSecretData?: boolean;
}

const DEFAULTS = { maxEventBytes: 64 << 20, maxDocumentBytes: 256 << 20, maxMalformedListed: 1000, keepSecretData: false };

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function emptyReport(): IngestReport {
  return { files: 0, eventsRead: 0, inserted: 0, duplicates: 0, malformed: 0, malformedLines: [], redactions: {}, malformedAnnotations: 0, malformedAnnotationList: [] };
}

function addReport(into: IngestReport, r: IngestReport, limit: number): void {
  into.files += r.files;
  into.eventsRead += r.eventsRead;
  into.inserted += r.inserted;
  into.duplicates += r.duplicates;
  into.malformed += r.malformed;
  for (const m of r.malformedLines) if (into.malformedLines.length < limit) into.malformedLines.push(m);
  into.malformedAnnotations += r.malformedAnnotations;
  for (const m of r.malformedAnnotationList) if (into.malformedAnnotationList.length < limit) into.malformedAnnotationList.push(m);
  addCounts(into.redactions, r.redactions);
}

function addCounts(into: RedactionCounts, add: RedactionCounts): void {
  for (const [k, n] of Object.entries(add)) into[k as RedactionKind] = (into[k as RedactionKind] ?? 0) + n;
}

/**
 * Replaces secret values in the staged bodies (in the temp table, before anything reaches the
 * store). Only rows that may hold a secret are read back into Node, parsed and rewritten.
 */
async function redactStage(store: AuditStore): Promise<RedactionCounts> {
  const counts: RedactionCounts = {};
  const rows = await store.query(
    `SELECT rowid AS rid, resource, subresource, request_object, response_object FROM _stage WHERE problem IS NULL AND ${REDACTION_CANDIDATE_SQL}`,
  );
  if (rows.length === 0) return counts;
  const changed: { rid: number; req: string | null; resp: string | null }[] = [];
  for (const r of rows) {
    const ctx = { resource: r.resource as string | null, subresource: r.subresource as string | null };
    const req = r.request_object === null ? null : redactBodyText(String(r.request_object), ctx, counts);
    const resp = r.response_object === null ? null : redactBodyText(String(r.response_object), ctx, counts);
    if (req !== r.request_object || resp !== r.response_object) changed.push({ rid: Number(r.rid), req, resp });
  }
  if (changed.length === 0) return counts;
  await store.run("CREATE OR REPLACE TEMP TABLE _redacted (rid BIGINT, request_object VARCHAR, response_object VARCHAR)");
  const appender = await store.connection.createAppender("_redacted", "main", "temp");
  for (const c of changed) {
    appender.appendBigInt(BigInt(c.rid));
    if (c.req === null) appender.appendNull();
    else appender.appendVarchar(c.req);
    if (c.resp === null) appender.appendNull();
    else appender.appendVarchar(c.resp);
    appender.endRow();
  }
  appender.closeSync();
  await store.run("UPDATE _stage SET request_object = r.request_object, response_object = r.response_object FROM _redacted r WHERE _stage.rowid = r.rid");
  await store.run("DROP TABLE _redacted");
  return counts;
}

/**
 * Moves the staged rows into `events` (de-duplicated on (audit_id, stage))
 * after expanding EventList items, and reports what happened.
 */
async function finishStage(store: AuditStore, file: string, sourceExpr: string, limit: number, keepSecretData: boolean): Promise<IngestReport> {
  const expand = `SELECT line, unnest(generate_series(1, len(l)))::INTEGER AS item, unnest(l) AS j FROM (SELECT line, json_extract(items, '$[*]') AS l FROM _stage WHERE problem = 'EventList')`;
  await store.run(`INSERT INTO _stage ${stageSelectSql(expand)}`);
  const redactions = keepSecretData ? {} : await redactStage(store);
  const counts = await store.query(
    `SELECT count(*) FILTER (WHERE problem IS NULL) AS good,
            count(DISTINCT (audit_id, stage)) FILTER (WHERE problem IS NULL) AS uniq,
            count(*) FILTER (WHERE problem IS NOT NULL AND problem <> 'EventList') AS bad,
            coalesce(sum(len(latency_annotation_problems)) FILTER (WHERE problem IS NULL), 0) AS bad_annotations FROM _stage`,
  );
  const good = Number(counts[0]?.good ?? 0);
  const before = await store.count();
  const cols = EVENT_COLUMNS.map((c) => `"${c}"`).join(", ");
  const values = EVENT_COLUMNS.map((c) => (c === "source" ? sourceExpr : `"${c}"`)).join(", ");
  // The cheap plain insert is the common case; pay for de-duplication only when needed.
  const conds = ["problem IS NULL"];
  if (Number(counts[0]?.uniq ?? 0) < good) conds.push("s.rowid IN (SELECT min(rowid) FROM _stage WHERE problem IS NULL GROUP BY audit_id, stage)");
  if (before > 0) conds.push("NOT EXISTS (SELECT 1 FROM events e WHERE e.audit_id = s.audit_id AND e.stage = s.stage)");
  // Bodies first: the anti-join above must see `events` as it was before this batch.
  await store.run(
    `INSERT INTO bodies (audit_id, stage, request_object, response_object) SELECT audit_id, stage, request_object, response_object FROM _stage s
     WHERE (request_object IS NOT NULL OR response_object IS NOT NULL) AND ${conds.join(" AND ")}`,
  );
  await store.run(`INSERT INTO events (${cols}) SELECT ${values} FROM _stage s WHERE ${conds.join(" AND ")}`);
  const after = await store.count();
  const bad = await store.query(
    `SELECT line, item, problem FROM _stage WHERE problem IS NOT NULL AND problem <> 'EventList' ORDER BY line, item LIMIT ${limit}`,
  );
  const badAnnotations = Number(counts[0]?.bad_annotations ?? 0);
  const annotationRows =
    badAnnotations === 0
      ? []
      : await store.query(
          `SELECT line, item, p.annotation AS annotation, p.value AS value
             FROM (SELECT line, item, unnest(latency_annotation_problems) AS p FROM _stage WHERE problem IS NULL AND len(latency_annotation_problems) > 0)
            ORDER BY line, item, annotation LIMIT ${limit}`,
        );
  await store.run("DROP TABLE _stage");
  return {
    files: 1,
    eventsRead: good,
    inserted: after - before,
    duplicates: good - (after - before),
    malformed: Number(counts[0]?.bad ?? 0),
    malformedLines: bad.map((r) => ({
      file,
      line: Number(r.line),
      reason: Number(r.item) > 0 ? `items[${Number(r.item) - 1}]: ${String(r.problem)}` : String(r.problem),
    })),
    redactions,
    malformedAnnotations: badAnnotations,
    malformedAnnotationList: annotationRows.map((r) => ({
      file,
      line: Number(r.line),
      ...(Number(r.item) > 0 ? { item: Number(r.item) - 1 } : {}),
      annotation: String(r.annotation),
      value: String(r.value),
    })),
  };
}

function fileSourceExpr(label: string): string {
  return `${sqlString(label + ":")} || line || CASE WHEN item > 0 THEN '#items[' || (item - 1) || ']' ELSE '' END`;
}

async function ingestJsonLines(store: AuditStore, input: ResolvedInput, gzip: boolean, o: typeof DEFAULTS): Promise<IngestReport> {
  const read = `read_json_objects(${sqlString(input.path)}, format = 'newline_delimited', ignore_errors = true, maximum_object_size = ${o.maxEventBytes}, compression = '${gzip ? "gzip" : "uncompressed"}')`;
  // With preserve_insertion_order (DuckDB's default) the staged table keeps file order, so
  // rowid + 1 is the row number; a window function would instead buffer every raw line. The
  // blank-line scan runs in Node while DuckDB parses; row numbers become line numbers after.
  const src = `SELECT NULL::BIGINT AS line, 0 AS item, j FROM ${read} AS t(j)`;
  const [scan] = await Promise.all([scanLines(input.path), store.run(`CREATE OR REPLACE TEMP TABLE _stage AS ${stageSelectSql(src)}`)]);
  if (scan.gaps.length === 0) {
    await store.run("UPDATE _stage SET line = rowid + 1");
  } else {
    await store.run("CREATE OR REPLACE TEMP TABLE _gaps (rn_from BIGINT, delta BIGINT)");
    const rows = scan.gaps[0]!.rnFrom === 1 ? scan.gaps : [{ rnFrom: 1, delta: 0 }, ...scan.gaps];
    await store.run(`INSERT INTO _gaps VALUES ${rows.map((g) => `(${g.rnFrom}, ${g.delta})`).join(", ")}`);
    await store.run("CREATE OR REPLACE TEMP TABLE _stage AS SELECT s.* REPLACE (s.rowid + 1 + g.delta AS line) FROM _stage s ASOF JOIN _gaps g ON s.rowid + 1 >= g.rn_from");
    await store.run("DROP TABLE _gaps");
  }
  return finishStage(store, input.label, fileSourceExpr(input.label), o.maxMalformedListed, o.keepSecretData);
}

/** Loads JSON texts (one event or EventList each) through the same staging as files. */
async function ingestTexts(store: AuditStore, texts: { line: number; text: string }[], label: string, sourceExpr: string, limit: number, keepSecretData: boolean): Promise<IngestReport> {
  await store.run("CREATE OR REPLACE TEMP TABLE _in (line BIGINT, j VARCHAR)");
  const appender = await store.connection.createAppender("_in", "main", "temp");
  for (const t of texts) {
    appender.appendBigInt(BigInt(t.line));
    appender.appendVarchar(t.text);
    appender.endRow();
  }
  appender.closeSync();
  const src = `SELECT line, 0 AS item, CASE WHEN json_valid(j) THEN j::JSON END AS j FROM _in`;
  await store.run(`CREATE OR REPLACE TEMP TABLE _stage AS ${stageSelectSql(src)}`);
  await store.run("DROP TABLE _in");
  return finishStage(store, label, sourceExpr, limit, keepSecretData);
}

async function readWhole(path: string, gzip: boolean, max: number, label: string): Promise<string | null> {
  const size = (await stat(path)).size;
  if (!gzip && size > max) return null;
  const raw = await readFile(path);
  if (!gzip) return raw.toString("utf8");
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of Readable.from([raw]).pipe(createGunzip()) as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new Error(`${label}: JSON document larger than ${max} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts).toString("utf8");
}

async function ingestOne(store: AuditStore, input: ResolvedInput, o: typeof DEFAULTS): Promise<IngestReport> {
  const gzip = await isGzip(input.path);
  const head = await firstLine(input.path, gzip);
  if (head === null) return { ...emptyReport(), files: 1 };
  let firstOk = true;
  try {
    JSON.parse(head.text);
  } catch {
    firstOk = false;
  }
  if (!firstOk && !head.only) {
    // Not JSON lines: maybe one JSON document (an EventList, typically pretty-printed).
    const text = await readWhole(input.path, gzip, o.maxDocumentBytes, input.label);
    let doc: unknown;
    try {
      doc = text === null ? undefined : JSON.parse(text);
    } catch {
      doc = undefined;
    }
    if (doc !== null && typeof doc === "object" && !Array.isArray(doc)) {
      const d = doc as { kind?: unknown; items?: unknown };
      const items = d.kind === "EventList" && Array.isArray(d.items) ? d.items : [doc];
      const texts = items.map((it, i) => ({ line: i + 1, text: JSON.stringify(it) }));
      const sourceExpr = `${sqlString(`${input.label}:${head.line}#items[`)} || (line - 1) || ']'`;
      const r = await ingestTexts(store, texts, input.label, sourceExpr, o.maxMalformedListed, o.keepSecretData);
      r.malformedLines = r.malformedLines.map((m) => ({ ...m, reason: `items[${m.line - 1}]: ${m.reason}`, line: head.line }));
      r.malformedAnnotationList = r.malformedAnnotationList.map((m) => ({ ...m, item: m.line - 1, line: head.line }));
      return r;
    }
  }
  return ingestJsonLines(store, input, gzip, o);
}

/**
 * Reads audit.k8s.io/v1 and v1beta1 events from files, directories, globs and "-" (stdin) into
 * the store. Malformed lines are counted and listed with file:line; they never abort the run.
 */
export async function ingestPaths(store: AuditStore, paths: string[], opts: IngestOptions = {}): Promise<IngestReport> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS;
  const { inputs, cleanup } = await resolveInputs(paths, opts.stdin);
  const total = emptyReport();
  try {
    for (const input of inputs) {
      const r = await serialized(store, () => ingestOne(store, input, o));
      addReport(total, r, o.maxMalformedListed);
    }
  } finally {
    await cleanup();
  }
  return total;
}

/**
 * Inserts events received by the webhook: `items` are already-parsed Event objects (from an
 * EventList body). Returns the same report as a file ingest, with file "webhook".
 */
export function ingestEvents(
  store: AuditStore,
  items: unknown[],
  label = "webhook",
  maxMalformedListed = DEFAULTS.maxMalformedListed,
  opts: { keepSecretData?: boolean } = {},
): Promise<IngestReport> {
  const texts = items.map((it, i) => ({ line: i + 1, text: JSON.stringify(it) }));
  const sourceExpr = sqlString(label);
  return serialized(store, async () => {
    if (texts.length === 0) return emptyReport();
    const r = await ingestTexts(store, texts, label, sourceExpr, maxMalformedListed, opts.keepSecretData === true);
    r.files = 0;
    return r;
  });
}

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type * as DuckDBApi from "@duckdb/node-api";
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from "@duckdb/node-api";
import { ADDED_EVENT_COLUMNS, BODIES_DDL, BODIES_EMPTY_VIEW, EVENTS_DDL } from "./schema.js";

export type Row = Record<string, unknown>;

// Loaded with require(), not import: importing this CommonJS package from ESM makes Node run its
// export lexer over every one of its files, ~0.13 s of CPU on each `audit` command (measured:
// bench/README.md "DuckDB load"). The types are the same.
const { DuckDBInstance: DuckDB } = createRequire(import.meta.url)("@duckdb/node-api") as typeof DuckDBApi;

export interface OpenStoreOptions {
  /** Open an existing file read-only (queries, `audit sql`): no writes, and other readers may share it. */
  readOnly?: boolean;
}

/** Raised when the DB file does not exist for a read-only open (CLI exit 1 with a clear message). */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

export interface AuditStore {
  readonly path: string;
  readonly readOnly: boolean;
  readonly connection: DuckDBConnection;
  /** Runs a statement and returns rows as plain JS objects (BigInt → number, timestamps → ISO strings). */
  query(sql: string, params?: DuckDBValue[]): Promise<Row[]>;
  run(sql: string, params?: DuckDBValue[]): Promise<void>;
  count(): Promise<number>;
  /** Another connection to the same database (readers run beside the writer, MVCC). */
  duplicate(): Promise<AuditStore>;
  close(): void;
}

function toPlain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

function lockMessage(path: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/lock/i.test(msg)) {
    return `audit store ${path} is locked by another process (DuckDB allows one writer per file; \`audit serve\`/\`audit webhook\` hold it while running). Query the running server's HTTP API (/api/v1/...) or copy the file and pass --db COPY. (${msg})`;
  }
  return `cannot open audit store ${path}: ${msg}`;
}

/**
 * Opens (creating if needed) the DuckDB audit store. ":memory:" gives a private in-memory store.
 * DuckDB parses timestamps with offsets; we pin the session to UTC so output is stable.
 */
export async function openStore(path: string, opts: OpenStoreOptions = {}): Promise<AuditStore> {
  const readOnly = opts.readOnly === true;
  if (path !== ":memory:" && readOnly && !existsSync(path)) {
    throw new StoreError(`audit store ${path} does not exist (create it with \`watch-auditor audit ingest --db ${path} FILE...\`)`);
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDB.create(path, readOnly ? { access_mode: "READ_ONLY" } : {});
  } catch (err) {
    throw new StoreError(lockMessage(path, err));
  }
  const first = await wrap(instance, path, readOnly, true);
  if (!readOnly) {
    await first.run(EVENTS_DDL);
    await first.run(BODIES_DDL);
    await migrateEvents(first);
  }
  return first;
}

/** `events` columns missing from a store written by an earlier version (empty for a current one). */
async function missingEventColumns(connection: DuckDBConnection): Promise<{ name: string; type: string }[]> {
  const r = await connection.runAndReadAll(
    "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'events'",
  );
  const have = new Set(r.getRows().map((row) => String(row[0])));
  if (have.size === 0) return []; // no events table (a read-only open of a non-store file): queries will say so
  return ADDED_EVENT_COLUMNS.filter((c) => !have.has(c.name));
}

/**
 * The store's schema migration: columns added since the store was created are added to it
 * (NULL for the rows already there — re-ingesting them does not fill them, they are duplicates).
 */
async function migrateEvents(store: AuditStore): Promise<void> {
  for (const c of await missingEventColumns(store.connection)) await store.run(`ALTER TABLE events ADD COLUMN ${c.name} ${c.type}`);
}

async function wrap(instance: DuckDBInstance, path: string, readOnly: boolean, ownsInstance: boolean): Promise<AuditStore> {
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  if (readOnly) {
    // A store written before bodies were kept has no `bodies` table: give readers an empty one
    // (a temp view, this connection only) so queries over it work on old and new files alike.
    const has = await connection.runAndReadAll("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'bodies'");
    if (Number(has.getRows()[0]?.[0] ?? 0) === 0) await connection.run(BODIES_EMPTY_VIEW);
    // A store from before the latest columns: readers see them as NULL (a temp view over the table).
    const missing = await missingEventColumns(connection);
    if (missing.length > 0) {
      const db = await connection.runAndReadAll("SELECT current_database()");
      const table = `"${String(db.getRows()[0]?.[0]).replace(/"/g, '""')}".main.events`;
      await connection.run(`CREATE TEMP VIEW events AS SELECT *, ${missing.map((c) => `NULL::${c.type} AS ${c.name}`).join(", ")} FROM ${table}`);
    }
  }
  const store: AuditStore = {
    path,
    readOnly,
    connection,
    async query(sql, params) {
      const reader = await connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJS().map((r) => {
        const out: Row = {};
        for (const [k, v] of Object.entries(r)) out[k] = toPlain(v);
        return out;
      });
    },
    async run(sql, params) {
      await connection.run(sql, params);
    },
    async count() {
      const rows = await store.query("SELECT count(*) AS n FROM events");
      return Number(rows[0]?.n ?? 0);
    },
    duplicate() {
      return wrap(instance, path, readOnly, false);
    },
    close() {
      connection.closeSync();
      if (ownsInstance) instance.closeSync();
    },
  };
  return store;
}

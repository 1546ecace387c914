import { readFileSync, statSync } from "node:fs";
import type { HttpAuthConfig } from "../core/http-auth.js";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { LOG_LEVELS, type LogLevel } from "../core/logger.js";
import { parseListenAddress, type ListenAddress } from "./producer-server.js";
import { WHEN_FULL, type WhenFull } from "./queue/durable-queue.js";

export interface SinkSpec {
  url: string;
  /** Options from the config file's sinks list (the URL's query string holds the rest). */
  options: Record<string, unknown>;
}

export interface ExporterConfig {
  listen: ListenAddress[];
  dataDir: string;
  sinks: SinkSpec[];
  maxRecordBytes: number;
  maxBytes: number;
  whenFull: WhenFull;
  diskReserveBytes: number;
  socketMode: number;
  port: number;
  batchRecords?: number;
  batchBytes?: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  stallTimeoutMs: number;
  graceMs: number;
  logLevel: LogLevel;
  /** Queue segment size; mostly for tests (small segments rotate often). */
  segmentBytes?: number;
  deadLetterMaxBytes: number;
  /** The gate in front of /status; without it /status is not served (flags only, never the config file). */
  auth?: HttpAuthConfig;
}

export const DEFAULTS = {
  maxRecordBytes: 1024 * 1024,
  maxBytes: 1024 ** 3,
  whenFull: "block" as WhenFull,
  diskReserveBytes: 100 * 1024 * 1024,
  socketMode: 0o660,
  port: 9090,
  backoffInitialMs: 200,
  backoffMaxMs: 30_000,
  stallTimeoutMs: 5 * 60_000,
  graceMs: 10_000,
  logLevel: "info" as LogLevel,
  deadLetterMaxBytes: 64 * 1024 * 1024,
};

const MAX_CONFIG_BYTES = 1024 * 1024;
export const MIN_MAX_BYTES = 64 * 1024;

function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(|b|k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib|t|ti|tib)$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const mult = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 ** 2 : unit.startsWith("g") ? 1024 ** 3 : unit.startsWith("t") ? 1024 ** 4 : 1;
  return Math.floor(Number(m[1]) * mult);
}

const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a size such as 1048576, 512KiB, 64MiB or 1GiB, got "${v}"` });
    return z.NEVER;
  }
  return n;
});

const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

export function parseSocketMode(v: string): number {
  if (!/^0?[0-7]{3}$/.test(v.trim())) throw new Error(`expected an octal file mode such as 0660, got "${v}"`);
  const mode = parseInt(v, 8);
  if (mode & 0o002) throw new Error(`"${v}" lets every local user write to the socket; use at most 0660 or 0770`);
  return mode;
}

const listenAddr = z.string().transform((v, ctx) => {
  try {
    return parseListenAddress(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

const sinkEntry = z.union([
  z.string().min(1),
  z.object({ url: z.string().min(1) }).passthrough(),
]);

/** The YAML config file: every flag by its camelCase name. */
export const ConfigFileSchema = z
  .object({
    listen: z.array(listenAddr).min(1).optional(),
    dataDir: z.string().min(1).optional(),
    sinks: z.array(sinkEntry).min(1).optional(),
    maxRecordBytes: size.optional(),
    maxBytes: size.optional(),
    whenFull: z.enum(WHEN_FULL as [WhenFull, ...WhenFull[]]).optional(),
    diskReserve: size.optional(),
    socketMode: z.union([z.string(), z.number()]).transform((v, ctx) => {
      try {
        return parseSocketMode(typeof v === "number" ? v.toString(8) : v);
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
        return z.NEVER;
      }
    }).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    batchRecords: z.number().int().min(1).max(100_000).optional(),
    batchBytes: size.optional(),
    backoffInitial: duration.optional(),
    backoffMax: duration.optional(),
    stallTimeout: duration.optional(),
    grace: duration.optional(),
    logLevel: z.enum(LOG_LEVELS).optional(),
    segmentBytes: size.optional(),
    deadLetterMaxBytes: size.optional(),
  })
  .strict();

export type ConfigFile = z.output<typeof ConfigFileSchema>;

/** Reads and validates the YAML config file; errors name the file, line and field. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    const st = statSync(path);
    if (st.size > MAX_CONFIG_BYTES) throw new UsageError(`${path}: config file is ${st.size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--config ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    throw new UsageError(`${path}:${pos.line}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "(top level)";
    let where = path;
    const node = issue.path.length > 0 ? (doc.getIn(issue.path, true) as { range?: [number, number, number] } | undefined) : undefined;
    if (node && typeof node === "object" && node.range) where = `${path}:${lineCounter.linePos(node.range[0]).line}`;
    const message = issue.code === z.ZodIssueCode.unrecognized_keys ? `unknown field "${issue.keys[0]}"` : issue.message;
    throw new UsageError(`${where}: field "${field}": ${message}`);
  }
  return parsed.data;
}

/** Cross-field checks on the final configuration. */
export function validateConfig(cfg: ExporterConfig): ExporterConfig {
  if (cfg.listen.length === 0) throw new UsageError("--listen: at least one address is required (e.g. unix:///var/run/decisions/export.sock)");
  if (!cfg.dataDir) throw new UsageError("--data-dir: required");
  if (cfg.sinks.length === 0) throw new UsageError("--sink: at least one sink URL is required");
  if (cfg.maxBytes < MIN_MAX_BYTES) throw new UsageError(`--max-bytes: must be at least ${MIN_MAX_BYTES} bytes, got ${cfg.maxBytes}`);
  if (cfg.maxRecordBytes < 2) throw new UsageError(`--max-record-bytes: must be at least 2 bytes, got ${cfg.maxRecordBytes}`);
  if (cfg.maxRecordBytes > 64 * 1024 * 1024) throw new UsageError(`--max-record-bytes: must be at most 64MiB, got ${cfg.maxRecordBytes}`);
  if (cfg.maxRecordBytes * 4 > cfg.maxBytes) throw new UsageError(`--max-record-bytes (${cfg.maxRecordBytes}) must be at most a quarter of --max-bytes (${cfg.maxBytes})`);
  if (cfg.deadLetterMaxBytes < 4096) throw new UsageError(`--dead-letter-max-bytes: must be at least 4096 bytes, got ${cfg.deadLetterMaxBytes}`);
  if (cfg.backoffInitialMs <= 0) throw new UsageError("--backoff-initial: must be greater than 0");
  if (cfg.backoffMaxMs < cfg.backoffInitialMs) throw new UsageError(`--backoff-max (${cfg.backoffMaxMs}ms) must not be less than --backoff-initial (${cfg.backoffInitialMs}ms)`);
  if (cfg.segmentBytes !== undefined && (cfg.segmentBytes < 4096 || cfg.segmentBytes > cfg.maxBytes / 4)) {
    throw new UsageError(`segmentBytes: must be between 4096 and a quarter of --max-bytes, got ${cfg.segmentBytes}`);
  }
  const paths = cfg.listen.filter((l) => l.kind === "unix").map((l) => (l as { path: string }).path);
  if (new Set(paths).size !== paths.length) throw new UsageError("--listen: the same socket path is given twice");
  return cfg;
}

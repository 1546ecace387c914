import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseDuration } from "../../core/duration.js";
import { UsageError } from "../../core/errors.js";
import { sizeParser } from "../../core/options.js";

// Sink options come from two places with one schema: the sink URL's query string
// (`http://host/ingest?gzip=true&timeout=5s`) and the exporter's config file (an object).
// Query values are strings, so every non-string field also accepts its textual form.

const size = (max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = typeof v === "number" ? v : sizeParser(v);
    } catch {
      n = NaN;
    }
    if (!Number.isInteger(n)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a size such as 65536, 512KiB or 64MiB, got "${v}"` });
      return z.NEVER;
    }
    if (n < 1 || n > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between 1 and ${max} bytes, got ${n}` });
      return z.NEVER;
    }
    return n;
  });

const count = (max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected an integer between 1 and ${max}, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

/** A Go duration ("5s", "1m30s") or milliseconds as a number. */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let ms: number;
  try {
    ms = typeof v === "number" ? v : parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
  if (!(ms >= 1 && ms <= 3_600_000)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between 1ms and 1h, got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"])]).transform((v) => v === true || v === "true" || v === "1");

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the sink sets itself; letting a config override them would break framing or idempotency. */
const RESERVED_HEADERS = new Set([
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "connection",
  "host",
  "idempotency-key",
  "x-watch-auditor-first-seq",
  "x-watch-auditor-last-seq",
  "x-watch-auditor-seq-ranges",
]);

const headers = z.record(z.string()).superRefine((h, ctx) => {
  for (const [name, value] of Object.entries(h)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `header name "${name}" is not a valid HTTP token` });
    else if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `header "${name}" is set by the sink and cannot be overridden` });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `header "${name}" has a value with a control character` });
  }
});

const path = z.string().min(1, "must not be empty");

/** Every sink option; each sink kind accepts the subset listed in APPLICABLE. */
export const SinkOptionsSchema = z
  .object({
    /** http: body format, NDJSON (default) or a JSON array. */
    format: z.enum(["ndjson", "array"]).optional(),
    /** http: gzip the body (Content-Encoding: gzip). */
    gzip: bool.optional(),
    /** http, nats: per-request timeout (default 10s). */
    timeout: duration.optional(),
    /** all: largest batch in records. */
    batchRecords: count(100_000).optional(),
    /** all: largest batch in bytes (a single larger record is still sent alone). */
    batchBytes: size(256 * 1024 ** 2).optional(),
    /** http: file holding a bearer token; re-read when it changes. */
    tokenFile: path.optional(),
    /** https, nats: PEM file of the CA(s) to trust instead of the system roots (nats: implies TLS). */
    caFile: path.optional(),
    /** nats: require TLS (with the system roots unless caFile is given). */
    tls: bool.optional(),
    /** nats: client certificate and key (PEM) for servers that verify clients (mTLS). */
    certFile: path.optional(),
    keyFile: path.optional(),
    /** http: extra request headers. */
    headers: headers.optional(),
    /** file: rotate to a new file before it would exceed this size (default 64MiB). */
    maxFileBytes: size(1024 ** 4).optional(),
    /** nats: auth token (prefer tokenFile-like secrets via the config file, not the URL). */
    token: z.string().min(1).optional(),
    /** nats: user and password (also accepted as URL userinfo). */
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** nats: a .creds file (JWT + NKey seed). */
    credsFile: path.optional(),
  })
  .strict();

export type SinkOptionsInput = z.input<typeof SinkOptionsSchema>;
export type SinkOptions = z.output<typeof SinkOptionsSchema>;
type OptionName = keyof SinkOptions;

export type SinkKind = "http" | "file" | "stdout" | "nats";

const APPLICABLE: Record<SinkKind, readonly OptionName[]> = {
  http: ["format", "gzip", "timeout", "batchRecords", "batchBytes", "tokenFile", "caFile", "headers"],
  file: ["batchRecords", "batchBytes", "maxFileBytes"],
  stdout: ["batchRecords", "batchBytes"],
  nats: ["timeout", "batchRecords", "batchBytes", "token", "user", "password", "credsFile", "caFile", "tls", "certFile", "keyFile"],
};

/** An options error, naming the sink (without credentials) and the option. */
export class SinkConfigError extends UsageError {
  constructor(sinkName: string, message: string) {
    super(`sink "${sinkName}": ${message}`);
    this.name = "SinkConfigError";
  }
}

/**
 * Reads a file a sink option names (CA, client certificate, credentials) at start-up, so that a
 * wrong path is a usage error naming the sink and the option, not a retry loop later.
 */
export function readOptionFile(sinkName: string, option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SinkConfigError(sinkName, `option "${option}": cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export interface ParsedSinkUrl {
  kind: SinkKind;
  url: URL;
  /** The URL without credentials and without option parameters: the sink's stable name. */
  name: string;
  options: SinkOptions;
}

/** Query parameters with this prefix are passed through to an http sink's URL (`param.dataset=x` → `dataset=x`). */
export const PASSTHROUGH_PREFIX = "param.";

/**
 * Splits a sink URL into kind, credential-free name and validated options. Options from the
 * query string and from `fromConfig` are merged; the same option in both is an error
 * rather than a silent precedence rule.
 */
export function parseSinkUrl(raw: string, fromConfig: SinkOptionsInput = {}): ParsedSinkUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SinkConfigError(redactUrlText(raw), "not a valid URL (expected http://, https://, file://, stdout:// or nats://)");
  }
  const kind = kindOf(url.protocol);
  const name = nameOf(url);
  if (!kind) throw new SinkConfigError(name, `unsupported scheme "${url.protocol}" (expected http://, https://, file://, stdout:// or nats://)`);

  const fromQuery: Record<string, unknown> = {};
  const queryHeaders: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key === "header") {
      const colon = value.indexOf(":");
      if (colon <= 0) throw new SinkConfigError(name, `option "header": expected Name:value, got "${value}"`);
      queryHeaders[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
    } else if (key.startsWith(PASSTHROUGH_PREFIX) && kind === "http") {
      continue;
    } else if (key in fromQuery) {
      throw new SinkConfigError(name, `option "${key}" is given twice in the URL`);
    } else {
      fromQuery[key] = value;
    }
  }
  if (Object.keys(queryHeaders).length > 0) {
    const configHeaders = fromConfig.headers ?? {};
    for (const h of Object.keys(queryHeaders)) {
      if (Object.keys(configHeaders).some((c) => c.toLowerCase() === h.toLowerCase())) {
        throw new SinkConfigError(name, `header "${h}" is set both in the URL and in the options`);
      }
    }
    fromQuery.headers = { ...configHeaders, ...queryHeaders };
  }
  for (const key of Object.keys(fromQuery)) {
    if (key === "headers") continue;
    if (key in fromConfig && (fromConfig as Record<string, unknown>)[key] !== undefined) {
      throw new SinkConfigError(name, `option "${key}" is set both in the URL and in the options`);
    }
  }

  const parsed = SinkOptionsSchema.safeParse({ ...fromConfig, ...fromQuery });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      throw new SinkConfigError(name, `unknown option "${issue.keys[0]}" (known: ${APPLICABLE[kind].join(", ")})`);
    }
    throw new SinkConfigError(name, `option "${issue.path.join(".") || "?"}": ${issue.message}`);
  }
  const options = parsed.data;
  for (const key of Object.keys(options) as OptionName[]) {
    if (options[key] !== undefined && !APPLICABLE[kind].includes(key)) {
      throw new SinkConfigError(name, `option "${key}" does not apply to ${kind}:// sinks (they accept: ${APPLICABLE[kind].join(", ")})`);
    }
  }
  return { kind, url, name, options };
}

function kindOf(protocol: string): SinkKind | undefined {
  switch (protocol) {
    case "http:":
    case "https:":
      return "http";
    case "file:":
      return "file";
    case "stdout:":
      return "stdout";
    case "nats:":
      return "nats";
    default:
      return undefined;
  }
}

function nameOf(url: URL): string {
  const clean = new URL(url.href);
  clean.username = "";
  clean.password = "";
  const kept = [...clean.searchParams].filter(([k]) => k.startsWith(PASSTHROUGH_PREFIX));
  clean.search = "";
  for (const [k, v] of kept) clean.searchParams.append(k, v);
  clean.hash = "";
  return clean.href;
}

/** For error messages about text that did not even parse as a URL: hide anything that looks like userinfo. */
function redactUrlText(raw: string): string {
  return raw.replace(/\/\/[^/@]*@/, "//[redacted]@").split("?")[0]!;
}

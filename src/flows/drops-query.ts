// `flows drops`: the top dropped pairs, one shot over a Hubble file, or from a live `flows` process.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { Registry } from "prom-client";
import { UsageError } from "../core/errors.js";
import type { NamedCidr } from "../core/kube-metadata/cidr.js";
import { Enricher } from "./enrich.js";
import { readLines } from "./lines.js";
import { FlowProcessor } from "./processor.js";
import type { DropReport } from "./drops.js";

export interface DropsFileOptions {
  /** A Hubble JSON-lines file, or "-" for stdin. */
  file: string;
  top: number;
  maxLineBytes: number;
  maxRows: number;
  cidrNames: NamedCidr[];
  /** Invalid lines are reported here with FILE:LINE (at most 10, then a count). */
  warn: (msg: string) => void;
}

export interface DropsFileReport extends DropReport {
  lines: number;
  invalidLines: number;
}

/** Reads a Hubble flow file (labels from the flows themselves) and reports its drops. */
export async function dropsFromFile(o: DropsFileOptions): Promise<DropsFileReport> {
  if (o.file !== "-") {
    try {
      const st = await stat(o.file);
      if (!st.isFile()) throw new UsageError(`${o.file}: not a regular file`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${o.file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
    }
  }
  const processor = new FlowProcessor({ registry: new Registry(), enricher: new Enricher(undefined, o.cidrNames), maxSeries: o.maxRows, podLabels: false, flowsOut: false });
  const where = o.file === "-" ? "stdin" : o.file;
  let lines = 0;
  let invalid = 0;
  const note = (lineNo: number, msg: string): void => {
    invalid++;
    if (invalid <= 10) o.warn(`${where}:${lineNo}: ${msg}`);
  };
  const stream = o.file === "-" ? process.stdin : createReadStream(o.file);
  await readLines(stream, o.maxLineBytes, {
    line: (text, lineNo) => {
      lines++;
      const err = processor.handleLine("hubble", text);
      if (err) note(lineNo, `${err.reason}: ${err.message}`);
    },
    tooLong: (lineNo, bytes) => {
      lines++;
      note(lineNo, `too_long: line of ${bytes} bytes exceeds --max-line-bytes`);
    },
  });
  if (invalid > 10) o.warn(`${where}: ${invalid - 10} more invalid lines not shown`);
  const report = processor.dropLog.report(Date.now(), undefined, o.top);
  return { ...report, lines, invalidLines: invalid };
}

export interface DropsLiveOptions {
  /** Base URL of a running `flows` (http://host:9464). */
  url: string;
  windowSeconds: number;
  top: number;
  /** File holding the bearer token (a service account token, or one of --auth-token-file's tokens). */
  tokenFile?: string;
  timeoutMs?: number;
}

/** Asks a running `flows` for its recent drops (GET /drops, bearer token). */
export async function dropsFromLive(o: DropsLiveOptions): Promise<DropReport> {
  let base: URL;
  try {
    base = new URL(o.url);
  } catch {
    throw new UsageError(`--url: not a URL: "${o.url}"`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError(`--url: must be http:// or https://, got "${o.url}"`);
  const headers: Record<string, string> = { accept: "application/json" };
  if (o.tokenFile) {
    let token: string;
    try {
      token = (await readFile(o.tokenFile, "utf8")).trim();
    } catch (err) {
      throw new UsageError(`--token-file: ${(err as Error).message}`);
    }
    if (!token) throw new UsageError(`--token-file: ${o.tokenFile} is empty`);
    headers.authorization = `Bearer ${token}`;
  }
  const url = new URL("/drops", base);
  url.searchParams.set("window", `${o.windowSeconds}s`);
  url.searchParams.set("limit", String(o.top));
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
  } catch (err) {
    throw new Error(`${url.origin}: ${(err as Error).message}`);
  }
  const body = await res.text();
  if (res.status === 401) throw new Error(`${url.origin}/drops: 401 Unauthorized: ${o.tokenFile ? `the token in ${o.tokenFile} was not accepted` : "a bearer token is required (--token-file)"}`);
  if (res.status === 403) throw new Error(`${url.origin}/drops: 403 Forbidden: the token's identity may not read this endpoint`);
  if (!res.ok) throw new Error(`${url.origin}/drops: ${res.status}: ${body.slice(0, 300)}`);
  return JSON.parse(body) as DropReport;
}

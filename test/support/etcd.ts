// A real etcd (Debian package etcd-server, binary /usr/bin/etcd, etcd 3.4.x) for tests: one
// member on free 127.0.0.1 ports with a throw-away data dir, plus a tiny typed client over
// etcd's v3 JSON gRPC-gateway. See test/support/ETCD.md.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { freePorts } from "./ports.js";

export const DEFAULT_ETCD_BIN = "/usr/bin/etcd";

export interface StartEtcdOptions {
  /** etcd binary; default `$ETCD_BIN`, else /usr/bin/etcd. */
  bin?: string;
  /** `--quota-backend-bytes` (etcd's default is 2 GiB when unset). */
  quotaBackendBytes?: number;
  /** Also serve /metrics and /health on a separate `--listen-metrics-urls` port (`metricsUrl`). */
  metrics?: boolean;
  /** How long to wait for `GET /health` to answer `{"health":"true"}`; default 15 s. */
  startTimeoutMs?: number;
  /** `--log-level` (debug, info, warn, error, panic, fatal); default warn. */
  logLevel?: "debug" | "info" | "warn" | "error" | "panic" | "fatal";
  /**
   * `--election-timeout` in ms (`--heartbeat-interval` is a tenth of it); default 100, which makes
   * the single member elect itself in ~0.1 s instead of up to ~1 s with etcd's default (1000).
   */
  electionTimeoutMs?: number;
  /** Extra command-line flags, appended last. */
  extraArgs?: string[];
  /**
   * Also serve the client API over TLS on a second port (`secureClientUrl`, https): etcd's
   * `--cert-file`/`--key-file`, and with `trustedCaFile` + `clientCertAuth` only clients with a
   * certificate signed by that CA get in. `clientUrl` (plain http, used by `client` and the health
   * check) stays as it is.
   */
  tls?: { certFile: string; keyFile: string; trustedCaFile?: string; clientCertAuth?: boolean };
}

export interface EtcdServer {
  /** `http://127.0.0.1:<port>`: the v3 gateway, /health, /metrics, /version. */
  readonly clientUrl: string;
  /** `http://127.0.0.1:<port>` of `--listen-metrics-urls` when `metrics: true`. */
  readonly metricsUrl?: string;
  /** `https://127.0.0.1:<port>`: the client API over TLS, when the `tls` option is given. */
  readonly secureClientUrl?: string;
  readonly dataDir: string;
  readonly pid: number;
  /** `--name` of the single member. */
  readonly name: string;
  readonly client: EtcdClient;
  /** The last stderr/stdout lines of the etcd process. */
  logTail(lines?: number): string;
  /** `GET <clientUrl>/health` with a timeout (default 1 s); rejects when nothing answers in time. */
  health(timeoutMs?: number): Promise<{ status: number; body: string; healthy: boolean }>;
  /** The Prometheus text of `/metrics` (metricsUrl when set, else clientUrl). */
  scrapeMetrics(timeoutMs?: number): Promise<string>;
  /**
   * SIGSTOP: a frozen etcd, which accepts TCP connections but answers nothing. Signal delivery is
   * asynchronous: resolves once every thread of etcd shows state T in /proc.
   */
  pause(): Promise<void>;
  /** SIGCONT; resolves once no thread of etcd is stopped any more. */
  resume(): Promise<void>;
  /** SIGTERM (SIGKILL after a timeout), wait for the exit, remove the data dir. Idempotent. */
  close(): Promise<void>;
}

const live = new Map<number, { child: ChildProcess; dataDir: string }>();
let hooksInstalled = false;
let nameCounter = 0;

/** Starts one etcd member on free loopback ports and waits until it is healthy. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdServer> {
  const fromEnv = process.env["ETCD_BIN"];
  const bin = opts.bin ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_ETCD_BIN);
  try {
    accessSync(bin, fsConstants.X_OK);
  } catch {
    throw new Error(
      `etcd binary ${bin} is missing (or not executable)${bin === DEFAULT_ETCD_BIN ? "" : " (set by $ETCD_BIN or the bin option)"}: ` +
        `install the Debian package etcd-server (apt-get install etcd-server; .ci/run does this), which provides ${DEFAULT_ETCD_BIN}, or point $ETCD_BIN at an etcd 3.4 binary`,
    );
  }
  installExitHooks();
  const attempts = 4;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await startOnce(bin, opts);
    } catch (err) {
      if (!(err instanceof PortRaceError)) throw err;
      lastError = err;
    }
  }
  throw new Error(`etcd: could not bind free ports in ${attempts} attempts: ${lastError?.message ?? ""}`);
}

class PortRaceError extends Error {}

async function startOnce(bin: string, opts: StartEtcdOptions): Promise<EtcdServer> {
  const ports = await freePorts(2 + (opts.metrics ? 1 : 0) + (opts.tls ? 1 : 0));
  const [clientPort, peerPort] = ports;
  const metricsPort = opts.metrics ? ports[2] : undefined;
  const securePort = opts.tls ? ports[ports.length - 1] : undefined;
  const name = `test-etcd-${process.pid}-${++nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
  const dataDir = mkdtempSync(join(tmpdir(), "etcd-test-"));
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const metricsUrl = metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}`;
  const secureClientUrl = securePort === undefined ? undefined : `https://127.0.0.1:${securePort}`;
  const clientUrls = secureClientUrl === undefined ? clientUrl : `${clientUrl},${secureClientUrl}`;
  const electionMs = opts.electionTimeoutMs ?? 100;
  const args = [
    "--name", name,
    "--data-dir", dataDir,
    "--listen-client-urls", clientUrls,
    "--advertise-client-urls", clientUrls,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `${name}=${peerUrl}`,
    "--initial-cluster-state", "new",
    "--initial-cluster-token", name,
    "--election-timeout", String(electionMs),
    "--heartbeat-interval", String(Math.max(1, Math.round(electionMs / 10))),
    "--logger", "zap",
    "--log-outputs", "stderr",
    "--log-level", opts.logLevel ?? "warn",
  ];
  if (opts.quotaBackendBytes !== undefined) args.push("--quota-backend-bytes", String(opts.quotaBackendBytes));
  if (metricsUrl !== undefined) args.push("--listen-metrics-urls", metricsUrl);
  if (opts.tls !== undefined) {
    args.push("--cert-file", opts.tls.certFile, "--key-file", opts.tls.keyFile);
    if (opts.tls.trustedCaFile !== undefined) args.push("--trusted-ca-file", opts.tls.trustedCaFile);
    if (opts.tls.clientCertAuth) args.push("--client-cert-auth");
  }
  args.push(...(opts.extraArgs ?? []));

  // ETCD_* variables would be read as flags too (and clash with ours): do not pass them on.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ETCD_")) env[k] = v;
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
  const log = new LineTail(200);
  const pipes = [child.stdout, child.stderr].filter((s): s is Readable => s !== null);
  for (const s of pipes) s.setEncoding("utf8").on("data", (d: string) => log.push(d));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let spawnErr: Error | undefined;
  void spawnError.then((e) => (spawnErr = e));
  const pid = child.pid;
  if (pid === undefined) {
    const e = await spawnError;
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`etcd: could not start ${bin}: ${e.message}`);
  }
  live.set(pid, { child, dataDir });
  // A test that forgets close() must not keep its process alive: the exit hook kills etcd.
  child.unref();
  for (const s of pipes) (s as Readable & { unref?: () => void }).unref?.();

  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let closing: Promise<void> | undefined;
  let paused = false;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (!hasExited()) {
        child.ref();
        if (paused) process.kill(pid, "SIGCONT");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(pid);
      rmSync(dataDir, { recursive: true, force: true });
    })();
    return closing;
  };

  const client = new EtcdClient(clientUrl);
  const server: EtcdServer = {
    clientUrl,
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    ...(secureClientUrl !== undefined ? { secureClientUrl } : {}),
    dataDir,
    pid,
    name,
    client,
    logTail: (lines = 20) => log.tail(lines),
    health: (timeoutMs = 1000) => getHealth(clientUrl, timeoutMs),
    scrapeMetrics: async (timeoutMs = 5000) => {
      const res = await fetch(`${metricsUrl ?? clientUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`etcd /metrics: HTTP ${res.status}: ${text.slice(0, 200)}`);
      return text;
    },
    pause: async () => {
      if (hasExited()) throw new Error(`etcd ${pid} has exited`);
      process.kill(pid, "SIGSTOP");
      paused = true;
      await waitForThreads(pid, (states) => states.every((st) => st === "T" || st === "t"), "stopped");
    },
    resume: async () => {
      if (hasExited()) throw new Error(`etcd ${pid} has exited`);
      process.kill(pid, "SIGCONT");
      paused = false;
      await waitForThreads(pid, (states) => !states.some((st) => st === "T"), "running");
    },
    close,
  };

  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no answer yet";
  for (;;) {
    if (spawnErr) {
      await close();
      throw new Error(`etcd: could not start ${bin}: ${spawnErr.message}`);
    }
    if (hasExited()) {
      await close();
      const tail = log.headAndTail(3, 15);
      const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
      if (/address already in use/i.test(tail)) throw new PortRaceError(`etcd exited (${how}): a port was taken:\n${tail}`);
      throw new Error(`etcd exited (${how}) before it was healthy; ${outputOf(tail)}`);
    }
    try {
      const h = await getHealth(clientUrl, 1000);
      if (h.healthy) return server;
      lastProblem = `HTTP ${h.status} ${h.body.trim()}`;
    } catch (err) {
      lastProblem = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}` : String(err);
    }
    if (Date.now() > deadline) {
      const tail = log.headAndTail(3, 15);
      await close();
      throw new Error(`etcd at ${clientUrl} not healthy within ${timeoutMs} ms (last /health: ${lastProblem}); ${outputOf(tail)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const outputOf = (text: string): string => (text.trim() === "" ? "etcd printed nothing" : `etcd output:\n${text}`);

async function getHealth(baseUrl: string, timeoutMs: number): Promise<{ status: number; body: string; healthy: boolean }> {
  const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  let healthy = false;
  try {
    healthy = res.status === 200 && (JSON.parse(body) as { health?: unknown }).health === "true";
  } catch {
    healthy = false;
  }
  return { status: res.status, body, healthy };
}


/** Polls the /proc states of all threads of `pid` until `ok` holds (Linux; elsewhere a no-op). */
async function waitForThreads(pid: number, ok: (states: string[]) => boolean, what: string, timeoutMs = 2000): Promise<void> {
  if (!existsSync(`/proc/${pid}/task`)) return;
  const deadline = Date.now() + timeoutMs;
  let states: string[] = [];
  for (;;) {
    states = threadStates(pid);
    if (states.length > 0 && ok(states)) return;
    if (Date.now() > deadline) throw new Error(`etcd ${pid}: not ${what} after ${timeoutMs} ms (thread states ${states.join("")})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The state letter (R, S, T, ...) of every thread of `pid`, from /proc/<pid>/task/<tid>/stat. */
export function threadStates(pid: number): string[] {
  const out: string[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      // "<tid> (<comm>) <state> ...": comm may contain spaces and parentheses, so cut at the last ")".
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const st = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (st) out.push(st);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function killAllSync(): void {
  for (const [pid, { child, dataDir }] of live) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, "SIGKILL"); // works on a SIGSTOPped process too
      } catch {
        // already gone
      }
    }
    try {
      rmSync(dataDir, { recursive: true, force: true });
    } catch {
      // best effort while exiting
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  // A signal that would kill this process does not run "exit" listeners: kill etcd first, then
  // die of the same signal, unless someone else handles the signal.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllSync();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    if (process.listenerCount(sig) === 0) process.once(sig, onSignal);
  }
}

/** Keeps the first few and the last `max` output lines (etcd puts a flag error first, a fatal last). */
class LineTail {
  private head: string[] = [];
  private lines: string[] = [];
  private dropped = 0;
  private partial = "";
  constructor(
    private readonly max: number,
    private readonly headMax = 5,
  ) {}
  push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) {
      if (this.head.length < this.headMax) this.head.push(line);
      this.lines.push(line);
    }
    if (this.lines.length > this.max) this.dropped += this.lines.splice(0, this.lines.length - this.max).length;
  }
  private all(): string[] {
    return this.partial ? [...this.lines, this.partial] : this.lines;
  }
  tail(n: number): string {
    return this.all().slice(-n).join("\n");
  }
  /** The first `h` lines, "...", and the last `n` lines (or everything when that is shorter). */
  headAndTail(h: number, n: number): string {
    const all = this.all();
    const total = this.dropped + all.length;
    if (total <= h + n) return all.join("\n"); // nothing dropped yet: all holds every line
    return [...this.head.slice(0, h), `  ... (${total - h - n} lines)`, ...all.slice(-n)].join("\n");
  }
}

// ---------------------------------------------------------------------------------------------
// v3 JSON gRPC-gateway client. etcd 3.4 serves the gateway under /v3/ (and the deprecated alias
// /v3beta/). Keys and values are base64; int64 fields are JSON strings; zero values (false, 0,
// empty lists) are left out of the answers.

export type EtcdBytes = string | Uint8Array;

export interface EtcdResponseHeader {
  clusterId: string;
  memberId: string;
  revision: number;
  raftTerm: number;
}

export interface EtcdKeyValue {
  /** The key decoded as UTF-8. */
  key: string;
  keyBytes: Buffer;
  /** Absent with keysOnly. */
  value?: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: string;
}

export interface EtcdRangeOptions {
  /** Explicit range end (exclusive); "\0" means "every key >= key". */
  rangeEnd?: EtcdBytes;
  /** Range over every key with `key` as prefix (range_end = prefix with its last byte + 1). */
  prefix?: boolean;
  limit?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  /** Read at this revision (fails once compacted). */
  revision?: number;
  serializable?: boolean;
  sortOrder?: "NONE" | "ASCEND" | "DESCEND";
  sortTarget?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
}

export interface EtcdRangeResult {
  header: EtcdResponseHeader;
  kvs: EtcdKeyValue[];
  /** Number of keys in the range (ignores limit). */
  count: number;
  /** True when limit cut the answer short. */
  more: boolean;
  /** The JSON as etcd sent it. */
  raw: RawRangeResponse;
}

export interface EtcdStatus {
  header: EtcdResponseHeader;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  isLearner: boolean;
  raw: Record<string, unknown>;
}

export interface EtcdPutResult {
  header: EtcdResponseHeader;
  /** The previous key-value, with prevKv: true. */
  prevKv?: EtcdKeyValue;
}

interface RawHeader {
  cluster_id?: string;
  member_id?: string;
  revision?: string;
  raft_term?: string;
}
interface RawKeyValue {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}
export interface RawRangeResponse {
  header?: RawHeader;
  kvs?: RawKeyValue[];
  count?: string;
  more?: boolean;
}

/** A failed gateway call: etcd's HTTP status and its gRPC error (code and message). */
export class EtcdGatewayError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
    /** etcd's error text, e.g. "etcdserver: mvcc: required revision has been compacted". */
    readonly etcdMessage: string,
    /** gRPC status code (11 = OUT_OF_RANGE, 8 = RESOURCE_EXHAUSTED, ...). */
    readonly grpcCode: number | undefined,
  ) {
    super(`etcd ${path}: HTTP ${status}: ${etcdMessage}${grpcCode === undefined ? "" : ` (gRPC code ${grpcCode})`}`);
    this.name = "EtcdGatewayError";
  }
}

const b64 = (b: EtcdBytes): string => Buffer.from(typeof b === "string" ? Buffer.from(b, "utf8") : b).toString("base64");
const num = (s: string | undefined): number => (s === undefined ? 0 : Number(s));

/** The range end that covers every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: EtcdBytes): Buffer {
  const end = Buffer.from(typeof prefix === "string" ? Buffer.from(prefix, "utf8") : prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: every key >= prefix
}

function header(h: RawHeader | undefined): EtcdResponseHeader {
  return { clusterId: h?.cluster_id ?? "", memberId: h?.member_id ?? "", revision: num(h?.revision), raftTerm: num(h?.raft_term) };
}

function keyValue(kv: RawKeyValue): EtcdKeyValue {
  const keyBytes = Buffer.from(kv.key ?? "", "base64");
  return {
    key: keyBytes.toString("utf8"),
    keyBytes,
    ...(kv.value !== undefined ? { value: Buffer.from(kv.value, "base64") } : {}),
    createRevision: num(kv.create_revision),
    modRevision: num(kv.mod_revision),
    version: num(kv.version),
    ...(kv.lease !== undefined ? { lease: kv.lease } : {}),
  };
}

export class EtcdClient {
  constructor(
    readonly baseUrl: string,
    /** Per-request timeout (a paused etcd answers nothing). */
    readonly timeoutMs = 5000,
    /** "/v3" for etcd >= 3.4 (3.4 also serves "/v3beta"). */
    readonly prefix = "/v3",
  ) {}

  /** POSTs a JSON body to `<prefix><path>` and returns the parsed answer; throws EtcdGatewayError. */
  async call<T = Record<string, unknown>>(path: string, body: object, timeoutMs = this.timeoutMs): Promise<T> {
    const full = `${this.prefix}${path}`;
    const res = await fetch(`${this.baseUrl}${full}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new EtcdGatewayError(full, res.status, text.trim() || "(empty body, not JSON)", undefined);
    }
    if (res.status !== 200) {
      const e = parsed as { error?: string; message?: string; code?: number };
      throw new EtcdGatewayError(full, res.status, e.message ?? e.error ?? text.trim(), e.code);
    }
    return parsed as T;
  }

  async put(key: EtcdBytes, value: EtcdBytes, opts: { prevKv?: boolean; lease?: string } = {}): Promise<EtcdPutResult> {
    const r = await this.call<{ header?: RawHeader; prev_kv?: RawKeyValue }>("/kv/put", {
      key: b64(key),
      value: b64(value),
      ...(opts.prevKv ? { prev_kv: true } : {}),
      ...(opts.lease !== undefined ? { lease: opts.lease } : {}),
    });
    return { header: header(r.header), ...(r.prev_kv ? { prevKv: keyValue(r.prev_kv) } : {}) };
  }

  async range(key: EtcdBytes, opts: EtcdRangeOptions = {}): Promise<EtcdRangeResult> {
    if (opts.prefix && opts.rangeEnd !== undefined) throw new Error("range: give prefix or rangeEnd, not both");
    const rangeEnd = opts.prefix ? prefixRangeEnd(key) : opts.rangeEnd;
    const body: Record<string, unknown> = { key: b64(key) };
    if (rangeEnd !== undefined) body["range_end"] = b64(rangeEnd);
    if (opts.limit !== undefined) body["limit"] = String(opts.limit);
    if (opts.keysOnly) body["keys_only"] = true;
    if (opts.countOnly) body["count_only"] = true;
    if (opts.revision !== undefined) body["revision"] = String(opts.revision);
    if (opts.serializable) body["serializable"] = true;
    if (opts.sortOrder !== undefined) body["sort_order"] = opts.sortOrder;
    if (opts.sortTarget !== undefined) body["sort_target"] = opts.sortTarget;
    const raw = await this.call<RawRangeResponse>("/kv/range", body);
    return { header: header(raw.header), kvs: (raw.kvs ?? []).map(keyValue), count: num(raw.count), more: raw.more === true, raw };
  }

  /** Deletes `key` (or the range / prefix); returns how many keys went. */
  async deleteRange(key: EtcdBytes, opts: { rangeEnd?: EtcdBytes; prefix?: boolean } = {}): Promise<{ header: EtcdResponseHeader; deleted: number }> {
    const rangeEnd = opts.prefix ? prefixRangeEnd(key) : opts.rangeEnd;
    const r = await this.call<{ header?: RawHeader; deleted?: string }>("/kv/deleterange", {
      key: b64(key),
      ...(rangeEnd !== undefined ? { range_end: b64(rangeEnd) } : {}),
    });
    return { header: header(r.header), deleted: num(r.deleted) };
  }

  /** Compacts the key-value history up to `revision` (physical: wait until it is on disk). */
  async compact(revision: number, opts: { physical?: boolean } = {}): Promise<{ header: EtcdResponseHeader }> {
    const r = await this.call<{ header?: RawHeader }>("/kv/compaction", { revision: String(revision), ...(opts.physical ? { physical: true } : {}) });
    return { header: header(r.header) };
  }

  async status(): Promise<EtcdStatus> {
    const r = await this.call<Record<string, unknown>>("/maintenance/status", {});
    const s = (k: string): string | undefined => (typeof r[k] === "string" ? (r[k] as string) : undefined);
    return {
      header: header(r["header"] as RawHeader | undefined),
      version: s("version") ?? "",
      dbSize: num(s("dbSize")),
      dbSizeInUse: num(s("dbSizeInUse")),
      leader: s("leader") ?? "",
      raftIndex: num(s("raftIndex")),
      raftTerm: num(s("raftTerm")),
      raftAppliedIndex: num(s("raftAppliedIndex")),
      errors: Array.isArray(r["errors"]) ? (r["errors"] as string[]) : [],
      isLearner: r["isLearner"] === true,
      raw: r,
    };
  }
}

export { freePorts };

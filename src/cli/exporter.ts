import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { createLogger, LOG_LEVELS, type LogLevel } from "../core/logger.js";
import { untilTerminated } from "../core/signals.js";
import { durationParser, intParser, sizeParser } from "../core/options.js";
import { DEFAULTS, loadConfigFile, parseSocketMode, validateConfig, type ExporterConfig, type SinkSpec } from "../exporter/config.js";
import { Exporter } from "../exporter/exporter.js";
import { parseListenAddress, type ListenAddress } from "../exporter/producer-server.js";
import { WHEN_FULL, type WhenFull } from "../exporter/queue/durable-queue.js";
import { createSink, type SinkOptionsInput } from "../exporter/sinks/index.js";
import { addAuthOptions, optionalAuthConfigFrom, type AuthCliOpts } from "./http-auth-flags.js";

/** The name the SubjectAccessReview of /status checks by default (services/proxy get). */
const EXPORTER_SERVICE = "watch-auditor-exporter";

const ENV = "WATCH_AUDITOR_EXPORTER_";
const opt = (flags: string, description: string, env: string): Option => new Option(flags, description).env(ENV + env);

function choice<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${values.join(", ")}, got "${v}".`);
    return v as T;
  };
}

/** Repeatable flag; the env var form takes several values separated by whitespace. */
function listOf<T>(parse: (v: string) => T): (v: string, prev: T[] | undefined) => T[] {
  return (v, prev) => {
    const out = [...(prev ?? [])];
    for (const part of v.split(/\s+/).filter(Boolean)) {
      try {
        out.push(parse(part));
      } catch (err) {
        throw new InvalidArgumentError(`${(err as Error).message}.`);
      }
    }
    return out;
  };
}

function sizeOpt(v: string): number {
  return sizeParser(v);
}

function socketModeParser(v: string): number {
  try {
    return parseSocketMode(v);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

interface Flags extends AuthCliOpts {
  listen?: ListenAddress[];
  dataDir?: string;
  sink?: string[];
  config?: string;
  maxRecordBytes?: number;
  maxBytes?: number;
  whenFull?: WhenFull;
  diskReserve?: number;
  socketMode?: number;
  port?: number;
  batchRecords?: number;
  batchBytes?: number;
  backoffInitial?: number;
  backoffMax?: number;
  stallTimeout?: number;
  grace?: number;
  logLevel?: LogLevel;
  segmentBytes?: number;
  deadLetterMaxBytes?: number;
}

export function register(program: Command): void {
  addAuthOptions(
    program
      .command("exporter")
      .description("Decision-log sidecar: durable on-disk queue fed over a unix socket, forwarded at least once to sinks.")
      .addOption(opt("--listen <url...>", "where producers connect: unix:///path.sock or tcp://127.0.0.1:9095 (repeatable)", "LISTEN").argParser(listOf(parseListenAddress)))
      .addOption(opt("--data-dir <dir>", "directory of the durable queue (a PVC survives pod deletion, an emptyDir does not)", "DATA_DIR"))
      .addOption(opt("--sink <url...>", "destination: http(s)://…, file:///dir, stdout://, nats://host:port/subject (repeatable)", "SINK").argParser(listOf((s) => s)))
      .addOption(opt("--config <file>", "YAML config file; flags and env vars override it", "CONFIG"))
      .addOption(opt("--max-record-bytes <size>", "largest record accepted (default 1MiB)", "MAX_RECORD_BYTES").argParser(sizeOpt))
      .addOption(opt("--max-bytes <size>", "bound on the queue on disk (default 1GiB)", "MAX_BYTES").argParser(sizeOpt))
      .addOption(opt("--when-full <policy>", "block | drop-newest | drop-oldest (default block: back-pressure)", "WHEN_FULL").argParser(choice(WHEN_FULL)))
      .addOption(opt("--disk-reserve <size>", "free space the queue never uses (default 100MiB)", "DISK_RESERVE").argParser(sizeOpt))
      .addOption(opt("--socket-mode <mode>", "file mode of unix sockets (default 0660)", "SOCKET_MODE").argParser(socketModeParser))
      .addOption(opt("--port <int>", "port of /metrics, /healthz, /readyz and (with --auth) /status (default 9090; 0 picks one)", "PORT").argParser(intParser(0, 65535)))
      .addOption(opt("--batch-records <int>", "cap on records per sink request (the sink's own limit applies too)", "BATCH_RECORDS").argParser(intParser(1, 100_000)))
      .addOption(opt("--batch-bytes <size>", "cap on bytes per sink request", "BATCH_BYTES").argParser(sizeOpt))
      .addOption(opt("--backoff-initial <duration>", "first retry delay ceiling (default 200ms; full jitter)", "BACKOFF_INITIAL").argParser(durationParser()))
      .addOption(opt("--backoff-max <duration>", "largest retry delay (default 30s)", "BACKOFF_MAX").argParser(durationParser()))
      .addOption(opt("--stall-timeout <duration>", "/readyz fails when a sink made no progress this long while records wait (default 5m)", "STALL_TIMEOUT").argParser(durationParser()))
      .addOption(opt("--grace <duration>", "on SIGTERM, time to drain the queue before exiting (default 10s)", "GRACE").argParser(durationParser({ allowZero: true })))
      .addOption(opt("--dead-letter-max-bytes <size>", "size of a sink's dead-letter file before it is rotated to .1 (the older .1 is removed and counted; default 64MiB)", "DEAD_LETTER_MAX_BYTES").argParser(sizeOpt))
      .addOption(opt("--log-level <level>", "debug | info | warn | error (default info)", "LOG_LEVEL").argParser(choice(LOG_LEVELS)))
      .addOption(opt("--segment-bytes <size>", "queue segment size (default max-bytes/8, at most 64MiB)", "SEGMENT_BYTES").argParser(sizeOpt).hideHelp()),
    EXPORTER_SERVICE,
    { offByDefault: "/status" },
  )
    .action(async (flags: Flags, cmd: Command) => {
      const cfg = resolveConfig(flags, cmd);
      const log = createLogger(cfg.logLevel, "exporter");
      const exporter = await Exporter.start(cfg, (url, options) => createSink(url, options as SinkOptionsInput), log);
      log.info({ signal: await untilTerminated() }, "signal received");
      await exporter.shutdown();
    });
}

/** Flags and env vars win over the config file, which wins over defaults. */
export function resolveConfig(flags: Flags, cmd: Command): ExporterConfig {
  const file = flags.config ? loadConfigFile(flags.config) : {};
  const pick = <K extends keyof Flags>(key: K): Flags[K] | undefined => {
    const src = cmd.getOptionValueSource(key);
    return src === "cli" || src === "env" ? flags[key] : undefined;
  };
  const sinks: SinkSpec[] = pick("sink")?.map((url) => ({ url, options: {} })) ??
    (file.sinks ?? []).map((s) => (typeof s === "string" ? { url: s, options: {} } : (({ url, ...options }) => ({ url, options }))(s)));
  const cfg: ExporterConfig = {
    listen: pick("listen") ?? file.listen ?? [],
    dataDir: pick("dataDir") ?? file.dataDir ?? "",
    sinks,
    maxRecordBytes: pick("maxRecordBytes") ?? file.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
    maxBytes: pick("maxBytes") ?? file.maxBytes ?? DEFAULTS.maxBytes,
    whenFull: pick("whenFull") ?? file.whenFull ?? DEFAULTS.whenFull,
    diskReserveBytes: pick("diskReserve") ?? file.diskReserve ?? DEFAULTS.diskReserveBytes,
    socketMode: pick("socketMode") ?? file.socketMode ?? DEFAULTS.socketMode,
    port: pick("port") ?? file.port ?? DEFAULTS.port,
    batchRecords: pick("batchRecords") ?? file.batchRecords,
    batchBytes: pick("batchBytes") ?? file.batchBytes,
    backoffInitialMs: pick("backoffInitial") ?? file.backoffInitial ?? DEFAULTS.backoffInitialMs,
    backoffMaxMs: pick("backoffMax") ?? file.backoffMax ?? DEFAULTS.backoffMaxMs,
    stallTimeoutMs: pick("stallTimeout") ?? file.stallTimeout ?? DEFAULTS.stallTimeoutMs,
    graceMs: pick("grace") ?? file.grace ?? DEFAULTS.graceMs,
    logLevel: pick("logLevel") ?? file.logLevel ?? DEFAULTS.logLevel,
    segmentBytes: pick("segmentBytes") ?? file.segmentBytes,
    deadLetterMaxBytes: pick("deadLetterMaxBytes") ?? file.deadLetterMaxBytes ?? DEFAULTS.deadLetterMaxBytes,
    auth: optionalAuthConfigFrom(flags, EXPORTER_SERVICE),
  };
  if (cfg.listen.length === 0) throw new UsageError("--listen (or WATCH_AUDITOR_EXPORTER_LISTEN, or listen: in --config) is required");
  if (!cfg.dataDir) throw new UsageError("--data-dir (or WATCH_AUDITOR_EXPORTER_DATA_DIR, or dataDir: in --config) is required");
  if (cfg.sinks.length === 0) throw new UsageError("--sink (or WATCH_AUDITOR_EXPORTER_SINK, or sinks: in --config) is required");
  return validateConfig(cfg);
}

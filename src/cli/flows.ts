import { InvalidArgumentError, Option, type Command } from "commander";
import { createLogger, LOG_LEVELS, type LogLevel } from "../core/logger.js";
import { untilTerminated } from "../core/signals.js";
import { durationParser, envOption, intParser, sizeParser } from "../core/options.js";
import { UsageError } from "../core/errors.js";
import { parseNamedCidr, type NamedCidr } from "../core/kube-metadata/cidr.js";
import { FlowsService } from "../flows/service.js";
import { kubeConnector } from "../flows/kube.js";

interface RawFlowsOptions {
  tetragon?: string;
  hubble?: string;
  node?: string;
  port: number;
  host: string;
  kubeconfig?: string;
  inCluster?: boolean;
  kube: boolean;
  podLabels?: boolean;
  maxSeries: number;
  cidrName?: NamedCidr[];
  flowsOut?: string;
  flowsInterval: number;
  fromStart?: boolean;
  maxLineBytes: number;
  keepRunning?: boolean;
  pollInterval: number;
  cacheSyncTimeout: number;
  logLevel: LogLevel;
}

// --cidr-name may repeat; its env var takes a comma-separated list.
function cidrCollect(value: string, previous: NamedCidr[] | undefined): NamedCidr[] {
  const out = [...(previous ?? [])];
  for (const part of value.split(",")) {
    if (!part.trim()) continue;
    try {
      out.push(parseNamedCidr(part.trim()));
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}.`);
    }
  }
  return out;
}

function sizeOption(v: string): number {
  const n = sizeParser(v);
  if (n < 1024 || n > 64 * 1024 * 1024) throw new InvalidArgumentError(`must be between 1KiB and 64MiB, got "${v}".`);
  return n;
}

const E = (name: string): string => `WATCH_AUDITOR_FLOWS_${name}`;

export function register(program: Command): void {
  program
    .command("flows")
    .description("Kubernetes-aware network-flow and HTTP RED metrics from Tetragon and Hubble JSON events")
    .addOption(envOption("--tetragon <file>", "Tetragon JSON export to follow (tail -F), or - for stdin", E("TETRAGON")))
    .addOption(envOption("--hubble <file>", "Hubble flows JSON (hubble observe -o json / exporter file) to follow, or - for stdin", E("HUBBLE")))
    .addOption(envOption("--node <name>", "keep only this node's pods and events (DaemonSet mode)", E("NODE")))
    .addOption(envOption("--port <n>", "port for /metrics, /healthz, /readyz", E("PORT")).argParser(intParser(0, 65535)).default(9464))
    .addOption(envOption("--host <addr>", "address to listen on", E("HOST")).default("0.0.0.0"))
    .addOption(envOption("--kubeconfig <file>", "kubeconfig for the metadata cache (default: in-cluster, $KUBECONFIG, ~/.kube/config)", E("KUBECONFIG")))
    .addOption(envOption("--in-cluster", "use the pod's service account", E("IN_CLUSTER")))
    .addOption(new Option("--no-kube", "run without the Kubernetes metadata cache (labels from events only)").env(E("NO_KUBE")))
    .addOption(envOption("--pod-labels", "add pod-level labels (src_pod, dst_pod, pod): more series", E("POD_LABELS")))
    .addOption(envOption("--max-series <n>", "cap on label sets per metric; more fold into an overflow series", E("MAX_SERIES")).argParser(intParser(1, 10_000_000)).default(10_000))
    .addOption(envOption("--cidr-name <cidr=name>", "name unknown IPs in this network instead of world (repeatable; env: comma-separated)", E("CIDR_NAME")).argParser(cidrCollect))
    .addOption(envOption("--flows-out <file>", "append aggregated flows as JSON lines every interval (- for stdout)", E("FLOWS_OUT")))
    .addOption(envOption("--flows-interval <duration>", "aggregation interval for --flows-out", E("FLOWS_INTERVAL")).argParser(durationParser({ min: 100 })).default(30_000, "30s"))
    .addOption(envOption("--from-start", "read files from their beginning instead of their end", E("FROM_START")))
    .addOption(envOption("--max-line-bytes <size>", "longest accepted event line; longer ones are counted and skipped", E("MAX_LINE_BYTES")).argParser(sizeOption).default(1024 * 1024, "1MiB"))
    .addOption(envOption("--keep-running", "with stdin input, keep serving /metrics after end of input", E("KEEP_RUNNING")))
    .addOption(envOption("--poll-interval <duration>", "how often followed files are checked for new data and rotation", E("POLL_INTERVAL")).argParser(durationParser({ min: 10 })).default(250, "250ms"))
    .addOption(envOption("--cache-sync-timeout <duration>", "hold input until the metadata cache has synced, at most this long; then go on and count events labelled without cluster metadata", E("CACHE_SYNC_TIMEOUT")).argParser(durationParser({ allowZero: true })).default(30_000, "30s"))
    .addOption(envOption("--log-level <level>", "debug, info, warn or error", E("LOG_LEVEL")).choices(LOG_LEVELS).default("info"))
    .action(async (o: RawFlowsOptions) => {
      if (!o.tetragon && !o.hubble) throw new UsageError("flows needs an input: --tetragon FILE|- and/or --hubble FILE|-");
      if (o.tetragon === "-" && o.hubble === "-") throw new UsageError("--tetragon and --hubble cannot both read stdin (-)");
      if (o.flowsOut === "-" && (o.tetragon === "-" || o.hubble === "-")) {
        // Allowed: stdin in, stdout out; they are different streams.
      }
      if (o.inCluster && o.kubeconfig) throw new UsageError("--in-cluster and --kubeconfig are mutually exclusive");
      const log = createLogger(o.logLevel, "flows");
      const service = new FlowsService(
        {
          ...(o.tetragon ? { tetragon: o.tetragon } : {}),
          ...(o.hubble ? { hubble: o.hubble } : {}),
          ...(o.node ? { node: o.node } : {}),
          port: o.port,
          host: o.host,
          podLabels: !!o.podLabels,
          maxSeries: o.maxSeries,
          cidrNames: o.cidrName ?? [],
          ...(o.flowsOut ? { flowsOut: o.flowsOut } : {}),
          flowsIntervalMs: o.flowsInterval,
          fromStart: !!o.fromStart,
          maxLineBytes: o.maxLineBytes,
          keepRunning: !!o.keepRunning,
          pollMs: o.pollInterval,
          cacheSyncTimeoutMs: o.cacheSyncTimeout,
        },
        log,
        o.kube ? kubeConnector({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), ...(o.inCluster ? { inCluster: true } : {}), ...(o.node ? { node: o.node } : {}) }, log) : undefined,
      );
      await service.start();
      const signalled = untilTerminated();
      const why = await Promise.race([signalled, service.finished().then(() => "end of input")]);
      log.info({ reason: why }, "stopping");
      await service.stop();
      process.stdin.destroy();
    });
}

import { accessSync, constants } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { Command, InvalidArgumentError, Option } from "commander";
import { createLogger, LOG_LEVELS, type LogLevel } from "../core/logger.js";
import { untilTerminated } from "../core/signals.js";
import { durationParser, envOption, intParser, sizeParser } from "../core/options.js";
import { UsageError } from "../core/errors.js";
import { parseNamedCidr, type NamedCidr } from "../core/kube-metadata/cidr.js";
import { FlowsService } from "../flows/service.js";
import { kubeConnector } from "../flows/kube.js";
import { addAuthOptions, authConfigFrom, type AuthCliOpts } from "./http-auth-flags.js";
import { formatDropTable } from "../flows/drops.js";
import { dropsFromFile, dropsFromLive } from "../flows/drops-query.js";
import { parseGrpcAddress } from "../flows/grpc-address.js";

/** The Service in deploy/flows: the default SubjectAccessReview target (get services/proxy). */
const FLOWS_SERVICE = "watch-auditor-flows";

interface RawFlowsOptions extends Omit<AuthCliOpts, "kubeconfig"> {
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
  tetragonGrpc?: string;
  hubbleRelay?: string;
  hubbleRelayTls?: boolean;
  hubbleRelayTlsCa?: string;
  hubbleRelayTlsCert?: string;
  hubbleRelayTlsKey?: string;
  hubbleRelayTlsServerName?: string;
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

/**
 * The bearer-token flags of `audit serve` (src/cli/http-auth-flags.ts), minus --kubeconfig: flows
 * already has one, used for the metadata cache and for TokenReview/SubjectAccessReview alike.
 */
function addFlowsAuthOptions(cmd: Command): void {
  for (const opt of addAuthOptions(new Command(), FLOWS_SERVICE).options) if (opt.long !== "--kubeconfig") cmd.addOption(opt);
}

interface DropsCliOptions {
  url?: string;
  window: number;
  tokenFile?: string;
  top: number;
  output: "table" | "json";
  maxRows: number;
}

// `flows drops` flags must not reuse a name of `flows` itself: commander lets the parent take its
// own options anywhere on the line.
function registerDrops(flows: Command): void {
  flows
    .command("drops")
    .description("top dropped flows (Hubble verdict DROPPED) by workload pair, reason, port and policy: over a file (one shot) or the recent window of a running flows (--url)")
    .argument("[file]", "Hubble flows as JSON lines (hubble observe -o json / exporter file), or - for stdin")
    .option("--url <url>", "a running `watch-auditor flows` (http://host:9464): ask its /drops endpoint instead of reading a file")
    .option("--window <duration>", "with --url: how far back (at most 1h)", durationParser({ min: 1000 }), 900_000)
    .option("--token-file <file>", "with --url: file with the bearer token (e.g. a service account token) the endpoint's --auth accepts")
    .option("-n, --top <n>", "rows to list", intParser(1, 1000), 20)
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .option("--max-rows <n>", "distinct rows kept from a file; more drops are counted, not listed", intParser(1, 10_000_000), 10_000)
    .action(async (file: string | undefined, o: DropsCliOptions) => {
      if (o.url && file) throw new UsageError("flows drops: give a file or --url, not both");
      if (!o.url && !file) throw new UsageError("flows drops needs a file (or - for stdin) or --url of a running flows");
      if (!o.url && o.tokenFile) throw new UsageError("--token-file is only used with --url");
      const report = o.url
        ? await dropsFromLive({ url: o.url, windowSeconds: Math.round(o.window / 1000), top: o.top, ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}) })
        : await dropsFromFile({ file: file!, top: o.top, maxLineBytes: 1024 * 1024, maxRows: o.maxRows, cidrNames: [], warn: (m) => process.stderr.write(`${m}\n`) });
      process.stdout.write(o.output === "json" ? JSON.stringify(report, null, 2) + "\n" : formatDropTable(report));
    });
}

export function register(program: Command): void {
  const flows = program
    .command("flows")
    .description("Kubernetes-aware network-flow and HTTP RED metrics from Tetragon and Hubble JSON events")
    .addOption(envOption("--tetragon <file>", "Tetragon JSON export to follow (tail -F), or - for stdin", E("TETRAGON")))
    .addOption(envOption("--hubble <file>", "Hubble flows JSON (hubble observe -o json / exporter file) to follow, or - for stdin", E("HUBBLE")))
    .addOption(envOption("--tetragon-grpc <addr>", "Tetragon's gRPC API instead of the export file: unix:///var/run/tetragon/tetragon.sock or host:port (GetEvents, kprobes only)", E("TETRAGON_GRPC")).argParser((v) => parseGrpcAddress("--tetragon-grpc", v)))
    .addOption(envOption("--hubble-relay <addr>", "Hubble Relay (or an agent's Hubble server) host:port or unix:// socket: GetFlows with follow (drops, DNS, HTTP)", E("HUBBLE_RELAY")).argParser((v) => parseGrpcAddress("--hubble-relay", v)))
    .addOption(envOption("--hubble-relay-tls", "connect to --hubble-relay over TLS (implied by the other --hubble-relay-tls-* flags)", E("HUBBLE_RELAY_TLS")))
    .addOption(envOption("--hubble-relay-tls-ca <file>", "CA bundle that signed the relay's certificate (default: system roots)", E("HUBBLE_RELAY_TLS_CA")))
    .addOption(envOption("--hubble-relay-tls-cert <file>", "client certificate for mTLS (with --hubble-relay-tls-key)", E("HUBBLE_RELAY_TLS_CERT")))
    .addOption(envOption("--hubble-relay-tls-key <file>", "client key for mTLS", E("HUBBLE_RELAY_TLS_KEY")))
    .addOption(envOption("--hubble-relay-tls-server-name <name>", "name to verify in the relay's certificate (e.g. ui.hubble-relay.cilium.io)", E("HUBBLE_RELAY_TLS_SERVER_NAME")))
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
    .addOption(envOption("--log-level <level>", "debug, info, warn or error", E("LOG_LEVEL")).choices(LOG_LEVELS).default("info"));
  addFlowsAuthOptions(flows);
  registerDrops(flows);
  flows.action(async (o: RawFlowsOptions) => {
      if (!o.tetragon && !o.hubble && !o.tetragonGrpc && !o.hubbleRelay) throw new UsageError("flows needs an input: --tetragon FILE|-, --hubble FILE|-, --tetragon-grpc ADDR and/or --hubble-relay ADDR");
      if (o.tetragon && o.tetragonGrpc) throw new UsageError("--tetragon and --tetragon-grpc read the same events: give one");
      if (o.hubble && o.hubbleRelay) throw new UsageError("--hubble and --hubble-relay read the same flows: give one");
      const tlsFlags = o.hubbleRelayTls || o.hubbleRelayTlsCa || o.hubbleRelayTlsCert || o.hubbleRelayTlsKey || o.hubbleRelayTlsServerName;
      if (tlsFlags && !o.hubbleRelay) throw new UsageError("--hubble-relay-tls* flags need --hubble-relay");
      if (!!o.hubbleRelayTlsCert !== !!o.hubbleRelayTlsKey) throw new UsageError("--hubble-relay-tls-cert and --hubble-relay-tls-key go together (mTLS)");
      for (const [flag, file] of [["--hubble-relay-tls-ca", o.hubbleRelayTlsCa], ["--hubble-relay-tls-cert", o.hubbleRelayTlsCert], ["--hubble-relay-tls-key", o.hubbleRelayTlsKey]] as const) {
        if (file === undefined) continue;
        try {
          accessSync(file, constants.R_OK);
        } catch (err) {
          throw new UsageError(`${flag}: ${(err as Error).message}`);
        }
      }
      if (o.tetragon === "-" && o.hubble === "-") throw new UsageError("--tetragon and --hubble cannot both read stdin (-)");
      if (o.flowsOut === "-" && (o.tetragon === "-" || o.hubble === "-")) {
        // Allowed: stdin in, stdout out; they are different streams.
      }
      if (o.inCluster && o.kubeconfig) throw new UsageError("--in-cluster and --kubeconfig are mutually exclusive");
      const authMode = o.auth ?? (o.authTokenFile !== undefined ? "token-file" : "kubernetes");
      const authConfig = authConfigFrom({ ...o, ...(authMode === "kubernetes" && o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}) }, FLOWS_SERVICE);
      const log = createLogger(o.logLevel, "flows");
      // After each full GC, let the old generation grow by 20 % of what survived (V8's default lets
      // it grow by up to 2-4x): the pipeline's live set is small and bounded, while each /metrics
      // scrape of 10k-series tables leaves megabytes of garbage that would otherwise pile up to
      // 150+ MiB before the next full GC (docs/flows.md, Memory).
      setFlagsFromString("--heap-growing-percent=20");
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
          ...(o.tetragonGrpc ? { tetragonGrpc: o.tetragonGrpc } : {}),
          ...(o.hubbleRelay ? { hubbleRelay: o.hubbleRelay } : {}),
          ...(tlsFlags
            ? {
                hubbleTls: {
                  ...(o.hubbleRelayTlsCa ? { caFile: o.hubbleRelayTlsCa } : {}),
                  ...(o.hubbleRelayTlsCert ? { certFile: o.hubbleRelayTlsCert } : {}),
                  ...(o.hubbleRelayTlsKey ? { keyFile: o.hubbleRelayTlsKey } : {}),
                  ...(o.hubbleRelayTlsServerName ? { serverName: o.hubbleRelayTlsServerName } : {}),
                },
              }
            : {}),
          auth: { config: authConfig, implicit: o.auth === undefined && o.authTokenFile === undefined },
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

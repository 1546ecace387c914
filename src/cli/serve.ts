import { Option, InvalidArgumentError, type Command } from "commander";
import { durationParser, intParser } from "../core/options.js";
import { MODES, SIDECAR_MODES, parseEqualitySelector } from "../auditor/probe.js";
import { SERVE_LOG_LEVELS, type ServeFlags } from "../auditor/flags.js";

function choice<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${values.join(", ")}, got "${v}".`);
    return v as T;
  };
}

function boolParser(v: string): boolean {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${v}".`);
}

function selectorParser(v: string): string {
  if (!parseEqualitySelector(v)) throw new InvalidArgumentError(`expected an equality label selector such as app=x,tier=y, got "${v}".`);
  return v;
}

function dnsLabelParser(v: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) || v.length > 63) throw new InvalidArgumentError(`must be a DNS label (lowercase letters, digits, '-'), got "${v}".`);
  return v;
}

function serviceAccountParser(v: string): string {
  const parts = v.split("/");
  if (parts.length !== 2 || parts.some((p) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p) || p.length > 63)) throw new InvalidArgumentError(`expected namespace/name (DNS labels), got "${v}".`);
  return v;
}

const opt = (flags: string, description: string, env: string) => new Option(flags, description).env(`WATCH_AUDITOR_${env}`);

export function register(program: Command): void {
  program
    .command("serve")
    .description("Continuously prove that watch-based controllers still react (the sidecar canary pod, or reaction probes from --config), report it as metrics, and roll a controller when it does not.")
    .addOption(opt("-e, --every <duration>", "Interval to check", "EVERY").argParser(durationParser()).default(30_000, "30s"))
    .addOption(opt("-f, --failure-threshold <int>", "Failure threshold to roll watch controller pod", "FAILURE_THRESHOLD").argParser(intParser(1, 1000)).default(3))
    .addOption(opt("-l, --log-level <string>", "Log level (debug, info, error)", "LOG_LEVEL").argParser(choice(SERVE_LOG_LEVELS)).default("info"))
    .addOption(opt("-m, --mode <string>", "Mode to run in (audit, enforcing)", "MODE").argParser(choice(MODES)).default("enforcing"))
    .addOption(opt("-p, --port <int>", "Port to listen on (0 picks a free port)", "PORT").argParser(intParser(0, 65535)).default(8080))
    .addOption(opt("--host <address>", "Address to listen on", "HOST").default("0.0.0.0"))
    .addOption(opt("--kubeconfig <file>", "Kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)", "KUBECONFIG"))
    .addOption(opt("--context <name>", "Kubeconfig context to use", "CONTEXT"))
    .addOption(opt("--in-cluster <bool>", "Use the pod's service account (in-cluster config)", "IN_CLUSTER").argParser(boolParser))
    .addOption(opt("--config <file>", "YAML file declaring several named probes (flags give their defaults)", "CONFIG"))
    .addOption(opt("--canary-namespace <name>", "Namespace of the canary pod", "CANARY_NAMESPACE").argParser(dnsLabelParser).default("neuvector"))
    .addOption(opt("--canary-image <image>", "Image of the canary containers (needs sh and sleep)", "CANARY_IMAGE").default("cgr.dev/chainguard/busybox:latest"))
    .addOption(opt("--canary-lifetime <duration>", "How long the canary's main container runs", "CANARY_LIFETIME").argParser(durationParser()).default(5_000, "5s"))
    .addOption(opt("--canary-deadline <duration>", "How long after the main container exits the sidecar may still run", "CANARY_DEADLINE").argParser(durationParser()).default(10_000, "10s"))
    .addOption(opt("--start-timeout <duration>", "How long the canary may take to start before the check is inconclusive", "START_TIMEOUT").argParser(durationParser()).default(60_000, "60s"))
    .addOption(opt("--poll-interval <duration>", "How often the canary is read (GET) while a check runs", "POLL_INTERVAL").argParser(durationParser()).default(1_000, "1s"))
    .addOption(opt("--sidecar-container <name>", "Name of the sidecar the controller must terminate", "SIDECAR_CONTAINER").argParser(dnsLabelParser).default("istio-proxy"))
    .addOption(opt("--sidecar-mode <mode>", "declared: the canary template contains the sidecar; injected: Istio injects it", "SIDECAR_MODE").argParser(choice(SIDECAR_MODES)).default("declared"))
    .addOption(opt("--controller-namespace <name>", "Namespace of the audited controller", "CONTROLLER_NAMESPACE").argParser(dnsLabelParser).default("pepr-system"))
    .addOption(opt("--controller-selector <selector>", "Label selector of the audited controller's pods", "CONTROLLER_SELECTOR").argParser(selectorParser).default("pepr.dev/controller=watcher"))
    .addOption(opt("--cooldown <duration>", "Minimum time between two rolls", "COOLDOWN").argParser(durationParser({ allowZero: true })).default(300_000, "5m"))
    .addOption(opt("--max-rolls-per-hour <int>", "Cap on rolls in any hour (0 disables rolling)", "MAX_ROLLS_PER_HOUR").argParser(intParser(0, 1000)).default(3))
    .addOption(opt("--leader-elect <bool>", "Elect a leader through a Lease so replicas never check at once", "LEADER_ELECT").argParser(boolParser).default(true))
    .addOption(opt("--lease-name <name>", "Name of the leader-election Lease", "LEASE_NAME").argParser(dnsLabelParser).default("watch-auditor"))
    .addOption(new Option("--lease-namespace <name>", "Namespace of the Lease (default: $POD_NAMESPACE, else watch-auditor)").env("WATCH_AUDITOR_LEASE_NAMESPACE").argParser(dnsLabelParser))
    .addOption(opt("--lease-duration <duration>", "How long a lease is valid without renewal", "LEASE_DURATION").argParser(durationParser()).default(15_000, "15s"))
    .addOption(opt("--renew-deadline <duration>", "How long the leader retries renewing before giving up", "RENEW_DEADLINE").argParser(durationParser()).default(10_000, "10s"))
    .addOption(opt("--retry-period <duration>", "How often to try to acquire or renew the lease", "RETRY_PERIOD").argParser(durationParser()).default(2_000, "2s"))
    .addOption(opt("--identity <id>", "Leader-election identity (default: $POD_NAME, else hostname + random)", "IDENTITY"))
    .addOption(opt("--request-timeout <duration>", "Timeout of each Kubernetes API request", "REQUEST_TIMEOUT").argParser(durationParser()).default(10_000, "10s"))
    .addOption(new Option("--print-rbac", "Print the least RBAC (Roles, ClusterRole, bindings) the probes need, resources resolved through discovery, and exit"))
    .addOption(opt("--service-account <namespace/name>", "ServiceAccount the --print-rbac output binds", "SERVICE_ACCOUNT").argParser(serviceAccountParser).default("watch-auditor/watch-auditor"))
    .action(async (flags: ServeFlags) => {
      // Loaded on use: the other commands should not pay for the Kubernetes client.
      const { runServe } = await import("../auditor/serve.js");
      await runServe(flags);
    });
}

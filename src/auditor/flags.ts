// The flags of `watch-auditor serve` and the probe they describe.
import { validateProbe, type Mode, type ProbeConfig, type SidecarMode } from "./probe.js";
import type { AnyProbe } from "./reaction-probe.js";

export const SERVE_LOG_LEVELS = ["debug", "info", "error"] as const;

export interface ServeFlags {
  every: number;
  failureThreshold: number;
  logLevel: (typeof SERVE_LOG_LEVELS)[number];
  mode: Mode;
  port: number;
  host: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  config?: string;
  canaryNamespace: string;
  canaryImage: string;
  canaryLifetime: number;
  canaryDeadline: number;
  startTimeout: number;
  pollInterval: number;
  sidecarContainer: string;
  sidecarMode: SidecarMode;
  controllerNamespace: string;
  controllerSelector: string;
  cooldown: number;
  maxRollsPerHour: number;
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace?: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  identity?: string;
  requestTimeout: number;
  /** Print the RBAC the probes need and exit. */
  printRbac?: boolean;
  /** "namespace/name" of the ServiceAccount the printed RBAC binds. */
  serviceAccount?: string;
}

/** The probe the flags describe; with --config it is the default every probe inherits. */
export function probeFromFlags(f: ServeFlags): ProbeConfig {
  return {
    name: "default",
    mode: f.mode,
    everyMs: f.every,
    failureThreshold: f.failureThreshold,
    cooldownMs: f.cooldown,
    maxRollsPerHour: f.maxRollsPerHour,
    canary: {
      namespace: f.canaryNamespace,
      image: f.canaryImage,
      lifetimeMs: f.canaryLifetime,
      deadlineMs: f.canaryDeadline,
      startTimeoutMs: f.startTimeout,
      pollIntervalMs: f.pollInterval,
      mainContainer: "main",
      sidecarContainer: f.sidecarContainer,
      sidecarMode: f.sidecarMode,
      labels: {},
      annotations: {},
    },
    controller: { namespace: f.controllerNamespace, selector: f.controllerSelector },
  };
}

export async function probesFromFlags(f: ServeFlags): Promise<AnyProbe[]> {
  const defaults = probeFromFlags(f);
  if (f.config) {
    // In a child process: the YAML and schema libraries would cost RSS for the whole run.
    const { loadProbesFileIsolated } = await import("./config-process.js");
    return loadProbesFileIsolated(f.config, defaults);
  }
  validateProbe(defaults, "flags");
  return [defaults];
}

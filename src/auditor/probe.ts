// What a probe is. Kept free of the YAML and schema libraries: they are loaded only when
// `--config` is given (see config.ts), which keeps the idle process small.
import { UsageError } from "../core/errors.js";

export const MODES = ["audit", "enforcing"] as const;
export type Mode = (typeof MODES)[number];
export const SIDECAR_MODES = ["declared", "injected"] as const;
export type SidecarMode = (typeof SIDECAR_MODES)[number];

/** Bound on the config file we read: a probe list is a few KiB, anything larger is a mistake. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** "watch-auditor-" + probe + "-" + 6 random chars must fit a 63-char DNS label. */
export const MAX_PROBE_NAME = 42;

/** What every probe kind has: its name and schedule, and when it may roll its controller. */
export interface ProbeSchedule {
  name: string;
  mode: Mode;
  everyMs: number;
  failureThreshold: number;
  cooldownMs: number;
  maxRollsPerHour: number;
}

export interface ProbeConfig extends ProbeSchedule {
  canary: {
    namespace: string;
    image: string;
    lifetimeMs: number;
    deadlineMs: number;
    startTimeoutMs: number;
    pollIntervalMs: number;
    mainContainer: string;
    sidecarContainer: string;
    sidecarMode: SidecarMode;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    /** A full pod spec replacing the default one (the auditor still sets name, labels, restartPolicy). */
    podSpec?: Record<string, unknown>;
  };
  controller: {
    namespace: string;
    selector: string;
  };
}

/** Parses `a=b,c=d` (the only selector form the auditor needs); undefined when malformed. */
export function parseEqualitySelector(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of s.split(",")) {
    const m = /^\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*==?\s*([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\s*$/.exec(part);
    if (!m) return undefined;
    out[m[1]!] = m[2] ?? "";
  }
  return out;
}

/** Checks the cross-field rules that zod's per-field schema cannot express. */
export function validateProbe(p: ProbeConfig, where: string): void {
  const c = p.canary;
  if (c.pollIntervalMs > c.deadlineMs) throw new UsageError(`${where}: canary.pollInterval (${c.pollIntervalMs}ms) must not exceed canary.deadline (${c.deadlineMs}ms)`);
  if (c.mainContainer === c.sidecarContainer) throw new UsageError(`${where}: canary.mainContainer and canary.sidecarContainer must differ`);
  if (c.podSpec) {
    const containers = c.podSpec.containers;
    if (!Array.isArray(containers)) throw new UsageError(`${where}: canary.podSpec.containers: required array`);
    const names = containers.map((x) => (x && typeof x === "object" ? (x as { name?: unknown }).name : undefined));
    if (!names.includes(c.mainContainer)) throw new UsageError(`${where}: canary.podSpec.containers: no container named "${c.mainContainer}" (canary.mainContainer)`);
    if (c.sidecarMode === "declared" && !names.includes(c.sidecarContainer))
      throw new UsageError(`${where}: canary.podSpec.containers: no container named "${c.sidecarContainer}" (canary.sidecarContainer) while sidecarMode is "declared"`);
  }
}


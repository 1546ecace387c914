// One check cycle: create the canary, poll it with GET (never a watch: the auditor must
// not be blinded by the very failure it audits), judge, and always delete it.
import type { Pod } from "kubernetes-types/core/v1.js";
import { errorMessage } from "../core/errors.js";
import { buildCanary, canaryName, randomSuffix } from "./canary.js";
import type { ProbeConfig } from "./probe.js";
import { observe } from "./observe.js";
import type { ReactionDetail } from "./reaction-cycle.js";

/** What the cycle needs from Kubernetes; the real one is backed by KubeClient. */
export interface CanaryApi {
  createPod(namespace: string, pod: Pod, signal?: AbortSignal): Promise<void>;
  /** undefined when the pod does not exist (404). */
  getPod(namespace: string, name: string, signal?: AbortSignal): Promise<Pod | undefined>;
  /** Resolves when deleted or already gone. */
  deletePod(namespace: string, name: string): Promise<void>;
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
}

export type CheckOutcome = "pass" | "fail" | "inconclusive" | "aborted";
/** Bounded set: used as a metric label. */
export type InconclusiveReason = "create_failed" | "start_timeout" | "api_error" | "canary_broken" | "main_stuck" | "stimulus_refused" | "not_judgeable";

export interface CheckResult {
  probe: string;
  runId: string;
  canary: string;
  namespace: string;
  result: CheckOutcome;
  reason: string;
  inconclusive?: InconclusiveReason;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Milliseconds from the cycle start at which each stage was first observed. */
  timings: { created?: number; running?: number; mainExited?: number; done?: number };
  /** Main container exit → sidecar terminated / pod completed, in seconds. */
  reactionSeconds?: number;
  cleanup: "deleted" | "failed";
  cleanupError?: string;
  /** Reaction probes: the stimulus, each expected reaction as last seen, and which one failed. */
  reaction?: ReactionDetail;
}

export interface CycleDeps {
  api: CanaryApi;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  newRunId?: () => string;
  /** Called right after the canary exists, so shutdown can delete it even mid-request. */
  onCanaryCreated?: (namespace: string, name: string) => void;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A new check's run id: time-ordered, with a random part so that two auditors never collide. */
export const newRunId = (): string => `${Date.now().toString(36)}-${randomSuffix(4)}`;

export const ABORTED_REASON = "cycle aborted (shutdown or lost leadership)";

/** What every probe kind's check records: which run, of what, when and how long, and the outcome. */
export function checkResult(
  run: { probe: string; runId: string; canary: string; namespace: string; t0: number; end: number; timings: CheckResult["timings"] },
  result: CheckOutcome,
  reason: string,
  rest: Pick<CheckResult, "cleanup"> & Partial<CheckResult>,
): CheckResult {
  return {
    probe: run.probe,
    runId: run.runId,
    canary: run.canary,
    namespace: run.namespace,
    result,
    reason,
    startedAt: new Date(run.t0).toISOString(),
    endedAt: new Date(run.end).toISOString(),
    durationMs: run.end - run.t0,
    timings: run.timings,
    ...rest,
  };
}

export async function runCycle(p: ProbeConfig, signal: AbortSignal, deps: CycleDeps): Promise<CheckResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  const runId = deps.newRunId?.() ?? newRunId();
  const name = canaryName(p.name);
  const ns = p.canary.namespace;
  const t0 = now();
  const timings: CheckResult["timings"] = {};
  let created = false;

  const finish = async (result: CheckOutcome, reason: string, extra: Partial<CheckResult> = {}): Promise<CheckResult> => {
    let cleanup: CheckResult["cleanup"] = "deleted";
    let cleanupError: string | undefined;
    if (created) {
      try {
        await deps.api.deletePod(ns, name);
      } catch (err) {
        cleanup = "failed";
        cleanupError = errorMessage(err);
      }
    }
    const run = { probe: p.name, runId, canary: name, namespace: ns, t0, end: now(), timings };
    return checkResult(run, result, reason, { cleanup, ...(cleanupError ? { cleanupError } : {}), ...extra });
  };
  const aborted = () => finish("aborted", ABORTED_REASON);

  try {
    await deps.api.createPod(ns, buildCanary(p, name, runId), signal);
    created = true;
    deps.onCanaryCreated?.(ns, name);
  } catch (err) {
    // A timeout or 5xx does not prove the pod was not created: delete it anyway. A 4xx does.
    const status = (err as { status?: unknown }).status;
    created = !(typeof status === "number" && status >= 400 && status < 500);
    if (signal.aborted) return aborted();
    return finish("inconclusive", `could not create canary: ${errorMessage(err)}`, { inconclusive: "create_failed" });
  }
  timings.created = now() - t0;

  let runningAt: number | undefined;
  let mainExitedAt: number | undefined; // auditor clock: deadlines never depend on node clocks
  let mainFinishedStatus: number | undefined;
  let everRan = false;
  for (;;) {
    if (signal.aborted) return aborted();
    let pod: Pod | undefined;
    try {
      pod = await deps.api.getPod(ns, name, signal);
    } catch (err) {
      if (signal.aborted) return aborted();
      return finish("inconclusive", `API error while polling the canary: ${errorMessage(err)}`, { inconclusive: "api_error" });
    }
    const t = now();
    if (!pod) {
      created = false;
      if (everRan) {
        timings.done = t - t0;
        return finish("pass", "canary pod was deleted after it ran", reaction(mainExitedAt, t));
      }
      return finish("inconclusive", "canary pod disappeared before it started", { inconclusive: "canary_broken" });
    }
    const o = observe(pod, p.canary.mainContainer, p.canary.sidecarContainer);
    switch (o.kind) {
      case "broken":
        return finish("inconclusive", o.reason, { inconclusive: "canary_broken" });
      case "pending":
        if (t - t0 > p.canary.startTimeoutMs) return finish("inconclusive", `canary did not start within ${p.canary.startTimeoutMs}ms`, { inconclusive: "start_timeout" });
        break;
      case "running":
        everRan = true;
        if (runningAt === undefined) {
          runningAt = t;
          timings.running = t - t0;
        }
        // A main container that outlives its lifetime by the start timeout is not the controller's fault.
        if (t - runningAt > p.canary.lifetimeMs + p.canary.startTimeoutMs)
          return finish("inconclusive", "main container did not exit after its lifetime", { inconclusive: "main_stuck" });
        break;
      case "main-exited":
        everRan = true;
        if (mainExitedAt === undefined) {
          mainExitedAt = t;
          mainFinishedStatus = o.mainFinishedAt;
          timings.mainExited = t - t0;
        }
        if (t - mainExitedAt >= p.canary.deadlineMs)
          return finish("fail", `main container exited but "${p.canary.sidecarContainer}" still runs after ${p.canary.deadlineMs}ms`);
        break;
      case "done": {
        everRan = true;
        timings.done = t - t0;
        const how = o.how === "sidecar-terminated" ? `"${p.canary.sidecarContainer}" terminated` : `pod ${o.phase}`;
        // Prefer the node's own timestamps (exact but whole seconds); else what we saw between polls.
        const byStatus =
          (o.mainFinishedAt ?? mainFinishedStatus) !== undefined && o.sidecarFinishedAt !== undefined
            ? (o.sidecarFinishedAt - (o.mainFinishedAt ?? mainFinishedStatus)!) / 1000
            : undefined;
        const extra = byStatus !== undefined && byStatus >= 0 ? { reactionSeconds: byStatus } : reaction(mainExitedAt, t);
        return finish("pass", how, extra);
      }
    }
    const remaining = mainExitedAt !== undefined ? p.canary.deadlineMs - (now() - mainExitedAt) : p.canary.pollIntervalMs;
    await sleep(Math.max(1, Math.min(p.canary.pollIntervalMs, remaining)), signal);
  }
}

function reaction(mainExitedAt: number | undefined, t: number): Partial<CheckResult> {
  return mainExitedAt !== undefined ? { reactionSeconds: (t - mainExitedAt) / 1000 } : {};
}

// One check of a reaction probe: apply the stimulus, poll (GET/LIST, never a watch) until every
// expected reaction holds or the deadline passes, judge, and always clean up. Never a pass on
// doubt: API errors, a refused stimulus or a reaction that cannot be judged are inconclusive.
import { errorMessage } from "../core/errors.js";
import type { GVR } from "../core/kube/gvr.js";
import { ABORTED_REASON, abortableSleep, checkResult, newRunId, type CheckOutcome, type CheckResult, type InconclusiveReason } from "./cycle.js";
import { canaryName, RUN_ID_LABEL } from "./canary.js";
import { evaluate, expandPlaceholders, parseCondition, type Condition, type Verdict } from "./expr.js";
import { describeRef, expandRef, renderStimulus, stimulusRef, type JsonObject, type ObjectRef, type ReactionProbeConfig, type RunVars } from "./reaction-probe.js";

/** What a reaction cycle needs from Kubernetes; the real one is backed by KubeClient (reaction-api.ts). */
export interface ReactionApi {
  /** Finds the resource serving apiVersion/kind through discovery; throws UnknownResourceError when none does. */
  resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<GVR>;
  create(gvr: GVR, namespace: string | undefined, obj: JsonObject, signal?: AbortSignal): Promise<JsonObject>;
  mergePatch(gvr: GVR, namespace: string | undefined, name: string, patch: JsonObject, signal?: AbortSignal): Promise<JsonObject>;
  /** undefined when the object does not exist (404). */
  get(gvr: GVR, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<JsonObject | undefined>;
  list(gvr: GVR, namespace: string | undefined, labelSelector: string, signal?: AbortSignal): Promise<JsonObject[]>;
  /** Resolves when deleted, being deleted, or already gone. */
  delete(gvr: GVR, namespace: string | undefined, name: string): Promise<void>;
}

export class UnknownResourceError extends Error {
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    detail: string,
  ) {
    super(`the API server serves no resource of kind ${kind} in ${apiVersion}${detail ? ` (${detail})` : ""}`);
    this.name = "UnknownResourceError";
  }
}

export interface ExpectationResult {
  /** "stimulus" or the object(s) looked at. */
  target: string;
  condition: string;
  /** At the last poll; "unknown" when it was never evaluated (an earlier step failed). */
  holds: boolean | "undecidable" | "unknown";
  observed?: string;
}

export interface ReactionDetail {
  stimulus: { action: ReactionProbeConfig["stimulus"]["action"]; apiVersion: string; kind: string; namespace?: string; name: string };
  expectations: ExpectationResult[];
  /** Index of the first expectation that did not hold at the deadline (fail / not judgeable). */
  failed?: number;
  /** What the cleanup deleted (kind/namespace/name). */
  deleted: string[];
}

export interface ReactionCycleDeps {
  api: ReactionApi;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  newRunId?: () => string;
}

function status(err: unknown): number | undefined {
  const s = (err as { status?: unknown }).status;
  return typeof s === "number" ? s : undefined;
}

/** The run-id selector a cleanup entry without name or selector stands for. */
export function cleanupSelector(r: ObjectRef, runId: string): string {
  return r.selector ?? `${RUN_ID_LABEL}=${runId}`;
}

export async function runReactionCycle(p: ReactionProbeConfig, signal: AbortSignal, deps: ReactionCycleDeps): Promise<CheckResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  const runId = deps.newRunId?.() ?? newRunId();
  const vars: RunVars = { name: canaryName(p.name), runId };
  const api = deps.api;
  const ref = stimulusRef(p, vars);
  const t0 = now();
  const timings: CheckResult["timings"] = {};
  const expectations: ExpectationResult[] = p.expect.map((e) => ({
    target: e.object ? describeRef(expandRef(e.object, vars)) : "stimulus",
    condition: expandPlaceholders(e.condition, vars),
    holds: "unknown",
  }));
  const detail: ReactionDetail = { stimulus: { action: p.stimulus.action, ...ref }, expectations, deleted: [] };
  let stimulusGvr: GVR | undefined;
  let mayExist = false; // the created stimulus may exist: delete it in cleanup

  const cleanup = async (): Promise<{ cleanup: CheckResult["cleanup"]; cleanupError?: string }> => {
    const errors: string[] = [];
    if (mayExist && stimulusGvr && p.stimulus.action === "create") {
      try {
        await api.delete(stimulusGvr, ref.namespace, ref.name);
        detail.deleted.push(`${ref.kind}/${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`);
      } catch (err) {
        errors.push(`delete ${ref.kind} ${ref.name}: ${errorMessage(err)}`);
      }
    }
    for (const raw of p.cleanup) {
      const r = expandRef(raw, vars);
      try {
        const gvr = await api.resolve(r.apiVersion, r.kind);
        const names = r.name !== undefined ? [r.name] : (await api.list(gvr, r.namespace, cleanupSelector(r, runId))).map((o) => String((o.metadata as { name?: unknown } | undefined)?.name ?? ""));
        for (const n of names.filter(Boolean)) {
          await api.delete(gvr, r.namespace, n);
          detail.deleted.push(`${r.kind}/${r.namespace ? `${r.namespace}/` : ""}${n}`);
        }
      } catch (err) {
        errors.push(`cleanup ${describeRef(r)}: ${errorMessage(err)}`);
      }
    }
    return errors.length ? { cleanup: "failed", cleanupError: errors.join("; ") } : { cleanup: "deleted" };
  };

  const finish = async (result: CheckOutcome, reason: string, extra: Partial<CheckResult> = {}): Promise<CheckResult> => {
    const c = await cleanup();
    const run = { probe: p.name, runId, canary: ref.name, namespace: ref.namespace ?? "", t0, end: now(), timings };
    return checkResult(run, result, reason, { ...c, reaction: detail, ...extra });
  };
  const aborted = () => finish("aborted", ABORTED_REASON);
  const inconclusive = (why: InconclusiveReason, reason: string) => finish("inconclusive", reason, { inconclusive: why });

  // 1. The resources, through discovery.
  const gvrs: (GVR | undefined)[] = [];
  try {
    stimulusGvr = await api.resolve(ref.apiVersion, ref.kind, signal);
    for (const e of p.expect) gvrs.push(e.object ? await api.resolve(e.object.apiVersion, e.object.kind, signal) : undefined);
  } catch (err) {
    if (signal.aborted) return aborted();
    if (err instanceof UnknownResourceError) return stimulusGvr ? inconclusive("not_judgeable", `cannot judge: ${err.message}`) : inconclusive("stimulus_refused", `stimulus refused: ${err.message}`);
    return inconclusive("api_error", `API error during discovery: ${errorMessage(err)}`);
  }
  if (stimulusGvr.namespaced && !ref.namespace) return inconclusive("stimulus_refused", `stimulus refused: ${ref.kind} is namespaced but the template has no metadata.namespace`);
  const conditions: Condition[] = p.expect.map((e) => parseCondition(expandPlaceholders(e.condition, vars)));

  // 2. The stimulus.
  try {
    const body = renderStimulus(p, vars);
    switch (p.stimulus.action) {
      case "create":
        mayExist = true;
        await api.create(stimulusGvr, ref.namespace, body, signal);
        break;
      case "update":
        await api.mergePatch(stimulusGvr, ref.namespace, ref.name, body, signal);
        break;
      case "delete":
        await api.delete(stimulusGvr, ref.namespace, ref.name);
        break;
    }
  } catch (err) {
    const s = status(err);
    // A 4xx proves nothing was created; a timeout or 5xx does not: cleanup deletes it anyway.
    if (s !== undefined && s >= 400 && s < 500) mayExist = false;
    if (signal.aborted) return aborted();
    if (s !== undefined && s >= 400 && s < 500 && s !== 429) return inconclusive("stimulus_refused", `stimulus refused: ${errorMessage(err)}`);
    return inconclusive("api_error", `API error applying the stimulus: ${errorMessage(err)}`);
  }
  const tStimulus = now();
  timings.created = tStimulus - t0;

  // 3. Poll every expectation until all hold or the deadline passes.
  for (;;) {
    if (signal.aborted) return aborted();
    const verdicts: Verdict[] = [];
    try {
      for (let i = 0; i < p.expect.length; i++) {
        const e = p.expect[i]!;
        const v = e.object
          ? await judgeObject(api, gvrs[i]!, expandRef(e.object, vars), conditions[i]!, signal)
          : evaluate(conditions[i]!, await api.get(stimulusGvr, ref.namespace, ref.name, signal), { hideValues: isSecret(stimulusGvr) });
        verdicts.push(v);
        expectations[i]!.holds = v.holds;
        expectations[i]!.observed = v.observed;
      }
    } catch (err) {
      if (signal.aborted) return aborted();
      return inconclusive("api_error", `API error while polling: ${errorMessage(err)}`);
    }
    const t = now();
    if (verdicts.every((v) => v.holds === true)) {
      timings.done = t - t0;
      return finish("pass", `all ${verdicts.length} expected reaction(s) held`, { reactionSeconds: (t - tStimulus) / 1000 });
    }
    if (t - tStimulus >= p.deadlineMs) {
      const undecidable = verdicts.findIndex((v) => v.holds === "undecidable");
      if (undecidable >= 0) {
        detail.failed = undecidable;
        return inconclusive("not_judgeable", `cannot judge expectation ${undecidable + 1} (${expectations[undecidable]!.target}: ${expectations[undecidable]!.condition}): ${verdicts[undecidable]!.observed}`);
      }
      const failed = verdicts.findIndex((v) => v.holds !== true);
      detail.failed = failed;
      const x = expectations[failed]!;
      return finish("fail", `expectation ${failed + 1} (${x.target}: ${x.condition}) did not hold within ${p.deadlineMs}ms: ${x.observed ?? "not observed"}`);
    }
    const remaining = p.deadlineMs - (now() - tStimulus);
    await sleep(Math.max(1, Math.min(p.pollIntervalMs, remaining)), signal);
  }
}

/** Values read from a Secret are never shown in /status or logs. */
function isSecret(gvr: GVR): boolean {
  return gvr.group === "" && gvr.resource === "secrets";
}

/** By name: GET. By selector: LIST; `exists`/`not exists` on the set, any object for field conditions. */
async function judgeObject(api: ReactionApi, gvr: GVR, r: ObjectRef, c: Condition, signal: AbortSignal): Promise<Verdict> {
  const hideValues = isSecret(gvr);
  if (r.name !== undefined) return evaluate(c, await api.get(gvr, gvr.namespaced ? r.namespace : undefined, r.name, signal), { hideValues });
  const items = await api.list(gvr, gvr.namespaced ? r.namespace : undefined, r.selector!, signal);
  if (c.kind === "object") {
    const n = items.length;
    const holds = c.exists ? n > 0 : n === 0;
    const observed = `${n} object(s) match ${r.selector}`;
    return holds ? { holds: true, observed } : { holds: false, observed };
  }
  if (items.length === 0) return { holds: false, observed: `no object matches ${r.selector}` };
  let first: Verdict | undefined;
  for (const o of items) {
    const v = evaluate(c, o, { hideValues });
    if (v.holds === true) return v;
    if (!first || (v.holds === "undecidable" && first.holds !== "undecidable")) first = v;
  }
  return first!;
}

/** Deletes this probe's leftovers (created stimuli carrying its labels) before a cycle. */
export async function sweepReaction(p: ReactionProbeConfig, api: ReactionApi, selector: string, onDeleted: (what: string) => void, onError: (what: string, err: unknown) => void): Promise<void> {
  if (p.stimulus.action !== "create") return;
  const ref = stimulusRef(p, { name: "x", runId: "x" });
  // A namespace holding a placeholder is per run: nothing to list there.
  if (ref.namespace && /\{\{/.test(String((p.stimulus.template.metadata as { namespace?: unknown } | undefined)?.namespace ?? ""))) return;
  try {
    const gvr = await api.resolve(ref.apiVersion, ref.kind);
    for (const o of await api.list(gvr, gvr.namespaced ? ref.namespace : undefined, selector)) {
      const m = (o.metadata ?? {}) as { name?: string; deletionTimestamp?: string };
      if (!m.name || m.deletionTimestamp) continue; // already going
      try {
        await api.delete(gvr, gvr.namespaced ? ref.namespace : undefined, m.name);
        onDeleted(`${ref.kind}/${m.name}`);
      } catch (err) {
        onError(`${ref.kind}/${m.name}`, err);
      }
    }
  } catch (err) {
    onError(`${ref.apiVersion}/${ref.kind}`, err);
  }
}

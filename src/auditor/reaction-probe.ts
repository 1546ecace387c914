// Reaction probes: a stimulus (create, update or delete of any object), the reactions it must
// cause (conditions on the stimulus or on other objects), a deadline, cleanup, and what to roll.
// Kept free of the YAML and schema libraries (config.ts validates and builds these).
import type { ProbeConfig, ProbeSchedule } from "./probe.js";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, PROBE_LABEL, RUN_ID_LABEL } from "./canary.js";
import { expandPlaceholders } from "./expr.js";

export type JsonObject = Record<string, unknown>;

/** An object or a set of objects, by name or equality label selector; strings may hold {{name}}/{{runId}}. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  selector?: string;
}

export type StimulusAction = "create" | "update" | "delete";

export interface Stimulus {
  action: StimulusAction;
  /**
   * create: the whole object; update: a JSON merge patch carrying apiVersion, kind and
   * metadata.name/namespace of the existing object; delete: apiVersion, kind, metadata.name/namespace.
   */
  template: JsonObject;
}

export interface Expectation {
  /** Absent: the condition is on the stimulus itself. */
  object?: ObjectRef;
  /** The condition's text (expr.ts); placeholders are expanded per run before parsing. */
  condition: string;
}

export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type RollTarget = { namespace: string; selector: string } | { namespace: string; kind: WorkloadKind; name: string };

export interface ReactionProbeConfig extends ProbeSchedule {
  kind: "reaction";
  stimulus: Stimulus;
  expect: Expectation[];
  deadlineMs: number;
  pollIntervalMs: number;
  /** Deleted after every cycle, whatever the outcome (name, or selector; default selector: this run's run-id label). */
  cleanup: ObjectRef[];
  /** undefined: audit only. */
  roll?: RollTarget;
}

export type AnyProbe = ProbeConfig | ReactionProbeConfig;

export function isReaction(p: AnyProbe): p is ReactionProbeConfig {
  return (p as { kind?: unknown }).kind === "reaction";
}

export interface RunVars {
  name: string;
  runId: string;
}

/** Deep copy of a template with {{name}}/{{runId}} expanded in every string (keys included). */
export function expandTemplate<T>(v: T, vars: RunVars): T {
  if (typeof v === "string") return expandPlaceholders(v, vars) as T;
  if (Array.isArray(v)) return v.map((x) => expandTemplate(x, vars)) as T;
  if (v && typeof v === "object") {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[expandPlaceholders(k, vars)] = expandTemplate(x, vars);
    return out as T;
  }
  return v;
}

export function expandRef(r: ObjectRef, vars: RunVars): ObjectRef {
  return expandTemplate(r, vars);
}

function meta(o: JsonObject): JsonObject {
  const m = o.metadata;
  return m && typeof m === "object" && !Array.isArray(m) ? (m as JsonObject) : {};
}

/** The labels every object the auditor creates carries (ours last: a template cannot override them). */
export function runLabels(probe: string, runId: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [PROBE_LABEL]: probe, [RUN_ID_LABEL]: runId };
}

/** Where the stimulus lives and what it is called, once placeholders are expanded. */
export function stimulusRef(p: ReactionProbeConfig, vars: RunVars): ObjectRef & { name: string } {
  const t = expandTemplate(p.stimulus.template, vars);
  const m = meta(t);
  return {
    apiVersion: String(t.apiVersion),
    kind: String(t.kind),
    ...(typeof m.namespace === "string" && m.namespace ? { namespace: m.namespace } : {}),
    name: typeof m.name === "string" ? m.name : vars.name,
  };
}

/**
 * The body sent for the stimulus. create: the template with our labels (managed-by, probe,
 * run-id) and the purpose annotation; update: a merge patch that also stamps the run id as an
 * annotation (never our labels: the sweep must not take an existing object for a leftover).
 */
export function renderStimulus(p: ReactionProbeConfig, vars: RunVars): JsonObject {
  const t = expandTemplate(p.stimulus.template, vars);
  const m = { ...meta(t) };
  if (p.stimulus.action === "create") {
    m.name = typeof m.name === "string" ? m.name : vars.name;
    m.labels = { ...(m.labels as Record<string, string> | undefined), ...runLabels(p.name, vars.runId) };
    m.annotations = { ...(m.annotations as Record<string, string> | undefined), "watch-auditor.dev/purpose": "stimulus of a reaction probe; safe to delete" };
  } else if (p.stimulus.action === "update") {
    m.annotations = { ...(m.annotations as Record<string, string> | undefined), [RUN_ID_LABEL]: vars.runId };
  }
  return { ...t, metadata: m };
}

/** One line for logs and /status: "create v1/Namespace watch-auditor-x-abc123". */
export function describeRef(r: ObjectRef): string {
  const where = r.namespace ? `${r.namespace}/` : "";
  const what = r.name !== undefined ? `${where}${r.name}` : `${r.namespace ? `in ${r.namespace} ` : ""}selected by ${r.selector}`;
  return `${r.apiVersion}/${r.kind} ${what}`;
}

export function describeExpectation(e: Expectation): string {
  return `${e.object ? describeRef(e.object) : "stimulus"}: ${e.condition}`;
}

export function describeStimulus(p: ReactionProbeConfig): string {
  const t = p.stimulus.template;
  const m = meta(t);
  const where = typeof m.namespace === "string" && m.namespace ? `${m.namespace}/` : "";
  return `${p.stimulus.action} ${String(t.apiVersion)}/${String(t.kind)} ${where}${typeof m.name === "string" ? m.name : "{{name}}"}`;
}

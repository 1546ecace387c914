// The `kind: reaction` entries of a `--config` file (zod). Every string that may carry
// {{name}}/{{runId}} is checked with sample values, every condition is parsed, so a bad
// expression or field stops the process with the probe and the field named (config.ts).
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { MAX_PROBE_NAME, MODES, parseEqualitySelector, type ProbeConfig } from "./probe.js";
import { ExprError, expandPlaceholders, parseCondition, unknownPlaceholder } from "./expr.js";
import { WORKLOAD_KINDS, type ObjectRef, type ReactionProbeConfig, type RollTarget, type StimulusAction } from "./reaction-probe.js";

/** Default deadline of a reaction probe (the sidecar probe's --canary-deadline measures something else). */
export const DEFAULT_REACTION_DEADLINE_MS = 30_000;
const SAMPLE = { name: "watch-auditor-sample-abc123", runId: "sample-run" };

const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits, '-')");
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === "number") {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a duration such as "30s", got the number ${v}` });
    return z.NEVER;
  }
  try {
    const ms = parseDuration(v);
    if (ms > 0) return ms;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be greater than 0, got "${v}"` });
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
  return z.NEVER;
});
const cooldown = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    if (typeof v === "number") throw new Error(`expected a duration such as "5m", got the number ${v}`);
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

/** A string that may hold placeholders; only {{name}} and {{runId}} exist. */
const templString = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((s, ctx) => {
      const bad = unknownPlaceholder(s);
      if (bad) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown placeholder ${bad} (only {{name}} and {{runId}})` });
    });
const apiVersion = z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/, 'must be an apiVersion such as "v1", "apps/v1" or "example.com/v1alpha1"');
const kind = z.string().regex(/^[A-Z][A-Za-z0-9]{0,62}$/, 'must be a Kind such as "Deployment"');
const selector = templString(1024).refine((s) => parseEqualitySelector(expandPlaceholders(s, SAMPLE)) !== undefined, "must be an equality label selector such as app=x,tier=y");

const objectRef = z
  .object({ apiVersion, kind, namespace: templString(253).optional(), name: templString(253).optional(), selector: selector.optional() })
  .strict()
  .refine((r) => !(r.name !== undefined && r.selector !== undefined), "give name or selector, not both");

/** Walks a template: unknown placeholders anywhere (keys too) are named with their path. */
function checkTemplate(v: unknown, ctx: z.RefinementCtx, path: (string | number)[]): void {
  if (typeof v === "string") {
    const bad = unknownPlaceholder(v);
    if (bad) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `unknown placeholder ${bad} (only {{name}} and {{runId}})` });
  } else if (Array.isArray(v)) v.forEach((x, i) => checkTemplate(x, ctx, [...path, i]));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      const bad = unknownPlaceholder(k);
      if (bad) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...path, k], message: `unknown placeholder ${bad} in a key` });
      checkTemplate(x, ctx, [...path, k]);
    }
}

const template = (action: StimulusAction) =>
  z.record(z.unknown()).superRefine((t, ctx) => {
    const av = apiVersion.safeParse(t.apiVersion);
    if (!av.success) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["apiVersion"], message: t.apiVersion === undefined ? "required" : av.error.issues[0]!.message });
    const k = kind.safeParse(t.kind);
    if (!k.success) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["kind"], message: t.kind === undefined ? "required" : k.error.issues[0]!.message });
    const m = t.metadata;
    if (m !== undefined && (typeof m !== "object" || m === null || Array.isArray(m))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["metadata"], message: "must be an object" });
      return;
    }
    const meta = (m ?? {}) as Record<string, unknown>;
    for (const f of ["name", "namespace"] as const)
      if (meta[f] !== undefined && typeof meta[f] !== "string") ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["metadata", f], message: "must be a string" });
    if (action !== "create" && typeof meta.name !== "string") ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["metadata", "name"], message: `required: the object to ${action}` });
    if (action === "delete") {
      const extra = Object.keys(t).filter((x) => !["apiVersion", "kind", "metadata"].includes(x));
      if (extra.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [extra[0]!], message: "a delete stimulus names an object: only apiVersion, kind and metadata.name/namespace" });
    }
    checkTemplate(t, ctx, []);
  });

const expectation = z
  .object({
    object: objectRef
      .refine((r) => r.name !== undefined || r.selector !== undefined, "needs name or selector")
      .optional(),
    condition: z
      .string()
      .min(1)
      .max(1024)
      .superRefine((s, ctx) => {
        const bad = unknownPlaceholder(s);
        if (bad) return void ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown placeholder ${bad} (only {{name}} and {{runId}})` });
        try {
          parseCondition(expandPlaceholders(s, SAMPLE));
        } catch (err) {
          if (!(err instanceof ExprError)) throw err;
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `bad expression ${JSON.stringify(s)}: ${err.message}` });
        }
      }),
  })
  .strict();

const rollObject = z
  .object({ namespace: dnsLabel, selector: z.string().max(1024).optional(), kind: z.enum(WORKLOAD_KINDS).optional(), name: z.string().min(1).max(253).optional() })
  .strict()
  .superRefine((r, ctx) => {
    if (r.selector !== undefined) {
      if (r.kind !== undefined || r.name !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "give selector (the controller's pods) or kind and name, not both" });
      else if (!parseEqualitySelector(r.selector)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["selector"], message: "must be an equality label selector such as app=x,tier=y" });
    } else if (r.kind === undefined || r.name === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `needs selector (the controller's pods) or kind (${WORKLOAD_KINDS.join(", ")}) and name` });
  });

const roll = z.unknown().transform((v, ctx): RollTarget | undefined => {
  if (v === "none" || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected "none" or {namespace, selector} or {namespace, kind, name}' });
    return z.NEVER;
  }
  const r = rollObject.safeParse(v);
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ ...i, path: i.path } as z.IssueData);
    return z.NEVER;
  }
  const o = r.data;
  return o.selector !== undefined ? { namespace: o.namespace, selector: o.selector } : { namespace: o.namespace, kind: o.kind!, name: o.name! };
});

export const reactionProbeSchema = z
  .object({
    name: dnsLabel.max(MAX_PROBE_NAME, `must be at most ${MAX_PROBE_NAME} characters (generated names embed it)`),
    kind: z.literal("reaction"),
    mode: z.enum(MODES).optional(),
    every: duration.optional(),
    failureThreshold: z.number().int().min(1).max(1000).optional(),
    cooldown: cooldown.optional(),
    maxRollsPerHour: z.number().int().min(0).max(1000).optional(),
    stimulus: z
      .object({ create: template("create").optional(), update: template("update").optional(), delete: template("delete").optional() })
      .strict()
      .refine((s) => [s.create, s.update, s.delete].filter((x) => x !== undefined).length === 1, "exactly one of create, update, delete"),
    expect: z.array(expectation).min(1).max(20),
    deadline: duration.optional(),
    pollInterval: duration.optional(),
    cleanup: z.array(objectRef.refine((r) => r.selector === undefined || /\{\{\s*(name|runId)\s*\}\}/.test(r.selector), "a cleanup selector must contain {{name}} or {{runId}}, so it can only match this run's objects")).max(20).optional(),
    roll: roll.optional(),
  })
  .strict();

export function buildReactionProbe(p: z.output<typeof reactionProbeSchema>, defaults: ProbeConfig, where: string): ReactionProbeConfig {
  const action: StimulusAction = p.stimulus.create ? "create" : p.stimulus.update ? "update" : "delete";
  const rollTarget = p.roll;
  if (p.mode === "enforcing" && !rollTarget) throw new UsageError(`${where}.roll: mode enforcing needs a controller to roll (or mode: audit) (probe "${p.name}")`);
  const probe: ReactionProbeConfig = {
    kind: "reaction",
    name: p.name,
    // Without a controller to roll there is nothing to enforce.
    mode: rollTarget ? (p.mode ?? defaults.mode) : "audit",
    everyMs: p.every ?? defaults.everyMs,
    failureThreshold: p.failureThreshold ?? defaults.failureThreshold,
    cooldownMs: p.cooldown ?? defaults.cooldownMs,
    maxRollsPerHour: p.maxRollsPerHour ?? defaults.maxRollsPerHour,
    stimulus: { action, template: (p.stimulus.create ?? p.stimulus.update ?? p.stimulus.delete)! },
    expect: p.expect.map((e) => ({ ...(e.object ? { object: e.object as ObjectRef } : {}), condition: e.condition })),
    deadlineMs: p.deadline ?? DEFAULT_REACTION_DEADLINE_MS,
    pollIntervalMs: p.pollInterval ?? defaults.canary.pollIntervalMs,
    cleanup: (p.cleanup ?? []) as ObjectRef[],
    ...(rollTarget ? { roll: rollTarget } : {}),
  };
  if (probe.pollIntervalMs > probe.deadlineMs) throw new UsageError(`${where}.pollInterval: ${probe.pollIntervalMs}ms must not exceed deadline (${probe.deadlineMs}ms) (probe "${p.name}")`);
  return probe;
}

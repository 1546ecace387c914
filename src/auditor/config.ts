// `--config FILE`: several named probes, each overriding any flag default. Everything is
// validated up front so a bad value stops the process with a message naming file and field.
import { readFileSync, statSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { MAX_CONFIG_BYTES, MAX_PROBE_NAME, MODES, SIDECAR_MODES, parseEqualitySelector, validateProbe, type ProbeConfig } from "./probe.js";
import { reactionProbeSchema, buildReactionProbe } from "./reaction-config.js";
import type { AnyProbe } from "./reaction-probe.js";

const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits, '-')");
const probeName = dnsLabel.max(MAX_PROBE_NAME, `must be at most ${MAX_PROBE_NAME} characters (the canary pod name embeds it)`);
const duration = (opts: { allowZero?: boolean } = {}) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    // A bare number is ambiguous (seconds? ms?): require Go syntax like the flags.
    if (typeof v === "number") {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a duration such as "30s", got the number ${v}` });
      return z.NEVER;
    }
    try {
      const ms = parseDuration(v);
      if (ms === 0 && !opts.allowZero) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be greater than 0, got "${v}"` });
        return z.NEVER;
      }
      return ms;
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });
const labelMap = z.record(z.string().max(317), z.string().max(63));
const annotationMap = z.record(z.string().max(317), z.string().max(64 * 1024));

const selector = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => parseEqualitySelector(s) !== undefined, "must be an equality label selector such as app=x,tier=y");

const probeSchema = z
  .object({
    name: probeName,
    kind: z.literal("sidecar").optional(),
    mode: z.enum(MODES).optional(),
    every: duration().optional(),
    failureThreshold: z.number().int().min(1).max(1000).optional(),
    cooldown: duration({ allowZero: true }).optional(),
    maxRollsPerHour: z.number().int().min(0).max(1000).optional(),
    canary: z
      .object({
        namespace: dnsLabel.optional(),
        image: z.string().min(1).max(512).optional(),
        lifetime: duration().optional(),
        deadline: duration().optional(),
        startTimeout: duration().optional(),
        pollInterval: duration().optional(),
        mainContainer: dnsLabel.optional(),
        sidecarContainer: dnsLabel.optional(),
        sidecarMode: z.enum(SIDECAR_MODES).optional(),
        labels: labelMap.optional(),
        annotations: annotationMap.optional(),
        podSpec: z.record(z.unknown()).optional(),
      })
      .strict()
      .optional(),
    controller: z
      .object({
        namespace: dnsLabel.optional(),
        selector: selector.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const fileSchema = z
  .object({
    // Each entry is parsed by the schema of its kind (sidecar, the default, or reaction).
    probes: z.array(z.unknown()).min(1).max(50),
  })
  .strict();

function isReactionEntry(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "reaction";
}

function probeLabel(v: unknown): string {
  const name = typeof v === "object" && v !== null ? (v as { name?: unknown }).name : undefined;
  return typeof name === "string" ? ` (probe "${name.slice(0, 63)}")` : "";
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), "");
}

/** Reads and validates a probes file; each probe inherits unset fields from `defaults`. */
export function loadProbesFile(file: string, defaults: ProbeConfig): AnyProbe[] {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) throw new UsageError(`config ${file}: ${size} bytes exceeds the ${MAX_CONFIG_BYTES}-byte limit`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`config ${file}: cannot read: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const line = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}` : "";
    throw new UsageError(`config ${file}${line}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`config ${file}: ${formatPath(issue.path) || "(root)"}: ${issue.message}`);
  }
  const seen = new Set<string>();
  return parsed.data.probes.map((entry, i): AnyProbe => {
    const reaction = isReactionEntry(entry);
    const one = reaction ? reactionProbeSchema.safeParse(entry) : probeSchema.safeParse(entry);
    if (!one.success) {
      const issue = one.error.issues[0]!;
      throw new UsageError(`config ${file}: ${formatPath(["probes", i, ...issue.path])}: ${issue.message}${probeLabel(entry)}`);
    }
    const name = one.data.name;
    if (seen.has(name)) throw new UsageError(`config ${file}: probes[${i}].name: duplicate probe name "${name}"`);
    seen.add(name);
    if (reaction) return buildReactionProbe(one.data as z.output<typeof reactionProbeSchema>, defaults, `config ${file}: probes[${i}]`);
    const p = one.data as z.output<typeof probeSchema>;
    const c = p.canary ?? {};
    const probe: ProbeConfig = {
      name: p.name,
      mode: p.mode ?? defaults.mode,
      everyMs: p.every ?? defaults.everyMs,
      failureThreshold: p.failureThreshold ?? defaults.failureThreshold,
      cooldownMs: p.cooldown ?? defaults.cooldownMs,
      maxRollsPerHour: p.maxRollsPerHour ?? defaults.maxRollsPerHour,
      canary: {
        namespace: c.namespace ?? defaults.canary.namespace,
        image: c.image ?? defaults.canary.image,
        lifetimeMs: c.lifetime ?? defaults.canary.lifetimeMs,
        deadlineMs: c.deadline ?? defaults.canary.deadlineMs,
        startTimeoutMs: c.startTimeout ?? defaults.canary.startTimeoutMs,
        pollIntervalMs: c.pollInterval ?? defaults.canary.pollIntervalMs,
        mainContainer: c.mainContainer ?? defaults.canary.mainContainer,
        sidecarContainer: c.sidecarContainer ?? defaults.canary.sidecarContainer,
        sidecarMode: c.sidecarMode ?? defaults.canary.sidecarMode,
        labels: { ...defaults.canary.labels, ...c.labels },
        annotations: { ...defaults.canary.annotations, ...c.annotations },
        ...(c.podSpec ? { podSpec: c.podSpec } : {}),
      },
      controller: {
        namespace: p.controller?.namespace ?? defaults.controller.namespace,
        selector: p.controller?.selector ?? defaults.controller.selector,
      },
    };
    validateProbe(probe, `config ${file}: probes[${i}]`);
    return probe;
  });
}

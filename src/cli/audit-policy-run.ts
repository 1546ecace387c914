// `audit policy lint|simulate` at work: loaded only when one of them runs (the policy parser loads YAML).
import { readFile, stat } from "node:fs/promises";
import { UsageError, errorMessage } from "../core/errors.js";
import { ingestPaths } from "../audit/ingest.js";
import { openStore, type AuditStore } from "../audit/store.js";
import { countBySeverity } from "../audit/policy/findings.js";
import { formatLint, formatSimulation, type LintOutput, type SimulateOutput } from "../audit/policy/format.js";
import { lintPolicy, type LintResult } from "../audit/policy/lint.js";
import { MAX_POLICY_BYTES } from "../audit/policy/parse.js";
import { Simulator, type GroupBy } from "../audit/policy/simulate.js";
import { storeEvents } from "../audit/policy/store-events.js";

async function readPolicy(file: string): Promise<string> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`policy ${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read policy ${file}: ${errorMessage(err)}`);
  }
  if (size > MAX_POLICY_BYTES) throw new UsageError(`policy ${file} is ${size} bytes, over the ${MAX_POLICY_BYTES}-byte limit for a policy file`);
  return readFile(file, "utf8");
}

export interface LintFlags {
  output: LintOutput;
  strict?: boolean;
}

export async function runLint(file: string, flags: LintFlags): Promise<void> {
  const result = lintPolicy(await readPolicy(file));
  process.stdout.write(formatLint(file, result.findings, flags.output));
  const counts = countBySeverity(result.findings);
  process.exitCode = counts.error > 0 || (flags.strict && counts.warning > 0) ? 1 : 0;
}

export interface SimulateFlags {
  db?: string;
  output: SimulateOutput;
  by: GroupBy;
}

/** Lints before simulating: a policy the API server would reject has no cost to estimate. */
function requireValidPolicy(file: string, result: LintResult): NonNullable<LintResult["policy"]> {
  const errors = result.findings.filter((f) => f.severity === "error");
  const warnings = result.findings.filter((f) => f.severity === "warning");
  if (errors.length > 0 || !result.policy) {
    process.stderr.write(formatLint(file, errors, "table"));
    throw new Error(`policy ${file} is invalid (${errors.length} error(s)); fix it first (see \`watch-auditor audit policy lint ${file}\`)`);
  }
  if (warnings.length > 0) process.stderr.write(formatLint(file, warnings, "table"));
  return result.policy;
}

export async function runSimulate(file: string, paths: string[], flags: SimulateFlags): Promise<void> {
  if (flags.db !== undefined && paths.length > 0) throw new UsageError("give either --db FILE or event PATHs, not both");
  if (flags.db === undefined && paths.length === 0) throw new UsageError("give the recorded events: --db FILE (an `audit ingest` store) or one or more PATHs (audit log files, - for stdin)");
  const policy = requireValidPolicy(file, lintPolicy(await readPolicy(file)));
  let store: AuditStore;
  const notes: string[] = [];
  if (flags.db !== undefined) {
    store = await openStore(flags.db, { readOnly: true });
  } else {
    store = await openStore(":memory:");
    try {
      const report = await ingestPaths(store, paths);
      for (const m of report.malformedLines) process.stderr.write(`warning: ${m.file}:${m.line}: skipped malformed event: ${m.reason}\n`);
      if (report.malformed > report.malformedLines.length) process.stderr.write(`warning: ${report.malformed - report.malformedLines.length} more malformed event(s) skipped\n`);
      if (report.malformed > 0) notes.push(`${report.malformed} malformed event line(s) in the input were skipped (listed on stderr)`);
      if (report.eventsRead === 0) process.stderr.write(`warning: no audit events found in ${paths.join(" ")}\n`);
    } catch (err) {
      store.close();
      throw err;
    }
  }
  try {
    const sim = new Simulator(policy, flags.by);
    for await (const ev of storeEvents(store)) sim.add(ev);
    const report = sim.report();
    report.notes.push(...notes);
    process.stdout.write(formatSimulation(report, flags.output));
  } finally {
    store.close();
  }
}

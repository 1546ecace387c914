// Loads a `--config` file in a short-lived child process and hands the validated probes back
// as JSON: the YAML parser and the zod schemas (~1.5 MB of RSS for the whole run, measured by
// bench/auditor-reaction-idle.mjs) are never loaded into the long-running `serve` process.
// Run as a script: reads {file, defaults} on stdin, writes {probes} or {usageError} on stdout.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { UsageError, errorMessage } from "../core/errors.js";
import type { ProbeConfig } from "./probe.js";
import type { AnyProbe } from "./reaction-probe.js";

const SELF = fileURLToPath(import.meta.url);
/** Bound on what the child may answer: 50 probes of a 1 MiB file, as JSON. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export function loadProbesFileIsolated(file: string, defaults: ProbeConfig): AnyProbe[] {
  const r = spawnSync(process.execPath, [SELF], { input: JSON.stringify({ file, defaults }), encoding: "utf8", maxBuffer: MAX_ANSWER_BYTES, timeout: 60_000 });
  if (r.error) throw new Error(`config ${file}: the loader process failed: ${r.error.message}`);
  let answer: { probes?: AnyProbe[]; usageError?: string; error?: string };
  try {
    answer = JSON.parse(r.stdout) as typeof answer;
  } catch {
    throw new Error(`config ${file}: the loader process exited ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
  if (answer.usageError !== undefined) throw new UsageError(answer.usageError);
  if (answer.error !== undefined || !answer.probes) throw new Error(`config ${file}: ${answer.error ?? "no probes"}`);
  return answer.probes;
}

async function child(): Promise<void> {
  let input = "";
  for await (const chunk of process.stdin) input += String(chunk);
  const { file, defaults } = JSON.parse(input) as { file: string; defaults: ProbeConfig };
  const { loadProbesFile } = await import("./config.js");
  try {
    process.stdout.write(JSON.stringify({ probes: loadProbesFile(file, defaults) }));
  } catch (err) {
    process.stdout.write(JSON.stringify(err instanceof UsageError ? { usageError: err.message } : { error: errorMessage(err) }));
  }
}

if (process.argv[1] === SELF) await child();

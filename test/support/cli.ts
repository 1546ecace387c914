// Runs the real CLI as a child process. Uses the build in dist/ (`npm test` builds first;
// run `npm run build` before running CLI tests by hand).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CLI_PATH = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

function assertBuilt(): void {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs the CLI to completion (killed with SIGKILL after timeoutMs, default 30 s). */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  return waitForExit(child, opts.timeoutMs ?? 30_000);
}

/** Starts the CLI and returns the child; the caller must kill it (see stopCli). */
export function spawnCli(args: string[], opts: RunOptions = {}): ChildProcessWithoutNullStreams & { output: { stdout: string; stderr: string } } {
  assertBuilt();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ["pipe", "pipe", "pipe"],
  }) as ChildProcessWithoutNullStreams & { output: { stdout: string; stderr: string } };
  child.output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (d: string) => (child.output.stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (child.output.stderr += d));
  return child;
}

export function waitForExit(child: ReturnType<typeof spawnCli>, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: child.output.stdout, stderr: child.output.stderr });
    };
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
    else child.once("close", done);
  });
}

/** Sends a signal and waits for the exit (SIGKILL after timeoutMs). */
export async function stopCli(child: ReturnType<typeof spawnCli>, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<CliResult> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  return waitForExit(child, timeoutMs);
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? "condition"}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

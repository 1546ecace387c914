import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDIT_SAMPLES } from "../support/samples.js";

export const SAMPLES = AUDIT_SAMPLES;
export const SCENARIO = join(SAMPLES, "real-apiserver-v1.24-scenario.jsonl");
export const DEMO = join(SAMPLES, "demo.log");
export const V1BETA1 = join(SAMPLES, "example-user-agent.log");
export const PRIV_POD = join(SAMPLES, "k8s-audit-priv-pod-file.log");
export const SECURITY = join(SAMPLES, "real-apiserver-v1.25-security-scenario.jsonl");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Ev = any;

/** Independent reference: a plain JS pass over a JSON-lines file, with 1-based line numbers. */
export function readEvents(path: string): { line: number; ev: Ev }[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((text, i) => ({ line: i + 1, text }))
    .filter((l) => l.text.trim() !== "")
    .map((l) => ({ line: l.line, ev: JSON.parse(l.text) }));
}

/** One event per request, the way the queries count them. */
export function isRequestEvent(ev: Ev): boolean {
  const code = ev.responseStatus?.code;
  return ev.stage === "ResponseComplete" || ev.stage === "Panic" || (ev.stage === "ResponseStarted" && code >= 400 && ev.verb !== "watch");
}

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "h6-audit-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

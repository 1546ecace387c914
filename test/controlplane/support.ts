// Shared by the controlplane tests: the test API server with an admin token, the real CLI, and
// readers of the recorded v1.25 files that do not use the code under test.
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../support/cli.js";
import { RECORDED_DIR, startTestApiServer, type TestApiServer, type TestApiServerOptions } from "../support/kube-apiserver/index.js";

/** The report's JSON, read loosely: the cases reach deep into it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export const ADMIN_TOKEN = "controlplane-test-admin";
export const HEALTH_DIR = `${RECORDED_DIR}health/`;
export const RECORDED_PROM = `${RECORDED_DIR}metrics/kube-apiserver.prom`;
export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

export interface Cluster {
  api: TestApiServer;
  dir: string;
  kubeconfig: string;
  close(): Promise<void>;
}

export async function startCluster(opts: TestApiServerOptions = {}): Promise<Cluster> {
  const api = await startTestApiServer({ validation: "off", ...opts, tokens: { [ADMIN_TOKEN]: { user: "admin", groups: ["system:masters"] }, ...opts.tokens } });
  const dir = await mkdtemp(join(tmpdir(), "controlplane-"));
  const kubeconfig = api.writeKubeconfig(dir, { token: ADMIN_TOKEN });
  return {
    api,
    dir,
    kubeconfig,
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `controlplane report --output json` through the real CLI; the parsed JSON (undefined if stdout is not JSON). */
export async function reportJson(kubeconfig: string, extra: string[] = [], timeoutMs = 60_000): Promise<{ r: CliResult; json: Json | undefined }> {
  const r = await runCli(["controlplane", "report", "--kubeconfig", kubeconfig, "--output", "json", ...extra], { timeoutMs });
  let json: Json | undefined;
  try {
    json = JSON.parse(r.stdout) as Json;
  } catch {
    json = undefined;
  }
  return { r, json };
}

/** A recorded health capture: line 1 `HTTP <status>`, then the body. */
export function readHealthCapture(file: string): { status: number; lines: string[] } {
  const text = readFileSync(`${HEALTH_DIR}${file}`, "utf8");
  const [first, ...rest] = text.split("\n");
  return { status: Number(/^HTTP (\d{3})$/.exec(first!)![1]), lines: rest };
}

/** The checks of a verbose capture, read with a plain regex: name → passed? */
export function recordedChecks(file: string): { status: number; checks: [string, boolean][] } {
  const c = readHealthCapture(file);
  const checks: [string, boolean][] = [];
  for (const l of c.lines) {
    const m = /^\[([+-])\](\S+) /.exec(l);
    if (m) checks.push([m[2]!, m[1] === "+"]);
  }
  return { status: c.status, checks };
}

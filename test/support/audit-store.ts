// Audit stores for console tests, built by the real CLI (`audit ingest`) from real recorded events.
import { join } from "node:path";
import { runCli } from "./cli.js";

export const SHARED = new URL("../../../shared/", import.meta.url).pathname;
export const SECURITY_SCENARIO = join(SHARED, "samples/audit/real-apiserver-v1.25-security-scenario.jsonl");
export const V124_SCENARIO = join(SHARED, "samples/audit/real-apiserver-v1.24-scenario.jsonl");
export const RECORDED_V125 = join(SHARED, "kube/recorded-v1.25/audit/scenario-recorder.jsonl");

/** Ingests the files into dir/name (default store.duckdb) and returns its path; throws with the CLI's output on failure. */
export async function buildStore(dir: string, files: string[], opts: { name?: string; keepSecretData?: boolean } = {}): Promise<string> {
  const db = join(dir, opts.name ?? "store.duckdb");
  const r = await runCli(["audit", "ingest", "--db", db, ...(opts.keepSecretData ? ["--keep-secret-data"] : []), ...files], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`audit ingest failed (${r.code}): ${r.stderr}`);
  return db;
}

// `flows drops` through the real CLI: one shot over a file, and the live endpoint of a running
// `flows` behind bearer-token authentication. Expected rows come from jq over the input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { SAMPLES_DIR } from "./samples.js";
import { sample } from "./promtool.js";

interface Row {
  src_namespace: string;
  src_workload: string;
  dst_namespace: string;
  dst_workload: string;
  reason: string;
  direction: string;
  protocol: string;
  port: number;
  policy: string;
  count: number;
  flags?: string[];
}

/** The sample's POLICY_DENIED flow, denied on ingress by a named policy (what recent Cilium adds). */
function withPolicy(name: string): string {
  const line = readFileSync(`${SAMPLES_DIR}/cilium-docs_hubble-exporter-dropped-flows.jsonl`, "utf8").split("\n")[1]!;
  const o = JSON.parse(line) as { flow: Record<string, unknown> };
  return JSON.stringify({ ...o, flow: { ...o.flow, traffic_direction: "INGRESS", ingress_denied_by: [{ name, namespace: "default", kind: "CiliumNetworkPolicy" }] } });
}

function input(dir: string): string {
  const file = join(dir, "hubble.jsonl");
  const text =
    readFileSync(`${SAMPLES_DIR}/hubble-otel_basic-sample-400-tcp-flows.jsonl`, "utf8") +
    readFileSync(`${SAMPLES_DIR}/cilium-docs_hubble-exporter-dropped-flows.jsonl`, "utf8") +
    `${withPolicy("deny-xwing")}\n${withPolicy("deny-xwing")}\n{"flow": not json\n${withPolicy("deny-xwing")}\n`;
  writeFileSync(file, text);
  return file;
}

/** What jq reads from the file: drops grouped by pod pair, reason, direction, port and policy. */
function jqDrops(file: string): { key: string; count: number }[] {
  const out = execFileSync(
    "sh",
    ["-c", `grep -v 'not json' "$1" | jq -c 'select(.flow.verdict == "DROPPED") | .flow | [.source.pod_name, .destination.pod_name, .drop_reason_desc, ((.traffic_direction // "unknown") | ascii_downcase), (.l4.TCP.destination_port // 0), ([(.ingress_denied_by // [])[] | "\\(.namespace)/\\(.name)"] | join(","))]' | sort | uniq -c | sort -rn`, "sh", file],
    { encoding: "utf8" },
  );
  return out
    .trim()
    .split("\n")
    .map((l) => {
      const m = /^\s*(\d+) (.*)$/.exec(l)!;
      return { count: Number(m[1]), key: m[2]! };
    });
}

// Pod → workload by a plain reading of the names (xwing is a bare pod; deathstar-<hash>-<id> a Deployment's).
const workload = (pod: string | null): string => (pod === null ? "world" : pod.replace(/-[a-z0-9]{8,10}-[a-z0-9]{5}$/, ""));

function rowKey(r: Row, pods: Record<string, string | null>): string {
  return JSON.stringify([pods[r.src_workload] ?? null, pods[r.dst_workload] ?? null, r.reason, r.direction, r.port, r.policy]);
}

test("flows drops FILE: top dropped pairs with reason, port and policy (json and table); the bad line named with file:line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-drops-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = input(dir);
  const expected = jqDrops(file);
  const [json, table] = await Promise.all([runCli(["flows", "drops", file, "-o", "json"], { timeoutMs: 60_000 }), runCli(["flows", "drops", file, "-n", "1"], { timeoutMs: 60_000 })]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { totalDrops: number; pairs: number; invalidLines: number; lines: number; top: Row[] };
  assert.equal(report.totalDrops, expected.reduce((s, e) => s + e.count, 0));
  assert.equal(report.pairs, expected.length);
  assert.equal(report.invalidLines, 1);
  const lineCount = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").length;
  assert.equal(report.lines, lineCount);
  const badLine = readFileSync(file, "utf8").split("\n").indexOf('{"flow": not json') + 1;
  assert.match(json.stderr, new RegExp(`${file.replace(/[./]/g, "\\$&")}:${badLine}: json`));
  // Map workload names back to the pods jq saw, then compare rows in order.
  const pods: Record<string, string | null> = { world: null };
  for (const e of expected) for (const p of (JSON.parse(e.key) as (string | null)[]).slice(0, 2)) if (p) pods[workload(p)] = p;
  const byCountThenKey = (a: { key: string; count: number }, b: { key: string; count: number }) => b.count - a.count || a.key.localeCompare(b.key);
  const got = report.top.map((r) => ({ key: rowKey(r, pods), count: r.count }));
  assert.deepEqual([...got].sort(byCountThenKey), [...expected].sort(byCountThenKey));
  assert.deepEqual(got.map((g) => g.count), [...got.map((g) => g.count)].sort((a, b) => b - a), "most drops first");
  assert.equal(report.top[0]!.policy, "default/deny-xwing");
  assert.deepEqual(report.top[0]!.flags, ["SYN"]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split("\n");
  assert.match(lines[0]!, /^DROPS\s+SOURCE\s+DESTINATION\s+PORT\s+REASON\s+DIRECTION\s+POLICY\s+LAST SEEN$/);
  assert.match(lines[1]!, /^3\s+default\/xwing\s+default\/deathstar\s+80\/TCP\s+POLICY_DENIED\s+ingress\s+default\/deny-xwing\s+2023-08-21T12:12:18\.510Z$/);
  assert.equal(lines.length, 4, "-n 1: one row, a blank line and the summary");
  assert.match(lines[3]!, new RegExp(`^${report.totalDrops} dropped flows, ${report.pairs} distinct$`));

  const bad = await Promise.all([runCli(["flows", "drops"], { timeoutMs: 60_000 }), runCli(["flows", "drops", join(dir, "missing.jsonl")], { timeoutMs: 60_000 }), runCli(["flows", "drops", file, "--url", "http://127.0.0.1:1"], { timeoutMs: 60_000 })]);
  assert.deepEqual(bad.map((r) => r.code), [2, 2, 2]);
  assert.match(bad[0]!.stderr, /needs a file/);
  assert.match(bad[1]!.stderr, /missing\.jsonl: no such file/);
  assert.match(bad[2]!.stderr, /not both/);
});

test("live: /drops needs a bearer token (401 without, 401 with a wrong one); flows drops --url --token-file lists the window; /metrics stays open", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-drops-live-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = input(dir);
  const tokens = join(dir, "tokens.csv");
  writeFileSync(tokens, "s3cret-token,alice,1001\n", { mode: 0o600 });
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "s3cret-token\n", { mode: 0o600 });
  const wrongToken = join(dir, "wrong");
  writeFileSync(wrongToken, "guess\n", { mode: 0o600 });
  const child = spawnCli(["flows", "--hubble", file, "--from-start", "--no-kube", "--port", "0", "--host", "127.0.0.1", "--auth-token-file", tokens], {});
  t.after(() => stopCli(child, "SIGKILL"));
  const m = await eventually(() => /"port":(\d+),"msg":"listening"/.exec(child.output.stderr), { timeoutMs: 45_000, what: "listening" });
  const url = `http://127.0.0.1:${m[1]}`;
  const expected = jqDrops(file);
  const total = expected.reduce((s, e) => s + e.count, 0);
  await eventually(async () => sample(await (await fetch(`${url}/metrics`)).text(), "watch_auditor_flows_drops_total", '{src_namespace="default",src_workload="xwing",dst_namespace="default",dst_workload="deathstar",reason="POLICY_DENIED",direction="ingress",policy="default/deny-xwing"}') === 3, { timeoutMs: 45_000, what: "drops counted" });
  const anonymous = await fetch(`${url}/drops`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="watch-auditor"');
  assert.doesNotMatch(await anonymous.text(), /xwing/);
  const [ok, wrong, badWindow] = await Promise.all([
    runCli(["flows", "drops", "--url", url, "--token-file", tokenFile, "--window", "10m", "-o", "json"], { timeoutMs: 60_000 }),
    runCli(["flows", "drops", "--url", url, "--token-file", wrongToken], { timeoutMs: 60_000 }),
    fetch(`${url}/drops?window=2h`, { headers: { authorization: "Bearer s3cret-token" } }),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as { windowSeconds: number; totalDrops: number; pairs: number; top: Row[] };
  assert.deepEqual([report.windowSeconds, report.totalDrops, report.pairs, report.top[0]!.count, report.top[0]!.policy], [600, total, expected.length, 3, "default/deny-xwing"]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /401 Unauthorized: the token in .*wrong was not accepted/);
  assert.equal(badWindow.status, 400);
  assert.match(await badWindow.text(), /window: must be between 1s and 60m/);
  const r = await stopCli(child);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /s3cret-token/, "no token in the logs");
});

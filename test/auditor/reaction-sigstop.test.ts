// A controller process that is paused (SIGSTOP) and resumed (SIGCONT): the reaction probe
// fails while it is stopped, passes again once it runs, and the failure count resets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { eventually, startCluster, startServe } from "./helpers.js";
import { WIDGET_CRD } from "./sim/reactors.js";

const MAIN = fileURLToPath(new URL("./sim/reactor-main.ts", import.meta.url));
const EXAMPLE = new URL("../../deploy/auditor/probes/custom-resource-ready.yaml", import.meta.url);

test("SIGSTOP of the operator's process: the probe fails; SIGCONT: it passes again and the count resets", async () => {
  const c = await startCluster();
  c.api.store.create(WIDGET_CRD);
  const operator = spawn(process.execPath, ["--import", "tsx", MAIN, "widget-operator", c.kubeconfig], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  operator.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  try {
    await eventually(() => out.includes("ready"), { timeoutMs: 30_000, what: "the operator process to sync" });
    const probe = (parseYaml(await readFile(EXAMPLE, "utf8")) as { probes: Record<string, unknown>[] }).probes[0]!;
    Object.assign(probe, { every: "200ms", deadline: "1s", pollInterval: "100ms", mode: "audit", failureThreshold: 2 });
    delete probe.roll;
    const config = join(c.dir, "probes.yaml");
    await writeFile(config, JSON.stringify({ probes: [probe] }));
    const s = await startServe(c, ["--leader-elect", "false", "--config", config]);
    try {
      const passes = () => s.metric("watch_auditor_checks_total", { probe: "widget-operator", result: "pass" });
      const fails = () => s.metric("watch_auditor_checks_total", { probe: "widget-operator", result: "fail" });
      await eventually(async () => (await passes()) >= 1, { timeoutMs: 20_000, what: "a pass while the operator runs" });
      assert.equal(await fails(), 0);

      operator.kill("SIGSTOP");
      await eventually(async () => (await s.metric("watch_auditor_consecutive_failures", { probe: "widget-operator" })) >= 2, { timeoutMs: 20_000, what: "two consecutive fails while stopped" });
      const stopped = await passes();
      assert.ok((await s.metric("watch_auditor_rolls_skipped_total", { probe: "widget-operator", reason: "audit_mode" })) >= 1, "threshold reached, audit mode: no roll");

      operator.kill("SIGCONT");
      await eventually(async () => (await passes()) > stopped, { timeoutMs: 20_000, what: "a pass after SIGCONT" });
      assert.equal(await s.metric("watch_auditor_consecutive_failures", { probe: "widget-operator" }), 0, "the pass reset the count");
      assert.ok((await fails()) >= 2);
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(c.api.store.list("widgets.example.com").map((w) => w.metadata.name), [], "no Widget left behind");
  } finally {
    operator.kill("SIGCONT");
    operator.kill("SIGTERM");
    await new Promise((r) => (operator.exitCode !== null ? r(undefined) : operator.once("exit", r)));
    await c.close();
  }
});

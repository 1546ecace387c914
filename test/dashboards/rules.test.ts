// The alert rules, checked by the real promtool: syntax (`check rules`) and behaviour
// (`test rules`): for every alert, input series that make it fire and series that keep it silent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runCli } from "../support/cli.js";
import { renderRules, ruleGroups, runbookAnchor } from "../../src/dashboards/rules.js";
import { ALERT_CASES } from "./alert-cases.js";

const PROMTOOL = "/usr/bin/promtool";

function promtool(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const labelString = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;

test("rules: every alert the issue asks for exists, has a severity and a runbook_url to an existing section of docs/runbooks.md", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-rules-"));
  try {
    const out = join(dir, "rules.yaml");
    const r = await runCli(["dashboards", "rules", "--out", out, "--runbook-base-url", "https://example.test/runbooks.md"], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(out, "utf8");
    assert.equal(text, renderRules({ format: "prometheus", runbookBase: "https://example.test/runbooks.md" }));
    const doc = YAML.parse(text) as { groups: { rules: { alert: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] };
    const all = doc.groups.flatMap((g) => g.rules);
    const rules = all.filter((x) => x.alert !== undefined);
    const expected = [
      "WatchControllerFailing", "WatchControllerRolled", "WatchAuditorInconclusive", "ExporterBacklogGrowing", "ExporterOldestRecordTooOld", "ExporterDiskNearlyFull",
      "ExporterDropping", "ExporterSinkFailing", "APIServerAuthFailuresHigh", "APIServerForbiddenHigh", "ServiceErrorRateHigh", "ServiceLatencyHigh",
      "AuditCriticalDetection", "ControlPlaneDatabaseNearQuota", "ControlPlaneDatabaseFillingUp", "ControlPlaneHealthCheckFailing",
      "ControlPlaneNodeHeartbeatStale", "ControlPlaneAPFRejecting", "ControlPlaneAPIServerErrorsHigh", "ControlPlaneAPIServerLatencyHigh", "ControlPlaneEtcdAlarm", "FlowsNewlyDropped",
    ];
    assert.deepEqual([...new Set(rules.map((x) => x.alert))].sort(), [...expected].sort());
    const runbooks = await readFile(new URL("../../docs/runbooks.md", import.meta.url), "utf8");
    const headings = new Set([...runbooks.matchAll(/^## (\S+)\s*$/gm)].map((m) => runbookAnchor(m[1]!)));
    for (const rule of rules) {
      assert.match(rule.labels.severity!, /^(critical|warning)$/, rule.alert);
      assert.equal(rule.annotations.runbook_url, `https://example.test/runbooks.md#${runbookAnchor(rule.alert)}`);
      assert.ok(headings.has(runbookAnchor(rule.alert)), `docs/runbooks.md has a "## ${rule.alert}" section`);
      const section = runbooks.split(/^## /m).find((s) => s.startsWith(rule.alert))!;
      for (const part of ["Meaning", "Impact", "Diagnosis", "Mitigation"]) assert.match(section, new RegExp(`^### ${part}`, "m"), `${rule.alert}: ${part}`);
      assert.match(section, /```sh\n/, `${rule.alert}: diagnosis commands`);
    }
    const check = promtool(["check", "rules", out], dir);
    assert.equal(check.status, 0, check.out);
    assert.match(check.out, new RegExp(`SUCCESS: ${all.length} rules found`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rules: the PrometheusRule rendering carries the same groups and passes promtool", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-rules-"));
  try {
    const r = await runCli(["dashboards", "rules", "--out", "-", "--format", "prometheusrule", "--namespace", "monitoring"], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const cr = YAML.parse(r.stdout) as { apiVersion: string; kind: string; metadata: { namespace: string }; spec: { groups: unknown[] } };
    assert.equal(cr.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(cr.kind, "PrometheusRule");
    assert.equal(cr.metadata.namespace, "monitoring");
    await writeFile(join(dir, "spec.yaml"), YAML.stringify(cr.spec));
    const check = promtool(["check", "rules", "spec.yaml"], dir);
    assert.equal(check.status, 0, check.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rules: promtool test rules — each alert fires on its symptom and stays silent otherwise", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-rules-"));
  try {
    // The CLI writes exactly renderRules()' text (first test); the library is used here to spare a process.
    await writeFile(join(dir, "rules.yaml"), renderRules({ format: "prometheus" }));
    const alerts = ruleGroups.flatMap((g) => g.rules.map((x) => x.alert));
    for (const a of alerts) {
      assert.ok(ALERT_CASES.some((c) => c.alert === a && c.fires), `${a} has a firing case`);
      assert.ok(ALERT_CASES.some((c) => c.alert === a && !c.fires), `${a} has a silent case`);
    }
    const severity = new Map(ruleGroups.flatMap((g) => g.rules.map((x) => [x.alert, x.severity] as const)));
    const tests = ALERT_CASES.map((c) => ({
      name: `${c.alert} ${c.fires ? "fires" : "silent"}: ${c.why}`,
      interval: "1m",
      input_series: c.series.map(([series, values]) => ({ series, values })),
      promql_expr_test: [
        c.fires
          ? {
              expr: `ALERTS{alertname="${c.alert}", alertstate="firing"}`,
              eval_time: c.at,
              exp_samples: [{ labels: `ALERTS${labelString({ alertname: c.alert, alertstate: "firing", severity: severity.get(c.alert)!, ...c.labels })}`, value: 1 }],
            }
          : { expr: `count(ALERTS{alertname="${c.alert}"}) or vector(0)`, eval_time: c.at, exp_samples: [{ labels: "{}", value: 0 }] },
      ],
    }));
    await writeFile(join(dir, "tests.yaml"), YAML.stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
    const res = promtool(["test", "rules", "tests.yaml"], dir);
    assert.equal(res.status, 0, res.out);
    assert.match(res.out, /SUCCESS/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("dashboards rules: bad flags exit 2 naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["dashboards", "rules", "--out", "-", "--format", "yaml"], /--format/],
    [["dashboards", "rules", "--out", "-", "--runbook-base-url", "not a url"], /--runbook-base-url/],
    [["dashboards", "rules", "--out", "-", "--node-grace-period", "0"], /--node-grace-period/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, { timeoutMs: 60_000 })));
  cases.forEach(([args, re], i) => {
    assert.equal(results[i]!.code, 2, `${args.join(" ")}: ${results[i]!.stderr}`);
    assert.match(results[i]!.stderr, re);
  });
});

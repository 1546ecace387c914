// `watch-auditor dashboards generate`: the files Grafana needs, written by the real CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runCli } from "../support/cli.js";
import { dashboardSpecs } from "../../src/dashboards/catalog.js";

interface Panel {
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource: { uid: string } }[];
}

test("dashboards generate: every dashboard, provisioning files and sidecar ConfigMaps, all pointing at the chosen datasource", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-gen-"));
  try {
    const [r, bad] = await Promise.all([
      runCli(["dashboards", "generate", "--out", dir, "--datasource", "mimir-prod", "--namespace", "grafana"], { timeoutMs: 60_000 }),
      runCli(["dashboards", "generate", "--out", dir, "--datasource", "has spaces"], { timeoutMs: 60_000 }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--datasource/);

    const files = (await readdir(join(dir, "dashboards"))).sort();
    assert.deepEqual(files, dashboardSpecs.map((d) => `${d.uid}.json`).sort());
    const docs = await readFile(new URL("../../docs/dashboards.md", import.meta.url), "utf8");
    for (const f of files) {
      const d = JSON.parse(await readFile(join(dir, "dashboards", f), "utf8")) as { uid: string; title: string; templating: { list: { name: string; query: string }[] }; panels: Panel[] };
      assert.equal(`${d.uid}.json`, f);
      const vars = d.templating.list.map((v) => v.name);
      assert.ok(vars.includes("namespace"), `${d.uid}: namespace variable`);
      for (const v of d.templating.list) assert.match(v.query, /^label_values\([\w:]+, \w+\)$/);
      const panels = d.panels.filter((p) => p.type !== "row");
      assert.ok(panels.length >= 6, `${d.uid}: ${panels.length} panels`);
      for (const p of panels) {
        assert.equal(p.datasource?.uid, "mimir-prod", `${d.uid} / ${p.title}`);
        assert.ok(p.description && p.description.length > 20, `${d.uid} / ${p.title}: says what question it answers`);
        assert.ok(p.targets && p.targets.length > 0 && p.targets.every((t) => t.expr.length > 0 && t.datasource.uid === "mimir-prod"));
        assert.ok(docs.includes(`**${p.title}**`), `docs/dashboards.md describes ${d.uid} / ${p.title}`);
      }
      assert.ok(docs.includes(d.title), `docs/dashboards.md covers ${d.title}`);
    }
    // flows is the Kubernetes-aware one: filter by the traffic's own namespace and workload.
    const flows = JSON.parse(await readFile(join(dir, "dashboards", "watch-auditor-flows.json"), "utf8")) as { templating: { list: { name: string }[] } };
    assert.deepEqual(flows.templating.list.map((v) => v.name), ["namespace", "workload"]);

    const ds = YAML.parse(await readFile(join(dir, "provisioning/datasources/watch-auditor.yaml"), "utf8")) as { datasources: { uid: string; name: string; type: string; url: string }[] };
    assert.deepEqual(ds.datasources.map((x) => [x.name, x.uid, x.type]), [["mimir-prod", "mimir-prod", "prometheus"]]);
    assert.ok(new URL(ds.datasources[0]!.url));
    const prov = YAML.parse(await readFile(join(dir, "provisioning/dashboards/watch-auditor.yaml"), "utf8")) as { providers: { type: string; options: { path: string } }[] };
    assert.equal(prov.providers[0]!.type, "file");
    assert.ok(prov.providers[0]!.options.path.startsWith("/"));

    const cms = YAML.parseAllDocuments(await readFile(join(dir, "configmaps/grafana-dashboards.yaml"), "utf8")).map((d) => d.toJSON() as { kind: string; metadata: { namespace: string; labels: Record<string, string> }; data: Record<string, string> });
    assert.equal(cms.length, dashboardSpecs.length);
    for (const cm of cms) {
      assert.equal(cm.kind, "ConfigMap");
      assert.equal(cm.metadata.namespace, "grafana");
      assert.equal(cm.metadata.labels.grafana_dashboard, "1", "the label Grafana's dashboard sidecar watches");
      const [key, json] = Object.entries(cm.data)[0]!;
      assert.equal(json, await readFile(join(dir, "dashboards", key), "utf8"), "the ConfigMap carries the dashboard file as is");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

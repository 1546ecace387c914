import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildDashboards } from "./catalog.js";
import { dashboardConfigMaps, dashboardJson, dashboardProviderYaml, datasourceYaml } from "./provisioning.js";

export interface GenerateOptions {
  out: string;
  datasource: string;
  prometheusUrl: string;
  namespace: string;
}

/** Writes dashboards, provisioning files and ConfigMaps under out; returns the paths written. */
export async function generateDashboards(opts: GenerateOptions): Promise<string[]> {
  const dashboards = buildDashboards(opts.datasource);
  const files: [string, string][] = [
    ...dashboards.map((d): [string, string] => [join("dashboards", `${d.uid}.json`), dashboardJson(d)]),
    [join("provisioning", "datasources", "watch-auditor.yaml"), datasourceYaml(opts.datasource, opts.prometheusUrl)],
    [join("provisioning", "dashboards", "watch-auditor.yaml"), dashboardProviderYaml()],
    [join("configmaps", "grafana-dashboards.yaml"), dashboardConfigMaps(dashboards, opts.namespace)],
  ];
  const written: string[] = [];
  for (const [rel, content] of files) {
    const path = join(opts.out, rel);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, content, { mode: 0o644 });
    written.push(path);
  }
  return written;
}

import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { generateDashboards } from "../dashboards/generate.js";
import { DEFAULT_RULE_PARAMS, DEFAULT_RUNBOOK_BASE, renderRules, type RulesFormat } from "../dashboards/rules.js";
import { HOME_NAMESPACE, checkNamespace } from "../dashboards/install.js";

// Grafana's uid rule: at most 40 characters of letters, digits, '-' and '_'.
function datasourceParser(v: string): string {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(v)) throw new InvalidArgumentError(`must be 1-40 letters, digits, '-' or '_' (it is the Grafana datasource uid), got "${v}".`);
  return v;
}

function urlParser(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`expected an absolute URL, got "${v}".`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InvalidArgumentError(`expected an http(s) URL, got "${v}".`);
  return v;
}

function secondsParser(v: string): number {
  const m = /^([1-9]\d{0,5})s?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a whole number of seconds such as 40 or 40s, got "${v}".`);
  return Number(m[1]);
}

function namespaceParser(v: string): string {
  try {
    return checkNamespace(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--namespace: /, "") + ".");
  }
}

export function register(program: Command): void {
  const dashboards = program.command("dashboards").description("Grafana dashboards and Prometheus alert rules for every watch-auditor component");

  dashboards
    .command("generate")
    .description("write Grafana dashboards (JSON), provisioning files and dashboard ConfigMaps")
    .requiredOption("--out <dir>", "directory to write into (created if missing)")
    .option("--datasource <uid>", "uid (and name) of the Prometheus datasource the dashboards query", datasourceParser, "prometheus")
    .option("--prometheus-url <url>", "URL of Prometheus in the provisioned datasource", urlParser, "http://prometheus-operated.monitoring.svc:9090")
    .option("--namespace <ns>", "namespace of the dashboard ConfigMaps", namespaceParser, HOME_NAMESPACE)
    .action(async (o: { out: string; datasource: string; prometheusUrl: string; namespace: string }) => {
      const files = await generateDashboards({ out: o.out, datasource: o.datasource, prometheusUrl: o.prometheusUrl, namespace: o.namespace });
      for (const f of files) process.stdout.write(`${f}\n`);
    });

  dashboards
    .command("rules")
    .description("write Prometheus recording and alerting rules (a rule file or a PrometheusRule object)")
    .requiredOption("--out <file>", "file to write, or - for stdout")
    .addOption(new Option("--format <format>", "prometheus (rule file) or prometheusrule (Prometheus Operator)").choices(["prometheus", "prometheusrule"]).default("prometheus"))
    .option("--runbook-base-url <url>", "where docs/runbooks.md is published; alerts link to its sections", urlParser, DEFAULT_RUNBOOK_BASE)
    .option("--namespace <ns>", "namespace of the PrometheusRule object", namespaceParser, HOME_NAMESPACE)
    .option("--node-grace-period <seconds>", "node heartbeat age that alerts (kube-controller-manager's --node-monitor-grace-period)", secondsParser, DEFAULT_RULE_PARAMS.nodeGracePeriodSeconds)
    .action(async (o: { out: string; format: RulesFormat; runbookBaseUrl: string; namespace: string; nodeGracePeriod: number }) => {
      const text = renderRules({ format: o.format, runbookBase: o.runbookBaseUrl, namespace: o.namespace, params: { nodeGracePeriodSeconds: o.nodeGracePeriod } });
      if (o.out === "-") {
        process.stdout.write(text);
        return;
      }
      await mkdir(dirname(o.out), { recursive: true });
      await writeFile(o.out, text, { mode: 0o644 });
    });
}

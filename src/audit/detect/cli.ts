import { Option, type Command } from "commander";
import { openStore } from "../store.js";
import { intParser } from "../../core/options.js";
import { NO_MATCH, OUTPUT_FORMATS, render, type OutputFormat } from "../format.js";
import { parseTimeArg } from "../time-arg.js";
import { SEVERITIES, type Severity } from "./severity.js";

interface DetectOpts {
  db: string;
  rules?: string;
  since?: Date;
  until?: Date;
  namespace?: string;
  user?: string;
  severity?: Severity;
  output: OutputFormat;
  limit?: number;
  listRules?: boolean;
}

/** `audit detect`: the detection rules (built-ins, merged with --rules FILE) over the store. */
export function registerDetect(audit: Command, dbOption: () => Option): void {
  audit
    .command("detect")
    .description("Dangerous actions found by detection rules (privileged/host pods, exec, cluster-admin bindings, wildcard roles, secret reads, ...); built-ins merged with --rules FILE")
    .addOption(dbOption())
    .option("--rules <file>", "YAML rule file merged over the built-in rules by name (enabled: false silences one)")
    .option("--since <time>", "only events at or after this RFC3339 time or duration ago (e.g. 1h)", (v) => parseTimeArg(v))
    .option("--until <time>", "only events before this RFC3339 time or duration ago", (v) => parseTimeArg(v))
    .option("-n, --namespace <ns>", "only this namespace")
    .option("--user <name>", "only this user (user.username)")
    .addOption(new Option("--severity <level>", "only hits of rules at or above this severity").choices(SEVERITIES))
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .option("--limit <n>", "maximum hits", intParser(1, 10_000_000))
    .option("--list-rules", "print the effective rules (after merging --rules) instead of running them")
    .action(async (o: DetectOpts) => {
      // The rule engine (and YAML) load only when the command runs.
      const { detect, loadRuleFile } = await import("./run.js");
      const rules = await loadRuleFile(o.rules);
      if (o.listRules) {
        const result = {
          columns: ["name", "severity", "enabled", "source", "description"],
          rules: rules.map((r) => ({ name: r.name, severity: r.severity, enabled: r.enabled, source: r.source, description: r.description })),
        };
        process.stdout.write(render({ columns: result.columns, rows: result.rules }, o.output));
        return;
      }
      const store = await openStore(o.db, { readOnly: true });
      try {
        await store.run("SET enable_external_access = false");
        const result = await detect(store, rules, { since: o.since, until: o.until, namespace: o.namespace, user: o.user, severity: o.severity, limit: o.limit });
        if (result.rows.length === 0 && o.output !== "table") process.stderr.write(`${NO_MATCH}\n`);
        process.stdout.write(render(result, o.output));
      } finally {
        store.close();
      }
    });
}

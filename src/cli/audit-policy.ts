import { InvalidArgumentError, Option, type Command } from "commander";
import { LINT_OUTPUTS, SIMULATE_OUTPUTS } from "../audit/policy/format.js";
import { GROUP_BY } from "../audit/policy/simulate.js";
import type { LintFlags, SimulateFlags } from "./audit-policy-run.js";

function choice<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${values.join(", ")}, got "${v}".`);
    return v as T;
  };
}

/** Registers `audit policy lint|simulate` under the `audit` command. */
export function registerPolicy(audit: Command): void {
  const policy = audit.command("policy").description("Check audit policies and estimate what they would log");

  policy
    .command("lint")
    .description("Validate an audit.k8s.io/v1 Policy and report likely mistakes with file:line and rule index (exit 1 on errors)")
    .argument("<POLICY>", "audit policy file (YAML or JSON), as given to kube-apiserver --audit-policy-file")
    .addOption(new Option("-o, --output <format>", "table or json").argParser(choice(LINT_OUTPUTS)).default("table"))
    .option("--strict", "exit 1 on warnings as well as errors")
    .action(async (file: string, flags: LintFlags) => (await import("./audit-policy-run.js")).runLint(file, flags));

  policy
    .command("simulate")
    .description("Replay recorded audit events through a policy: events and estimated bytes per rule, level, resource or user")
    .argument("<POLICY>", "audit policy file to evaluate")
    .argument("[PATH...]", "audit log files, directories or - (stdin), read into a temporary in-memory store")
    .option("--db <file>", "read events from an existing `audit ingest` store instead of PATHs")
    .addOption(new Option("-o, --output <format>", "table, json or csv").argParser(choice(SIMULATE_OUTPUTS)).default("table"))
    .addOption(new Option("--by <key>", "group rows by rule, level, resource or user").argParser(choice(GROUP_BY)).default("rule"))
    .action(async (file: string, paths: string[], flags: SimulateFlags) => (await import("./audit-policy-run.js")).runSimulate(file, paths, flags));
}

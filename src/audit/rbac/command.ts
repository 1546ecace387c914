import { Option, type Command } from "commander";
import { UsageError } from "../../core/errors.js";
import { intParser } from "../../core/options.js";
import { openStore } from "../store.js";
import { parseTimeArg } from "../time-arg.js";
import { DEFAULT_MAX_RESOURCE_NAMES, generateRbac, identityUsername, parseServiceAccount, type Identity, type KubeObject } from "./derive.js";
import { grantsOf, readRbacState, unusedGrants, type Grant } from "./grants.js";
import { identityRequests } from "./query.js";

interface RbacCliOpts {
  db: string;
  since?: Date;
  until?: Date;
  user?: string;
  serviceaccount?: string;
  includeDenied?: boolean;
  maxResourceNames: number;
  output: "yaml" | "json";
  kubeconfig?: string;
  context?: string;
}

export interface RbacReport {
  identity: string;
  allowedRequests: number;
  deniedRequests: number;
  includeDenied: boolean;
  rbac: { apiVersion: "v1"; kind: "List"; items: KubeObject[] };
  unusedGrants?: Grant[];
}

function identityOf(o: RbacCliOpts): Identity {
  if ((o.user === undefined) === (o.serviceaccount === undefined)) throw new UsageError("give exactly one of --user U or --serviceaccount NS:NAME");
  if (o.user !== undefined) {
    if (o.user.trim() === "") throw new UsageError("--user must not be empty");
    return { kind: "User", name: o.user };
  }
  const sa = parseServiceAccount(o.serviceaccount!);
  if (!sa) throw new UsageError(`--serviceaccount must be NS:NAME, got "${o.serviceaccount}"`);
  return sa;
}

function grantText(g: Grant): string {
  const what = g.nonResourceURL !== undefined
    ? `nonResourceURL ${g.nonResourceURL}`
    : `${g.resource}${g.apiGroup ? `.${g.apiGroup}` : ""}${g.resourceNames ? ` [${g.resourceNames.join(",")}]` : ""}`;
  return `${g.verb} ${what} in ${g.namespace ? `namespace ${g.namespace}` : "all namespaces/cluster"} (${g.binding} → ${g.role}, via ${g.via})`;
}

export async function renderYaml(r: RbacReport): Promise<string> {
  // YAML loads only when rendering: registering the command must not pay for it.
  const { stringify } = await import("yaml");
  const head = [
    `# RBAC for ${r.identity} from ${r.allowedRequests} successful request(s)${r.includeDenied ? ` and ${r.deniedRequests} denied request(s)` : ""} in the audit window (watch-auditor audit rbac)`,
  ];
  if (!r.includeDenied && r.deniedRequests > 0) head.push(`# ${r.deniedRequests} denied request(s) not included (--include-denied adds them)`);
  if (r.rbac.items.length === 0) head.push("# no requests: nothing to grant");
  const docs = r.rbac.items.map((o) => stringify(o, { lineWidth: 0 }));
  let text = head.join("\n") + "\n" + docs.map((d) => `---\n${d}`).join("");
  if (r.unusedGrants !== undefined) {
    text += `# granted now but never used in the window: ${r.unusedGrants.length}\n`;
    for (const g of r.unusedGrants) text += `#   ${grantText(g)}\n`;
  }
  return text;
}

export function registerRbac(audit: Command, dbOption: () => Option): void {
  audit
    .command("rbac")
    .description("Least-privilege Roles/ClusterRoles and bindings (YAML for kubectl apply) covering what one identity did successfully; with --kubeconfig, what it is granted but never used")
    .addOption(dbOption())
    .option("--user <name>", "the user (user.username)")
    .option("--serviceaccount <ns:name>", "the ServiceAccount NS:NAME (system:serviceaccount:NS:NAME)")
    .option("--since <time>", "only events at or after this RFC3339 time or duration ago (e.g. 1h)", (v) => parseTimeArg(v))
    .option("--until <time>", "only events before this RFC3339 time or duration ago", (v) => parseTimeArg(v))
    .option("--include-denied", "also grant what was denied (403)")
    .option("--max-resource-names <n>", "restrict a rule to the object names requested when there are at most this many", intParser(0, 1000), DEFAULT_MAX_RESOURCE_NAMES)
    .option("--kubeconfig <file>", "compare with the identity's current RoleBindings/ClusterRoleBindings (default context: $KUBECONFIG, ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (with --kubeconfig)")
    .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml"))
    .action(async (o: RbacCliOpts) => {
      const id = identityOf(o);
      if (o.context !== undefined && o.kubeconfig === undefined) throw new UsageError("--context needs --kubeconfig");
      const store = await openStore(o.db, { readOnly: true });
      let reqs;
      try {
        reqs = await identityRequests(store, identityUsername(id), { since: o.since, until: o.until });
      } finally {
        store.close();
      }
      const covered = o.includeDenied ? [...reqs.allowed, ...reqs.denied] : reqs.allowed;
      const report: RbacReport = {
        identity: identityUsername(id),
        allowedRequests: reqs.allowed.length,
        deniedRequests: reqs.denied.length,
        includeDenied: o.includeDenied === true,
        rbac: { apiVersion: "v1", kind: "List", items: generateRbac(id, covered, o.maxResourceNames) },
      };
      if (o.kubeconfig !== undefined) {
        report.unusedGrants = unusedGrants(grantsOf(await readRbacState(o.kubeconfig, o.context), id, reqs.groups), reqs.allowed);
      }
      if (reqs.allowed.length + reqs.denied.length === 0) process.stderr.write(`no requests by ${report.identity} in the window\n`);
      process.stdout.write(o.output === "json" ? JSON.stringify(report, null, 2) + "\n" : await renderYaml(report));
    });
}

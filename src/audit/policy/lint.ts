// Semantic checks on a policy the API server would accept but that probably does not do what its
// author meant. Severity: error = the API server refuses the file (parse.ts); warning = accepted,
// but some rule or entry can never match or is dead; info = worth knowing.
import { formatPath, sortFindings, type Finding, type Severity } from "./findings.js";
import { BUILTIN_GROUP_RESOURCES, CLUSTER_SCOPED, groupsServing, isBuiltinGroup, KNOWN_VERBS, NAMELESS_VERBS } from "./known-resources.js";
import { parsePolicy, type ParsedPolicy, type PathSeg } from "./parse.js";
import { isCatchAll, ruleSubsumes } from "./subsumes.js";
import type { GroupResources, Policy, PolicyRule } from "./types.js";

export interface LintResult {
  policy?: Policy;
  findings: Finding[];
}

function groupLabel(g: string): string {
  return g === "" ? `"" (core)` : `"${g}"`;
}

class Linter {
  readonly findings: Finding[];
  constructor(
    private readonly parsed: ParsedPolicy,
    private readonly policy: Policy,
  ) {
    this.findings = [...parsed.findings];
  }

  add(severity: Severity, code: string, message: string, path: PathSeg[]): void {
    const rule = path[0] === "rules" && typeof path[1] === "number" ? path[1] : undefined;
    this.findings.push({ severity, code, message, path: formatPath(path), ...(rule !== undefined ? { rule } : {}), ...this.parsed.locate(path) });
  }

  run(): void {
    this.policy.rules.forEach((r, i) => this.checkRule(r, i));
    this.checkShadowing();
    this.checkPolicyWide();
  }

  private checkRule(r: PolicyRule, i: number): void {
    r.verbs.forEach((v, j) => {
      if (KNOWN_VERBS.has(v)) return;
      const lower = v.toLowerCase();
      const hint = KNOWN_VERBS.has(lower) ? ` (verbs are lower-case: "${lower}")` : "";
      this.add("warning", "unknown-verb", `verb "${v}" is never used by the API server${hint}, so it matches no request`, ["rules", i, "verbs", j]);
    });
    r.resources.forEach((gr, k) => this.checkGroupResources(r, i, gr, k));
    this.checkResourceNamesVerbs(r, i);
    r.nonResourceURLs.forEach((u, j) => {
      const prefix = u.replace(/\*+$/, "");
      if (/^\/api\/v1\/[^/]+/.test(prefix) || /^\/apis\/[^/]+\/[^/]+\/[^/]+/.test(prefix)) {
        this.add(
          "warning",
          "nonresource-url-is-resource",
          `"${u}" is a resource path; requests to it are resource requests and never match nonResourceURLs — use resources (and namespaces) instead`,
          ["rules", i, "nonResourceURLs", j],
        );
      }
    });
  }

  private checkGroupResources(r: PolicyRule, i: number, gr: GroupResources, k: number): void {
    gr.resources.forEach((res, j) => {
      const at: PathSeg[] = ["rules", i, "resources", k, "resources", j];
      const base = res.split("/")[0]!;
      if (base === "*" || base === "") return;
      const omitted = gr.groupOmitted ? " (an omitted group means the core group \"\")" : "";
      if (isBuiltinGroup(gr.group)) {
        if (BUILTIN_GROUP_RESOURCES[gr.group]!.includes(base)) {
          this.checkNamespacedScope(r, i, base, at);
          return;
        }
        const served = groupsServing(base);
        if (served.length > 0) {
          const code = served.includes("") ? "core-resource-wrong-group" : "resource-wrong-group";
          const where = served.map(groupLabel).join(" or ");
          this.add("warning", code, `"${base}" is not served by group ${groupLabel(gr.group)}${omitted} but by ${where}, so this entry never matches it; list it under group: ${served[0] === "" ? '""' : served[0]}`, at);
          return;
        }
        const near = nearResource(base, gr.group);
        if (near) {
          this.add("warning", "resource-name", `group ${groupLabel(gr.group)} has no resource "${base}"; resources are lower-case plurals: "${near}"`, at);
        } else {
          this.add("info", "unknown-resource", `"${base}" is not a built-in resource of group ${groupLabel(gr.group)}${omitted} (fine if your API server version adds it)`, at);
        }
        return;
      }
      if (BUILTIN_GROUP_RESOURCES[""]!.includes(base)) {
        this.add("warning", "core-resource-wrong-group", `"${base}" is a core resource (group ""), but it is listed under group "${gr.group}", where it only matches a custom resource of that name`, at);
      }
    });
  }

  private checkNamespacedScope(r: PolicyRule, i: number, base: string, at: PathSeg[]): void {
    // Requests on the namespaces resource carry the namespace's own name as their namespace.
    if (r.namespaces.length === 0 || r.namespaces.includes("") || base === "namespaces") return;
    if (!CLUSTER_SCOPED.has(base)) return;
    this.add(
      "warning",
      "cluster-scoped-in-namespaces",
      `"${base}" is cluster-scoped (its requests have namespace ""), so with namespaces [${r.namespaces.join(", ")}] it never matches; add "" to namespaces or move it to another rule`,
      at,
    );
  }

  private checkResourceNamesVerbs(r: PolicyRule, i: number): void {
    if (r.verbs.length === 0) return;
    r.resources.forEach((gr, k) => {
      if (gr.resourceNames.length === 0) return;
      // POST to a subresource (pods/eviction, serviceaccounts/token) does name its object.
      const onlySubresources = gr.resources.length > 0 && gr.resources.every((x) => x.includes("/") && !x.endsWith("/*"));
      const nameless = r.verbs.filter((v) => NAMELESS_VERBS.has(v) && !(v === "create" && onlySubresources));
      if (nameless.length === 0) return;
      const never = nameless.length === r.verbs.length && nameless.every((v) => v === "create" || v === "deletecollection");
      this.add(
        "warning",
        "resource-names-nameless-verbs",
        `resourceNames [${gr.resourceNames.join(", ")}] with verb(s) ${nameless.join(", ")}: create and deletecollection requests carry no object name, list and watch only with fieldSelector=metadata.name=…, so the names do not match them${never ? " — this rule never matches" : ""}`,
        ["rules", i, "resources", k, "resourceNames"],
      );
    });
  }

  private checkShadowing(): void {
    const rules = this.policy.rules;
    // A rule with errors was only partly read (e.g. an unknown field dropped): comparing it would
    // report shadowing that follows from our reading, not from the file.
    const broken = new Set(this.findings.filter((f) => f.severity === "error" && f.rule !== undefined).map((f) => f.rule));
    for (let b = 1; b < rules.length; b++) {
      if (broken.has(b)) continue;
      for (let a = 0; a < b; a++) {
        if (broken.has(a) || !ruleSubsumes(rules[a]!, rules[b]!)) continue;
        const same = rules[a]!.level === rules[b]!.level;
        const where = this.parsed.locate(["rules", a]);
        this.add(
          "warning",
          "shadowed-rule",
          `rules[${b}] (level ${rules[b]!.level}) never applies: the earlier rules[${a}] (line ${where.line}, level ${rules[a]!.level}) matches every request it matches${same ? " (redundant)" : ""}; rules are evaluated top-down and the first match wins`,
          ["rules", b],
        );
        break;
      }
    }
  }

  private checkPolicyWide(): void {
    const rules = this.policy.rules;
    if (rules.length === 0) return;
    if (rules.every((r) => r.level === "None")) {
      this.add("warning", "logs-nothing", "every rule has level None: the policy logs nothing", ["rules"]);
      return;
    }
    // A catch-all before the end shadows every later rule, which checkShadowing reports.
    if (!rules.some(isCatchAll)) {
      this.add("info", "no-catch-all", `the last rule (rules[${rules.length - 1}]) is not a catch-all: requests matching no rule are not logged (level None); end with e.g. "- level: Metadata" to log them`, ["rules", rules.length - 1]);
    }
  }
}

/** Lower-case / plural variant of `res` served by `group`, for "deployment" → "deployments". */
function nearResource(res: string, group: string): string | undefined {
  const known = BUILTIN_GROUP_RESOURCES[group] ?? [];
  const lower = res.toLowerCase();
  return known.find((k) => k === lower || k === `${lower}s` || k === `${lower}es` || k === lower.replace(/y$/, "ies"));
}

/** Parses, validates and lints policy text. */
export function lintPolicy(text: string): LintResult {
  const parsed = parsePolicy(text);
  if (!parsed.policy) return { findings: sortFindings(parsed.findings) };
  const linter = new Linter(parsed, parsed.policy);
  linter.run();
  return { policy: parsed.policy, findings: sortFindings(linter.findings) };
}

// Does rule A match every request rule B matches? Used to find rules shadowed by an earlier rule.
// Conservative: `true` only when it follows from the checker's semantics for every possible
// request; anything we cannot prove (e.g. a user listed in B that might be in one of A's groups)
// is `false`.
import type { GroupResources, PolicyRule } from "./types.js";

/** An empty constraint in A matches anything; otherwise B must be constrained to a subset. */
function listCovers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0) return true;
  return b.length > 0 && b.every((x) => a.includes(x));
}

type Scope = "any" | "resource" | "nonresource";

function scopeOf(r: PolicyRule): Scope {
  if (r.namespaces.length > 0 || r.resources.length > 0) return "resource";
  if (r.nonResourceURLs.length > 0) return "nonresource";
  return "any";
}

/** Is every "group/resource[/sub]" request matched by pattern `b` also matched by pattern `a`? */
export function resourcePatternCovers(a: string, b: string): boolean {
  if (a === "*" || a === b) return true;
  if (b === "*") return false;
  const [bRes, bSub] = splitResource(b);
  if (a.endsWith("/*")) {
    // "pods/*" matches pods and any pods subresource.
    const aRes = a.slice(0, -2);
    return bRes === aRes && bRes !== "*";
  }
  if (a.startsWith("*/")) {
    // "*/scale" matches any resource's scale subresource; B must be restricted to that subresource.
    return bSub !== undefined && bSub !== "*" && bSub === a.slice(2);
  }
  return false;
}

function splitResource(r: string): [string, string | undefined] {
  const i = r.indexOf("/");
  return i < 0 ? [r, undefined] : [r.slice(0, i), r.slice(i + 1)];
}

function namesCover(a: GroupResources, b: GroupResources): boolean {
  return listCovers(a.resourceNames, b.resourceNames);
}

function groupResourcesCover(a: readonly GroupResources[], b: readonly GroupResources[]): boolean {
  if (a.length === 0) return true;
  if (b.length === 0) return false;
  return b.every((bg) => {
    const same = a.filter((ag) => ag.group === bg.group);
    if (same.some((ag) => ag.resources.length === 0)) return true;
    if (bg.resources.length === 0) return false;
    return bg.resources.every((res) => same.some((ag) => namesCover(ag, bg) && ag.resources.some((p) => resourcePatternCovers(p, res))));
  });
}

export function urlPatternCovers(a: string, b: string): boolean {
  if (a === "*" || a === b) return true;
  if (!a.endsWith("*")) return false;
  const prefix = a.replace(/\*+$/, "");
  // B's own trailing "*" widens B to everything under its prefix, still inside A when prefixes nest.
  const bPrefix = b.endsWith("*") ? b.replace(/\*+$/, "") : b;
  return bPrefix.startsWith(prefix);
}

export function ruleSubsumes(a: PolicyRule, b: PolicyRule): boolean {
  if (!listCovers(a.users, b.users)) return false;
  if (!listCovers(a.userGroups, b.userGroups)) return false;
  if (!listCovers(a.verbs, b.verbs)) return false;
  const sa = scopeOf(a);
  const sb = scopeOf(b);
  if (sa === "any") return true;
  if (sa !== sb) return false;
  if (sa === "resource") return listCovers(a.namespaces, b.namespaces) && groupResourcesCover(a.resources, b.resources);
  return b.nonResourceURLs.every((u) => a.nonResourceURLs.some((p) => urlPatternCovers(p, u)));
}

/** Matches every request: no constraint at all. */
export function isCatchAll(r: PolicyRule): boolean {
  return r.users.length + r.userGroups.length + r.verbs.length + r.namespaces.length + r.resources.length + r.nonResourceURLs.length === 0;
}

// Shadowing must be sound: whenever we claim rule A covers rule B, no request may match B but not A.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ruleMatches, type RequestAttributes } from "../../../src/audit/policy/checker.js";
import { resourcePatternCovers, ruleSubsumes, urlPatternCovers } from "../../../src/audit/policy/subsumes.js";
import type { PolicyRule, Stage } from "../../../src/audit/policy/types.js";

const small = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(arb, { maxLength: 2 });
const user = fc.constantFrom("alice", "bob");
const group = fc.constantFrom("g1", "g2");
const verb = fc.constantFrom("get", "list", "create");
const ns = fc.constantFrom("", "a", "b");
const apiGroup = fc.constantFrom("", "apps");
const resPattern = fc.constantFrom("pods", "deployments", "pods/log", "*/scale", "pods/*", "deployments/scale", "*");
const urlPattern = fc.constantFrom("/api", "/api*", "/apis*", "/healthz", "/healthz*", "*", "/version");

const rule: fc.Arbitrary<PolicyRule> = fc.record({
  level: fc.constant("Metadata" as const),
  users: small(user),
  userGroups: small(group),
  verbs: small(verb),
  resources: small(fc.record({ group: apiGroup, resources: small(resPattern), resourceNames: small(fc.constantFrom("x", "y")) })).map((grs) =>
    grs.map((g) => (g.resources.length === 0 ? { ...g, resourceNames: [] } : g)),
  ),
  namespaces: small(ns),
  nonResourceURLs: small(urlPattern),
  omitStages: fc.constant<Stage[]>([]),
}).map((r) => (r.nonResourceURLs.length > 0 && (r.resources.length > 0 || r.namespaces.length > 0) ? { ...r, nonResourceURLs: [] } : r));

// Every request of the small domain the rules are drawn from: checking them all makes the
// property exact for each proved pair instead of sampled.
function allRequests(): RequestAttributes[] {
  const out: RequestAttributes[] = [];
  const users = ["alice", "bob", undefined];
  const groupSets = [[], ["g1"], ["g2"], ["g1", "g2"]];
  for (const u of users)
    for (const groups of groupSets)
      for (const verb of ["get", "list", "create"]) {
        const who = { ...(u !== undefined ? { user: u } : {}), groups, verb };
        for (const path of ["/api", "/apis/apps", "/healthz", "/healthz/etcd", "/version"])
          out.push({ ...who, resourceRequest: false, namespace: "", apiGroup: "", resource: "", subresource: "", name: "", path });
        for (const namespace of ["", "a", "b"])
          for (const apiGroup of ["", "apps"])
            for (const resource of ["pods", "deployments"])
              for (const subresource of ["", "log", "scale"])
                for (const name of ["", "x", "y"]) out.push({ ...who, resourceRequest: true, namespace, apiGroup, resource, subresource, name, path: "/api/v1/x" });
      }
  return out;
}
const REQUESTS = allRequests();

test("ruleSubsumes is sound: a covered rule never matches a request the covering rule misses", () => {
  let proved = 0;
  fc.assert(
    fc.property(rule, rule, (a, b) => {
      if (!ruleSubsumes(a, b)) return;
      proved++;
      for (const r of REQUESTS) if (ruleMatches(b, r)) assert.ok(ruleMatches(a, r), `A=${JSON.stringify(a)} B=${JSON.stringify(b)} r=${JSON.stringify(r)}`);
    }),
    { numRuns: 5000, seed: 7 },
  );
  // The property is vacuous if nothing is ever proved.
  assert.ok(proved > 100, `proved ${proved}`);
});

test("resource pattern coverage follows the checker's wildcard rules", () => {
  assert.equal(resourcePatternCovers("pods/*", "pods"), true);
  assert.equal(resourcePatternCovers("pods/*", "pods/log"), true);
  assert.equal(resourcePatternCovers("pods", "pods/log"), false);
  assert.equal(resourcePatternCovers("*/scale", "deployments/scale"), true);
  assert.equal(resourcePatternCovers("*/scale", "deployments"), false);
  assert.equal(resourcePatternCovers("deployments/scale", "*/scale"), false);
  assert.equal(resourcePatternCovers("*", "*/scale"), true);
});

test("URL pattern coverage: prefixes nest, exact paths do not cover sub-paths", () => {
  assert.equal(urlPatternCovers("/api*", "/apis*"), true);
  assert.equal(urlPatternCovers("/api*", "/version"), false);
  assert.equal(urlPatternCovers("/healthz", "/healthz*"), false);
  assert.equal(urlPatternCovers("*", "/anything"), true);
});

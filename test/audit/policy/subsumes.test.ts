// Shadowing must be sound: whenever we claim rule A covers rule B, no request may match B but not A.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ruleMatches, type RequestAttributes } from "../../../src/audit/policy/checker.js";
import { resourcePatternCovers, ruleSubsumes, urlPatternCovers } from "../../../src/audit/policy/subsumes.js";
import type { PolicyRule } from "../../../src/audit/policy/types.js";

const small = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(arb, { maxLength: 2 });
const user = fc.constantFrom("alice", "bob");
const group = fc.constantFrom("g1", "g2");
const verb = fc.constantFrom("get", "list", "create");
const ns = fc.constantFrom("", "a", "b");
const apiGroup = fc.constantFrom("", "apps");
const res = fc.constantFrom("pods", "deployments");
const sub = fc.constantFrom("", "log", "scale");
const resPattern = fc.constantFrom("pods", "deployments", "pods/log", "*/scale", "pods/*", "deployments/scale", "*");
const name = fc.constantFrom("", "x", "y");
const path = fc.constantFrom("/api", "/apis/apps", "/healthz", "/healthz/etcd", "/version");
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
  omitStages: fc.constant([]),
}).map((r) => (r.nonResourceURLs.length > 0 && (r.resources.length > 0 || r.namespaces.length > 0) ? { ...r, nonResourceURLs: [] } : r));

const request: fc.Arbitrary<RequestAttributes> = fc.oneof(
  fc.record({
    user: fc.option(user, { nil: undefined }),
    groups: small(group),
    verb,
    resourceRequest: fc.constant(true),
    namespace: ns,
    apiGroup,
    resource: res,
    subresource: sub,
    name,
    path: fc.constant("/api/v1/x"),
  }),
  fc.record({
    user: fc.option(user, { nil: undefined }),
    groups: small(group),
    verb,
    resourceRequest: fc.constant(false),
    namespace: fc.constant(""),
    apiGroup: fc.constant(""),
    resource: fc.constant(""),
    subresource: fc.constant(""),
    name: fc.constant(""),
    path,
  }),
);

test("ruleSubsumes is sound: a covered rule never matches a request the covering rule misses", () => {
  let proved = 0;
  fc.assert(
    fc.property(rule, rule, fc.array(request, { minLength: 20, maxLength: 20 }), (a, b, reqs) => {
      if (!ruleSubsumes(a, b)) return;
      proved++;
      for (const r of reqs) if (ruleMatches(b, r)) assert.ok(ruleMatches(a, r), `A=${JSON.stringify(a)} B=${JSON.stringify(b)} r=${JSON.stringify(r)}`);
    }),
    { numRuns: 10000, seed: 7 },
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

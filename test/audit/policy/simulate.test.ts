// Cost model on a hand-built fixture; every expected number below is derived by hand in comments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lintPolicy } from "../../../src/audit/policy/lint.js";
import { recordedEventFromJSON, simulate, type RecordedEvent, type SimRow } from "../../../src/audit/policy/simulate.js";
import type { Policy } from "../../../src/audit/policy/types.js";

const O7 = { a: 1 }; // {"a":1} = 7 bytes
const O12 = { kind: "X" }; // {"kind":"X"} = 12 bytes

function ev(id: string, stage: string, level: string, verb: string, uri: string, user: string | undefined, objectRef: Record<string, string> | undefined, bytes: number, extra: Record<string, unknown> = {}): RecordedEvent {
  return recordedEventFromJSON(
    { auditID: id, stage, level, verb, requestURI: uri, user: user === undefined ? {} : { username: user, groups: ["system:authenticated"] }, ...(objectRef ? { objectRef } : {}), ...extra },
    bytes,
  );
}

const EVENTS: RecordedEvent[] = [
  // E1 kube-proxy → rules[0] None: nothing written
  ev("e1", "ResponseComplete", "RequestResponse", "watch", "/api/v1/endpoints?watch=true", "system:kube-proxy", { resource: "endpoints", apiVersion: "v1" }, 500),
  // E2 get secret → rules[1] RequestResponse: 1000 − 12 + 12 = 1000
  ev("e2", "ResponseComplete", "RequestResponse", "get", "/api/v1/namespaces/a/secrets/s1", "alice", { resource: "secrets", namespace: "a", name: "s1", apiVersion: "v1" }, 1000, { responseObject: O12 }),
  // E3 create configmap → rules[2] Request: 800 − 7 − 12 + 7 = 788
  ev("e3", "ResponseComplete", "RequestResponse", "create", "/api/v1/namespaces/a/configmaps", "alice", { resource: "configmaps", namespace: "a", name: "c", apiVersion: "v1" }, 800, { requestObject: O7, responseObject: O12 }),
  // E4 list pods → rules[3] Metadata: 300
  ev("e4", "ResponseComplete", "Metadata", "list", "/api/v1/pods", "alice", { resource: "pods", apiVersion: "v1" }, 300),
  // E5/E6 one watch: ResponseStarted omitted by rules[3]; ResponseComplete 260
  ev("e5", "ResponseStarted", "Metadata", "watch", "/api/v1/pods?watch=true", "alice", { resource: "pods", apiVersion: "v1" }, 250),
  ev("e5", "ResponseComplete", "Metadata", "watch", "/api/v1/pods?watch=true", "alice", { resource: "pods", apiVersion: "v1" }, 260),
  // E7/E8 one patch → rules[2] Request: RequestReceived omitted by the policy; ResponseComplete 400, underestimated (recorded at Metadata)
  ev("e7", "RequestReceived", "Metadata", "patch", "/apis/apps/v1/namespaces/a/deployments/web", "bob", { resource: "deployments", apiGroup: "apps", namespace: "a", name: "web", apiVersion: "v1" }, 200),
  ev("e7", "ResponseComplete", "Metadata", "patch", "/apis/apps/v1/namespaces/a/deployments/web", "bob", { resource: "deployments", apiGroup: "apps", namespace: "a", name: "web", apiVersion: "v1" }, 400),
  // E9 get secret recorded at Request → rules[1] RequestResponse: 350, underestimated (no response object recorded)
  ev("e9", "ResponseComplete", "Request", "get", "/api/v1/namespaces/a/secrets/s1", "bob", { resource: "secrets", namespace: "a", name: "s1", apiVersion: "v1" }, 350),
];

function policyOf(yaml: string): Policy {
  const r = lintPolicy(`apiVersion: audit.k8s.io/v1\nkind: Policy\n${yaml}`);
  assert.deepEqual(r.findings.filter((f) => f.severity === "error"), []);
  return r.policy!;
}

const POLICY = policyOf(`omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: RequestResponse
  resources: [{group: "", resources: [secrets]}]
- level: Request
  verbs: [create, update, patch]
- level: Metadata
  omitStages: [ResponseStarted]
`);

function row(key: string, r: Partial<SimRow>): SimRow {
  return { key, recordedEvents: 0, recordedBytes: 0, events: 0, bytes: 0, omittedStageEvents: 0, underestimatedEvents: 0, unrecordedStageEvents: 0, ...r };
}

test("simulate: per-rule events and bytes follow the cost model", () => {
  const r = simulate(POLICY, EVENTS, "rule");
  assert.deepEqual(r.rows, [
    row("rules[0] None", { recordedEvents: 1, recordedBytes: 500 }),
    row("rules[1] RequestResponse", { recordedEvents: 2, recordedBytes: 1350, events: 2, bytes: 1350, underestimatedEvents: 1 }),
    row("rules[2] Request", { recordedEvents: 3, recordedBytes: 1400, events: 2, bytes: 1188, omittedStageEvents: 1, underestimatedEvents: 1 }),
    row("rules[3] Metadata", { recordedEvents: 3, recordedBytes: 810, events: 2, bytes: 560, omittedStageEvents: 1 }),
    row("(no rule matched) None", {}),
  ]);
  const { key: _k, ...totals } = row("", { recordedEvents: 9, recordedBytes: 4060, events: 6, bytes: 3098, omittedStageEvents: 2, underestimatedEvents: 2 });
  assert.deepEqual(r.totals, totals);
  assert.ok(r.notes.some((n) => /2 event\(s\).*underestimated/.test(n)));
});

test("simulate: by level and by user", () => {
  const byLevel = simulate(POLICY, EVENTS, "level");
  assert.deepEqual(
    byLevel.rows.map((x) => [x.key, x.events, x.bytes]),
    [
      ["None", 0, 0],
      ["Metadata", 2, 560],
      ["Request", 2, 1188],
      ["RequestResponse", 2, 1350],
    ],
  );
  const byUser = simulate(POLICY, EVENTS, "user");
  // bob: 400 + 350 = 750 bytes; alice: 1000 + 788 + 300 + 260 = 2348; kube-proxy: 0 (sorted by bytes)
  assert.deepEqual(
    byUser.rows.map((x) => [x.key, x.recordedEvents, x.events, x.bytes]),
    [
      ["alice", 5, 4, 2348],
      ["bob", 3, 2, 750],
      ["system:kube-proxy", 1, 0, 0],
    ],
  );
});

test("simulate: by resource keys group/resource and non-resource paths", () => {
  const events = [
    ev("n1", "ResponseComplete", "Metadata", "get", "/version?timeout=5s", "alice", undefined, 100),
    ev("r1", "ResponseComplete", "Metadata", "update", "/apis/apps/v1/namespaces/a/deployments/web/scale", "alice", { resource: "deployments", subresource: "scale", apiGroup: "apps", namespace: "a", name: "web" }, 120),
  ];
  const r = simulate(policyOf("omitStages: [RequestReceived]\nrules:\n- level: Metadata\n"), events, "resource");
  assert.deepEqual(
    r.rows.map((x) => [x.key, x.bytes]),
    [
      ["apps/deployments/scale", 120],
      ["(non-resource) /version", 100],
    ],
  );
});

test("simulate: RequestReceived events the recording omitted are counted separately, once per request", () => {
  const p = policyOf("rules:\n- level: Metadata\n");
  const r = simulate(p, EVENTS.filter((e) => e.auditID === "e5" || e.auditID === "e7"), "rule");
  // e5 (two events, no RequestReceived recorded) → 1; e7 has its RequestReceived recorded → 0
  assert.equal(r.totals.unrecordedStageEvents, 1);
  assert.equal(r.totals.events, 4);
  assert.ok(r.notes.some((n) => /1 request\(s\) would also write a RequestReceived/.test(n)));
});

test("simulate: unauthenticated requests never match user rules and group as (unauthenticated)", () => {
  const events = [ev("u1", "ResponseStarted", "Metadata", "list", "/api/v1/namespaces", undefined, { resource: "namespaces" }, 90)];
  const p = policyOf('omitStages: [RequestReceived]\nrules:\n- level: None\n  users: [""]\n- level: Metadata\n');
  const r = simulate(p, events, "user");
  assert.deepEqual(r.rows.map((x) => [x.key, x.events, x.bytes]), [["(unauthenticated)", 1, 90]]);
});

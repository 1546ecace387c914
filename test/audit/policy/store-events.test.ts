// The store reader folds identical requests together in SQL; folding must not change any number.
// Compared with an event-by-event replay of the same files read with JSON.parse.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ingestPaths } from "../../../src/audit/ingest.js";
import { openStore, type AuditStore } from "../../../src/audit/store.js";
import { lintPolicy } from "../../../src/audit/policy/lint.js";
import { GROUP_BY, Simulator, recordedEventFromJSON, type RecordedEvent } from "../../../src/audit/policy/simulate.js";
import { storeEvents } from "../../../src/audit/policy/store-events.js";
import { AUDIT_SAMPLES } from "../../support/samples.js";

const SAMPLES = AUDIT_SAMPLES;
// example-user-agent.log is left out: its raw lines are not byte-identical to their re-encoding,
// so event_bytes legitimately differs from a JSON.parse replay.
const FILES = ["real-apiserver-v1.24-scenario.jsonl", "demo.log", "k8s-audit-priv-pod-file.log"].map((f) => `${SAMPLES}/${f}`);

const POLICIES = [
  "rules:\n- level: RequestResponse\n",
  "omitStages: [RequestReceived]\nrules:\n- level: None\n  nonResourceURLs: [/version, \"/openapi*\", \"/api*\"]\n- level: None\n  users: [system:apiserver]\n- level: Metadata\n  resources: [{group: \"\", resources: [secrets, configmaps]}]\n- level: RequestResponse\n  verbs: [create, update, patch, delete]\n  resources: [{group: apps}, {group: \"\"}]\n- level: Request\n  userGroups: [system:masters]\n- level: Metadata\n  omitStages: [ResponseStarted]\n",
  "rules:\n- level: None\n  resources: [{group: \"\", resources: [namespaces], resourceNames: [team-a]}]\n- level: Request\n  namespaces: [\"\"]\n- level: Metadata\n  verbs: [list, watch]\n",
];

let store: AuditStore;
let events: RecordedEvent[];
before(async () => {
  store = await openStore(":memory:");
  const report = await ingestPaths(store, FILES);
  assert.equal(report.malformed, 0);
  events = FILES.flatMap((f) =>
    readFileSync(f, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => recordedEventFromJSON(JSON.parse(l) as Record<string, unknown>, Buffer.byteLength(l))),
  );
});
after(() => store.close());

for (const [i, body] of POLICIES.entries()) {
  test(`store reader: aggregated replay equals event-by-event replay (policy ${i})`, async () => {
    const policy = lintPolicy(`apiVersion: audit.k8s.io/v1\nkind: Policy\n${body}`).policy!;
    for (const by of GROUP_BY) {
      const fromStore = new Simulator(policy, by);
      for await (const ev of storeEvents(store)) fromStore.add(ev);
      const direct = new Simulator(policy, by);
      for (const ev of events) direct.add(ev);
      const a = fromStore.report();
      const b = direct.report();
      assert.equal(a.totals.recordedEvents, 212);
      assert.deepEqual(a, b, `by ${by}`);
    }
  });
}

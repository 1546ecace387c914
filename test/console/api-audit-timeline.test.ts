// The console's timeline API: lanes per object with revisions and marks, against a plain pass over
// the real recorded events (and `audit detect -o json` for the detection marks); its bounds (lanes,
// events per answer) on a generated store larger than the cap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { buildStore, RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO } from "../support/audit-store.js";
import { writeJsonl } from "../audit/fixtures.js";
import { cmp, isRequest, isoMicros, micros, qualified, readEvents, serve, servedStore, type Ev } from "./api-audit-support.js";

const FILES = [RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO];
const all = readEvents(FILES);

const fx = servedStore("timeline", FILES);

const WRITES = ["create", "update", "patch", "apply"];
const ok = (e: Ev): boolean => e.responseStatus?.code >= 200 && e.responseStatus.code < 300;

/** What an event is on its object's lane (the contract's rules, written out again). */
function kindOf(e: Ev): "revision" | "delete" | "denied" | "error" | null {
  const code = e.responseStatus?.code;
  const sub = e.objectRef?.subresource;
  if (ok(e) && WRITES.includes(e.verb) && (!sub || sub === "status" || (sub === "scale" && ["update", "patch"].includes(e.verb)))) return "revision";
  if (ok(e) && e.verb === "delete" && !sub) return "delete";
  if (code === 403 || e.annotations?.["authorization.k8s.io/decision"] === "forbid") return "denied";
  if (code >= 400) return "error";
  return null;
}

/** The object an event is about: objectRef.name, or for a create with generateName the created object's name. */
function objectName(e: Ev): string | null {
  return e.objectRef?.name ?? (e.verb === "create" && ok(e) ? (e.responseObject?.metadata?.name ?? null) : null);
}

const keyOf = (e: Ev): string => `${qualified(e)}/${e.objectRef?.namespace || "-"}/${objectName(e)}`;

interface RefLane {
  revisions: Ev[];
  marks: { e: Ev; type: string }[];
}

function reference(events: Ev[], keep: (e: Ev) => boolean = () => true): Map<string, RefLane> {
  const lanes = new Map<string, RefLane>();
  for (const e of events) {
    if (!isRequest(e) || !e.objectRef?.resource || objectName(e) === null || !keep(e)) continue;
    const kind = kindOf(e);
    if (kind === null) continue;
    const lane = lanes.get(keyOf(e)) ?? { revisions: [], marks: [] };
    lanes.set(keyOf(e), lane);
    if (kind === "revision") lane.revisions.push(e);
    else lane.marks.push({ e, type: kind });
  }
  return lanes;
}

const byTime = (a: Ev, b: Ev): number => micros(a) - micros(b) || cmp(a.auditID, b.auditID);

test("timeline: one lane per object with its revisions and delete/error/denied marks, as a plain pass over the raw events finds them", async () => {
  const ref = reference(all);
  const r = await fx.api.get("timeline", { lanes: 2000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.totalObjects, ref.size);
  assert.equal(r.body.truncated, false);
  const keys = r.body.lanes.map((l: Ev) => l.key);
  assert.deepEqual([...keys].sort(), [...ref.keys()].sort());
  // Sorted by resource, namespace, name.
  const sortKey = (l: Ev): string => `${l.resource}\u0000${l.namespace ?? ""}\u0000${l.name}`;
  assert.deepEqual(keys, [...r.body.lanes].sort((a: Ev, b: Ev) => cmp(sortKey(a), sortKey(b))).map((l: Ev) => l.key));
  for (const lane of r.body.lanes) {
    const want = ref.get(lane.key)!;
    assert.deepEqual(
      lane.revisions,
      want.revisions.sort(byTime).map((e) => ({ ts: isoMicros(e), audit_id: e.auditID, stage: e.stage, verb: e.verb, subresource: e.objectRef.subresource ?? null, user: e.user?.username ?? null, code: e.responseStatus.code })),
      lane.key,
    );
    assert.deepEqual(
      lane.marks.filter((m: Ev) => m.type !== "detection").map((m: Ev) => [m.ts, m.audit_id, m.type]),
      want.marks.sort((a, b) => byTime(a.e, b.e)).map((m) => [isoMicros(m.e), m.e.auditID, m.type]),
      lane.key,
    );
    const [resource, ns, ...rest] = lane.key.split("/");
    assert.deepEqual([lane.resource, lane.namespace ?? "-", lane.name], [resource, ns, rest.join("/")]);
  }
  // The recorded facts: Deployment shop/cart's writes and its delete; the denials of the scenario.
  const cart = r.body.lanes.find((l: Ev) => l.key === "deployments.apps/shop/cart");
  assert.equal(cart.apiGroup, "apps");
  assert.equal(cart.revisions.length, 13);
  assert.deepEqual(cart.marks.filter((m: Ev) => m.type === "delete").map((m: Ev) => m.label), ["deleted by dana"]);
  const types = new Set(r.body.lanes.flatMap((l: Ev) => l.marks.map((m: Ev) => m.type)));
  for (const t of ["delete", "error", "denied", "detection"]) assert.ok(types.has(t), `a ${t} mark`);
  // A revision of a generateName create sits on the lane of the object it created.
  const generated = all.find((e) => isRequest(e) && e.verb === "create" && ok(e) && !e.objectRef?.name && e.responseObject?.metadata?.name);
  assert.ok(generated, "the scenarios create pods through ReplicaSets (generateName)");
  assert.ok(r.body.lanes.find((l: Ev) => l.key === keyOf(generated))?.revisions.some((x: Ev) => x.audit_id === generated.auditID));
});

test("timeline detection marks are the hits of `audit detect -o json` on the objects shown, labelled with the rule", async () => {
  const cli = await runCli(["audit", "detect", "--db", fx.db, "-o", "json"]);
  assert.equal(cli.code, 0, cli.stderr);
  const hits = JSON.parse(cli.stdout) as { audit_id: string; rule: string }[];
  assert.ok(hits.length > 0);
  const byId = new Map(all.filter((e) => e.stage === "ResponseComplete" || e.stage === "Panic" || e.responseStatus?.code === 401).map((e) => [e.auditID, e]));
  const r = await fx.api.get("timeline", { lanes: 2000 });
  const lanes = new Set(r.body.lanes.map((l: Ev) => l.key));
  const expected = hits
    .map((h) => ({ h, e: byId.get(h.audit_id) }))
    .filter(({ e }) => e && e.objectRef?.resource && objectName(e) !== null && lanes.has(keyOf(e)))
    .map(({ h, e }) => `${keyOf(e)} ${h.audit_id} ${h.rule}`)
    .sort();
  const got = r.body.lanes.flatMap((l: Ev) => l.marks.filter((m: Ev) => m.type === "detection").map((m: Ev) => `${l.key} ${m.audit_id} ${m.label}`)).sort();
  assert.ok(expected.length > 0, "some detections concern objects with lanes");
  assert.deepEqual(got, expected);
});

test("timeline filters: namespace, name, user, time range narrow the lanes and their events", async () => {
  const sec = all.filter((e) => isRequest(e)).sort(byTime);
  const from = sec[Math.floor(sec.length / 3)];
  const to = sec[Math.floor((2 * sec.length) / 3)];
  const cases: { params: Record<string, string>; keep: (e: Ev) => boolean }[] = [
    { params: { namespace: "shop" }, keep: (e) => e.objectRef?.namespace === "shop" },
    { params: { name: "cart" }, keep: (e) => objectName(e) === "cart" },
    { params: { user: "dana" }, keep: (e) => e.user?.username === "dana" },
    { params: { from: isoMicros(from), to: isoMicros(to) }, keep: (e) => micros(e) >= micros(from) && micros(e) < micros(to) },
  ];
  for (const { params, keep } of cases) {
    const ref = reference(all, keep);
    const r = await fx.api.get("timeline", { ...params, lanes: 2000 });
    assert.ok(ref.size > 0, JSON.stringify(params));
    assert.equal(r.body.totalObjects, ref.size, JSON.stringify(params));
    assert.deepEqual(r.body.lanes.map((l: Ev) => l.key).sort(), [...ref.keys()].sort(), JSON.stringify(params));
    for (const lane of r.body.lanes) {
      assert.deepEqual(lane.revisions.map((x: Ev) => x.audit_id), ref.get(lane.key)!.revisions.sort(byTime).map((e) => e.auditID), `${JSON.stringify(params)} ${lane.key}`);
    }
  }
});

test("timeline with fewer lanes than objects: the objects with the most events, truncated says so", async () => {
  const ref = reference(all);
  const count = (l: RefLane): number => l.revisions.length + l.marks.length;
  const r = await fx.api.get("timeline", { lanes: 5 });
  assert.equal(r.body.lanes.length, 5);
  assert.equal(r.body.truncated, true);
  assert.equal(r.body.totalObjects, ref.size);
  const shown = new Set(r.body.lanes.map((l: Ev) => l.key));
  const least = Math.min(...[...shown].map((k) => count(ref.get(k as string)!)));
  const mostLeftOut = Math.max(...[...ref.entries()].filter(([k]) => !shown.has(k)).map(([, l]) => count(l)));
  assert.ok(least >= mostLeftOut, `shown lanes have >= events than any left out (${least} vs ${mostLeftOut})`);
  for (const lane of r.body.lanes) assert.equal(lane.revisions.length + lane.marks.filter((m: Ev) => m.type !== "detection").length, count(ref.get(lane.key)!));
});

test("timeline bounds its answer to 20000 events over a larger store, each lane keeping its newest events", async () => {
  const file = join(fx.dir, "generated.jsonl");
  await writeJsonl(file, 80_000, { seed: 7 });
  const big = await serve(await buildStore(fx.dir, [file], { name: "generated.duckdb" }));
  try {
    const events = readEvents([file]);
    const ref = reference(events);
    const total = [...ref.values()].reduce((n, l) => n + l.revisions.length + l.marks.length, 0);
    assert.ok(total > 20_000, `the generated store has more lane events (${total}) than the cap`);
    const r = await big.get("timeline", { lanes: 2000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.truncated, true);
    assert.equal(r.body.events, 20_000);
    assert.equal(r.body.totalObjects, ref.size);
    assert.equal(r.body.lanes.length, Math.min(2000, ref.size));
    const returned = r.body.lanes.reduce((n: number, l: Ev) => n + l.revisions.length + l.marks.filter((m: Ev) => m.type !== "detection").length, 0);
    assert.equal(returned, 20_000);
    for (const lane of r.body.lanes) {
      const want = ref.get(lane.key)!;
      // Newest first; equal times by audit ID, as the events route orders them.
      const newest = [...want.revisions, ...want.marks.map((m) => m.e)].sort((a, b) => micros(b) - micros(a) || cmp(a.auditID, b.auditID));
      const got = [...lane.revisions, ...lane.marks.filter((m: Ev) => m.type !== "detection")].map((x: Ev) => x.audit_id).sort();
      assert.ok(got.length > 0, `${lane.key} keeps events`);
      // The newest ones of that object (round-robin over lanes, newest first).
      assert.deepEqual(got, newest.slice(0, got.length).map((e) => e.auditID).sort(), lane.key);
    }
  } finally {
    await big.close();
  }
});

// The console's audit API for one event and one object: `event` rebuilds the stored audit event
// (compared field by field with the raw event it came from), never returns Secret values even from
// a store ingested with --keep-secret-data, returns hostile text verbatim as JSON; `history` is
// exactly what the real `audit history -o json` prints.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { buildStore, RECORDED_V125, SECURITY_SCENARIO } from "../support/audit-store.js";
import { isRequest, isoMicros, readEvents, serve, type Ev, type Served } from "./api-audit-support.js";

const FILES = [RECORDED_V125, SECURITY_SCENARIO];
const all = readEvents(FILES);

let dir: string;
let db: string;
let api: Served;
let secretApi: Served;
let secretDb: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-api-audit-event-"));
  db = await buildStore(dir, FILES);
  secretDb = await buildStore(dir, [SECURITY_SCENARIO, RECORDED_V125], { name: "kept.duckdb", keepSecretData: true });
  api = await serve(db);
  secretApi = await serve(secretDb);
});
after(async () => {
  await api?.close();
  await secretApi?.close();
  rmSync(dir, { recursive: true, force: true });
});

const touchesSecrets = (e: Ev): boolean => JSON.stringify([e.requestObject ?? null, e.responseObject ?? null]).includes('"Secret') || e.objectRef?.resource === "secrets" || e.objectRef?.subresource === "token" || e.objectRef?.resource === "tokenreviews";

test("event: every event of the scenarios comes back as the audit.k8s.io/v1 Event it was logged as (fields, times, bodies)", async () => {
  let withBodies = 0;
  for (const e of all) {
    const r = await api.get("event", { audit_id: e.auditID, stage: e.stage });
    assert.equal(r.status, 200, r.text);
    const got = r.body;
    const ref = e.objectRef ?? {};
    const want: Ev = {
      kind: "Event", apiVersion: "audit.k8s.io/v1", level: e.level, auditID: e.auditID, stage: e.stage, requestURI: e.requestURI, verb: e.verb,
      user: Object.fromEntries(Object.entries({ username: e.user.username, groups: e.user.groups }).filter(([, v]) => v !== undefined)),
      sourceIPs: e.sourceIPs?.slice(0, 1), userAgent: e.userAgent,
      objectRef: e.objectRef ? Object.fromEntries(Object.entries({ resource: ref.resource, namespace: ref.namespace, name: ref.name, apiGroup: ref.apiGroup || undefined, apiVersion: ref.apiVersion, subresource: ref.subresource }).filter(([, v]) => v !== undefined && v !== "")) : undefined,
      responseStatus: e.responseStatus ? Object.fromEntries(Object.entries({ metadata: {}, code: e.responseStatus.code, reason: e.responseStatus.reason || undefined, message: e.responseStatus.message || undefined }).filter(([, v]) => v !== undefined)) : undefined,
      requestReceivedTimestamp: isoMicros({ stageTimestamp: e.requestReceivedTimestamp }),
      stageTimestamp: isoMicros(e),
    };
    for (const k of Object.keys(want)) if (want[k] === undefined) delete want[k];
    const decision = e.annotations?.["authorization.k8s.io/decision"];
    const reason = e.annotations?.["authorization.k8s.io/reason"];
    if (decision || reason) want.annotations = Object.fromEntries(Object.entries({ "authorization.k8s.io/decision": decision || undefined, "authorization.k8s.io/reason": reason || undefined }).filter(([, v]) => v !== undefined));
    const { requestObject, responseObject, ...rest } = got;
    assert.deepEqual(rest, want, e.auditID);
    if (!touchesSecrets(e)) {
      assert.deepEqual(requestObject, e.requestObject, `requestObject of ${e.auditID}`);
      assert.deepEqual(responseObject, e.responseObject, `responseObject of ${e.auditID}`);
      if (e.requestObject || e.responseObject) withBodies++;
    }
  }
  assert.ok(withBodies > 300, `bodies compared: ${withBodies}`);
});

test("event without a stage is the request's completion event; unknown audit IDs and stages answer 404", async () => {
  const started = all.find((e) => e.stage === "ResponseStarted" && all.some((x) => x.auditID === e.auditID && x.stage === "ResponseComplete"));
  const lone = all.find((e) => e.stage === "ResponseStarted" && isRequest(e));
  assert.ok(started && lone, "the recorded log has watch events with two stages and a failed request logged at ResponseStarted only");
  assert.equal((await api.get("event", { audit_id: started.auditID })).body.stage, "ResponseComplete");
  assert.equal((await api.get("event", { audit_id: started.auditID, stage: "ResponseStarted" })).body.stage, "ResponseStarted");
  assert.equal((await api.get("event", { audit_id: lone.auditID })).body.stage, "ResponseStarted");
  const missing = await api.get("event", { audit_id: "00000000-0000-0000-0000-000000000000" });
  assert.equal(missing.status, 404);
  assert.match(missing.body.error, /no audit event with audit_id 00000000-0000-0000-0000-000000000000/);
  const wrongStage = await api.get("event", { audit_id: started.auditID, stage: "Panic" });
  assert.equal(wrongStage.status, 404);
  assert.match(wrongStage.body.error, /and stage Panic/);
});

test("event: Secret values kept in the store (--keep-secret-data) are redacted on the way out, key names stay", async () => {
  const secretEvents = readEvents([SECURITY_SCENARIO, RECORDED_V125]).filter((e) => [e.requestObject, e.responseObject].some((o) => o?.kind === "Secret" && o.data && Object.keys(o.data).length > 0));
  assert.ok(secretEvents.length >= 2, "the scenarios create Secrets with data");
  const values = secretEvents.flatMap((e) => [e.requestObject, e.responseObject].filter((o) => o?.kind === "Secret").flatMap((o) => Object.values(o.data ?? {}) as string[]));
  // The store really holds them (so the redaction seen below is the API's, not ingest's).
  const inStore = await runCli(["audit", "sql", `SELECT count(*) AS n FROM bodies WHERE contains(CAST(request_object AS VARCHAR), '${values[0]!.replace(/'/g, "''")}')`, "--db", secretDb, "-o", "json"]);
  assert.equal(inStore.code, 0, inStore.stderr);
  assert.ok(JSON.parse(inStore.stdout)[0].n > 0, "kept secret value is in the store");
  for (const e of secretEvents) {
    const r = await secretApi.get("event", { audit_id: e.auditID, stage: e.stage });
    assert.equal(r.status, 200);
    for (const v of values) assert.ok(!r.text.includes(v), `secret value of ${e.objectRef?.name} in the answer`);
    for (const side of ["requestObject", "responseObject"] as const) {
      const o = e[side];
      if (o?.kind !== "Secret" || !o.data) continue;
      assert.deepEqual(r.body[side].data, Object.fromEntries(Object.keys(o.data).map((k) => [k, "<redacted>"])), `${side} of ${e.auditID}`);
      assert.equal(r.body[side].metadata.name, o.metadata.name);
    }
  }
});

test("hostile text (HTML and script in user, name, user agent, URI) comes back verbatim in JSON from every route", async () => {
  const seed = all.find((e) => e.verb === "create" && e.objectRef?.resource === "configmaps" && e.responseStatus.code === 201 && e.stage === "ResponseComplete");
  assert.ok(seed);
  const user = `<script>alert("user")</script>`;
  const name = `x-<img src=x onerror=alert(1)>`;
  const agent = `</script><script>alert(2)</script>`;
  const uri = `/api/v1/namespaces/${seed.objectRef.namespace}/configmaps?<b>bold</b>&q="'`;
  const ev = { ...seed, auditID: "hostile-0000-4000-8000-000000000001", user: { ...seed.user, username: user }, userAgent: agent, requestURI: uri, objectRef: { ...seed.objectRef, name } };
  const file = join(dir, "hostile.jsonl");
  writeFileSync(file, JSON.stringify(ev) + "\n");
  const h = await serve(await buildStore(dir, [file], { name: "hostile.duckdb" }));
  try {
    const rows = await h.get("events", { user });
    assert.match(rows.type, /^application\/json/);
    assert.equal(rows.body.total, 1);
    assert.deepEqual([rows.body.rows[0].user, rows.body.rows[0].name, rows.body.rows[0].user_agent, rows.body.rows[0].request_uri], [user, name, agent, uri]);
    assert.ok(rows.text.includes("<script>alert(") && rows.text.includes(agent) && rows.text.includes(name), "raw JSON text carries the markup as is (no HTML escaping)");
    const one = await h.get("event", { audit_id: ev.auditID });
    assert.deepEqual([one.body.user.username, one.body.objectRef.name, one.body.userAgent, one.body.requestURI], [user, name, agent, uri]);
    const tl = await h.get("timeline", { name });
    assert.equal(tl.body.lanes.length, 1);
    assert.equal(tl.body.lanes[0].name, name);
    assert.equal(tl.body.lanes[0].key, `configmaps/${seed.objectRef.namespace}/${name}`);
    assert.equal(tl.body.lanes[0].revisions[0].user, user);
    const changed = await h.get("insights/who-changed");
    assert.deepEqual([changed.body.rows[0].user, changed.body.rows[0].name], [user, name]);
    const callers = await h.get("insights/top-callers", { useragent: "</SCRIPT>" });
    assert.deepEqual([callers.body.rows[0].user, callers.body.rows[0].top_user_agent], [user, agent]);
    const s = await h.get("summary");
    assert.ok(s.text.includes(seed.objectRef.namespace));
  } finally {
    await h.close();
  }
});

async function cliHistory(args: string[]): Promise<Ev> {
  const r = await runCli(["audit", "history", ...args, "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("history is exactly `audit history -o json` (namespaced, plural.group, cluster-scoped with namespace -, unknown object)", async () => {
  const cases: [Record<string, string>, string[]][] = [
    [{ resource: "deployments", namespace: "shop", name: "cart" }, ["deployments", "cart", "-n", "shop"]],
    [{ resource: "deployments.apps", namespace: "shop", name: "cart" }, ["deployments.apps", "cart", "-n", "shop"]],
    [{ resource: "deploy", namespace: "shop", name: "cart" }, ["deploy", "cart", "-n", "shop"]],
    [{ resource: "clusterrolebindings.rbac.authorization.k8s.io", namespace: "-", name: "oops" }, ["clusterrolebindings.rbac.authorization.k8s.io", "oops"]],
    [{ resource: "nodes", name: "node-1" }, ["nodes", "node-1"]],
    [{ resource: "configmaps", namespace: "shop", name: "no-such-object" }, ["configmaps", "no-such-object", "-n", "shop"]],
  ];
  for (const [params, args] of cases) {
    const r = await api.get("history", params);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, await cliHistory(args), JSON.stringify(params));
  }
  const cart = await api.get("history", { resource: "deployments", namespace: "shop", name: "cart" });
  assert.ok(cart.body.revisions.length >= 10 && cart.body.revisions.some((x: Ev) => x.changes?.length > 0));
});

test("history of a name in several namespaces without one is a 400 naming namespace (the CLI refuses it too)", async () => {
  const r = await api.get("history", { resource: "configmaps", name: "kube-root-ca.crt" });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /^query parameter namespace: configmaps kube-root-ca\.crt exists in several namespaces \(.+\): give namespace/);
  const cli = await runCli(["audit", "history", "configmaps", "kube-root-ca.crt", "--db", db, "-o", "json"]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /exists in several namespaces/);
  const one = await api.get("history", { resource: "configmaps", name: "kube-root-ca.crt", namespace: "shop" });
  assert.equal(one.status, 200);
  assert.equal(one.body.namespace, "shop");
});

test("history of a Secret whose data changed, from a --keep-secret-data store: the diff names the changed keys, never the values", async () => {
  const create = readEvents([SECURITY_SCENARIO]).find((e) => e.verb === "create" && e.objectRef?.resource === "secrets" && e.objectRef.name === "db" && e.stage === "ResponseComplete");
  assert.ok(create);
  const oldValue = create.responseObject.data.password as string;
  const newValue = Buffer.from("rotated-password-9f3b").toString("base64");
  // The same Secret updated by `kubectl apply`: a new password and the last-applied annotation that carries it.
  const applied = { ...create.requestObject, data: { password: newValue } };
  const updated = structuredClone(create);
  updated.auditID = "3c1d2a9e-0000-4000-8000-00000000d0b1";
  updated.verb = "patch";
  updated.objectRef.name = "db";
  updated.requestURI = "/api/v1/namespaces/shop/secrets/db?fieldManager=kubectl-client-side-apply";
  updated.requestReceivedTimestamp = updated.stageTimestamp = "2026-12-07T12:00:00.000001Z";
  updated.responseStatus = { metadata: {}, code: 200 };
  updated.requestObject = { metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(applied) } }, data: { password: newValue } };
  updated.responseObject = {
    ...create.responseObject,
    metadata: { ...create.responseObject.metadata, resourceVersion: "99999", annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(applied) + "\n" } },
    data: { password: newValue },
  };
  const file = join(dir, "secret-rotation.jsonl");
  writeFileSync(file, [create, updated].map((e) => JSON.stringify(e)).join("\n") + "\n");
  const kept = await serve(await buildStore(dir, [file], { name: "rotation-kept.duckdb", keepSecretData: true }));
  const redacted = await serve(await buildStore(dir, [file], { name: "rotation.duckdb" }));
  try {
    const r = await kept.get("history", { resource: "secrets", namespace: "shop", name: "db" });
    assert.equal(r.status, 200);
    for (const v of [oldValue, newValue]) assert.ok(!r.text.includes(v), `secret value ${v} in the history answer`);
    const rev = r.body.revisions.find((x: Ev) => x.audit_id === updated.auditID);
    assert.deepEqual(rev.changes.find((c: Ev) => c.path === "data.password"), { path: "data.password", op: "changed", old: "<redacted>", new: "<redacted>" });
    const annotation = rev.changes.find((c: Ev) => c.path === "metadata.annotations");
    assert.deepEqual(JSON.parse(annotation.new["kubectl.kubernetes.io/last-applied-configuration"]).data, { password: "<redacted>" }, "the annotation's change is listed, its value redacted");
    // The same answer as from a store that redacted on ingest (the default), where the two values are
    // the same marker so the change of data.password does not show at all.
    const withoutData = structuredClone(r.body);
    for (const x of withoutData.revisions) x.changes = x.changes?.filter((c: Ev) => c.path !== "data.password") ?? null;
    assert.deepEqual(withoutData, (await redacted.get("history", { resource: "secrets", namespace: "shop", name: "db" })).body);
    // The kept store really holds both values (the CLI's own history shows them).
    const cli = await runCli(["audit", "history", "secrets", "db", "-n", "shop", "--db", join(dir, "rotation-kept.duckdb"), "-o", "json"]);
    assert.ok(cli.stdout.includes(oldValue) && cli.stdout.includes(newValue));
  } finally {
    await kept.close();
    await redacted.close();
  }
});

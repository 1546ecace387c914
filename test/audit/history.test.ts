// `audit history` through the real CLI on the recorded v1.25 security scenario (Deployment
// shop/cart), a copy without cart's create (an object created before the window) and a copy
// with bodies stripped (Metadata level). Expected answers come from a plain pass over the raw events.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { SECURITY, readEvents, type Ev } from "./helpers.js";
import { SHARED_KUBE_DIR } from "../support/kube-apiserver/openapi.js";

const RECORDED_AUDIT_DIR = join(SHARED_KUBE_DIR, "recorded-v1.25", "audit");

let dir: string;
const db = (n: string): string => join(dir, `${n}.duckdb`);
const events = readEvents(SECURITY).map((e) => e.ev as Ev);
const WRITES = ["create", "update", "patch", "apply", "delete"];
const cartWrites = events.filter(
  (e) =>
    e.stage === "ResponseComplete" && e.objectRef?.resource === "deployments" && e.objectRef.namespace === "shop" && e.objectRef.name === "cart" &&
    WRITES.includes(e.verb) && e.responseStatus.code < 300 && [undefined, "status"].includes(e.objectRef.subresource),
);
const cartCreate = cartWrites.find((e) => e.verb === "create");

async function ingest(name: string, evs: Ev[]): Promise<void> {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, evs.map((e) => JSON.stringify(e)).join("\n") + "\n");
  const r = await runCli(["audit", "ingest", "--db", db(name), file]);
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-history-"));
  const r = await runCli(["audit", "ingest", "--db", db("full"), SECURITY]);
  assert.equal(r.code, 0, r.stderr);
  await ingest("nocreate", events.filter((e) => e !== cartCreate));
  await ingest("metadata", events.map((e) => {
    const { requestObject: _q, responseObject: _r, ...rest } = e;
    return { ...rest, level: "Metadata" };
  }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function history(name: string, args: string[]): Promise<Ev> {
  const r = await runCli(["audit", "history", ...args, "--db", db(name), "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const changed = (rev: Ev, path: string): Ev => rev.changes?.find((c: Ev) => c.path === path);

test("history of Deployment shop/cart: every successful write, its object, who and when, from the raw events", async () => {
  const h = await history("full", ["deployments", "cart", "-n", "shop", "--objects"]);
  assert.equal(cartWrites.length, 14);
  assert.deepEqual(
    h.revisions.map((r: Ev) => [r.time, r.verb, r.subresource, r.user, r.user_agent, r.code, r.audit_id]),
    cartWrites.map((e) => [e.stageTimestamp, e.verb, e.objectRef.subresource ?? null, e.user.username, e.userAgent, e.responseStatus.code, e.auditID]),
  );
  // Each revision's object is the write's response object (the delete's response is a Status, not the object).
  assert.deepEqual(h.revisions.map((r: Ev) => r.object), cartWrites.map((e) => (e.verb === "delete" ? null : e.responseObject)));
  assert.deepEqual(h.revisions.map((r: Ev) => r.resource_version), cartWrites.map((e) => (e.verb === "delete" ? null : e.responseObject.metadata.resourceVersion)));
  // The controller's status updates are revisions too.
  const ctrl = cartWrites.filter((e) => e.objectRef.subresource === "status").length;
  assert.equal(ctrl, 9);
  assert.equal(h.revisions.filter((r: Ev) => r.user === "system:serviceaccount:kube-system:deployment-controller" && r.subresource === "status").length, ctrl);
  assert.deepEqual(h.lifetimes, [{
    index: 1, first_seen: cartCreate.stageTimestamp, created_before_window: false, created_at: cartCreate.stageTimestamp, created_by: "dana",
    deletion_requested_at: cartWrites.at(-1).stageTimestamp, deletion_requested_by: "dana",
    deleted_at: cartWrites.at(-1).stageTimestamp, deleted_by: "dana", revisions: 14,
  }]);
  assert.equal(h.api_group, "apps");
  assert.equal(h.namespace, "shop");
  assert.deepEqual(h.notes, []);
});

test("history of cart: the recorded facts — replicas 2 by eve, image cart:1.1 by dana, label by oscar, diffs against the previous revision", async () => {
  const h = await history("full", ["deployments.apps", "cart", "-n", "shop", "--objects"]);
  const [create] = h.revisions;
  assert.equal(create.verb, "create");
  assert.equal(create.user, "dana");
  assert.equal(create.field_manager, "kubectl-create");
  assert.equal(create.object.spec.replicas, 1);
  assert.equal(create.object.spec.template.spec.containers[0].image, "cart:1.0");
  assert.equal(create.changes, null);

  const replicas = h.revisions.filter((r: Ev) => changed(r, "spec.replicas"));
  assert.deepEqual(replicas.map((r: Ev) => [r.user, r.verb, r.field_manager, r.field_manager_source]), [["eve", "patch", "kubectl-patch", "query"]]);
  assert.deepEqual(changed(replicas[0], "spec.replicas"), { path: "spec.replicas", op: "changed", old: 1, new: 2 });
  const rawEve = events.find((e) => e.user.username === "eve" && e.verb === "patch" && e.objectRef?.name === "cart");
  assert.equal(rawEve.requestObject.spec.replicas, 2);
  assert.match(rawEve.requestURI, /fieldManager=kubectl-patch/);

  const image = h.revisions.filter((r: Ev) => changed(r, "spec.template.spec.containers[cart].image"));
  assert.deepEqual(image.map((r: Ev) => [r.user, r.verb, r.field_manager]), [["dana", "patch", "kubectl-set"]]);
  assert.deepEqual(changed(image[0], "spec.template.spec.containers[cart].image"), { path: "spec.template.spec.containers[cart].image", op: "changed", old: "cart:1.0", new: "cart:1.1" });
  assert.deepEqual(changed(image[0], "metadata.generation"), { path: "metadata.generation", op: "changed", old: 2, new: 3 });

  const label = h.revisions.filter((r: Ev) => changed(r, "metadata.labels.tier"));
  assert.deepEqual(label.map((r: Ev) => [r.user, r.field_manager]), [["oscar", "kubectl-label"]]);
  assert.deepEqual(changed(label[0], "metadata.labels.tier"), { path: "metadata.labels.tier", op: "added", new: "frontend" });

  // Controller status updates carry no ?fieldManager: the manager comes from the managedFields entry of that time.
  const status = h.revisions.filter((r: Ev) => r.subresource === "status");
  assert.deepEqual([...new Set(status.map((r: Ev) => `${r.field_manager}/${r.field_manager_source}`))], ["kube-controller-manager/managedFields"]);
  const del = h.revisions.at(-1);
  assert.deepEqual([del.verb, del.user, del.note, del.changes], ["delete", "dana", "deleted", null]);

  // Noise hidden by default, shown with --all-fields.
  const paths = h.revisions.flatMap((r: Ev) => (r.changes ?? []).map((c: Ev) => c.path));
  assert.equal(paths.some((p: string) => p.startsWith("metadata.managedFields") || p === "metadata.resourceVersion"), false);
  assert.equal(h.revisions[4].hidden_changes > 0, true);
  const all = await history("full", ["deploy", "cart", "-n", "shop", "--all-fields"]);
  const allEve = all.revisions[4];
  assert.equal(allEve.user, "eve");
  assert.deepEqual(changed(allEve, "metadata.resourceVersion"), { path: "metadata.resourceVersion", op: "changed", old: cartWrites[3].responseObject.metadata.resourceVersion, new: rawEve.responseObject.metadata.resourceVersion });
  assert.equal(allEve.hidden_changes, 0);
  assert.equal(allEve.changes.length, replicas[0].changes.length + replicas[0].hidden_changes);

  const table = await runCli(["audit", "history", "deploy", "cart", "--db", db("full")]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^lifetime 1: created at 2026-12-07T11:38:14\.935754Z by dana; deleted at 2026-12-07T11:38:56\.811450Z by dana$/m);
  assert.match(table.stdout, /^ {4}~ spec\.template\.spec\.containers\[cart\]\.image: "cart:1\.0" → "cart:1\.1"$/m);
  assert.match(table.stdout, /^#5 \S+ patch by eve manager kubectl-patch rv \d+$/m);
});

test("resource forms: plural, plural.group, short name and kind give the same history; another group gives none", async () => {
  const want = JSON.stringify((await history("full", ["deployments", "cart"])).revisions);
  for (const form of ["deployments.apps", "deploy", "Deployment"]) assert.equal(JSON.stringify((await history("full", [form, "cart", "-n", "shop"])).revisions), want, form);
  assert.deepEqual((await history("full", ["deployments.extensions", "cart"])).revisions, []);
});

test("a pod created with generateName (objectRef without a name) is found by its response's name", async () => {
  const create = events.find((e) => e.verb === "create" && e.objectRef?.resource === "pods" && e.objectRef.name === undefined && e.responseStatus.code < 300);
  const name = create.responseObject.metadata.name;
  const h = await history("full", ["pods", name, "-n", "shop"]);
  assert.deepEqual([h.revisions[0].verb, h.revisions[0].user, h.revisions[0].audit_id], ["create", create.user.username, create.auditID]);
});

test("an object created before the window: first seen at its first write, said so, with its creationTimestamp", async () => {
  const h = await history("nocreate", ["deployments", "cart", "-n", "shop"]);
  const first = cartWrites[1];
  assert.equal(h.revisions.length, cartWrites.length - 1);
  assert.deepEqual(h.lifetimes[0], {
    index: 1, first_seen: first.stageTimestamp, created_before_window: true, created_at: first.responseObject.metadata.creationTimestamp, created_by: null,
    deletion_requested_at: cartWrites.at(-1).stageTimestamp, deletion_requested_by: "dana",
    deleted_at: cartWrites.at(-1).stageTimestamp, deleted_by: "dana", revisions: cartWrites.length - 1,
  });
  assert.equal(h.revisions[0].changes, null);
  assert.equal(h.revisions[0].note, "first seen (created before the window)");
  const table = await runCli(["audit", "history", "deployments", "cart", "--db", db("nocreate")]);
  assert.match(table.stdout, new RegExp(`^lifetime 1: first seen at ${first.stageTimestamp.replace(/\./g, "\\.")} \\(created before the window, creationTimestamp ${first.responseObject.metadata.creationTimestamp}\\)`, "m"));
  // --since makes the same cut on the full store.
  const since = await history("full", ["deployments", "cart", "--since", first.stageTimestamp]);
  assert.deepEqual(since.lifetimes, h.lifetimes);
});

test("Metadata level: who/when/verb still given, no diffs, and the note says they need Request or RequestResponse level", async () => {
  const h = await history("metadata", ["deployments", "cart", "-n", "shop"]);
  assert.deepEqual(h.revisions.map((r: Ev) => [r.time, r.verb, r.user, r.level]), cartWrites.map((e) => [e.stageTimestamp, e.verb, e.user.username, "Metadata"]));
  assert.equal(h.revisions.every((r: Ev) => r.changes === null && r.object === null), true);
  assert.deepEqual(h.revisions.filter((r: Ev) => r.user === "eve").map((r: Ev) => r.field_manager), ["kubectl-patch"]);
  assert.deepEqual(h.revisions.filter((r: Ev) => r.subresource === "status").map((r: Ev) => [r.field_manager, r.field_manager_source])[0], ["kube-controller-manager", "user-agent"]);
  assert.deepEqual(h.notes, ["some revisions were logged without bodies (Metadata level): diffs need Request or RequestResponse level"]);
  const table = await runCli(["audit", "history", "deployments", "cart", "--db", db("metadata")]);
  assert.match(table.stdout, /diffs need Request or RequestResponse level/);
  assert.match(table.stdout, /^lifetime 1: created at \S+ by dana; deleted at \S+ by dana$/m);
});

// The real v1.25 recording (../shared/kube/recorded-v1.25/audit): Deployment rec/web scaled through
// the scale subresource (update and patch, Scale bodies), deleted with propagationPolicy=Foreground
// (the delete answers the object, held by the foregroundDeletion finalizer; the controller keeps
// updating its status), and removed when the garbage collector patches the finalizer away with a
// metadata-only (PartialObjectMetadata) response.
test("history on the recorded v1.25 scenario: scale subresource writes, a foreground deletion that ends with the GC's metadata-only patch", async () => {
  const file = join(RECORDED_AUDIT_DIR, "scenario-recorder.jsonl");
  const raw = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Ev);
  const webWrites = raw.filter(
    (e) => e.stage === "ResponseComplete" && e.objectRef?.resource === "deployments" && e.objectRef.namespace === "rec" && e.objectRef.name === "web" &&
      WRITES.includes(e.verb) && e.responseStatus.code < 300 && (e.objectRef.subresource === undefined || e.objectRef.subresource === "status" || (e.objectRef.subresource === "scale" && e.verb !== "get")),
  );
  const r = await runCli(["audit", "ingest", "--db", db("recorded"), file]);
  assert.equal(r.code, 0, r.stderr);
  const h = await history("recorded", ["deployments", "web", "-n", "rec"]);
  assert.deepEqual(h.revisions.map((x: Ev) => [x.audit_id, x.verb, x.subresource]), webWrites.map((e) => [e.auditID, e.verb, e.objectRef.subresource ?? null]));

  // Scale writes: spec.replicas from the previous revision's object to the Scale's.
  const scales = webWrites.filter((e) => e.objectRef.subresource === "scale");
  assert.deepEqual(scales.map((e) => e.verb), ["update", "patch"]);
  for (const e of scales) {
    const i = webWrites.indexOf(e);
    const before = webWrites[i - 1].responseObject.spec.replicas; // a Deployment or a Scale: both carry spec.replicas
    const rev = h.revisions[i];
    assert.equal(rev.body_source, "scale");
    assert.deepEqual(rev.changes, [{ path: "spec.replicas", op: "changed", old: before, new: e.responseObject.spec.replicas }]);
    assert.equal(rev.resource_version, e.responseObject.metadata.resourceVersion);
  }
  // The write after the scale patch diffs against the scaled object: its replicas did not change again.
  const afterScale = h.revisions[webWrites.indexOf(scales[1]) + 1];
  assert.equal(changed(afterScale, "spec.replicas"), undefined);

  // Deletion: requested by the delete, gone at the GC's patch, one lifetime throughout.
  const del = webWrites.find((e) => e.verb === "delete");
  assert.deepEqual(del.responseObject.metadata.finalizers, ["foregroundDeletion"]);
  const last = webWrites.at(-1);
  assert.equal(last.responseObject.kind, "PartialObjectMetadata");
  assert.equal(last.responseObject.metadata.finalizers, undefined);
  assert.equal(h.lifetimes.length, 1);
  assert.equal(h.lifetimes[0].deletion_requested_at, del.stageTimestamp);
  assert.equal(h.lifetimes[0].deletion_requested_by, del.user.username);
  assert.equal(h.lifetimes[0].deleted_at, last.stageTimestamp);
  assert.equal(h.lifetimes[0].deleted_by, del.user.username);
  const delRev = h.revisions[webWrites.indexOf(del)];
  assert.equal(delRev.note, "deletion requested: waits for finalizers foregroundDeletion");
  assert.deepEqual(changed(delRev, "metadata.deletionTimestamp"), { path: "metadata.deletionTimestamp", op: "added", new: del.responseObject.metadata.deletionTimestamp });
  // The GC's metadata-only patch removes the finalizer and keeps the spec (no spec change).
  const gcRev = h.revisions.at(-1);
  assert.match(gcRev.note, /PartialObjectMetadata.*object deleted/);
  assert.deepEqual(changed(gcRev, "metadata.finalizers"), { path: "metadata.finalizers", op: "removed", old: ["foregroundDeletion"] });
  assert.equal(gcRev.changes.filter((c: Ev) => c.path.startsWith("spec")).length, 0);

  const table = await runCli(["audit", "history", "deployments", "web", "-n", "rec", "--db", db("recorded")]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`deleted at ${last.stageTimestamp} by admin \\(deletion requested at ${del.stageTimestamp} by admin\\)`));
  assert.match(table.stdout, /~ spec\.replicas: 2 → 3/);
});

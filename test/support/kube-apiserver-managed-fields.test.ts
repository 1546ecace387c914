// metadata.managedFields and server-side apply (kube-apiserver/managed-fields.ts) against what a
// real kube-apiserver v1.25 answered (../shared/kube/recorded-v1.25, beside the repository; a
// missing folder fails every test naming it). Each write is reproduced from the recording alone:
// the live object is the recorded state right before the write (a response body, list item or
// watch frame with the same uid), the new object the recorded response (minus what the server adds
// after tracking fields: admission's volumes/tolerations/priority/serviceAccount on pods, the
// strategy's namespace spec.finalizers), and the managedFields computed must equal the recorded
// ones entry by entry, in order, FieldsV1 keys in order, `time` aside.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import type { KubeObject } from "./kube-apiserver/store.js";
import { ApiError } from "./kube-apiserver/status.js";
import {
  FieldSet,
  defaultFieldManager,
  pathToString,
  serverSideApply,
  trackUpdate,
  type Gvk,
  type ManagedFieldsEntry,
  type ManagerContext,
} from "./kube-apiserver/managed-fields.js";
import { fieldSchemaLoadMs, shapeAt } from "./kube-apiserver/field-schema.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RECORDED_DIR = join(REPO_ROOT, "..", "shared", "kube", "recorded-v1.25");

interface Exchange {
  id: string;
  request: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: unknown };
  response: { status: number; body: unknown; events?: { type: string; object: KubeObject }[] };
}

let loaded: Exchange[] | undefined;
function exchanges(): Exchange[] {
  if (loaded) return loaded;
  const file = join(RECORDED_DIR, "exchanges.jsonl");
  if (!existsSync(file))
    throw new Error(
      `the real kube-apiserver v1.25 recording is missing: ${RECORDED_DIR} (../shared/kube/recorded-v1.25 beside the repository) must hold exchanges.jsonl`,
    );
  loaded = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Exchange);
  return loaded;
}

function exchange(id: string): Exchange {
  const x = exchanges().find((e) => e.id === id);
  if (!x) throw new Error(`no recorded exchange ${id} in ${RECORDED_DIR}/exchanges.jsonl`);
  return x;
}

function body(id: string): KubeObject {
  return structuredClone(exchange(id).response.body) as KubeObject;
}

function gvkOf(o: { apiVersion?: string; kind?: string }): Gvk {
  const av = o.apiVersion ?? "";
  const i = av.indexOf("/");
  return { group: i < 0 ? "" : av.slice(0, i), version: i < 0 ? av : av.slice(i + 1), kind: o.kind ?? "" };
}

const NOW = "2030-01-02T03:04:05Z";

/**
 * The context of a recorded write: manager from ?fieldManager or the recorder's User-Agent; time
 * the second the real server stamped on the writer's entry (entry order depends on it), else NOW.
 */
function ctxOf(x: Exchange, obj: KubeObject): ManagerContext {
  const subresource = /\/(status|scale|token)$/.exec(x.request.path)?.[1];
  const manager = x.request.query.fieldManager ?? defaultFieldManager("record-apiserver/1.0");
  const operation = x.request.headers["content-type"] === "application/apply-patch+yaml" ? "Apply" : "Update";
  const recorded = ((x.response.body as KubeObject | null)?.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
  const mine = recorded.find((e) => e.manager === manager && e.operation === operation && (e.subresource ?? "") === (subresource ?? ""));
  return { manager, operation, apiVersion: obj.apiVersion ?? "", subresource, time: mine?.time ?? NOW };
}

function withoutTime(entries: unknown): string {
  return JSON.stringify(((entries ?? []) as ManagedFieldsEntry[]).map(({ time: _t, ...rest }) => rest), null, 1);
}

function assertSameManagedFields(actual: KubeObject, recorded: KubeObject, id: string): void {
  assert.equal(withoutTime(actual.metadata.managedFields), withoutTime(recorded.metadata.managedFields), `managedFields of ${id}`);
  // With the recorded request time, even the times agree (kept on no-ops, refreshed on changes).
  assert.deepEqual(actual.metadata.managedFields, recorded.metadata.managedFields, `managedFields of ${id}, times included`);
}

interface State {
  index: number;
  obj: KubeObject;
}

/** Every recorded state of objects: response bodies, list items and watch frames, in file order. */
function recordedStates(): State[] {
  const out: State[] = [];
  exchanges().forEach((x, index) => {
    const b = x.response.body as { items?: KubeObject[]; metadata?: unknown } | null;
    if (b && typeof b === "object") {
      if (Array.isArray(b.items)) for (const it of b.items) out.push({ index, obj: it });
      else if (b.metadata) out.push({ index, obj: b as KubeObject });
    }
    for (const f of x.response.events ?? []) if (f.object?.metadata) out.push({ index, obj: f.object });
  });
  return out;
}

/**
 * The recorded state of the written object right before the write at `at` (its result `target`):
 * same uid and kind, the highest resourceVersion below the result's (or equal to it and recorded
 * earlier: a no-op write).
 */
function latestBefore(states: State[], at: number, target: KubeObject): KubeObject | undefined {
  const rv = Number(target.metadata.resourceVersion);
  let best: { rv: number; obj: KubeObject } | undefined;
  for (const s of states) {
    if (s.obj.metadata?.uid !== target.metadata.uid || s.index === at) continue;
    if (s.obj.kind !== undefined && s.obj.kind !== target.kind) continue;
    if (!s.obj.metadata.managedFields) continue;
    const r = Number(s.obj.metadata.resourceVersion);
    if (r > rv || (r === rv && s.index > at)) continue;
    if (!best || r > best.rv) best = { rv: r, obj: s.obj };
  }
  if (!best) return undefined;
  const obj = structuredClone(best.obj);
  obj.apiVersion ??= target.apiVersion;
  obj.kind ??= target.kind;
  return obj;
}

function stateBefore(id: string): KubeObject {
  const target = body(id);
  const live = latestBefore(
    recordedStates(),
    exchanges().findIndex((e) => e.id === id),
    target,
  );
  if (!live) throw new Error(`no recorded state of ${target.kind} ${target.metadata.name} before ${id}`);
  return live;
}

/** Pods as the field manager saw them: before admission (ServiceAccount, Priority, tolerations) and the strategy. */
function podBeforeAdmission(p: KubeObject): KubeObject {
  const spec = p.spec as Record<string, unknown> & { containers?: Record<string, unknown>[] };
  for (const f of ["volumes", "tolerations", "priority", "preemptionPolicy", "serviceAccountName", "serviceAccount"]) delete spec[f];
  for (const c of spec.containers ?? []) delete c.volumeMounts;
  if (p.metadata.annotations) {
    delete p.metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"];
    if (Object.keys(p.metadata.annotations).length === 0) delete p.metadata.annotations;
  }
  return p;
}

/** The object the real server tracked, from a write's result (see the file header). */
function beforeAdmission(result: KubeObject, create: boolean): KubeObject {
  const b = structuredClone(result);
  delete b.metadata.managedFields;
  if (b.kind === "Pod" && create) return podBeforeAdmission(b);
  if (b.kind === "Namespace" && create) delete b.spec; // spec.finalizers: PrepareForCreate
  return b;
}

function trackedObject(x: Exchange): KubeObject {
  // TokenRequest: audiences and status are filled in by the REST storage after tracking.
  if (x.request.path.endsWith("/token")) return structuredClone(x.request.body) as KubeObject;
  return beforeAdmission(x.response.body as KubeObject, x.request.method === "POST");
}

function reproduce(id: string): KubeObject {
  const x = exchange(id);
  const next = trackedObject(x);
  const live = x.request.method === "POST" ? undefined : stateBefore(id);
  return trackUpdate(gvkOf(next), live, next, ctxOf(x, next));
}

function catchApiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail("expected an ApiError");
}

function applyBody(id: string): KubeObject {
  const b = exchange(id).request.body;
  return (typeof b === "string" ? parseYaml(b) : structuredClone(b)) as KubeObject;
}

function applyRecorded(id: string, live: KubeObject | undefined): KubeObject {
  const x = exchange(id);
  const applied = applyBody(id);
  return serverSideApply(gvkOf(applied), live, applied, { ...ctxOf(x, applied), force: x.request.query.force === "true" });
}

// Creates: the new object is the recorded response (pods: before admission, namespaces: before the strategy).
const CREATES = [
  "namespaces/create",
  "namespaces/create-b",
  "pods/create-before-default-serviceaccount",
  "watchcache/podtemplates-create-first",
  "deployments/create",
  "crud/configmap-create",
  "crud/configmap-create-generatename",
  "crud/configmap-create-dryrun",
  "validation/fieldvalidation-strict-unknown",
  "validation/fieldvalidation-strict-duplicate",
  "validation/fieldvalidation-warn-unknown",
  "validation/fieldvalidation-ignore-unknown",
  "validation/fieldvalidation-default-unknown",
  "secrets/create",
  "patch/configmap-setup",
  "pods/create-minimal",
  "pods/create-minimal-untagged-image",
  "pods/create-bound",
  "pods/create-for-deletecollection",
  "podsecurity/create-warn-restricted",
  "lists/setup-create-1",
  "lists/setup-create-2",
  "lists/setup-create-3",
  "lists/setup-create-4",
  "lists/setup-create-5",
  "lists/setup-create-6",
  "watch/bookmarks-crud-m1-create",
  "watch/labelselector-m1-create-outside",
  "watch/labelselector-m8-create-inside",
  "watch/client-close-m1-create",
  "watch/fieldselector-m1-create-other",
  "watch/pods-m1-create",
  "leases/create",
  "events/create-core-v1",
  "events/create-events-k8s-io-v1",
  "events/create-core-v1-invalid-type",
  "tokenrequest/create",
  "tokenrequest/create-with-audience",
  "sa/selfsubjectaccessreview",
  "rbac/role-create",
  "rbac/rolebinding-create",
  "tokenreview/valid",
  "tokenreview/valid-wrong-audience",
  "tokenreview/invalid",
  "tokenreview/invalid-jwt-shape",
  "subjectaccessreview/allowed-serviceaccount",
  "subjectaccessreview/allowed-masters",
  "subjectaccessreview/denied-developer",
  "subjectaccessreview/denied-serviceaccount-delete",
  "subjectaccessreview/nonresource",
  "selfsubjectaccessreview/admin",
  "selfsubjectaccessreview/serviceaccount-after-binding",
  "rbac/developer-selfsubjectaccessreview",
  "format/yaml-create",
  "compaction/m1-create",
];

// Updates and non-apply patches: live = the recorded state before, new = the recorded response.
const UPDATES = [
  "crud/configmap-update",
  "crud/configmap-update-no-rv",
  "validation/fieldvalidation-strict-merge-patch",
  "patch/configmap-json-patch",
  "patch/configmap-merge-patch",
  "patch/configmap-strategic-merge-patch",
  "pods/status-merge-patch-running",
  "pods/status-strategic-patch-condition",
  "pods/status-patch-ignores-spec",
  "pods/patch-main-ignores-status",
  "patch/deployment-merge-patch",
  "patch/deployment-strategic-merge-patch",
  "deployments/rollout-restart",
  "watch/bookmarks-crud-m2-update",
  "watch/bookmarks-crud-m3-patch",
  "watch/bookmarks-crud-m4-noop-patch",
  "watch/labelselector-m2-enter",
  "watch/labelselector-m3-modify-inside",
  "watch/labelselector-m4-leave",
  "watch/labelselector-m5-modify-outside",
  "watch/labelselector-m6-reenter",
  "watch/labelselector-m9-delete-label-key",
  "watch/rv0-m1-patch",
  "watch/fieldselector-m2-patch-selected",
  "watch/legacy-m1-patch",
  "watch/partial-m1-patch",
  "watch/pods-m2-status-running",
  "leases/update",
  "compaction/m2-patch",
];

describe("managedFields as a real kube-apiserver v1.25 computes them (../shared/kube/recorded-v1.25)", () => {
  for (const id of CREATES)
    it(`create ${id}`, () => {
      assertSameManagedFields(reproduce(id), body(id), id);
    });

  for (const id of UPDATES)
    it(`update ${id}`, () => {
      assertSameManagedFields(reproduce(id), body(id), id);
    });

  it("an update that changes something refreshes the writer's time; a no-op keeps it (watch/bookmarks-crud-m3-patch, -m4-noop-patch)", () => {
    const at = (id: string): ManagedFieldsEntry[] => {
      const x = exchange(id);
      const next = trackedObject(x);
      return trackUpdate(gvkOf(next), stateBefore(id), next, { ...ctxOf(x, next), time: NOW }).metadata.managedFields as ManagedFieldsEntry[];
    };
    assert.equal(at("watch/bookmarks-crud-m3-patch")[0]!.time, NOW);
    assert.equal(at("watch/bookmarks-crud-m4-noop-patch")[0]!.time, (body("watch/bookmarks-crud-m3-patch").metadata.managedFields as ManagedFieldsEntry[])[0]!.time);
  });

  it("scale subresource: deployments/scale-put and deployments/scale-patch move spec.replicas to an entry without time, seen in patch/deployment-json-patch", () => {
    const gvk = { group: "apps", version: "v1", kind: "Deployment" };
    let live = body("deployments/get-after-controller");
    for (const [id, replicas] of [
      ["deployments/scale-put", 3],
      ["deployments/scale-patch", 2],
    ] as const) {
      assert.equal((body(id).spec as { replicas: number }).replicas, replicas);
      const next = structuredClone(live);
      (next.spec as { replicas: number }).replicas = replicas;
      live = trackUpdate(gvk, live, next, { ...ctxOf(exchange(id), next), apiVersion: "autoscaling/v1" });
    }
    const x = exchange("patch/deployment-json-patch");
    const after = body("patch/deployment-json-patch");
    const next = structuredClone(after);
    delete next.metadata.managedFields;
    const out = trackUpdate(gvk, live, next, ctxOf(x, next));
    assertSameManagedFields(out, after, "patch/deployment-json-patch");
    const entries = out.metadata.managedFields as ManagedFieldsEntry[];
    assert.equal(entries[0]!.subresource, "scale");
    assert.equal(entries[0]!.time, undefined, "v1.25 writes scale entries without time");
  });

  it("server-side apply of configmaps: patch/configmap-apply-create, -same-manager, -conflict, -force, -json-body, get-after-apply", () => {
    const created = applyRecorded("patch/configmap-apply-create", undefined);
    assertSameManagedFields(created, body("patch/configmap-apply-create"), "patch/configmap-apply-create");
    assert.deepEqual(created.data, body("patch/configmap-apply-create").data);

    const live1 = body("patch/configmap-apply-create");
    const same = applyRecorded("patch/configmap-apply-same-manager", live1);
    assertSameManagedFields(same, body("patch/configmap-apply-same-manager"), "patch/configmap-apply-same-manager");
    assert.deepEqual(same, live1, "re-applying the same configuration is a no-op");
    const sameLater = serverSideApply(gvkOf(live1), live1, applyBody("patch/configmap-apply-same-manager"), { ...ctxOf(exchange("patch/configmap-apply-same-manager"), live1), time: NOW, force: false });
    assert.deepEqual(sameLater, live1, "a no-op apply keeps the applier's time");

    const err = catchApiError(() => applyRecorded("patch/configmap-apply-conflict", live1));
    assert.deepEqual(err.status, exchange("patch/configmap-apply-conflict").response.body);

    const forced = applyRecorded("patch/configmap-apply-force", live1);
    assertSameManagedFields(forced, body("patch/configmap-apply-force"), "patch/configmap-apply-force");
    assert.deepEqual(forced.data, body("patch/configmap-apply-force").data);

    const jsonBody = applyRecorded("patch/configmap-apply-json-body", body("patch/configmap-apply-force"));
    assertSameManagedFields(jsonBody, body("patch/configmap-apply-json-body"), "patch/configmap-apply-json-body");
    assert.deepEqual(jsonBody.data, body("patch/configmap-apply-json-body").data);
    assertSameManagedFields(jsonBody, body("patch/configmap-get-after-apply"), "patch/configmap-get-after-apply");
  });

  it("server-side apply of a deployment: patch/deployment-apply-conflict (Update owner with subresource scale), patch/deployment-apply-force", () => {
    const live = body("patch/deployment-strategic-merge-patch");
    const err = catchApiError(() => applyRecorded("patch/deployment-apply-conflict", live));
    assert.deepEqual(err.status, exchange("patch/deployment-apply-conflict").response.body);
    const forced = applyRecorded("patch/deployment-apply-force", live);
    assertSameManagedFields(forced, body("patch/deployment-apply-force"), "patch/deployment-apply-force");
    assert.equal((forced.spec as { replicas: number }).replicas, 4);
  });

  it("apply with a field the schema lacks is the real 500 (patch/deployment-apply-dryrun-strict)", () => {
    const err = catchApiError(() => applyRecorded("patch/deployment-apply-dryrun-strict", body("patch/deployment-apply-force")));
    assert.deepEqual(err.status, exchange("patch/deployment-apply-dryrun-strict").response.body);
  });

  it("the default field manager is the User-Agent up to its first slash (every recorded Update entry says record-apiserver)", () => {
    assert.equal(defaultFieldManager("record-apiserver/1.0"), "record-apiserver");
    assert.equal(defaultFieldManager("kubectl/v1.25.0 (linux/amd64) kubernetes/abc"), "kubectl");
    assert.equal(defaultFieldManager(undefined), "");
    assert.equal(defaultFieldManager(`x\u0007y/1`), "xy");
    assert.equal(defaultFieldManager("a".repeat(200)).length, 128);
  });
});

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  objectRef?: { subresource?: string };
  responseStatus?: { code?: number };
  responseObject?: unknown;
}

/** The server's audit log of the recording window (RequestResponse level), completed requests only. */
function auditEvents(): AuditEvent[] {
  exchanges(); // fails naming the folder when the recording is missing
  const file = join(RECORDED_DIR, "audit", "scenario-recorder.jsonl");
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === "ResponseComplete");
}

describe("managedFields of the controllers' writes in the recording's audit log (audit/scenario-recorder.jsonl)", () => {
  it("reproduces every kube-scheduler and kube-controller-manager create/update/patch from the state before it", () => {
    const events = auditEvents();
    const states: State[] = [];
    events.forEach((e, index) => {
      const ro = e.responseObject as { kind?: string; apiVersion?: string; items?: KubeObject[]; metadata?: unknown } | undefined;
      if (!ro || typeof ro !== "object") return;
      if (Array.isArray(ro.items))
        for (const it of ro.items) states.push({ index, obj: { ...it, kind: it.kind ?? ro.kind?.replace(/List$/, ""), apiVersion: it.apiVersion ?? ro.apiVersion } });
      else if (ro.metadata) states.push({ index, obj: ro as KubeObject });
    });
    const seen: Record<string, number> = {};
    const mismatches: string[] = [];
    events.forEach((e, index) => {
      const agent = (e.userAgent ?? "").split("/")[0]!;
      if (agent !== "kube-scheduler" && agent !== "kube-controller-manager") return;
      if (!["create", "update", "patch"].includes(e.verb) || (e.responseStatus?.code ?? 500) >= 300) return;
      const result = e.responseObject as KubeObject | undefined;
      if (!result?.metadata?.managedFields) return;
      const create = e.verb === "create";
      const live = create ? undefined : latestBefore(states, index, result);
      const what = `${agent} ${e.verb} ${e.requestURI}`;
      if (!create && !live) return void mismatches.push(`${what}: no earlier state recorded`);
      const next = beforeAdmission(result, create);
      const subresource = e.objectRef?.subresource;
      const manager = defaultFieldManager(e.userAgent);
      const mine = (result.metadata.managedFields as ManagedFieldsEntry[]).find((m) => m.manager === manager && (m.subresource ?? "") === (subresource ?? ""));
      const out = trackUpdate(gvkOf(next), live, next, { manager, operation: "Update", apiVersion: result.apiVersion ?? "", subresource, time: mine?.time ?? NOW });
      const key = `${agent} ${e.verb} ${gvkOf(result).kind}${subresource ? `/${subresource}` : ""}`;
      seen[key] = (seen[key] ?? 0) + 1;
      if (JSON.stringify(out.metadata.managedFields) !== JSON.stringify(result.metadata.managedFields))
        mismatches.push(`${what}\n  got      ${JSON.stringify(out.metadata.managedFields)}\n  recorded ${JSON.stringify(result.metadata.managedFields)}`);
    });
    assert.deepEqual(mismatches, []);
    const total = Object.values(seen).reduce((a, b) => a + b, 0);
    assert.ok(total >= 120, `expected the ~124 controller writes of the recording, compared ${total}: ${JSON.stringify(seen)}`);
    for (const k of ["kube-scheduler patch Pod/status", "kube-controller-manager update Deployment/status", "kube-controller-manager create Pod", "kube-controller-manager update Namespace/finalize"])
      assert.ok((seen[k] ?? 0) > 0, `${k} compared`);
  });
});

describe("server-side apply semantics beyond the recording", () => {
  const CM = { group: "", version: "v1", kind: "ConfigMap" };
  const DEPLOY = { group: "apps", version: "v1", kind: "Deployment" };
  const ctx = (manager: string, force = false): ManagerContext & { force: boolean } => ({
    manager,
    operation: "Apply",
    apiVersion: "v1",
    time: NOW,
    force,
  });
  const cm = (data: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "n" },
    data,
    ...extra,
  });

  it("applying the value another manager owns shares ownership without conflict", () => {
    const a = serverSideApply(CM, undefined, cm({ k: "v" }), ctx("a"));
    const b = serverSideApply(CM, a, cm({ k: "v" }), ctx("b"));
    const entries = b.metadata.managedFields as ManagedFieldsEntry[];
    // The object did not change, so (as in v1.25) the new applier gets no time, which sorts it first.
    assert.deepEqual(
      entries.map((e) => [e.manager, e.time, e.fieldsV1]),
      [
        ["b", undefined, { "f:data": { "f:k": {} } }],
        ["a", NOW, { "f:data": { "f:k": {} } }],
      ],
    );
  });

  it("conflicts with several managers are listed per manager, sorted", () => {
    let o = serverSideApply(CM, undefined, cm({ x: "1", y: "1" }), ctx("zeta"));
    const upd = structuredClone(o);
    (upd.data as Record<string, string>).z = "1";
    o = trackUpdate(CM, o, upd, { manager: "alpha", operation: "Update", apiVersion: "v1", time: NOW });
    const err = catchApiError(() => serverSideApply(CM, o, cm({ x: "2", y: "2", z: "2" }), ctx("me")));
    assert.equal(
      err.status.message,
      'Apply failed with 3 conflicts: conflicts with "alpha" using v1:\n- .data.z\nconflicts with "zeta":\n- .data.x\n- .data.y',
    );
    assert.deepEqual(err.status.details?.causes, [
      { reason: "FieldManagerConflict", message: 'conflict with "alpha" using v1', field: ".data.z" },
      { reason: "FieldManagerConflict", message: 'conflict with "zeta"', field: ".data.x" },
      { reason: "FieldManagerConflict", message: 'conflict with "zeta"', field: ".data.y" },
    ]);
    const forced = serverSideApply(CM, o, cm({ x: "2", y: "2", z: "2" }), ctx("me", true));
    assert.deepEqual(
      (forced.metadata.managedFields as ManagedFieldsEntry[]).map((e) => e.manager),
      ["me"],
      "forced fields leave their former owners, whose entries become empty",
    );
  });

  it("fields an applier stops applying are removed unless another manager owns them", () => {
    let o = serverSideApply(CM, undefined, cm({ a: "1", b: "1", c: "1" }), ctx("app"));
    o = serverSideApply(CM, o, cm({ b: "1" }), ctx("other"));
    o = serverSideApply(CM, o, cm({ a: "1" }), ctx("app"));
    assert.deepEqual(o.data, { a: "1", b: "1" }, "c is pruned, b stays (other owns it)");
    const byManager = Object.fromEntries((o.metadata.managedFields as ManagedFieldsEntry[]).map((e) => [e.manager, e.fieldsV1]));
    assert.deepEqual(byManager, { app: { "f:data": { "f:a": {} } }, other: { "f:data": { "f:b": {} } } });
  });

  it("associative lists merge by key, keep live-only items, and key the field set by the merge key", () => {
    const dep = (containers: unknown[]): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: { template: { spec: { containers } } },
    });
    const c = { ...ctx("ci"), apiVersion: "apps/v1" };
    let o = serverSideApply(DEPLOY, undefined, dep([{ name: "a", image: "a:1" }]), c);
    const upd = structuredClone(o);
    (upd.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers.push({ name: "side", image: "s:1" });
    o = trackUpdate(DEPLOY, o, upd, { manager: "kubectl", operation: "Update", apiVersion: "apps/v1", time: NOW });
    o = serverSideApply(DEPLOY, o, dep([{ name: "a", image: "a:2", env: [{ name: "E", value: "1" }] }]), c);
    const containers = (o.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
    assert.deepEqual(
      containers.map((x) => `${x.name}=${x.image}`),
      ["a=a:2", "side=s:1"],
    );
    const ci = (o.metadata.managedFields as ManagedFieldsEntry[]).find((e) => e.manager === "ci")!;
    assert.deepEqual(ci.fieldsV1, {
      "f:spec": {
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"a"}': { ".": {}, "f:env": { 'k:{"name":"E"}': { ".": {}, "f:name": {}, "f:value": {} } }, "f:image": {}, "f:name": {} },
            },
          },
        },
      },
    });
  });

  it("an object without managedFields gets a before-first-apply owner on its first apply", () => {
    const live = cm({ old: "1" });
    const o = serverSideApply(CM, live, cm({ k: "v" }), ctx("a"));
    assert.deepEqual(
      (o.metadata.managedFields as ManagedFieldsEntry[]).map((e) => [e.manager, e.operation, e.fieldsV1]),
      [
        ["a", "Apply", { "f:data": { "f:k": {} } }],
        ["before-first-apply", "Update", { "f:data": { ".": {}, "f:old": {} } }],
      ],
    );
  });

  it("rejects an apply in another version, or carrying managedFields, with 400", () => {
    assert.equal(catchApiError(() => serverSideApply(DEPLOY, undefined, { apiVersion: "apps/v1beta1", kind: "Deployment", metadata: { name: "d" } }, ctx("a"))).code, 400);
    assert.equal(catchApiError(() => serverSideApply(CM, undefined, cm({}, { metadata: { name: "c", managedFields: [] } }), ctx("a"))).code, 400);
  });

  it("keeps at most 10 Update entries, merging the oldest into ancient-changes", () => {
    let o = cm({});
    for (let i = 0; i < 12; i++) {
      const next = structuredClone(o);
      (next.data as Record<string, string>)[`k${i}`] = "1";
      o = trackUpdate(CM, o, next, { manager: `m${String(i).padStart(2, "0")}`, operation: "Update", apiVersion: "v1", time: `2030-01-01T00:00:${String(i).padStart(2, "0")}Z` });
    }
    // capManagersManager: the oldest entry of a version becomes the bucket, the next oldest merge
    // into it (taking their time) until 10 Update entries are left.
    const entries = o.metadata.managedFields as ManagedFieldsEntry[];
    assert.equal(entries.length, 10);
    assert.deepEqual(
      entries.map((e) => e.manager),
      ["ancient-changes", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11"],
    );
    assert.deepEqual(entries[0]!.fieldsV1, { "f:data": { "f:k0": {}, "f:k1": {}, "f:k2": {} } });
    assert.equal(entries[0]!.time, "2030-01-01T00:00:02Z");
  });

  it("a request carrying managedFields: [] resets them", () => {
    const live = trackUpdate(CM, undefined, cm({ a: "1" }), { manager: "x", operation: "Update", apiVersion: "v1", time: NOW });
    const next = cm({ a: "1", b: "2" }, { metadata: { name: "c", namespace: "n", managedFields: [] } });
    const out = trackUpdate(CM, live, next, { manager: "y", operation: "Update", apiVersion: "v1", time: NOW });
    assert.deepEqual(
      (out.metadata.managedFields as ManagedFieldsEntry[]).map((e) => [e.manager, e.fieldsV1]),
      [["y", { "f:data": { "f:b": {} } }]],
    );
  });
});

describe("field schema (OpenAPI v2 of the recorded server)", () => {
  const POD = { group: "", version: "v1", kind: "Pod" };
  it("answers struct / map / list-map / set / atomic per path, loading the document once", () => {
    assert.deepEqual(shapeAt(POD, ["spec"]), { shape: "struct" });
    assert.deepEqual(shapeAt(POD, ["metadata", "labels"]), { shape: "map" });
    assert.deepEqual(shapeAt(POD, ["spec", "containers"]), { shape: "list-map", keys: ["name"] });
    assert.deepEqual(shapeAt(POD, ["spec", "containers", "*", "ports"]), { shape: "list-map", keys: ["containerPort", "protocol"] });
    assert.deepEqual(shapeAt(POD, ["status", "conditions"]), { shape: "list-map", keys: ["type"] });
    assert.deepEqual(shapeAt(POD, ["status", "containerStatuses"]), { shape: "atomic" });
    assert.deepEqual(shapeAt(POD, ["metadata", "finalizers"]), { shape: "set" });
    assert.deepEqual(shapeAt(POD, ["spec", "nodeSelector"]), { shape: "atomic" });
    assert.deepEqual(shapeAt({ group: "apps", version: "v1", kind: "Deployment" }, ["spec", "selector"]), { shape: "atomic" });
    assert.deepEqual(shapeAt(POD, ["spec", "restartPolicy"]), { shape: "atomic", scalar: true });
    assert.equal(shapeAt(POD, ["spec", "bogus"]), undefined);
    assert.ok(fieldSchemaLoadMs !== undefined && fieldSchemaLoadMs > 0);
    console.log(`field schema: OpenAPI v2 loaded in ${fieldSchemaLoadMs!.toFixed(1)} ms`);
  });

  it("unknown kinds: metadata typed, objects as structs, lists atomic; a structural schema when given", () => {
    const CR = { group: "example.com", version: "v1", kind: "Widget" };
    assert.deepEqual(shapeAt(CR, ["metadata", "labels"]), { shape: "map" });
    assert.deepEqual(shapeAt(CR, ["spec", "anything"]), { shape: "untyped" });
    const schema = {
      type: "object",
      properties: {
        spec: {
          type: "object",
          properties: {
            ports: { type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"], items: { type: "object", properties: { port: { type: "integer" } } } },
            tags: { type: "array", items: { type: "string" } },
          },
        },
      },
    };
    assert.deepEqual(shapeAt(CR, ["spec", "ports"], schema), { shape: "list-map", keys: ["port"] });
    assert.deepEqual(shapeAt(CR, ["spec", "tags"], schema), { shape: "atomic" });
    const o = trackUpdate(
      CR,
      undefined,
      { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { ports: [{ port: 80 }], tags: ["a"] } },
      { manager: "m", operation: "Update", apiVersion: "example.com/v1", time: NOW, schema },
    );
    assert.deepEqual((o.metadata.managedFields as ManagedFieldsEntry[])[0]!.fieldsV1, {
      "f:spec": { ".": {}, "f:ports": { ".": {}, "k:{\"port\":80}": { ".": {}, "f:port": {} } }, "f:tags": {} },
    });
  });

  it("field paths print like structured-merge-diff's", () => {
    const s = FieldSet.fromFieldsV1({ "f:spec": { "f:containers": { 'k:{"name":"web"}': { "f:image": {} } } }, "f:metadata": { "f:finalizers": { 'v:"x"': {} } } });
    assert.deepEqual(s.paths().map(pathToString), ['.metadata.finalizers[="x"]', '.spec.containers[name="web"].image']);
  });
});

import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { PRIV_POD, SECURITY, readEvents, type Ev } from "./helpers.js";

// Expected hits are derived here from the raw events with plain code, independently of the
// rule engine: one pass over the sample, each built-in rule written out by hand.
let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-detect-"));
  db = join(dir, "sec.duckdb");
  const r = await runCli(["audit", "ingest", "--db", db, SECURITY, PRIV_POD]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const oneEventPerRequest = (ev: Ev): boolean => ev.stage === "ResponseComplete" || ev.stage === "Panic" || (ev.stage === "ResponseStarted" && ev.responseStatus?.code === 401);
const writes = new Set(["create", "update", "patch"]);

function podSpec(ev: Ev): Ev {
  const o = ev.responseObject?.kind && ev.responseObject.kind !== "Status" ? ev.responseObject : ev.requestObject;
  if (!o?.spec) return undefined;
  if (o.kind === "Pod") return o.spec;
  if (o.kind === "CronJob") return o.spec.jobTemplate?.spec?.template?.spec;
  return o.spec.template?.spec;
}

function nonSystem(user: string): boolean {
  if (!user.startsWith("system:")) return true;
  if (user === "system:anonymous") return true;
  return user.startsWith("system:serviceaccount:") && !user.startsWith("system:serviceaccount:kube-system:");
}

/** The built-in rules, by hand, on a raw event. */
function expectedRules(ev: Ev): string[] {
  const ref = ev.objectRef ?? {};
  const out: string[] = [];
  const write = writes.has(ev.verb) && !ref.subresource;
  const spec = write ? podSpec(ev) : undefined;
  if (spec) {
    const all = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])];
    if (all.some((c: Ev) => c.securityContext?.privileged === true)) out.push("privileged-container");
    if ((spec.volumes ?? []).some((v: Ev) => v.hostPath)) out.push("host-path-volume");
    if (spec.hostNetwork === true || spec.hostPID === true || spec.hostIPC === true) out.push("host-namespaces");
  }
  if (ref.resource === "pods" && ["exec", "attach", "portforward"].includes(ref.subresource)) out.push("pod-exec-attach-portforward");
  if (ref.resource === "pods" && ref.subresource === "ephemeralcontainers" && writes.has(ev.verb)) out.push("ephemeral-container-added");
  const obj = ev.responseObject?.kind && ev.responseObject.kind !== "Status" ? ev.responseObject : ev.requestObject;
  if (write && /rolebindings$/.test(ref.resource ?? "") && obj?.roleRef?.kind === "ClusterRole" && obj?.roleRef?.name === "cluster-admin") out.push("cluster-admin-binding");
  if (write && /^(cluster)?roles$/.test(ref.resource ?? "") && (obj?.rules ?? []).some((r: Ev) => (r.verbs ?? []).includes("*") || (r.resources ?? []).includes("*"))) out.push("wildcard-role");
  if (ref.resource === "secrets" && !ref.apiGroup && ["get", "list", "watch"].includes(ev.verb) && nonSystem(ev.user?.username ?? "")) out.push("secret-read-by-non-system-user");
  if (ref.resource === "services" && write && obj?.spec?.type === "NodePort") out.push("nodeport-service");
  if (ref.resource === "pods" && write && ev.verb === "create" && ref.namespace === "kube-system" && nonSystem(ev.user?.username ?? "")) out.push("kube-system-pod-by-non-system-user");
  return out;
}

function expectedHits(files: string[]): Set<string> {
  const want = new Set<string>();
  for (const f of files) for (const { ev } of readEvents(f)) if (oneEventPerRequest(ev)) for (const r of expectedRules(ev)) want.add(`${r} ${ev.auditID}`);
  return want;
}

async function detectJson(args: string[]): Promise<Ev[]> {
  const r = await runCli(["audit", "detect", "--db", db, "-o", "json", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Ev[];
}

test("detect on the real v1.25 security scenario: exactly the hits derived from the raw events, and the known facts", async () => {
  const hits = await detectJson([]);
  assert.deepEqual(new Set(hits.map((h) => `${h.rule} ${h.audit_id}`)), expectedHits([SECURITY, PRIV_POD]));
  assert.equal(hits.length, new Set(hits.map((h) => `${h.rule} ${h.audit_id}`)).size, "one hit per (request, rule)");
  const facts = hits.map((h) => [h.rule, h.user, h.verb, h.resource, h.name, h.namespace, h.code].join(" ")).sort();
  assert.deepEqual(facts, [
    "cluster-admin-binding oscar create clusterrolebindings.rbac.authorization.k8s.io oops  201",
    "host-namespaces oscar create pods netdebug shop 201",
    "host-path-volume oscar create pods debug shop 201",
    "nodeport-service oscar create services cart-np shop 201",
    "pod-exec-attach-portforward dana create pods/exec debug shop 500",
    "privileged-container minikube-user create pods test-pod-1 foo 201",
    "privileged-container oscar create pods debug shop 201",
    "secret-read-by-non-system-user system:serviceaccount:shop:deployer get secrets registry-creds shop 200",
  ]);
  // Time order, the event's columns and the reason.
  assert.deepEqual(hits.map((h) => h.time), hits.map((h) => h.time).sort());
  const exec = hits.find((h) => h.rule === "pod-exec-attach-portforward")!;
  assert.equal(exec.severity, "high");
  assert.match(exec.reason, /exec, attach or port-forward/);
  assert.match(exec.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  const critical = await detectJson(["--severity", "critical"]);
  assert.deepEqual(critical.map((h) => h.rule).sort(), ["cluster-admin-binding", "privileged-container", "privileged-container"]);
  const shop = await detectJson(["-n", "shop", "--user", "oscar"]);
  assert.deepEqual(shop.map((h) => h.name).sort(), ["cart-np", "debug", "debug", "netdebug"]);
  const last = hits[hits.length - 1]!;
  const since = await detectJson(["--since", last.time]);
  assert.deepEqual(since.map((h) => h.audit_id), hits.filter((h) => h.time >= last.time).map((h) => h.audit_id));

  const table = await runCli(["audit", "detect", "--db", db]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TIME\s+RULE\s+SEVERITY\s+USER\s+VERB\s+RESOURCE\s+NAME\s+NAMESPACE\s+CODE\s+AUDIT_ID\s+REASON$/m);
  assert.match(table.stdout, /pod-exec-attach-portforward\s+high\s+dana\s+create\s+pods\/exec\s+debug\s+shop\s+500/);
});

test("detect: workload templates, CronJob jobTemplates, wildcard roles and a user rule file that adds, overrides and disables", async () => {
  // Derived fixtures: real events of the scenario, copied with their objects changed.
  const evs = readEvents(SECURITY).map((l) => l.ev);
  const role = evs.find((e) => e.stage === "ResponseComplete" && e.objectRef?.resource === "roles" && e.verb === "create")!;
  const deploy = evs.find((e) => e.stage === "ResponseComplete" && e.objectRef?.resource === "deployments" && e.verb === "create")!;
  const derived: Ev[] = [];
  const wild = structuredClone(role);
  wild.auditID = "00000000-0000-0000-0000-000000000001";
  wild.requestObject.rules[0].verbs = ["*"];
  wild.responseObject.rules[0].verbs = ["*"];
  derived.push(wild);
  const hostPid = structuredClone(deploy);
  hostPid.auditID = "00000000-0000-0000-0000-000000000002";
  hostPid.responseObject.spec.template.spec.hostPID = true;
  derived.push(hostPid);
  const cron = structuredClone(deploy);
  cron.auditID = "00000000-0000-0000-0000-000000000003";
  cron.objectRef = { ...cron.objectRef, resource: "cronjobs", apiGroup: "batch", name: "nightly" };
  const tmpl = deploy.responseObject.spec.template;
  tmpl.spec.initContainers = [{ name: "init", image: "busybox", securityContext: { privileged: true } }];
  cron.requestObject = { kind: "CronJob", apiVersion: "batch/v1", metadata: { name: "nightly" }, spec: { schedule: "@daily", jobTemplate: { spec: { template: tmpl } } } };
  cron.responseObject = structuredClone(cron.requestObject);
  delete tmpl.spec.initContainers;
  derived.push(cron);
  const file = join(dir, "derived.jsonl");
  writeFileSync(file, derived.map((e) => JSON.stringify(e)).join("\n") + "\n");
  const derivedDb = join(dir, "derived.duckdb");
  assert.equal((await runCli(["audit", "ingest", "--db", derivedDb, file])).code, 0);
  const r = await runCli(["audit", "detect", "--db", derivedDb, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const got = new Set((JSON.parse(r.stdout) as Ev[]).map((h) => `${h.rule} ${h.audit_id}`));
  assert.deepEqual(got, expectedHits([file]));
  assert.deepEqual(got, new Set([`wildcard-role ${wild.auditID}`, `host-namespaces ${hostPid.auditID}`, `privileged-container ${cron.auditID}`]));

  // A user file: a new rule over columns and the request object, one built-in silenced, one re-graded.
  const rules = join(dir, "rules.yaml");
  writeFileSync(
    rules,
    `rules:
  - name: secret-read-by-non-system-user
    enabled: false
  - name: nodeport-service
    severity: critical
  - name: deployment-image-1x
    severity: low
    description: a Deployment in shop set to a cart:1.x image
    when:
      - field: resource
        equals: deployments
      - field: verb
        in: [create, patch]
      - field: namespace
        equals: shop
      - path: object.spec.template.spec.containers[*].image
        matches: "^cart:1\\\\."
`,
  );
  const user = await detectJson(["--rules", rules]);
  const byRule = (rule: string): Ev[] => user.filter((h) => h.rule === rule);
  assert.equal(byRule("secret-read-by-non-system-user").length, 0);
  assert.equal(byRule("nodeport-service")[0]!.severity, "critical");
  // Independently: Deployment create/patch events in shop whose resulting object runs a cart:1.x image.
  const want = evs
    .filter((e) => oneEventPerRequest(e) && e.objectRef?.resource === "deployments" && !e.objectRef.subresource && ["create", "patch"].includes(e.verb) && e.objectRef.namespace === "shop")
    .filter((e) => (e.responseObject?.spec?.template?.spec?.containers ?? []).some((c: Ev) => /^cart:1\./.test(c.image)))
    .map((e) => `${e.user.username} ${e.verb} ${e.responseObject.spec.template.spec.containers[0].image}`);
  assert.deepEqual(byRule("deployment-image-1x").map((h) => h.audit_id).length, want.length);
  assert.ok(want.length >= 4, `dana create, eve patch, dana set image, oscar label: ${want.join(", ")}`);
  assert.equal(user.length - byRule("deployment-image-1x").length, (await detectJson([])).length - 1);

  const list = await runCli(["audit", "detect", "--rules", rules, "--list-rules", "-o", "json"]);
  const listed = JSON.parse(list.stdout) as Ev[];
  assert.equal(listed.length, 12);
  assert.deepEqual(listed.find((x) => x.name === "secret-read-by-non-system-user")?.enabled, false);
  assert.deepEqual(listed.find((x) => x.name === "deployment-image-1x")?.source, rules);
});

test("detect: a bad rule file is an error naming the file, the rule and the field (exit 2)", async () => {
  const cases: [string, RegExp][] = [
    ["rules:\n  - name: x\n    severity: high\n    description: d\n    when:\n      - field: verb\n        sortof: get\n", /rule "x": when\[0\]\.sortof: unknown operator/],
    ["rules:\n  - name: y\n    severity: urgent\n    description: d\n    when:\n      - field: verb\n        equals: get\n", /rule "y": severity: must be one of low, medium, high, critical/],
    ["rules:\n  - name: z\n    severity: low\n    description: d\n    when:\n      - field: colour\n        equals: red\n", /rule "z": when\[0\]\.field: unknown field "colour"/],
    ["rules:\n  - name: w\n    severity: low\n    description: d\n    when:\n      - path: spec.x\n        exists: true\n", /rule "w": when\[0\]\.path: path "spec.x" must start with one of object/],
    ["rules:\n  - name: v\n    enabled: false\n", /rule "v": when: required for a new rule/],
    ["rules: [\n", /: YAML: /],
  ];
  for (const [text, re] of cases) {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, text);
    const r = await runCli(["audit", "detect", "--db", db, "--rules", f]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(f), r.stderr);
    assert.match(r.stderr, re);
  }
});

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
}

function post(port: number, items: unknown[]): Promise<number> {
  const body = JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items });
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/", headers: { "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    })
      .on("error", reject)
      .end(body);
  });
}

test("audit serve counts detections live in watch_auditor_audit_detections_total{rule,severity}", async (t) => {
  const rules = join(dir, "serve-rules.yaml");
  writeFileSync(rules, "rules:\n  - name: nodeport-service\n    enabled: false\n");
  const child = spawnCli(["audit", "serve", "--db", join(dir, "serve.duckdb"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth=none", "--detect-rules", rules]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(
    () => {
      const line = child.output.stderr.split("\n").find((l) => l.includes("audit receiver listening"));
      return line ? (JSON.parse(line) as { webhookPort: number; httpPort: number }) : undefined;
    },
    { timeoutMs: 30_000, what: "listening log line" },
  );
  const evs = readEvents(SECURITY).map((l) => l.ev);
  for (let i = 0; i < evs.length; i += 40) assert.equal(await post(p.webhookPort, evs.slice(i, i + 40)), 200);
  const metrics = await get(p.httpPort, "/metrics");
  const series = new Map([...metrics.matchAll(/^watch_auditor_audit_detections_total\{rule="([^"]+)",severity="([^"]+)"\} (\S+)$/gm)].map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
  const want = new Map<string, number>();
  for (const h of expectedHits([SECURITY])) {
    const rule = h.split(" ")[0]!;
    if (rule === "nodeport-service") continue;
    const sev = { "privileged-container": "critical", "cluster-admin-binding": "critical", "secret-read-by-non-system-user": "medium" }[rule] ?? "high";
    want.set(`${rule} ${sev}`, (want.get(`${rule} ${sev}`) ?? 0) + 1);
  }
  assert.deepEqual(new Map([...series].filter(([, v]) => v > 0)), want);
  assert.equal(series.get("wildcard-role high"), 0, "enabled rules are exported at 0");
  assert.equal(series.has("nodeport-service medium"), false, "a disabled rule has no series");
  const stopped = await stopCli(child, "SIGTERM", 20_000);
  assert.equal(stopped.code, 0, stopped.stderr);

  const bad = await runCli(["audit", "serve", "--db", join(dir, "x.duckdb"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth=none", "--detect-rules", join(dir, "missing.yaml")]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /missing\.yaml: file: cannot read/);
});

// `audit serve`'s JSON API behind bearer tokens, through the real CLI process: TokenReview and
// SubjectAccessReview against the test API server (RBAC on, real ServiceAccount tokens, the RBAC
// of deploy/audit-webhook/rbac.yaml applied as is), and the static token file mode.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { startTestApiServer, type TestApiServer } from "../support/kube-apiserver/index.js";
import { call } from "../support/kube-apiserver/test-helpers.js";
import { SCENARIO, isRequestEvent, readEvents, type Ev } from "./helpers.js";

const NS = "watch-auditor";
const SA = "watch-auditor-audit-webhook";
const TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";
const SARS = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
const RBAC = "/apis/rbac.authorization.k8s.io/v1";
const admin = { token: "admin" };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-auth-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function req(port: number, method: string, path: string, token?: string, body?: string): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    httpRequest({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    })
      .on("error", reject)
      .end(body);
  });
}
const get = (port: number, path: string, token?: string): Promise<Resp> => req(port, "GET", path, token);

function ports(stderr: string): { webhookPort: number; httpPort: number } | undefined {
  for (const line of stderr.split("\n")) if (line.includes("audit receiver listening")) return JSON.parse(line) as { webhookPort: number; httpPort: number };
  return undefined;
}

function metric(text: string, name: string, labels: string): number | undefined {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

const scenario = (): Ev[] => readEvents(SCENARIO).map((e) => e.ev as Ev);
const eventList = (items: unknown[]): string => JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items });

/** Applies deploy/audit-webhook/{serviceaccount,rbac}.yaml to the test API server as they are. */
async function applyDeployRbac(api: TestApiServer): Promise<void> {
  const docs = ["serviceaccount.yaml", "rbac.yaml"].flatMap((f) =>
    YAML.parseAllDocuments(readFileSync(new URL(`../../deploy/audit-webhook/${f}`, import.meta.url), "utf8")).map((d) => d.toJSON() as { kind: string; metadata: { namespace?: string } }),
  );
  const paths: Record<string, (ns?: string) => string> = {
    ServiceAccount: (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`,
    ClusterRole: () => `${RBAC}/clusterroles`,
    ClusterRoleBinding: () => `${RBAC}/clusterrolebindings`,
    Role: (ns) => `${RBAC}/namespaces/${ns}/roles`,
  };
  assert.deepEqual(docs.map((d) => d.kind), ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role"]);
  for (const d of docs) {
    const r = await call(api.url, "POST", paths[d.kind]!(d.metadata.namespace), d, admin);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
}

async function saToken(api: TestApiServer, ns: string, name: string): Promise<string> {
  const r = await call(api.url, "POST", `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} }, admin);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.status.token as string;
}

test("audit serve --auth=kubernetes: 401/403/200 by TokenReview and SubjectAccessReview, cached, 503 when the API server fails", async (t) => {
  const api = await startTestApiServer({ authz: "rbac", tokens: { admin: { user: "admin", groups: ["system:masters"] } } });
  t.after(() => api.close());
  await applyDeployRbac(api);
  const kubeconfig = api.writeKubeconfig(dir, { token: await saToken(api, NS, SA), namespace: NS });
  assert.equal((await call(api.url, "POST", "/api/v1/namespaces/team/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader" } }, admin)).status, 201);
  const reader = await saToken(api, "team", "reader");

  const DENIED_TTL_MS = 1500;
  const child = spawnCli([
    "audit", "serve", "--db", join(dir, "k8s.duckdb"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
    "--kubeconfig", kubeconfig, "--auth-cache-ttl", "60s", "--auth-cache-denied-ttl", `${DENIED_TTL_MS}ms`,
  ]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(() => ports(child.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  const events = scenario();
  assert.equal((await req(p.webhookPort, "POST", "/", undefined, eventList(events))).status, 200);
  const reviews = (path: string): number => api.requests.filter((r) => r.method === "POST" && r.path === path).length;

  // No token, a malformed header, a garbage token: 401 with WWW-Authenticate, no data, no route hint.
  const anon = await get(p.httpPort, "/api/v1/top?by=user");
  assert.equal(anon.status, 401);
  assert.equal(anon.headers["www-authenticate"], 'Bearer realm="watch-auditor"');
  assert.deepEqual(JSON.parse(anon.body), { error: "Unauthorized" });
  assert.equal(reviews(TOKENREVIEWS), 0, "no token: the API server is not asked");
  assert.equal((await get(p.httpPort, "/api/v1/no-such-route")).status, 401, "unknown paths are not revealed as 404");
  const basic = await new Promise<number>((resolve, reject) =>
    httpRequest({ host: "127.0.0.1", port: p.httpPort, path: "/api/v1/top", headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end(),
  );
  assert.equal(basic, 401);
  const garbage = await get(p.httpPort, "/api/v1/top?by=user", "not-a-real-token");
  assert.equal(garbage.status, 401);
  assert.deepEqual(JSON.parse(garbage.body), { error: "Unauthorized" });
  assert.equal(reviews(TOKENREVIEWS), 1);
  assert.equal(reviews(SARS), 0, "an invalid token is never authorized");

  // A valid ServiceAccount token without RBAC: 403, no data.
  const forbidden = await get(p.httpPort, "/api/v1/top?by=user", reader);
  assert.equal(forbidden.status, 403);
  assert.deepEqual(JSON.parse(forbidden.body), { error: "Forbidden" });
  assert.equal(forbidden.headers["www-authenticate"], undefined);
  assert.equal(reviews(TOKENREVIEWS), 2);
  assert.equal(reviews(SARS), 1);
  const sar = api.requests.filter((r) => r.path === SARS).at(-1)!;
  assert.equal(sar.user, `system:serviceaccount:${NS}:${SA}`, "the receiver asks with its own ServiceAccount (deploy/ RBAC suffices)");
  assert.equal(sar.status, 201);
  const deniedAt = Date.now();

  // Grant get services/proxy on the receiver's Service (the Role deploy/ ships), then poll: the
  // denial is reused until its TTL ends, then the SubjectAccessReview is asked again and allows.
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "reader-reads-audit-api" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "watch-auditor-audit-api-reader" },
    subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "team" }],
  };
  assert.equal((await call(api.url, "POST", `${RBAC}/namespaces/${NS}/rolebindings`, binding, admin)).status, 201);
  let ok: Resp | undefined;
  let polls = 0;
  while (Date.now() - deniedAt < 15_000) {
    polls++;
    const r = await get(p.httpPort, "/api/v1/top?by=user&limit=100", reader);
    if (r.status === 200) {
      ok = r;
      break;
    }
    assert.equal(r.status, 403);
    await new Promise((res) => setTimeout(res, 100));
  }
  const allowedAfter = Date.now() - deniedAt;
  assert.ok(ok, "allowed once the denied entry expired");
  assert.ok(allowedAfter >= DENIED_TTL_MS, `the denial was cached for its TTL (allowed after ${allowedAfter} ms)`);
  assert.ok(polls >= 3, `several requests were answered from the denied cache (${polls} polls)`);
  assert.equal(reviews(SARS), 2, "one SubjectAccessReview for the denial, one after its TTL: none for the cached polls");
  assert.equal(reviews(TOKENREVIEWS), 2, "the authenticated token is cached: no second TokenReview");
  const rows = JSON.parse(ok.body) as { user: string | null; requests: number | string }[];
  assert.equal(rows.reduce((s, r) => s + Number(r.requests), 0), events.filter(isRequestEvent).length, "the query answers over the ingested events");
  assert.ok(rows.some((r) => r.user === "developer"));

  // Within the allowed TTL: more requests, no more reviews.
  for (let i = 0; i < 5; i++) assert.equal((await get(p.httpPort, "/api/v1/errors", reader)).status, 200);
  assert.equal(reviews(TOKENREVIEWS), 2);
  assert.equal(reviews(SARS), 2);

  // /metrics, /healthz, /readyz stay open; the auth metrics count every decision above.
  for (const path of ["/healthz", "/readyz"]) assert.equal((await get(p.httpPort, path)).status, 200, path);
  const m = await get(p.httpPort, "/metrics");
  assert.equal(m.status, 200);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="unauthenticated"'), 4);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="forbidden"'), polls);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="allowed"'), 6);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="error"'), 0);
  assert.equal(metric(m.body, "watch_auditor_http_auth_cache_total", 'review="tokenreview",result="miss"'), 2);
  assert.equal(metric(m.body, "watch_auditor_http_auth_cache_total", 'review="subjectaccessreview",result="miss"'), 2);
  assert.equal(metric(m.body, "watch_auditor_http_auth_cache_total", 'review="subjectaccessreview",result="hit"'), polls - 1 + 5);

  // The API server answers 500 to TokenReviews: 503 (not open, not 401), and the error is not cached.
  const fresh = await saToken(api, "team", "reader");
  api.faults.inject({ pathRegex: "tokenreviews", status: 500, count: 1 });
  const failed = await get(p.httpPort, "/api/v1/top", fresh);
  assert.equal(failed.status, 503);
  assert.deepEqual(Object.keys(JSON.parse(failed.body)), ["error"]);
  assert.equal((await get(p.httpPort, "/api/v1/top", fresh)).status, 200, "the error was not cached");

  // The API server unreachable: 503 for a token not in the cache; the cached one still works.
  await api.close();
  const down = await get(p.httpPort, "/api/v1/top", "another-token");
  assert.equal(down.status, 503);
  assert.equal((await get(p.httpPort, "/api/v1/top", reader)).status, 200, "cached within its TTL");
  const after = await get(p.httpPort, "/metrics");
  assert.equal(metric(after.body, "watch_auditor_http_auth_total", 'result="error"'), 2);
  assert.doesNotMatch(child.output.stderr, /not-a-real-token|another-token/, "tokens never reach the log");
  assert.ok(!child.output.stderr.includes(reader), "tokens never reach the log");
});

test("audit serve --auth-token-file: 0600 enforced, tokens from the file only, --auth-protect-metrics; --auth=none is loud; no config is no server", async (t) => {
  const file = join(dir, "tokens.csv");
  writeFileSync(file, '# token,user,uid,"groups"\ns3cr3t-alice,alice,uid-1,"ops,readers"\ns3cr3t-bob,bob,uid-2\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  const base = ["audit", "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"];
  const loose = await runCli([...base, "--db", join(dir, "tf0.duckdb"), "--auth-token-file", file]);
  assert.equal(loose.code, 2, loose.stderr);
  assert.match(loose.stderr, /--auth-token-file: .*tokens\.csv: mode 0644 lets group or others read it; chmod 0600/);
  assert.doesNotMatch(loose.stderr, /audit receiver listening/);

  chmodSync(file, 0o600);
  const child = spawnCli([...base, "--db", join(dir, "tf.duckdb"), "--auth-token-file", file, "--auth-protect-metrics"]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(() => ports(child.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  assert.equal((await req(p.webhookPort, "POST", "/", undefined, eventList(scenario().slice(0, 20)))).status, 200);
  assert.equal((await get(p.httpPort, "/api/v1/top")).status, 401);
  assert.equal((await get(p.httpPort, "/api/v1/top", "s3cr3t-alicE")).status, 401);
  assert.equal((await get(p.httpPort, "/api/v1/top", "alice")).status, 401, "a user name is not a token");
  for (const token of ["s3cr3t-alice", "s3cr3t-bob"]) {
    const r = await get(p.httpPort, "/api/v1/top?by=verb", token);
    assert.equal(r.status, 200, token);
    assert.ok((JSON.parse(r.body) as unknown[]).length > 0);
  }
  const m401 = await get(p.httpPort, "/metrics");
  assert.equal(m401.status, 401, "--auth-protect-metrics");
  assert.doesNotMatch(m401.body, /watch_auditor/);
  const m = await get(p.httpPort, "/metrics", "s3cr3t-bob");
  assert.equal(m.status, 200);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="unauthenticated"'), 4);
  assert.equal(metric(m.body, "watch_auditor_http_auth_total", 'result="allowed"'), 3);
  for (const path of ["/healthz", "/readyz"]) assert.equal((await get(p.httpPort, path)).status, 200, `${path} stays open`);

  // --auth=none answers anyone, and says so at warn level.
  const open = spawnCli([...base, "--db", join(dir, "none.duckdb"), "--auth=none"]);
  t.after(() => stopCli(open, "SIGKILL"));
  const q = await eventually(() => ports(open.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  assert.equal((await get(q.httpPort, "/api/v1/top")).status, 200);
  const warning = open.output.stderr.split("\n").find((l) => l.includes("--auth=none"));
  assert.ok(warning, "logged");
  assert.equal((JSON.parse(warning) as { level: string }).level, "warn");

  // Default mode without any Kubernetes configuration: refuses to start rather than serve openly.
  const none = await runCli([...base, "--db", join(dir, "noconf.duckdb")], { env: { KUBECONFIG: join(dir, "missing-kubeconfig"), HOME: dir } });
  assert.notEqual(none.code, 0, none.stderr);
  assert.doesNotMatch(none.stderr, /audit receiver listening/);
  // Flag mistakes are usage errors.
  const mixed = await runCli([...base, "--db", join(dir, "x.duckdb"), "--auth=none", "--auth-token-file", file]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--auth-token-file is only used with --auth=token-file/);
  const badAttr = await runCli([...base, "--db", join(dir, "x.duckdb"), "--auth-resource-attributes", "verb=get,colour=blue"]);
  assert.equal(badAttr.code, 2);
  assert.match(badAttr.stderr, /unknown key "colour"/);
});

// The test API server's health endpoints (kube-apiserver/health.ts) against what a real
// kube-apiserver v1.25 answered: every kube-apiserver file in
// ../shared/kube/recorded-v1.25/health/ byte for byte, the etcd check as a live probe of a REAL
// etcd (test/support/etcd.ts, frozen with SIGSTOP as in the recording), and the programmatic
// toggles for tests without an etcd.
//
// How a file name maps to the request (requestFor below; a file it cannot map fails the test):
//   <endpoint>.txt                      GET /<endpoint>                   (healthz.txt → /healthz)
//   <endpoint>-verbose.txt              GET /<endpoint>?verbose
//   <endpoint>-verbose-exclude-<c>.txt  GET /<endpoint>?verbose&exclude=<c>
//   <endpoint>-<check>.txt              GET /<endpoint>/<check>           (readyz-etcd.txt → /readyz/etcd,
//                                                                          readyz-no-such-check.txt → /readyz/no-such-check)
//   …-etcd-stopped.txt                  the same, with the real etcd frozen (etcd.pause(), SIGSTOP)
//   …-after-etcd-resumed.txt            the same, after etcd.resume()
//   …-anonymous.txt                     without a token (system:anonymous, RBAC)
//   …-badtoken.txt                      with an unknown bearer token (401)
//   everything else                     as the recorder's admin (group system:masters)
// Not requests of this server:
//   kube-controller-manager-*.txt, kube-scheduler-*.txt   other components' /healthz and their 404
//                                       /livez (they serve no /livez): skipped, see SKIPPED
//   etcd-health.txt                     etcd's own /health: compared with the real etcd fixture's
//   etcd-stopped.json                   the recorded timings: each frozen request took ~2.0 s
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { startEtcd, type EtcdServer } from "./etcd.js";
import { ETCD_HEALTHCHECK_TIMEOUT_MS, HEALTH_CHECKS, RECORDED_DIR, SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { recordedExchange } from "./kube-apiserver/recordings.js";

const HEALTH_DIR = `${RECORDED_DIR}health/`;
const ADMIN_TOKEN = "health-test-admin";
/** The recorder's fixed fake token (recorded README: `badtoken`). */
const BAD_TOKEN = "recorder-bad-token-not-valid";

/** Files of the other components, recorded beside kube-apiserver's: not this server's answers. */
const SKIPPED = /^(kube-controller-manager|kube-scheduler)-/;

type As = "admin" | "anonymous" | "badtoken";
type EtcdState = "running" | "frozen" | "resumed";
interface Capture {
  file: string;
  path: string;
  as: As;
  etcd: EtcdState;
  status: number;
  /** The body exactly as sent. */
  body: Buffer;
}

/** The health folder's file names; a missing ../shared/kube fails naming the folder. */
function healthFiles(): string[] {
  if (!existsSync(HEALTH_DIR))
    throw new Error(`recorded health answers missing: ${HEALTH_DIR} does not exist (the shared/kube folder beside the repository, ${SHARED_KUBE_DIR}, is required)`);
  return readdirSync(HEALTH_DIR).sort();
}

/** `HTTP <status>` on line 1, then the body as sent. */
function readCapture(file: string): { status: number; body: Buffer } {
  const buf = readFileSync(`${HEALTH_DIR}${file}`);
  const nl = buf.indexOf(0x0a);
  const m = /^HTTP (\d{3})$/.exec(buf.subarray(0, nl).toString("latin1"));
  if (nl < 0 || !m) throw new Error(`health/${file}: line 1 is not "HTTP <status>"`);
  return { status: Number(m[1]), body: buf.subarray(nl + 1) };
}

/** The request a kube-apiserver capture was answering (mapping in the header comment). */
function requestFor(file: string): Omit<Capture, "status" | "body"> {
  let rest = file.replace(/\.txt$/, "");
  const cut = (suffix: string): boolean => {
    if (!rest.endsWith(suffix)) return false;
    rest = rest.slice(0, -suffix.length);
    return true;
  };
  const etcd: EtcdState = cut("-etcd-stopped") ? "frozen" : cut("-after-etcd-resumed") ? "resumed" : "running";
  const as: As = cut("-anonymous") ? "anonymous" : cut("-badtoken") ? "badtoken" : "admin";
  const m = /^(healthz|livez|readyz)(?:-(.+))?$/.exec(rest);
  if (!m) throw new Error(`health/${file}: no request mapping for this file name (extend requestFor)`);
  const [, endpoint, tail] = m;
  let path = `/${endpoint}`;
  const verbose = tail === undefined ? undefined : /^verbose((?:-exclude-.+)*)$/.exec(tail);
  if (verbose) {
    const excludes = verbose[1]!.split("-exclude-").filter(Boolean);
    path += `?verbose${excludes.map((c) => `&exclude=${encodeURIComponent(c)}`).join("")}`;
  } else if (tail !== undefined) path += `/${tail}`;
  return { file, path, as, etcd };
}

interface Answer {
  status: number;
  body: Buffer;
  headers: Headers;
  ms: number;
}

async function ask(api: TestApiServer, path: string, as: As = "admin", method = "GET"): Promise<Answer> {
  const headers: Record<string, string> = { accept: "*/*", "user-agent": "record-apiserver/1.0" };
  if (as === "admin") headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  if (as === "badtoken") headers.authorization = `Bearer ${BAD_TOKEN}`;
  const t0 = performance.now();
  const r = await fetch(`${api.url}${path}`, { method, headers });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body, headers: r.headers, ms: performance.now() - t0 };
}

/** Byte for byte (latin1 keeps every byte as one character, so the diff stays readable). */
function assertSame(a: Answer, c: { file: string; path: string; status: number; body: Buffer }, how = ""): void {
  const what = `health/${c.file} (${c.path}${how})`;
  assert.equal(a.status, c.status, `${what}: status`);
  assert.equal(a.body.toString("latin1"), c.body.toString("latin1"), `${what}: body`);
  // What the real handlers send: JSON Status for the 401, text/plain otherwise (health.ts header).
  assert.equal(a.headers.get("content-type"), c.status === 401 ? "application/json" : "text/plain; charset=utf-8", `${what}: content-type`);
}

function startServer(etcd?: EtcdServer): Promise<TestApiServer> {
  return startTestApiServer({
    authz: "rbac",
    validation: "off",
    tokens: { [ADMIN_TOKEN]: { user: "admin", groups: ["system:masters"] } },
    ...(etcd && { etcd: { healthUrl: `${etcd.clientUrl}/health` } }),
  });
}

describe("health endpoints: the recorded v1.25 answers, etcd a real one", () => {
  let etcd: EtcdServer | undefined;
  let api: TestApiServer | undefined;
  const captures: Capture[] = [];

  before(async () => {
    for (const file of healthFiles()) {
      // Other components' answers (kube-controller-manager, kube-scheduler: /healthz, and 404 on
      // /livez, which they do not serve): not requests of this server.
      if (SKIPPED.test(file)) continue;
      // etcd's own /health and the timings of the frozen captures: checked in their own tests.
      if (file === "etcd-health.txt" || file === "etcd-stopped.json") continue;
      captures.push({ ...requestFor(file), ...readCapture(file) });
    }
    etcd = await startEtcd();
    api = await startServer(etcd);
  });

  after(async () => {
    await api?.close();
    await etcd?.close();
  });

  test("every file of the folder is mapped or skipped on purpose", () => {
    const files = healthFiles();
    const handled = new Set([...captures.map((c) => c.file), "etcd-health.txt", "etcd-stopped.json"]);
    assert.deepEqual(
      files.filter((f) => !handled.has(f) && !SKIPPED.test(f)),
      [],
      "unmapped files",
    );
    assert.deepEqual(files.filter((f) => SKIPPED.test(f)), [
      "kube-controller-manager-healthz-verbose.txt",
      "kube-controller-manager-healthz.txt",
      "kube-controller-manager-livez.txt",
      "kube-scheduler-healthz-verbose.txt",
      "kube-scheduler-healthz.txt",
      "kube-scheduler-livez.txt",
    ]);
    // The mapping, spelled out for the files whose names are not plain paths.
    const pathOf = (f: string): string => captures.find((c) => c.file === f)?.path ?? "(unmapped)";
    assert.equal(pathOf("readyz-verbose.txt"), "/readyz?verbose");
    assert.equal(pathOf("readyz-verbose-exclude-etcd.txt"), "/readyz?verbose&exclude=etcd");
    assert.equal(pathOf("readyz-etcd.txt"), "/readyz/etcd");
    assert.equal(pathOf("readyz-no-such-check.txt"), "/readyz/no-such-check");
    assert.equal(pathOf("readyz-etcd-etcd-stopped.txt"), "/readyz/etcd");
    assert.equal(pathOf("livez-ping.txt"), "/livez/ping");
    assert.deepEqual(
      captures.filter((c) => c.as !== "admin").map((c) => [c.file, c.as]),
      [["readyz-badtoken.txt", "badtoken"], ["readyz-verbose-anonymous.txt", "anonymous"]],
    );
    assert.deepEqual(
      captures.filter((c) => c.etcd !== "running").map((c) => [c.file, c.etcd]),
      [
        ["livez-verbose-etcd-stopped.txt", "frozen"],
        ["readyz-etcd-etcd-stopped.txt", "frozen"],
        ["readyz-verbose-after-etcd-resumed.txt", "resumed"],
        ["readyz-verbose-etcd-stopped.txt", "frozen"],
      ],
    );
  });

  test("the real etcd's /health is the recorded etcd-health.txt", async () => {
    const rec = readCapture("etcd-health.txt");
    const r = await fetch(`${etcd!.clientUrl}/health`);
    assert.equal(r.status, rec.status);
    assert.equal(Buffer.from(await r.arrayBuffer()).toString("latin1"), rec.body.toString("latin1"));
  });

  test("etcd running: every capture byte for byte", async () => {
    const running = captures.filter((c) => c.etcd === "running");
    assert.ok(running.length >= 14, `${running.length} captures`);
    for (const c of running) assertSame(await ask(api!, c.path, c.as), c);
  });

  test("etcd frozen (SIGSTOP): 500 after the 2 s timeout, byte for byte; ok again at once after SIGCONT", async () => {
    const frozen = captures.filter((c) => c.etcd === "frozen");
    assert.equal(frozen.length, 3);
    // The recorded requests took 2004–2009 ms: the etcd check's 2 s timeout.
    const timings = JSON.parse(readFileSync(`${HEALTH_DIR}etcd-stopped.json`, "utf8")) as { captures: Array<{ file: string; path: string; requestMs: number; answer: string }> };
    assert.deepEqual(timings.captures.map((t) => t.file).sort(), frozen.map((c) => c.file).sort());
    for (const t of timings.captures) {
      assert.ok(t.requestMs >= 1800 && t.requestMs < 4000, `recorded ${t.file}: ${t.requestMs} ms`);
      assert.equal(t.path, frozen.find((c) => c.file === t.file)!.path, `recorded path of ${t.file}`);
      assert.equal(t.answer, "HTTP 500");
    }
    assert.equal(ETCD_HEALTHCHECK_TIMEOUT_MS, 2000);

    await etcd!.pause();
    let answers: Answer[];
    try {
      // The three at once: each waits for its own probe, so together they take ~2 s.
      answers = await Promise.all(frozen.map((c) => ask(api!, c.path, c.as)));
    } finally {
      await etcd!.resume();
    }
    const resumedAt = performance.now();
    const ready = await ask(api!, "/readyz");
    const okAfterMs = performance.now() - resumedAt;
    frozen.forEach((c, i) => {
      assertSame(answers[i]!, c, " with etcd frozen");
      assert.ok(answers[i]!.ms >= 1800 && answers[i]!.ms < 8000, `${c.path} with etcd frozen took ${Math.round(answers[i]!.ms)} ms (the 2 s timeout)`);
    });
    assert.equal(ready.status, 200, `/readyz after resume: ${ready.body.toString()}`);
    assert.ok(okAfterMs < 3000, `/readyz ok ${Math.round(okAfterMs)} ms after resume()`);

    for (const c of captures.filter((x) => x.etcd === "resumed")) assertSame(await ask(api!, c.path, c.as), c, " after resume");
  });

  test("the recorded health exchanges (content-type, body) of exchanges.jsonl", async () => {
    for (const id of ["auth/anonymous-healthz", "auth/anonymous-readyz", "auth/anonymous-livez-verbose", "auth/badtoken-healthz"]) {
      const e = recordedExchange(id);
      const q = new URLSearchParams(e.request.query).toString().replace(/=(&|$)/g, "$1"); // ?verbose, not ?verbose=
      const as: As = id.includes("badtoken") ? "badtoken" : "anonymous";
      const a = await ask(api!, q ? `${e.request.path}?${q}` : e.request.path, as);
      assert.equal(a.status, e.response.status, id);
      assert.equal(a.headers.get("content-type"), e.response.headers["content-type"], `${id}: content-type`);
      const body = typeof e.response.body === "string" ? e.response.body : `${JSON.stringify(e.response.body)}\n`;
      assert.equal(a.body.toString("utf8"), body, `${id}: body`);
      for (const h of ["audit-id", "x-kubernetes-pf-flowschema-uid", "x-kubernetes-pf-prioritylevel-uid"])
        assert.equal(a.headers.has(h), h in e.response.headers, `${id}: header ${h}`);
    }
  });
});

describe("health endpoints: toggled checks, without an etcd", () => {
  let api: TestApiServer;
  const rec = (file: string) => ({ file, ...readCapture(file) });

  before(async () => {
    healthFiles();
    api = await startServer();
  });
  after(() => api.close());

  test("setCheck('etcd', false) answers as the frozen etcd did, at once; resetCheck restores", async () => {
    api.health.setCheck("etcd", false);
    try {
      assertSame(await ask(api, "/readyz?verbose"), { ...rec("readyz-verbose-etcd-stopped.txt"), path: "/readyz?verbose" });
      assertSame(await ask(api, "/livez?verbose"), { ...rec("livez-verbose-etcd-stopped.txt"), path: "/livez?verbose" });
      assertSame(await ask(api, "/readyz/etcd"), { ...rec("readyz-etcd-etcd-stopped.txt"), path: "/readyz/etcd" });
      // Failing, the plain endpoint is verbose too ("always be verbose on failure").
      assertSame(await ask(api, "/readyz"), { ...rec("readyz-verbose-etcd-stopped.txt"), path: "/readyz" });
      // Excluding the failing check makes the endpoint pass.
      const ex = await ask(api, "/readyz?exclude=etcd");
      assert.deepEqual([ex.status, ex.body.toString()], [200, "ok"]);
      assertSame(await ask(api, "/readyz?verbose&exclude=etcd"), { ...rec("readyz-verbose-exclude-etcd.txt"), path: "/readyz?verbose&exclude=etcd" });
    } finally {
      api.health.resetCheck("etcd");
    }
    assertSame(await ask(api, "/readyz?verbose"), { ...rec("readyz-verbose.txt"), path: "/readyz?verbose" });
  });

  test("a delayed failing check takes its delay; a custom error text shows on the single check", async () => {
    api.health.setCheck("etcd", "error getting data from etcd: etcdserver: no leader", { delayMs: 300 });
    try {
      const a = await ask(api, "/readyz/etcd");
      assert.ok(a.ms >= 290, `${a.ms} ms`);
      assert.deepEqual([a.status, a.body.toString()], [500, "internal server error: error getting data from etcd: etcdserver: no leader\n"]);
    } finally {
      api.health.resetCheck();
    }
  });

  test("informer-sync and shutdown fail readyz only (livez and healthz lack them)", async () => {
    for (const [check, error] of [
      ["informer-sync", "1 informers not started yet: [*v1.Namespace]"],
      ["shutdown", "process is shutting down"],
    ] as const) {
      api.health.setCheck(check, false);
      try {
        const r = await ask(api, "/readyz");
        assert.equal(r.status, 500);
        const lines = r.body.toString().split("\n");
        assert.deepEqual(lines.filter((l) => l.startsWith("[-]")), [`[-]${check} failed: reason withheld`]);
        assert.equal(lines.at(-2), "readyz check failed");
        assert.equal(lines.at(-1), "");
        assert.equal(lines.length - 2, HEALTH_CHECKS.readyz.length);
        assert.deepEqual([(await ask(api, "/livez")).status, (await ask(api, "/healthz")).status], [200, 200]);
        const single = await ask(api, `/readyz/${check}`);
        assert.deepEqual([single.status, single.body.toString()], [500, `internal server error: ${error}\n`]);
        assert.equal((await ask(api, `/livez/${check}`)).status, 404);
      } finally {
        api.health.resetCheck(check);
      }
    }
    assert.equal((await ask(api, "/readyz")).status, 200);
  });

  test("check names with slashes, exclusions that match nothing, headers, HEAD, other methods", async () => {
    const hook = await ask(api, "/readyz/poststarthook/rbac/bootstrap-roles");
    assert.deepEqual([hook.status, hook.body.toString()], [200, "ok"]);
    api.health.setCheck("poststarthook/rbac/bootstrap-roles", false);
    try {
      const f = await ask(api, "/healthz/poststarthook/rbac/bootstrap-roles");
      assert.deepEqual([f.status, f.body.toString()], [500, "internal server error: not finished\n"]);
    } finally {
      api.health.resetCheck();
    }

    const warn = await ask(api, "/livez?verbose&exclude=zz&exclude=etcd&exclude=a");
    assert.equal(warn.status, 200);
    assert.match(warn.body.toString(), /\[\+\]etcd excluded: ok\n/);
    assert.match(warn.body.toString(), /\nwarn: some health checks cannot be excluded: no matches for "a","zz"\nlivez check passed\n$/);
    const quiet = await ask(api, "/livez?exclude=nothing");
    assert.deepEqual([quiet.status, quiet.body.toString()], [200, "ok"]);

    // handleRootHealth and http.Error send nosniff; a passing single check is Go's sniffed text.
    assert.equal((await ask(api, "/readyz")).headers.get("x-content-type-options"), "nosniff");
    assert.equal((await ask(api, "/readyz/no-such-check")).headers.get("x-content-type-options"), "nosniff");
    assert.equal((await ask(api, "/readyz/ping")).headers.get("x-content-type-options"), null);
    // A trailing slash is no registered path.
    const slash = await ask(api, "/readyz/");
    assert.deepEqual([slash.status, slash.body.toString()], [404, "404 page not found\n"]);

    const head = await ask(api, "/readyz", "admin", "HEAD");
    assert.deepEqual([head.status, head.headers.get("content-length"), head.body.length], [200, "2", 0]);
    // The health handlers do not look at the method (authorization does: verb "post").
    const post = await ask(api, "/readyz", "admin", "POST");
    assert.deepEqual([post.status, post.body.toString()], [200, "ok"]);
  });

  test("authorization as recorded: anonymous reads the three paths only, a bad token is a 401", async () => {
    for (const p of ["/healthz", "/livez", "/readyz", "/readyz?verbose"]) assert.equal((await ask(api, p, "anonymous")).status, 200, p);
    // system:public-info-viewer names /healthz, /livez, /readyz exactly: not the single checks.
    const single = await ask(api, "/readyz/etcd", "anonymous");
    assert.equal(single.status, 403);
    assert.equal(JSON.parse(single.body.toString()).message, 'forbidden: User "system:anonymous" cannot get path "/readyz/etcd"');
    assertSame(await ask(api, "/livez", "badtoken"), { ...rec("readyz-badtoken.txt"), path: "/livez" });
  });

  test("setCheck refuses unknown checks and a failure ping never has", () => {
    assert.throws(() => api.health.setCheck("etcd-readiness", false), /no health check "etcd-readiness"/);
    assert.throws(() => api.health.setCheck("ping", false), /never fails/);
  });
});

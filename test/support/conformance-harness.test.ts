// The conformance harness must be able to fail: its bindings catch a resourceVersion that breaks
// order or stands for two values, its comparison names the exchange's first differing field, the
// allow-list refuses entries without a reason, and a missing recordings folder is an error naming
// it. Checked here on real recorded exchanges, some deliberately altered.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AllowList } from "./conformance/allowlist.js";
import { Bindings, decodeContinue, encodeContinue } from "./conformance/bindings.js";
import { describeDifference } from "./conformance/compare.js";
import { exchangeById, loadExchanges, type Exchange } from "./conformance/recording.js";
import { plainExchange } from "./conformance/replay.js";
import { compareExchange, credentials, startConformanceServer, type ConformanceServer } from "./conformance/suite.js";

const all = loadExchanges();

describe("conformance harness", () => {
  let s: ConformanceServer;
  before(async () => {
    s = await startConformanceServer();
  });
  after(() => s?.api.close());

  it("finds nothing to say about exchanges the test server answers as recorded", async () => {
    for (const id of ["discovery/version", "auth/badtoken-version", "discovery/unknown-path", "rbac/developer-metrics"]) {
      const x = exchangeById(all, id);
      const diffs = compareExchange(x, await plainExchange(s.api.url, x, new Bindings(), credentials), new Bindings());
      assert.deepEqual(diffs.map(describeDifference), [], id);
    }
  });

  it("names the first differing field when the recording says otherwise", async () => {
    const tamper = (id: string, f: (x: Exchange) => void): Exchange => {
      const x = structuredClone(exchangeById(all, id));
      f(x);
      return x;
    };
    const cases: [Exchange, string][] = [
      [tamper("discovery/version", (x) => ((x.response.body as { minor: string }).minor = "26")), "body.minor"],
      [tamper("auth/badtoken-version", (x) => (x.response.status = 403)), "status"],
      [tamper("rbac/developer-metrics", (x) => ((x.response.body as { message: string }).message += "!")), "body.message"],
      [tamper("discovery/unknown-path", (x) => (x.response.headers["content-type"] = "application/json")), "headers.content-type"],
      [tamper("auth/badtoken-version", (x) => (x.response.headers["x-kubernetes-pf-flowschema-uid"] = "595249be-7a35-4d86-b391-155db12c9116")), "headers.x-kubernetes-pf-flowschema-uid"],
    ];
    for (const [x, path] of cases) {
      const diffs = compareExchange(x, await plainExchange(s.api.url, x, new Bindings(), credentials), new Bindings());
      assert.equal(diffs[0]?.path, path, `${x.id}: ${diffs.map(describeDifference).join("; ")}`);
    }
  });

  it("binds resourceVersions one-to-one and in order, and lists' RVs for order and self-consistency only", () => {
    const b = new Bindings();
    assert.equal(b.rv.bind("3000", "100"), undefined);
    assert.equal(b.rv.bind("3005", "104"), undefined);
    assert.match(b.rv.bind("3000", "101") ?? "", /stood for 100 earlier/);
    assert.match(b.rv.bind("3001", "104") ?? "", /already stands for recorded 3005/);
    assert.match(b.rv.bind("3002", "99") ?? "", /resourceVersion order/);
    // Another writer's object: one-to-one, but its place among ours is not checked.
    assert.equal(b.rv.bind("3003", "90", false), undefined);
    // A list's RV may sit past the newest object on the recorded cluster (lease renewals), not here.
    assert.equal(b.rv.bindLoose("3010", "104"), undefined);
    assert.match(b.rv.bindLoose("3010", "105") ?? "", /list resourceVersion 3010 stood for 104/);
    assert.match(b.rv.bindLoose("2990", "104") ?? "", /order/);
    // Requests: bound values translate; a near unseen one is the newest shown; a far-future one keeps its distance.
    assert.equal(b.rv.toActual("3005"), "104");
    assert.equal(b.rv.toActual("3012"), "104");
    assert.equal(b.rv.toActual("1003010"), String(104 + 1_000_000));
    assert.equal(b.rv.toActual("1"), "1");
  });

  it("decodes continue tokens as the real server writes them, and binds generated names per random part", () => {
    const rec = exchangeById(all, "lists/paginate-all-p1");
    const token = (rec.response.body as { metadata: { continue: string } }).metadata.continue;
    assert.deepEqual(decodeContinue(token), { v: "meta.k8s.io/v1", rv: 3199, start: "cm-default-validation\u0000" });
    assert.equal(encodeContinue(decodeContinue(token)!), token);
    const b = new Bindings();
    assert.equal(b.bindRandomName("kube-api-access-dlvjn", "kube-api-access-x7k2p"), undefined);
    assert.equal(b.bindRandomName("web-589fb64758-dlvjn", "web-589fb64758-x7k2p"), undefined, "the same suffix again");
    assert.match(String(b.bindRandomName("gen-dlvjn", "gen-q4w5z")), /random name part dlvjn stood for x7k2p/);
    assert.equal(b.bindRandomName("cm-crud", "cm-other"), "no", "a name that is not generated is not bound");
  });

  it("refuses an allow-list entry without a reason, naming the file and entry", () => {
    const dir = mkdtempSync(join(tmpdir(), "allowlist-"));
    const file = join(dir, "allowlist.yaml");
    writeFileSync(file, "- id: discovery/api\n  paths: [body]\n  reason: ok, the address\n- id: x\n  reason: short\n");
    assert.throws(() => new AllowList(file), (err: Error) => err.message.includes(`${file}: entry 2 (x): reason must say why`));
    writeFileSync(file, "- id: table/*\n  paths: ['body.rows[*].cells']\n  reason: a reason long enough to say why\n");
    const list = new AllowList(file);
    assert.ok(list.excuse("table/pods", { path: "body.rows[3].cells[1]", recorded: 1, actual: 2 }));
    assert.equal(list.excuse("table/pods", { path: "body.rowsX", recorded: 1, actual: 2 }), undefined, "a path is matched field by field");
    assert.equal(list.excuse("lists/x", { path: "body.rows[3].cells", recorded: 1, actual: 2 }), undefined);
    assert.deepEqual(new AllowList(file).unused().map((e) => e.id), ["table/*"], "an entry that excused nothing is reported");
  });

  it("fails with a message naming the folder when ../shared/kube is missing, never skips", () => {
    const missing = join(tmpdir(), "no-such-shared-kube");
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", 'import("./test/support/conformance/recording.ts").then((m) => m.loadExchanges())'], {
      env: { ...process.env, WATCH_AUDITOR_SHARED_KUBE: missing },
      encoding: "utf8",
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`${join(missing, "recorded-v1.25").replace(/[/.-]/g, "\\$&")} does not exist`));
  });
});

// Conformance of the test API server to a real kube-apiserver v1.25: every exchange recorded in
// ../shared/kube/recorded-v1.25/exchanges.jsonl is replayed, in order, against the test server
// (same identities, real HTTP), and its answer compared after the normalization documented in
// test/support/conformance/README.md. What the test server does not imitate is listed, with the
// reason, in test/support/conformance/allowlist.yaml.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AllowList } from "./conformance/allowlist.js";
import { describeDifference, type Difference } from "./conformance/compare.js";
import { loadExchanges } from "./conformance/recording.js";
import { replayAll, type ReplayResult } from "./conformance/replay.js";
import { Bindings, compareExchange, credentials, scenarioHooks, startConformanceServer } from "./conformance/suite.js";
import type { TestApiServer } from "./kube-apiserver/index.js";

const exchanges = loadExchanges();
const allow = new AllowList();

interface Verdict {
  result: ReplayResult;
  failing: Difference[];
  excused: number;
}

describe("test API server conformance to the recorded kube-apiserver v1.25", () => {
  let api: TestApiServer;
  const verdicts = new Map<string, Verdict>();
  before(async () => {
    const server = await startConformanceServer();
    api = server.api;
    const b = new Bindings();
    await replayAll(api.url, exchanges, b, credentials, (result) => {
      const diffs = result.actual ? compareExchange(result.exchange, result.actual, b) : [];
      const failing = diffs.filter((d) => !allow.excuse(result.exchange.id, d));
      if (result.error && !allow.excuse(result.exchange.id, { path: "error", recorded: undefined, actual: result.error }))
        failing.unshift({ path: "error", recorded: undefined, actual: result.error, why: "the replay failed" });
      verdicts.set(result.exchange.id, { result, failing, excused: diffs.length - failing.length });
    }, scenarioHooks(server, exchanges, b));
  });
  after(() => api?.close());

  it("replays all 320 recorded exchanges", () => {
    assert.equal(exchanges.length, 320);
    assert.equal(verdicts.size, exchanges.length, "every exchange was replayed");
  });

  for (const x of exchanges) {
    it(`${x.id}: ${x.request.method} ${x.request.path} as ${x.as}`, () => {
      const v = verdicts.get(x.id);
      assert.ok(v, `exchange ${x.id} was not replayed`);
      if (v.failing.length > 0)
        assert.fail(`exchange ${x.id} answered differently: ${describeDifference(v.failing[0]!)}${v.failing.length > 1 ? ` (+${v.failing.length - 1} more differences)` : ""}`);
    });
  }

  it("has no allow-list entry that excuses nothing (the list only holds what is still true)", () => {
    assert.deepEqual(
      allow.unused().map((e) => e.id),
      [],
      "these allow-list entries no longer match a difference: remove them",
    );
  });
});

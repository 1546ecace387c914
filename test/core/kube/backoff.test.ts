import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../../../src/core/kube/index.js";

describe("backoffDelay", () => {
  it("doubles per attempt within [base/2, base] and stops at the cap", () => {
    const low = () => 0;
    const high = () => 0.999999;
    const opts = { initialMs: 100, maxMs: 1000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...opts, random: low })), [50, 100, 200, 400, 500, 500]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...opts, random: high })), [100, 200, 400, 800, 1000, 1000]);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, opts);
      assert.ok(d >= 200 && d <= 400, `jittered delay ${d} within [200, 400]`);
    }
  });
});

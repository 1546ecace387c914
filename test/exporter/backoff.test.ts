import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { backoffDelayMs, sleep } from "../../src/exporter/backoff.js";

test("full jitter: uniform in [0, min(cap, initial·2^attempt)]", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, initial, cap, r) => {
      const max = Math.max(initial, cap);
      const d = backoffDelayMs(attempt, initial, max, () => r);
      const ceiling = Math.min(max, initial * 2 ** attempt);
      assert.ok(d >= 0 && d <= ceiling, `${d} not in [0, ${ceiling}]`);
      assert.equal(d, Math.floor(r * ceiling));
    }),
  );
  // With the real random source, the spread covers the range (not a constant delay).
  const samples = Array.from({ length: 2000 }, () => backoffDelayMs(3, 100, 10_000));
  assert.ok(Math.min(...samples) < 100 && Math.max(...samples) > 700, "delays spread over [0, 800)");
});

test("sleep returns early when aborted", async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sleep(10_000, ac.signal);
  ac.abort();
  assert.equal(await p, false);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(await sleep(1, new AbortController().signal), true);
});

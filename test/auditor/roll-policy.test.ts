import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RollPolicy } from "../../src/auditor/roll-policy.js";
import type { CheckOutcome } from "../../src/auditor/cycle.js";

const base = { mode: "enforcing" as const, failureThreshold: 3, cooldownMs: 60_000, maxRollsPerHour: 3 };

test("rolls exactly at the Nth consecutive fail", () => {
  const p = new RollPolicy(base);
  assert.deepEqual(p.record("fail", 0), { roll: false });
  assert.deepEqual(p.record("fail", 1), { roll: false });
  assert.deepEqual(p.record("fail", 2), { roll: true });
  assert.equal(p.consecutiveFailures, 3);
});

test("a pass resets the counter; inconclusive leaves it alone", () => {
  const p = new RollPolicy(base);
  p.record("fail", 0);
  p.record("fail", 1);
  p.record("inconclusive", 2);
  assert.equal(p.consecutiveFailures, 2);
  assert.deepEqual(p.record("fail", 3), { roll: true });
  p.rolled(3);
  p.record("pass", 4);
  assert.equal(p.consecutiveFailures, 0);
  assert.deepEqual(p.record("fail", 5), { roll: false });
});

test("cooldown spaces rolls and the hourly cap bounds them", () => {
  const p = new RollPolicy({ ...base, failureThreshold: 1, cooldownMs: 10_000, maxRollsPerHour: 2 });
  assert.deepEqual(p.record("fail", 0), { roll: true });
  p.rolled(0);
  assert.deepEqual(p.record("fail", 5_000), { roll: false, skipped: "cooldown" });
  assert.deepEqual(p.record("fail", 10_000), { roll: true });
  p.rolled(10_000);
  assert.deepEqual(p.record("fail", 30_000), { roll: false, skipped: "hourly_cap" });
  // The window slides: an hour after the first roll there is room again.
  assert.deepEqual(p.record("fail", 3_600_001), { roll: true });
});

test("audit mode never rolls", () => {
  const p = new RollPolicy({ ...base, mode: "audit", failureThreshold: 1 });
  assert.deepEqual(p.record("fail", 0), { roll: false, skipped: "audit_mode" });
});

test("property: never rolls below threshold consecutive fails, within cooldown, or above the cap", () => {
  const outcome = fc.constantFrom<CheckOutcome>("pass", "fail", "inconclusive");
  fc.assert(
    fc.property(fc.array(fc.tuple(outcome, fc.integer({ min: 1, max: 120_000 })), { maxLength: 200 }), fc.integer({ min: 1, max: 5 }), (steps, threshold) => {
      const p = new RollPolicy({ ...base, failureThreshold: threshold, cooldownMs: 300_000, maxRollsPerHour: 3 });
      let t = 0;
      let run = 0;
      const rolls: number[] = [];
      for (const [o, dt] of steps) {
        t += dt;
        if (o === "pass") run = 0;
        if (o === "fail") run++;
        const d = p.record(o, t);
        assert.equal(p.consecutiveFailures, run);
        if (d.roll) {
          assert.ok(run >= threshold);
          assert.ok(rolls.length === 0 || t - rolls.at(-1)! >= 300_000);
          assert.ok(rolls.filter((r) => t - r < 3_600_000).length < 3);
          rolls.push(t);
          p.rolled(t);
        }
      }
    }),
  );
});

// The noise-hiding diff (default `audit history`) must give exactly what filtering the full diff
// gives: the same visible changes in the same order, and the hidden ones counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { diffObjects, diffObjectsHidingNoise, isNoise } from "../../src/audit/history/diff.js";

const scalar = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom("a", "b", "f:x", "x.y"), fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("v"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("name", "type", "k", "f:spec", "a.b"), tie("v"), { maxKeys: 3 })),
})).v;
const object = fc.record({
  metadata: fc.record(
    {
      name: fc.constantFrom("x", "y"),
      resourceVersion: fc.constantFrom("1", "2"),
      managedFields: fc.array(fc.record({ manager: fc.constantFrom("kubectl", "kcm"), time: fc.constantFrom("t1", "t2"), fieldsV1: value }), { maxLength: 3 }),
      labels: fc.dictionary(fc.constantFrom("app", "tier"), fc.constantFrom("web", "db"), { maxKeys: 2 }),
    },
    { requiredKeys: ["name"] },
  ),
  spec: value,
});

test("diffObjectsHidingNoise = diffObjects without noise paths, noise counted", () => {
  fc.assert(
    fc.property(object, object, (a, b) => {
      const all = diffObjects(a, b);
      const got = diffObjectsHidingNoise(a, b);
      assert.deepEqual(got.changes, all.filter((c) => !isNoise(c.path)));
      assert.equal(got.hidden, all.filter((c) => isNoise(c.path)).length);
    }),
    { numRuns: 2000 },
  );
});

test("paths: dotted keys, quoted keys, named and indexed items", () => {
  const a = { metadata: { managedFields: [{ time: "t1" }], resourceVersion: "1" }, spec: { "f:x": 1, containers: [{ name: "web", image: "a" }], args: ["a"] } };
  const b = { metadata: { managedFields: [{ time: "t2" }], resourceVersion: "2" }, spec: { "f:x": 2, containers: [{ name: "web", image: "b" }], args: ["a", "b"] } };
  assert.deepEqual(diffObjects(a, b).map((c) => c.path), ["metadata.managedFields[0].time", "metadata.resourceVersion", 'spec["f:x"]', "spec.containers[web].image", "spec.args[1]"]);
  assert.deepEqual(diffObjectsHidingNoise(a, b), {
    changes: [
      { path: 'spec["f:x"]', op: "changed", old: 1, new: 2 },
      { path: "spec.containers[web].image", op: "changed", old: "a", new: "b" },
      { path: "spec.args[1]", op: "added", new: "b" },
    ],
    hidden: 2,
  });
});

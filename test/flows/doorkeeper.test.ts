import { test } from "node:test";
import assert from "node:assert/strict";
import { Doorkeeper } from "../../src/flows/doorkeeper.js";

test("Doorkeeper: a key is seen on its second sighting, whatever its hash (high bit set or not); a table smaller than the stream forgets", () => {
  const d = new Doorkeeper(1 << 16);
  const keys = Array.from({ length: 2000 }, (_, i) => `bWdtdDo2MDI5MDAwMDAwMDo${i}xNjA3Mw==`);
  assert.deepEqual(keys.map((k) => d.seen(k)).filter(Boolean).length <= 70, true, "first sightings: unseen (barring slot collisions)");
  // Second sightings: seen, except keys sharing a slot (2000 keys in 65536 slots: ~30 pairs, both lost).
  assert.ok(keys.filter((k) => d.seen(k)).length >= 1850, "second sightings: seen");
  const small = new Doorkeeper(2);
  for (const k of keys) small.seen(k);
  assert.ok(keys.filter((k) => small.seen(k)).length < 10, "a 2-slot table remembers almost nothing of 2000 keys");
  assert.equal(d.seen(keys[0]!), false, "an admitted key left the table: two sightings again");
  d.clear();
  assert.equal(d.seen(keys[1]!), false);
});

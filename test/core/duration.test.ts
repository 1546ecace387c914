import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/core/duration.js";

test("parses Go durations", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("0s"), 0);
});

test("rejects malformed durations with the input quoted", () => {
  for (const bad of ["", "30", "1x", "-1s", "s", "1m30"]) {
    assert.throws(() => parseDuration(bad), new RegExp(`"${bad}"`));
  }
});

test("formats like Go", () => {
  assert.equal(formatDuration(30_000), "30s");
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(3_600_000), "1h0m0s");
});

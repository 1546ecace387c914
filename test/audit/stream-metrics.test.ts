import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { StreamMetrics, codeLabel, preciseMs, userClass } from "../../src/audit/stream-metrics.js";

test("user_class is a bounded classification of the requester", () => {
  const cases: [string | undefined, string[] | undefined, string][] = [
    ["system:node:node-1", ["system:nodes", "system:authenticated"], "node"],
    ["system:serviceaccount:kube-system:generic-garbage-collector", ["system:serviceaccounts"], "serviceaccount"],
    ["system:kube-scheduler", ["system:authenticated"], "system"],
    ["system:apiserver", ["system:masters"], "system"],
    ["alice@example.com", ["dev"], "user"],
    ["system:anonymous", ["system:unauthenticated"], "anonymous"],
    ["", undefined, "anonymous"],
    [undefined, undefined, "anonymous"],
  ];
  for (const [u, g, want] of cases) assert.equal(userClass(u, g), want, String(u));
});

test("resource labels stay bounded: odd values and anything past 500 distinct become other", async () => {
  const reg = new Registry();
  const m = new StreamMetrics(reg);
  const ev = (resource: unknown, i: number) => ({
    stage: "ResponseComplete",
    verb: "get",
    user: { username: "u" },
    objectRef: { resource },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: `2026-01-01T00:00:00.${String(i % 1000).padStart(6, "0")}Z`,
    stageTimestamp: "2026-01-01T00:00:01.000000Z",
  });
  for (let i = 0; i < 600; i++) m.observe(ev(`crd${i}s`, i));
  m.observe(ev("Pods With Spaces", 1));
  m.observe(ev({ not: "a string" }, 1));
  const text = await reg.metrics();
  const resources = new Set([...text.matchAll(/^watch_auditor_apiserver_requests_total\{[^}]*resource="([^"]*)"/gm)].map((x) => x[1]));
  assert.equal(resources.size, 501);
  assert.ok(resources.has("other"));
  assert.match(text, /^watch_auditor_apiserver_requests_total\{verb="get",resource="other",code="200",code_class="2xx",user_class="user"\} 102$/m);
});

test("only one event per request is counted; watch durations are not observed", async () => {
  const reg = new Registry();
  const m = new StreamMetrics(reg);
  const base = { verb: "watch", user: { username: "system:node:n1", groups: ["system:nodes"] }, objectRef: { resource: "pods" }, responseStatus: { code: 200 }, requestReceivedTimestamp: "2026-01-01T00:00:00Z", stageTimestamp: "2026-01-01T00:05:00Z" };
  m.observe({ ...base, stage: "RequestReceived" });
  m.observe({ ...base, stage: "ResponseStarted" });
  m.observe({ ...base, stage: "ResponseComplete" });
  m.observe({ ...base, verb: "list", stage: "ResponseStarted", responseStatus: { code: 401 }, user: { username: "" } });
  const text = await reg.metrics();
  assert.match(text, /^watch_auditor_apiserver_requests_total\{verb="watch",resource="pods",code="200",code_class="2xx",user_class="node"\} 1$/m);
  assert.match(text, /^watch_auditor_apiserver_requests_total\{verb="list",resource="pods",code="401",code_class="4xx",user_class="anonymous"\} 1$/m);
  assert.doesNotMatch(text, /request_duration_seconds_count\{resource="pods",verb="watch"\}/);
});

test("timestamps keep microseconds", () => {
  // Date.parse alone would give 6 ms here; a double holds epoch ms to ~0.25 µs.
  assert.ok(Math.abs(preciseMs("2026-11-23T16:12:04.654232Z") - preciseMs("2026-11-23T16:12:04.648552Z") - 5.68) < 1e-3);
  assert.equal(preciseMs("2017-09-11T19:55:05Z"), Date.parse("2017-09-11T19:55:05Z"));
});

test("code carries the exact status, bounded to 100-599 so 401 and 403 can be told apart", async () => {
  assert.equal(codeLabel(401), "401");
  assert.equal(codeLabel(599), "599");
  assert.equal(codeLabel(100), "100");
  for (const bad of [99, 600, 0, -1, 401.5, 1e9, Number.NaN]) assert.equal(codeLabel(bad), "other", String(bad));
  assert.equal(codeLabel(undefined), "unknown");
  const reg = new Registry();
  const m = new StreamMetrics(reg);
  const ev = (code: unknown) => ({ stage: "ResponseComplete", verb: "get", user: { username: "alice" }, objectRef: { resource: "secrets" }, responseStatus: { code } });
  m.observe(ev(403));
  m.observe(ev(403));
  m.observe(ev(401));
  m.observe(ev(1234));
  m.observe(ev(42));
  m.observe(ev("403"));
  const text = await reg.metrics();
  const series = (code: string, cls: string) => new RegExp(`^watch_auditor_apiserver_requests_total\\{verb="get",resource="secrets",code="${code}",code_class="${cls}",user_class="user"\\} (\\d+)$`, "m");
  assert.equal(series("403", "4xx").exec(text)?.[1], "2");
  assert.equal(series("401", "4xx").exec(text)?.[1], "1");
  // Out-of-range codes share one series per class instead of one each.
  assert.equal(series("other", "other").exec(text)?.[1], "2");
  assert.equal(series("unknown", "unknown").exec(text)?.[1], "1");
});

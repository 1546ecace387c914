import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { parseTetragonEvent, TetragonLineParser } from "../../src/flows/tetragon.js";
import { InvalidEventError } from "../../src/flows/events.js";
import { SAMPLES_DIR } from "./samples.js";

// The line parser must give exactly what the reference gives: JSON.parse, then parseTetragonEvent.
type Outcome = { ok: unknown } | { err: string };

function reference(line: string): Outcome {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { err: "json" };
  }
  try {
    return { ok: parseTetragonEvent(obj) };
  } catch (err) {
    if (err instanceof InvalidEventError) return { err: `${err.reason}: ${err.message}` };
    throw err;
  }
}

function viaParser(p: TetragonLineParser, line: string): Outcome {
  try {
    return { ok: p.parse(line) };
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    return { err: err.reason === "json" ? "json" : `${err.reason}: ${err.message}` };
  }
}

const kovenant = readFileSync(`${SAMPLES_DIR}/kovenant_example_tetragon_log.jsonl`, "utf8").split("\n").filter((l) => l !== "");

test("real (kovenant) lines: the remembered head gives the reference event, and is used", () => {
  const p = new TetragonLineParser();
  for (let round = 0; round < 3; round++) for (const line of kovenant) assert.deepEqual(viaParser(p, line), reference(line));
  // Two sightings before a head is remembered; the four lines after that skip the head.
  assert.equal(p.headHits, 4);
});

test("a head is not trusted once its text differs: another pod under the same exec_id is read afresh", () => {
  const p = new TetragonLineParser();
  const line = kovenant[0]!;
  p.parse(line);
  p.parse(line);
  const moved = line.replace('"name":"keycloak-operator-5bc7649f79-nnpjh"', '"name":"other-pod"');
  const ev = p.parse(moved) as { pod?: { name: string } };
  assert.equal(ev.pod?.name, "other-pod");
  assert.deepEqual(viaParser(p, moved), reference(moved));
});

test("bounded: remembered heads are dropped past maxHeadChars, and results stay exact", () => {
  const p = new TetragonLineParser({ maxHeadChars: 4000 });
  for (let i = 0; i < 50; i++) {
    const line = kovenant[0]!.replaceAll("bWdtdDo2MDI5MDAwMDAwMDoxNjA3Mw==", `id-${i % 7}`);
    for (let k = 0; k < 3; k++) assert.deepEqual(viaParser(p, line), reference(line));
  }
  assert.ok(p.headHits > 0);
});

// Lines of Tetragon's shape with the variations real producers and broken pipes give: zero fields
// omitted, old and new argument forms, return values, extra members, escapes, duplicate keys.
// Each field is mostly typical, so that most lines reach the fast path and the odd value in them
// is what decides.
const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const oddStr = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("", 'a"b', "a\\b", "é", "\u0001", "x\ny", "\u2028"));
const port = fc.integer({ min: 1, max: 65535 });

function mostly<T>(typical: fc.Arbitrary<T>, ...odd: fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 16 * odd.length, arbitrary: typical }, ...odd.map((arbitrary) => ({ weight: 1, arbitrary })));
}

const sockArb = fc.record({
  family: mostly(fc.constantFrom("AF_INET", "AF_INET6"), fc.constantFrom("AF_UNIX", undefined, "af_inet")),
  type: mostly(fc.constantFrom("SOCK_STREAM", "1536"), fc.constant(undefined), oddStr),
  protocol: mostly(fc.constantFrom("IPPROTO_TCP", "1536"), fc.constantFrom("IPPROTO_UDP", "", undefined, 6)),
  mark: mostly(fc.constant(undefined), fc.constantFrom(0, 7, "7", -1)),
  saddr: mostly(fc.oneof(ipv4, ipv6), fc.constantFrom("", undefined, 7, "10.0.0.1\u0000")),
  daddr: mostly(fc.oneof(ipv4, ipv6), fc.constantFrom("", undefined, null, "a\\b")),
  sport: mostly(fc.oneof(port, fc.constant(undefined)), fc.constantFrom(0, "443", -1, 1.5, "08", 1e21)),
  dport: mostly(port, fc.constantFrom(undefined, 0, "8080", "08", -0, 2 ** 53 + 1)),
  cookie: mostly(fc.constant(undefined), fc.constantFrom("18446744073709551615", 5, 'a"b')),
  state: mostly(fc.constant(undefined), fc.constantFrom("TCP_ESTABLISHED", "x\ny")),
});

const sizeArgArb = mostly(
  fc.oneof(fc.integer({ min: 0, max: 70000 }).map((n) => ({ int_arg: n })), fc.integer({ min: 0, max: 1e6 }).map((n) => ({ size_arg: String(n) }))),
  fc.constant(undefined),
  fc.constant({}),
  fc.integer({ min: -5, max: -1 }).map((n) => ({ int_arg: n })),
  fc.constantFrom("007", "-3", "1e3", "4294967296", "", " 1").map((s) => ({ size_arg: s })),
  fc.constantFrom({ ulong_arg: 12 }, { string_arg: "x" }, { int_arg: 2 ** 60 }, { int_arg: 1, size_arg: "2" }, { int_arg: "5" }),
);

const tailArb = fc.record({
  fn: mostly(fc.constantFrom("tcp_connect", "tcp_sendmsg", "tcp_recvmsg", "tcp_close"), fc.constantFrom("tcp_v4_rcv", "tcp_bogus", "__x64_sys_write", "security_file_open", "constructor")),
  sock: mostly(sockArb, fc.constant(undefined)),
  sockKey: mostly(fc.constant("sock_arg"), fc.constant("skb_arg")),
  size: sizeArgArb,
  ret: mostly(fc.constant(undefined), fc.constantFrom({}, { int_arg: 1200 }, { int_arg: -104 }, { size_arg: "9" }, { int_arg: 0 })),
  extraKp: mostly(
    fc.constant({}),
    fc.dictionary(fc.oneof(ident, fc.constantFrom("process", "parent", "args", "function_name", "return", "policy_name")), fc.oneof(oddStr, fc.integer(), fc.boolean(), fc.constant(null), fc.constant([1]), fc.double()), { maxKeys: 2 }),
  ),
  node: mostly(ident, oddStr, fc.constant(undefined), fc.constant(5)),
  extraTop: mostly(fc.constant({}), fc.dictionary(fc.oneof(ident, fc.constantFrom("process_kprobe", "node_name")), fc.oneof(oddStr, fc.integer(), fc.constant({ a: 1 }), fc.constant(true)), { maxKeys: 2 })),
});

interface Tail {
  fn: unknown;
  sock: unknown;
  sockKey: unknown;
  size: unknown;
  ret: unknown;
  extraKp: unknown;
  node: unknown;
  extraTop: unknown;
}

const HEAD_PODS = [
  { namespace: "shop", name: "cart-5c7d8b9f6-x2z4w", workload: "cart", workload_kind: "Deployment", pod_labels: { app: "cart", "app.kubernetes.io/instance": "shop" } },
  { namespace: "db", name: "pg-0" },
];

/** A kprobe line: head (process, parent) chosen by `head`, the tail from `t`. */
function kprobeLine(head: number, t: Tail): string {
  const process: Record<string, unknown> = { exec_id: `ZXhlYy0${head % 3}`, pid: 1000 + head, binary: "/app", refcnt: 1 };
  if (head % 3 !== 2) process.pod = HEAD_PODS[head % 2];
  const args: unknown[] = [];
  if (t.sock) args.push({ [t.sockKey as string]: Object.fromEntries(Object.entries(t.sock).filter(([, v]) => v !== undefined)) });
  if (t.size !== undefined) args.push(t.size);
  // Built by hand so that extra members may repeat keys, as a broken producer could.
  const members = [`"process":${JSON.stringify(process)}`, `"parent":{"exec_id":"cGFyZW50","pid":1}`];
  // A head that holds more than process and parent must never be remembered as one.
  if (head === 5) members.push(`"return":{"int_arg":77}`);
  members.push(`"function_name":${JSON.stringify(t.fn)}`, `"args":${JSON.stringify(args)}`);
  if (t.ret !== undefined) members.push(`"return":${JSON.stringify(t.ret)}`);
  members.push(`"action":"KPROBE_ACTION_POST"`);
  for (const [k, v] of Object.entries(t.extraKp as object)) members.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const top = [`"process_kprobe":{${members.join(",")}}`];
  if (t.node !== undefined) top.push(`"node_name":${JSON.stringify(t.node)}`);
  top.push(`"time":"2026-01-01T00:00:00Z"`);
  for (const [k, v] of Object.entries(t.extraTop as object)) top.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${top.join(",")}}`;
}

const mutation = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), ch: fc.constantFrom("}", "]", ",", '"', ":", "x", "\\", " ") }) },
  // Invalid JSON a lax pattern would let through: a number with a leading zero.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("zero" as const), at: fc.nat() }) },
);

function mutate(line: string, m: { kind: "cut" | "set" | "zero"; at: number; ch?: string } | undefined): string {
  if (m === undefined) return line;
  // Mutate the tail (after the head) mostly: that is where the fast path reads.
  const from = Math.max(0, line.indexOf('"function_name"') - 5);
  if (m.kind === "zero") {
    const numbers = [...line.slice(from).matchAll(/:(\d)/g)];
    if (numbers.length === 0) return line;
    const at = from + numbers[m.at % numbers.length]!.index + 1;
    return line.slice(0, at) + "0" + line.slice(at);
  }
  const at = from + (m.at % Math.max(1, line.length - from));
  return m.kind === "cut" ? line.slice(0, at) : line.slice(0, at) + m.ch + line.slice(at + 1);
}

test("property: TetragonLineParser.parse equals JSON.parse + parseTetragonEvent on varied and broken lines", () => {
  fc.assert(
    fc.property(fc.array(fc.record({ head: fc.nat({ max: 5 }), tail: tailArb, mutation }), { minLength: 1, maxLength: 30 }), (items) => {
      const p = new TetragonLineParser();
      for (const { head, tail, mutation: m } of items) {
        const line = mutate(kprobeLine(head, tail), m);
        // Each line three times: the first sightings fill the head cache, the last one uses it.
        for (let k = 0; k < 3; k++) assert.deepEqual(viaParser(p, line), reference(line), line);
      }
    }),
    { numRuns: 1000 },
  );
});

test("the fast path is taken for Tetragon's common TCP lines (not only the general fallback)", () => {
  const p = new TetragonLineParser();
  const t: Tail = { fn: "tcp_sendmsg", sock: { family: "AF_INET", type: "SOCK_STREAM", protocol: "IPPROTO_TCP", mark: undefined, saddr: "10.0.0.1", daddr: "10.0.0.2", sport: 40000, dport: 443, cookie: undefined, state: undefined }, sockKey: "sock_arg", size: { int_arg: 10 }, ret: undefined, extraKp: {}, node: "n1", extraTop: {} };
  const line = kprobeLine(0, t);
  for (let i = 0; i < 5; i++) assert.deepEqual(viaParser(p, line), reference(line));
  assert.equal(p.headHits, 3);
  assert.equal(p.fastTails, 3);
});

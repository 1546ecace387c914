import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTetragonEvent } from "../../src/flows/tetragon.js";
import { InvalidEventError } from "../../src/flows/events.js";
import { sampleEvents, tetragonTcp } from "./samples.js";

test("old (2022) Tetragon tcp_recvmsg from the kovenant sample: sock_arg + size_arg string", () => {
  const [first, second] = sampleEvents("kovenant_example_tetragon_log.jsonl");
  const ev = parseTetragonEvent(first);
  assert.deepEqual(ev, {
    kind: "tcp",
    type: "recv",
    fn: "tcp_recvmsg",
    localIp: "192.168.252.21",
    localPort: 11929,
    remoteIp: "192.168.248.1",
    remotePort: 443,
    bytes: 43976,
    pod: { namespace: "kcos-sso", name: "keycloak-operator-5bc7649f79-nnpjh" },
    node: "mgmt",
  });
  assert.deepEqual(parseTetragonEvent(second), ev);
});

test("modern Tetragon non-network kprobe and exec/exit events are skipped with a bounded type", () => {
  const types = sampleEvents("tetragon_docs_examples_kprobe_exec_exit.jsonl").map((e) => {
    const r = parseTetragonEvent(e);
    assert.equal(r.kind, "not-tracked");
    return (r as { type: string }).type;
  });
  assert.deepEqual(types, ["other_kprobe", "process_exec", "process_exit"]);
  assert.deepEqual(parseTetragonEvent({ process_kprobe: { function_name: "constructor", args: [] } }), { kind: "not-tracked", type: "other_kprobe" }, "input names never hit Object.prototype");
  for (const e of sampleEvents("tetragon_testdata_events_process_exec.jsonl")) assert.equal(parseTetragonEvent(e).kind, "not-tracked");
});

test("modern tcp_sendmsg with int_arg, workload and pod_labels", () => {
  const line = tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.5", daddr: "10.0.1.9", sport: 40000, dport: 8080, size: 512, ns: "shop", pod: "web-7d9f8c6b5-abcde", workload: "web", node: "n1" });
  const ev = parseTetragonEvent(JSON.parse(line));
  assert.deepEqual(ev, {
    kind: "tcp",
    type: "send",
    fn: "tcp_sendmsg",
    localIp: "10.0.0.5",
    localPort: 40000,
    remoteIp: "10.0.1.9",
    remotePort: 8080,
    bytes: 512,
    pod: { namespace: "shop", name: "web-7d9f8c6b5-abcde", workload: "web", workloadKind: "Deployment", labels: { app: "web" } },
    node: "n1",
  });
});

test("omitted zero fields take their defaults; the return value wins over the requested size", () => {
  const noPort = parseTetragonEvent(JSON.parse(tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.5", daddr: "10.0.1.9", sport: 0, dport: 80 })));
  assert.equal(noPort.kind === "tcp" && noPort.localPort, 0);
  const zeroSize = parseTetragonEvent(JSON.parse(tetragonTcp({ fn: "tcp_sendmsg", saddr: "a", daddr: "b", sport: 1, dport: 2, size: 0 })));
  assert.equal(zeroSize.kind === "tcp" && zeroSize.bytes, 0);
  const ret = parseTetragonEvent(JSON.parse(tetragonTcp({ fn: "tcp_recvmsg", saddr: "a", daddr: "b", sport: 1, dport: 2, size: "65536", sizeKind: "size_arg", ret: 1200 })));
  assert.equal(ret.kind === "tcp" && ret.bytes, 1200);
  const err = parseTetragonEvent(JSON.parse(tetragonTcp({ fn: "tcp_recvmsg", saddr: "a", daddr: "b", sport: 1, dport: 2, size: 10, ret: -104 })));
  assert.equal(err.kind === "tcp" && err.bytes, 0);
  const big = parseTetragonEvent(JSON.parse(tetragonTcp({ fn: "tcp_sendmsg", saddr: "a", daddr: "b", sport: 1, dport: 2, size: "4294967296", sizeKind: "size_arg" })));
  assert.equal(big.kind === "tcp" && big.bytes, 4294967296);
});

test("tcp_v4_rcv skb_arg: the destination is the local side, len is the size", () => {
  const line = JSON.stringify({
    process_kprobe: { function_name: "tcp_v4_rcv", args: [{ skb_arg: { hash: "123", len: 1500, saddr: "1.2.3.4", daddr: "10.0.0.5", sport: 443, dport: 50000, proto: 6, family: "AF_INET" } }] },
    node_name: "n1",
  });
  const ev = parseTetragonEvent(JSON.parse(line));
  assert.deepEqual(ev, { kind: "tcp", type: "recv", fn: "tcp_v4_rcv", localIp: "10.0.0.5", localPort: 50000, remoteIp: "1.2.3.4", remotePort: 443, bytes: 1500, node: "n1" });
});

test("read/write syscalls become I/O events with the count argument", () => {
  const line = JSON.stringify({
    process_kprobe: {
      process: { pod: { namespace: "db", name: "pg-0", workload: "pg", workload_kind: "StatefulSet" } },
      function_name: "__x64_sys_write",
      args: [{ int_arg: 3 }, { size_arg: "8192" }],
    },
  });
  assert.deepEqual(parseTetragonEvent(JSON.parse(line)), { kind: "io", direction: "write", fn: "write", bytes: 8192, pod: { namespace: "db", name: "pg-0", workload: "pg", workloadKind: "StatefulSet" } });
  const read = JSON.stringify({ process_kprobe: { function_name: "sys_read", args: [{}, { int_arg: 100 }], return: { int_arg: 40 } } });
  assert.deepEqual(parseTetragonEvent(JSON.parse(read)), { kind: "io", direction: "read", fn: "read", bytes: 40 });
});

test("UDP and unix sockets are skipped, not counted as TCP", () => {
  const udp = JSON.parse(tetragonTcp({ fn: "tcp_sendmsg", saddr: "a", daddr: "b", sport: 1, dport: 2, size: 1 })) as { process_kprobe: { args: { sock_arg?: { protocol: string } }[] } };
  udp.process_kprobe.args[0]!.sock_arg!.protocol = "IPPROTO_UDP";
  assert.deepEqual(parseTetragonEvent(udp), { kind: "not-tracked", type: "non_tcp" });
  const unix = JSON.parse(tetragonTcp({ fn: "tcp_sendmsg", saddr: "a", daddr: "b", sport: 1, dport: 2 })) as { process_kprobe: { args: { sock_arg?: { family: string } }[] } };
  unix.process_kprobe.args[0]!.sock_arg!.family = "AF_UNIX";
  assert.deepEqual(parseTetragonEvent(unix), { kind: "not-tracked", type: "non_ip" });
});

test("malformed events name the reason and the field", () => {
  const bad: [unknown, string, RegExp][] = [
    [[1, 2], "shape", /not a JSON object/],
    [{ foo: 1 }, "shape", /no process_/],
    [{ process_kprobe: { args: [] } }, "field", /function_name/],
    [{ process_kprobe: { function_name: "tcp_connect", args: {} } }, "field", /args is not an array/],
    [{ process_kprobe: { function_name: "tcp_connect", args: [] } }, "field", /no sock_arg/],
    [{ process_kprobe: { function_name: "tcp_connect", args: [{ sock_arg: { saddr: "1.1.1.1" } }] } }, "field", /daddr/],
    [{ process_kprobe: { function_name: "tcp_sendmsg", args: [{ sock_arg: { daddr: "1.1.1.1", sport: "x" } }] } }, "field", /sport is not an integer/],
    [{ process_kprobe: { function_name: "tcp_sendmsg", args: [{ sock_arg: { daddr: "1.1.1.1" } }, { size_arg: "12a" }] } }, "field", /args\[1\]\.size_arg/],
    [{ process_kprobe: { function_name: "tcp_sendmsg", args: [{ sock_arg: { daddr: "1.1.1.1" } }], return: { int_arg: "x" } } }, "field", /return\.int_arg/],
  ];
  for (const [obj, reason, msg] of bad) {
    assert.throws(() => parseTetragonEvent(obj), (err: unknown) => err instanceof InvalidEventError && err.reason === reason && msg.test(err.message), JSON.stringify(obj));
  }
});

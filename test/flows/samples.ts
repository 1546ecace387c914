import { readFileSync } from "node:fs";
import { FLOW_SAMPLES } from "../support/samples.js";

export const SAMPLES_DIR = FLOW_SAMPLES;

/** The non-empty lines of a sample file, parsed. */
export function sampleEvents(name: string): unknown[] {
  return readFileSync(`${SAMPLES_DIR}/${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as unknown);
}

/** A modern (Tetragon ≥ 1.0) process_kprobe line for a TCP function, zero fields omitted as Tetragon does. */
export function tetragonTcp(o: {
  fn: string;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  size?: number | string;
  sizeKind?: "int_arg" | "size_arg";
  ns?: string;
  pod?: string;
  workload?: string;
  workloadKind?: string;
  node?: string;
  ret?: number;
}): string {
  const sock: Record<string, unknown> = { family: "AF_INET", type: "SOCK_STREAM", protocol: "IPPROTO_TCP", saddr: o.saddr, daddr: o.daddr };
  if (o.sport) sock.sport = o.sport;
  if (o.dport) sock.dport = o.dport;
  const args: unknown[] = [{ sock_arg: sock }];
  if (o.size !== undefined) args.push(o.size === 0 || o.size === "0" ? {} : { [o.sizeKind ?? "int_arg"]: o.size });
  const process: Record<string, unknown> = { exec_id: "x", pid: 42, binary: "/app" };
  if (o.pod) {
    process.pod = {
      namespace: o.ns ?? "default",
      name: o.pod,
      container: { id: "containerd://abc", name: "app" },
      ...(o.workload ? { workload: o.workload, workload_kind: o.workloadKind ?? "Deployment" } : {}),
      pod_labels: { app: o.workload ?? o.pod },
    };
  }
  const kp: Record<string, unknown> = { process, function_name: o.fn, args, action: "KPROBE_ACTION_POST", policy_name: "connect" };
  if (o.ret !== undefined) kp.return = o.ret === 0 ? {} : { int_arg: o.ret };
  return JSON.stringify({ process_kprobe: kp, node_name: o.node ?? "node-a", time: "2026-01-01T00:00:00Z" });
}

export function hubbleResponse(o: { srcIp: string; srcPort: number; dstIp: string; dstPort: number; code?: number; method?: string; latencyNs?: string; ns?: string; pod?: string; workload?: string; node?: string }): string {
  return JSON.stringify({
    flow: {
      time: "2026-01-01T00:00:00Z",
      verdict: "FORWARDED",
      IP: { source: o.srcIp, destination: o.dstIp, ipVersion: "IPv4" },
      l4: { TCP: { source_port: o.srcPort, destination_port: o.dstPort } },
      source: { ID: 1, identity: 2, ...(o.ns ? { namespace: o.ns } : {}), ...(o.pod ? { pod_name: o.pod } : {}), labels: ["k8s:app=x"], ...(o.workload ? { workloads: [{ name: o.workload, kind: "Deployment" }] } : {}) },
      destination: { identity: 3, labels: ["reserved:world"] },
      Type: "L7",
      node_name: o.node ?? "node-a",
      l7: { type: "RESPONSE", ...(o.latencyNs ? { latency_ns: o.latencyNs } : {}), http: { ...(o.code ? { code: o.code } : {}), method: o.method ?? "GET", url: "http://x/", protocol: "HTTP/1.1" } },
      traffic_direction: "INGRESS",
      is_reply: true,
    },
    node_name: o.node ?? "node-a",
  });
}

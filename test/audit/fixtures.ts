// Generator of real-shaped audit.k8s.io/v1 events (shape copied from a v1.24 kube-apiserver log,
// ~1.1 KB per event on average), shared by the tests and bench/audit-ingest.mjs.
import { createWriteStream } from "node:fs";
import { once } from "node:events";

export interface GenOptions {
  seed?: number;
  /** Start time in ms since epoch; events are spaced `stepMs` apart. */
  startMs?: number;
  stepMs?: number;
  /**
   * RequestResponse level: create/update/patch/get carry request/response objects (ConfigMaps of
   * ~1 KiB, every 20th a Secret). Off by default; the rest of each event is unchanged.
   */
  bodies?: boolean;
}

function bodyFor(i: number, ev: AuditEvent): Record<string, unknown> {
  const ref = ev.objectRef as { name?: string; namespace?: string };
  const secret = i % 20 === 0;
  const data: Record<string, string> = {};
  for (let k = 0; k < 8; k++) data[`key-${k}`] = secret ? Buffer.from(`s3cr3t-${i}-${k}`).toString("base64") : `value ${i % 97} ${k} `.repeat(12);
  return {
    kind: secret ? "Secret" : "ConfigMap",
    apiVersion: "v1",
    metadata: { name: ref.name ?? `obj-${i}`, namespace: ref.namespace ?? "default", uid: `uid-${i % 5000}`, resourceVersion: String(1000 + i), labels: { app: `app-${i % 13}` } },
    data,
  };
}

export type AuditEvent = Record<string, unknown> & {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string; groups?: string[]; uid?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus?: { code: number; reason?: string; message?: string; status?: string; metadata?: object };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
};

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const USERS = [
  { username: "system:node:node-1", groups: ["system:nodes", "system:authenticated"], ua: "kubelet/v1.29.4 (linux/amd64) kubernetes/55019c8" },
  { username: "system:node:node-2", groups: ["system:nodes", "system:authenticated"], ua: "kubelet/v1.29.4 (linux/amd64) kubernetes/55019c8" },
  { username: "system:serviceaccount:kube-system:generic-garbage-collector", groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"], ua: "kube-controller-manager/v1.29.4 (linux/amd64) kubernetes/55019c8/system:serviceaccount:kube-system:generic-garbage-collector" },
  { username: "system:serviceaccount:monitoring:node-exporter", groups: ["system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"], ua: "node-exporter/1.7.0" },
  { username: "system:kube-scheduler", groups: ["system:authenticated"], ua: "kube-scheduler/v1.29.4 (linux/amd64) kubernetes/55019c8/leader-election" },
  { username: "alice@example.com", groups: ["dev", "system:authenticated"], ua: "kubectl/v1.29.4 (linux/amd64) kubernetes/55019c8" },
  { username: "developer", groups: ["system:authenticated"], ua: "kubectl/v1.29.4 (darwin/arm64) kubernetes/55019c8" },
  { username: "system:anonymous", groups: ["system:unauthenticated"], ua: "curl/8.5.0" },
];
const RESOURCES = [
  { resource: "pods", group: "", version: "v1" },
  { resource: "configmaps", group: "", version: "v1" },
  { resource: "secrets", group: "", version: "v1" },
  { resource: "nodes", group: "", version: "v1", cluster: true },
  { resource: "leases", group: "coordination.k8s.io", version: "v1" },
  { resource: "deployments", group: "apps", version: "v1" },
  { resource: "events", group: "", version: "v1" },
];
const VERBS = ["get", "get", "get", "list", "list", "watch", "update", "patch", "create", "delete"];
const NAMESPACES = ["default", "kube-system", "team-a", "team-b", "monitoring"];
const CODES = [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 401, 403, 404, 409, 422, 429, 500];

function hex(r: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

/** Deterministic stream of events. */
export function* generateEvents(count: number, opts: GenOptions = {}): Generator<AuditEvent> {
  const r = rng(opts.seed ?? 42);
  const start = opts.startMs ?? Date.parse("2026-01-01T00:00:00Z");
  const step = opts.stepMs ?? 1;
  for (let i = 0; i < count; i++) {
    const u = USERS[Math.floor(r() * USERS.length)]!;
    const res = RESOURCES[Math.floor(r() * RESOURCES.length)]!;
    const verb = VERBS[Math.floor(r() * VERBS.length)]!;
    const ns = res.cluster ? undefined : NAMESPACES[Math.floor(r() * NAMESPACES.length)]!;
    const named = verb !== "list" && verb !== "watch" && verb !== "create";
    const name = named || verb === "create" ? `${res.resource.slice(0, -1)}-${Math.floor(r() * 50)}` : undefined;
    let code = u.username === "system:anonymous" ? 401 : CODES[Math.floor(r() * CODES.length)]!;
    if (verb === "create" && code === 200) code = 201;
    const received = start + i * step;
    const latency = verb === "watch" ? 60_000 + r() * 240_000 : verb === "list" ? 5 + r() * 200 : 1 + r() * 30;
    const prefix = res.group === "" ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
    const uri = `${prefix}${ns ? `/namespaces/${ns}` : ""}/${res.resource}${named ? `/${name}` : ""}${verb === "watch" ? "?watch=true&timeoutSeconds=300" : ""}`;
    const id = `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
    const ev: AuditEvent = {
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID: id,
      stage: "ResponseComplete",
      requestURI: uri,
      verb,
      user: u.username === "system:anonymous" ? { username: "system:anonymous", groups: u.groups } : { username: u.username, uid: `${hex(r, 8)}-uid`, groups: u.groups },
      sourceIPs: [`10.0.${Math.floor(r() * 4)}.${Math.floor(r() * 250) + 1}`],
      userAgent: u.ua,
      objectRef: { resource: res.resource, ...(ns ? { namespace: ns } : {}), ...(name ? { name } : {}), ...(res.group ? { apiGroup: res.group } : {}), apiVersion: res.version },
      responseStatus: code >= 400 ? { metadata: {}, status: "Failure", message: `${res.resource} "${name ?? ""}" failed with ${code}`, reason: reasonFor(code), code } : { metadata: {}, code },
      requestReceivedTimestamp: new Date(received).toISOString().replace("Z", "123Z"),
      stageTimestamp: new Date(received + latency).toISOString().replace("Z", "456Z"),
      annotations: {
        "authorization.k8s.io/decision": code === 403 ? "forbid" : "allow",
        "authorization.k8s.io/reason": code === 403 ? "" : `RBAC: allowed by ClusterRoleBinding "system:${res.resource}-reader" of ClusterRole "system:${res.resource}-reader" to Group "system:authenticated"`,
        "apiserver.latency.k8s.io/etcd": `${(latency * 0.6).toFixed(3)}ms`,
        "apiserver.latency.k8s.io/response-write": `${(latency * 0.05).toFixed(3)}ms`,
        "apiserver.latency.k8s.io/serialize-response-object": `${(latency * 0.2).toFixed(3)}ms`,
        "apiserver.latency.k8s.io/total": `${latency.toFixed(3)}ms`,
      },
    };
    if (opts.bodies && (verb === "create" || verb === "update" || verb === "patch" || verb === "get")) {
      ev.level = "RequestResponse";
      const body = bodyFor(i, ev);
      if (verb !== "get") ev.requestObject = verb === "patch" ? { data: body.data } : body;
      ev.responseObject = body;
    }
    yield ev;
  }
}

function reasonFor(code: number): string {
  return ({ 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError" } as Record<number, string>)[code] ?? "Unknown";
}

/** Writes `count` generated events as JSON lines; returns the bytes written. */
export async function writeJsonl(path: string, count: number, opts: GenOptions = {}): Promise<number> {
  const out = createWriteStream(path);
  let buf = "";
  let bytes = 0;
  for (const ev of generateEvents(count, opts)) {
    buf += JSON.stringify(ev) + "\n";
    if (buf.length > 1 << 20) {
      bytes += Buffer.byteLength(buf);
      if (!out.write(buf)) await once(out, "drain");
      buf = "";
    }
  }
  bytes += Buffer.byteLength(buf);
  out.end(buf);
  await once(out, "finish");
  return bytes;
}

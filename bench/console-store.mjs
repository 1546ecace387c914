#!/usr/bin/env node
// Builds (once, reused) the audit store the console benchmark reads: EVENTS audit events made by
// cycling through the real samples (../shared/samples/audit/*.jsonl and the events recorded from a
// real v1.25 API server, ../shared/kube/recorded-v1.25/audit/*.jsonl) and mutating each pass: new
// auditIDs (the two stages of one request keep one ID), timestamps spread over 24 h (each request's
// latency kept), namespaces / object names / human users / source IPs varied per pass so the store
// holds tens of thousands of distinct objects. Reads (get/list/watch) are kept at Metadata level,
// writes keep their request/response bodies (a common audit policy). A "hot" namespace holds
// EVENTS/100 writes (10k for 1M) to 200 objects (Deployments and ConfigMaps copied from the
// recorded creates), 50 events each: create, updates that change spec.replicas / data, 409
// conflicts, 403 denials and a final delete for a third of them: the 10k-event timeline.
// The store is built with the real CLI (`audit ingest`) under bench/out/ and reused when present.
//
// Usage: npm run build && node bench/console-store.mjs [EVENTS=1000000] [--fresh]
// Prints {db, events, ...} as JSON. Imported by bench/console-browser.mjs (buildConsoleStore).
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
const shared = process.env.WATCH_AUDITOR_SAMPLES ? join(process.env.WATCH_AUDITOR_SAMPLES, "..") : join(root, "../shared");
const SOURCES = [join(shared, "samples/audit"), join(shared, "kube/recorded-v1.25/audit")];
export const HOT_NAMESPACE = "hot";
const DAY_MS = 24 * 3600 * 1000;
const T0 = Date.parse("2030-03-02T00:00:00Z");
const EVENTS_PER_HOT_OBJECT = 50;

function rng(seed) {
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

function hex(n, width) {
  return (n >>> 0).toString(16).padStart(width, "0").slice(-width);
}
/** A UUID-shaped ID, unique per (pass, template index). */
function uuid(pass, idx, salt) {
  return `${hex(pass * 7919 + idx, 8)}-${hex(salt, 4)}-4${hex(idx, 3)}-8${hex(pass, 3)}-${hex(pass * 1_000_003 + idx * 31 + salt, 8)}${hex(idx ^ 0x5a5a, 4)}`;
}

function loadTemplates() {
  const events = [];
  for (const dir of SOURCES) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl")).sort()) {
      for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
        if (!line.trim()) continue;
        const e = JSON.parse(line);
        if (e.kind === "Event" && e.auditID && e.requestReceivedTimestamp) events.push(e);
      }
    }
  }
  if (events.length < 500) throw new Error(`expected the real audit samples under ${SOURCES.join(", ")}, found ${events.length} events`);
  return events;
}

const KEEP_NS = new Set(["kube-system", "kube-public", "kube-node-lease", "default"]);
const HUMANS = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda"];
const READS = new Set(["get", "list", "watch"]);

/** One pass over the templates: namespace, name and user variants chosen by the pass number. */
function mutate(e, pass, idx, received, rand) {
  const nsVar = pass % 60;
  const nameVar = Math.floor(pass / 60) % 3;
  const mapNs = (ns) => (ns == null || KEEP_NS.has(ns) ? ns : `${ns}-${nsVar}`);
  const ev = READS.has(e.verb) ? { ...e, level: "Metadata" } : { ...e };
  if (READS.has(e.verb)) {
    delete ev.requestObject;
    delete ev.responseObject;
  }
  ev.auditID = uuid(pass, received.idxOf, 0x1d);
  const recvMs = received.ms;
  const latency = Math.max(0, Date.parse(e.stageTimestamp) - Date.parse(e.requestReceivedTimestamp));
  ev.requestReceivedTimestamp = new Date(recvMs).toISOString();
  ev.stageTimestamp = new Date(recvMs + latency).toISOString();
  const u = e.user ?? {};
  const name = u.username;
  if (name && !name.startsWith("system:")) {
    const human = `${HUMANS[(pass + name.length) % HUMANS.length]}${nameVar || ""}@example.com`;
    ev.user = { ...u, username: human, uid: undefined };
    if (typeof e.userAgent === "string" && e.userAgent.startsWith("kubectl/")) ev.userAgent = e.userAgent.replace(/kubectl\/v1\.(\d+)/, `kubectl/v1.${26 + (pass % 6)}`);
  } else if (name?.startsWith("system:serviceaccount:")) {
    const [, , ns, sa] = name.split(":");
    ev.user = { ...u, username: `system:serviceaccount:${mapNs(ns)}:${sa}` };
  }
  if (Array.isArray(e.sourceIPs)) ev.sourceIPs = [`10.${pass % 4}.${(pass >> 2) % 250}.${1 + (idx % 250)}`];
  const ref = e.objectRef;
  if (ref) {
    const nref = { ...ref };
    const oldNs = ref.namespace;
    if (oldNs != null) nref.namespace = mapNs(oldNs);
    if (ref.resource === "namespaces" && ref.name) nref.name = mapNs(ref.name);
    else if (ref.name) nref.name = oldNs == null || KEEP_NS.has(oldNs) ? `${ref.name}-p${pass % 180}` : nameVar ? `${ref.name}-${nameVar}` : ref.name;
    ev.objectRef = nref;
    let uri = e.requestURI;
    if (oldNs != null && nref.namespace !== oldNs) uri = uri.replace(`/namespaces/${oldNs}`, `/namespaces/${nref.namespace}`);
    if (ref.name && nref.name !== ref.name) uri = uri.replace(new RegExp(`/${ref.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=[/?]|$)`), `/${nref.name}`);
    ev.requestURI = uri;
    for (const k of ["requestObject", "responseObject"]) {
      const b = ev[k];
      if (b?.metadata && typeof b.metadata === "object" && b.kind !== "Status") {
        const md = { ...b.metadata };
        if (md.name === ref.name) md.name = nref.name;
        if (md.namespace != null && md.namespace === oldNs) md.namespace = nref.namespace;
        if (md.resourceVersion) md.resourceVersion = String(Number(md.resourceVersion) + pass * 100_000 || md.resourceVersion);
        ev[k] = { ...b, metadata: md };
      }
    }
  }
  if (rand() < 0.002 && ev.responseStatus?.code === 200) ev.responseStatus = { ...ev.responseStatus, code: 500, status: "Failure", reason: "InternalError", message: "etcdserver: request timed out" };
  return ev;
}

function hotTemplates(templates) {
  const deploy = templates.find((e) => e.verb === "create" && e.objectRef?.resource === "deployments" && e.responseObject?.spec);
  const cm = templates.find((e) => e.verb === "create" && e.objectRef?.resource === "configmaps" && e.responseObject?.data && e.objectRef.name !== "kube-root-ca.crt");
  if (!deploy || !cm) throw new Error("the samples hold no Deployment or ConfigMap create with a body");
  return { deploy, cm };
}

/** Event h (0-based) of the hot set: round-robin over the objects so each one's events span the day. */
function hotEvent(h, objects, tpl, ts) {
  const j = h % objects;
  const k = Math.floor(h / objects);
  const isDeploy = j % 2 === 0;
  const base = isDeploy ? tpl.deploy : tpl.cm;
  const resource = isDeploy ? "deployments" : "configmaps";
  const name = isDeploy ? `web-${String(j >> 1).padStart(3, "0")}` : `conf-${String(j >> 1).padStart(3, "0")}`;
  const apiPath = isDeploy ? "/apis/apps/v1" : "/api/v1";
  const obj = structuredClone(base.responseObject);
  obj.metadata = { ...obj.metadata, name, namespace: HOT_NAMESPACE, resourceVersion: String(5_000_000 + h), generation: k + 1, annotations: { ...(obj.metadata.annotations ?? {}), "bench/revision": String(k) } };
  delete obj.metadata.managedFields;
  if (isDeploy) obj.spec = { ...obj.spec, replicas: (k % 7) + 1 };
  else obj.data = { "revision": String(k), "mode": ["blue", "green", "canary"][k % 3] };
  const last = k === EVENTS_PER_HOT_OBJECT - 1;
  let verb = k === 0 ? "create" : last && j % 3 === 0 ? "delete" : k % 4 === 1 ? "patch" : "update";
  let code = k === 0 ? 201 : 200;
  let user = { username: `deployer${j % 7}@example.com`, groups: ["ops", "system:authenticated"] };
  let decision = "allow";
  if (k % 10 === 5) code = 409; // conflict on update
  if (k % 16 === 8) {
    code = 403;
    decision = "forbid";
    user = { username: "mallory@example.com", groups: ["system:authenticated"] };
  }
  const ok = code < 300;
  const ev = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: `b07a${hex(h, 4)}-0000-4000-8000-${hex(h * 2654435761, 8)}${hex(j, 4)}`,
    stage: "ResponseComplete",
    requestURI: `${apiPath}/namespaces/${HOT_NAMESPACE}/${resource}${verb === "create" ? "" : `/${name}`}`,
    verb,
    user,
    sourceIPs: [`10.9.${j % 250}.${1 + (k % 250)}`],
    userAgent: "kubectl/v1.29.4 (linux/amd64) kubernetes/55019c8",
    objectRef: { resource, namespace: HOT_NAMESPACE, name, apiVersion: "v1", ...(isDeploy ? { apiGroup: "apps" } : {}) },
    responseStatus: ok ? { metadata: {}, code } : { metadata: {}, status: "Failure", reason: code === 403 ? "Forbidden" : "Conflict", code, message: code === 403 ? `${resource} "${name}" is forbidden: User "mallory@example.com" cannot ${verb} resource "${resource}" in namespace "${HOT_NAMESPACE}"` : `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified` },
    requestReceivedTimestamp: new Date(ts).toISOString(),
    stageTimestamp: new Date(ts + 3 + (h % 40)).toISOString(),
    annotations: { "authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": decision === "allow" ? "RBAC: allowed by RoleBinding \"ops/hot\"" : "" },
  };
  if (verb !== "delete" && code !== 403) ev.requestObject = obj;
  if (ok && verb !== "delete") ev.responseObject = obj;
  return ev;
}

/** Writes the JSONL file of `events` events; returns counts. */
export function generate(file, events) {
  const templates = loadTemplates();
  const tpl = hotTemplates(templates);
  const hotEvents = Math.max(EVENTS_PER_HOT_OBJECT * 2, Math.floor(events / 100));
  const hotObjects = Math.max(2, Math.floor(hotEvents / EVENTS_PER_HOT_OBJECT));
  const hotTotal = hotObjects * EVENTS_PER_HOT_OBJECT;
  const every = events / hotTotal;
  const step = DAY_MS / events;
  const rand = rng(1409);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  let buf = [];
  let pass = 0;
  let idx = 0;
  let firstIdx = new Map();
  let hot = 0;
  for (let i = 0; i < events; i++) {
    const ts = T0 + Math.floor(i * step);
    let ev;
    if (hot < hotTotal && i >= Math.floor(hot * every + every / 2)) {
      ev = hotEvent(hot++, hotObjects, tpl, ts);
    } else {
      const e = templates[idx];
      // The stages of one request share one auditID and one received time.
      let first = firstIdx.get(e.auditID);
      if (!first) {
        first = { idxOf: idx, ms: ts };
        firstIdx.set(e.auditID, first);
      }
      ev = mutate(e, pass, idx, first, rand);
      if (++idx === templates.length) {
        idx = 0;
        pass++;
        firstIdx = new Map();
      }
    }
    buf.push(JSON.stringify(ev));
    if (buf.length === 2000) {
      writeSync(fd, buf.join("\n") + "\n");
      buf = [];
    }
  }
  if (buf.length) writeSync(fd, buf.join("\n") + "\n");
  closeSync(fd);
  renameSync(tmp, file);
  return { templates: templates.length, passes: pass + 1, hotObjects, hotEvents: hotTotal };
}

function cliJson(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.slice(0, 2).join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Returns the path of a store of `events` generated events under bench/out/, building it with
 * `audit ingest` when missing (or when fresh is set).
 */
export function buildConsoleStore(events = 1_000_000, { fresh = false, log = (m) => console.error(m) } = {}) {
  if (!existsSync(cli)) throw new Error("run `npm run build` first");
  const out = join(root, "bench/out");
  mkdirSync(out, { recursive: true });
  const file = join(out, `console-${events}.jsonl`);
  const db = join(out, `console-${events}.duckdb`);
  const meta = join(out, `console-${events}.json`);
  if (!fresh && existsSync(db) && existsSync(meta)) return JSON.parse(readFileSync(meta, "utf8"));
  let t = performance.now();
  const gen = generate(file, events);
  log(`generated ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  rmSync(db, { force: true });
  rmSync(db + ".wal", { force: true });
  t = performance.now();
  const rep = cliJson(["audit", "ingest", "--db", db, "-o", "json", file]);
  const ingestS = (performance.now() - t) / 1000;
  log(`ingested in ${ingestS.toFixed(1)} s: ${rep.trim().slice(0, 300)}`);
  const q = (sql) => JSON.parse(cliJson(["audit", "sql", sql, "--db", db, "-o", "json"]));
  const stats = q(`SELECT count(*) AS events, count(DISTINCT (resource, namespace, name)) FILTER (WHERE name IS NOT NULL) AS objects,
    count(DISTINCT "user") AS users, count(DISTINCT namespace) AS namespaces, min(ts)::VARCHAR AS from_ts, max(ts)::VARCHAR AS to_ts,
    count(*) FILTER (WHERE namespace = '${HOT_NAMESPACE}') AS hot_events FROM events`);
  const info = { db, jsonl: file, jsonl_mb: +(statSync(file).size / 1e6).toFixed(1), db_mb: +(statSync(db).size / 1e6).toFixed(1), ingest_s: +ingestS.toFixed(1), ...gen, ...normalize(stats) };
  if (info.events !== events) throw new Error(`store holds ${info.events} events, expected ${events}`);
  writeFileSyncJson(meta, info);
  rmSync(file, { force: true }); // 1M events with bodies: ~1.5 GB; the store is what is reused
  return info;
}

function normalize(rows) {
  const r = Array.isArray(rows) ? rows[0] : rows.rows?.[0] ?? rows;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v]));
}

function writeFileSyncJson(path, obj) {
  const fd = openSync(path, "w");
  writeSync(fd, JSON.stringify(obj, null, 2) + "\n");
  closeSync(fd);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const events = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  console.log(JSON.stringify(buildConsoleStore(events, { fresh: args.includes("--fresh") }), null, 2));
}

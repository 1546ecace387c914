// The conformance suite's rig: the test server started as the recorded one was (users, RBAC,
// realistic watch timing), and the comparison of one replayed exchange with its recording.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { join } from "node:path";
import { installCrds, RECORDED_VERSION, SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "../kube-apiserver/index.js";
import { Bindings } from "./bindings.js";
import { Comparer, type Difference } from "./compare.js";
import { requireRecordedDir, type Exchange, type WatchFrame } from "./recording.js";
import { plainExchange, type ActualResponse, type Credentials, type ScenarioHooks } from "./replay.js";

/** The recorded identities (README "exchanges.jsonl format") and the tokens they use here. */
export const IDENTITIES: Record<string, { token?: string; user?: string; groups?: string[] }> = {
  admin: { token: "conformance-admin-token", user: "admin", groups: ["system:masters"] },
  developer: { token: "conformance-developer-token", user: "developer", groups: [] },
  "serviceaccount:rec:rec-sa": { token: "conformance-rec-sa-token", user: "system:serviceaccount:rec:rec-sa", groups: [] },
  // The recorder's fixed fake token: no such token exists on the server.
  badtoken: { token: "recorder-bad-token-not-valid" },
  anonymous: {},
};

export const credentials: Credentials = {
  tokenFor(as: string) {
    const id = IDENTITIES[as];
    if (!id) throw new Error(`recording uses identity ${JSON.stringify(as)} that the conformance suite does not know`);
    return id.token;
  },
};

/** A clock the suite can move forward, instead of waiting out the watch cache's 75 s. */
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface ConformanceServer {
  api: TestApiServer;
  clock: TestClock;
}

/** The test server configured as the recorded one ran: RBAC, these users, namespaces that must exist, real watch timing. */
export async function startConformanceServer(): Promise<ConformanceServer> {
  const tokens: Record<string, { user: string; groups?: string[] }> = {};
  for (const id of Object.values(IDENTITIES)) if (id.token && id.user) tokens[id.token] = { user: id.user, groups: id.groups ?? [] };
  const clock = new TestClock();
  const api = await startTestApiServer({
    authz: "rbac",
    tokens,
    requireNamespaces: true,
    bookmarkTiming: "kube-apiserver",
    controllers: { hostname: "vm" }, // the recorded kube-scheduler ran on host "vm" (its events' reportingInstance)
    now: clock.now,
    kubernetesVersion: RECORDED_VERSION,
  });
  // The recorded cluster had the Prometheus operator's CRDs installed (monitoring.coreos.com in /apis).
  installCrds(api, join(SHARED_KUBE_DIR, "crds"));
  return { api, clock };
}

async function adminPost(api: TestApiServer, path: string, body: unknown): Promise<void> {
  const r = await fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${IDENTITIES.admin!.token}`, "content-type": "application/json", "user-agent": "record-apiserver/1.0" },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`scenario step POST ${path}: ${r.status} ${await r.text()}`);
}

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  stageTimestamp: string;
  requestObject?: unknown;
}

/**
 * The recorder's writes that have no exchange of their own (the 99 PodTemplates after the first,
 * the 101st after the wait, `table-pod`), from the recorded audit log, each with the exchange it
 * came before (by time).
 */
export function unrecordedWrites(exchanges: Exchange[]): { before: string; uri: string; body: unknown }[] {
  const file = join(requireRecordedDir(), "audit", "scenario-recorder.jsonl");
  const events = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as AuditEvent;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not JSON: ${(err as Error).message}`);
      }
    });
  const timeOf = new Map<string, string>();
  for (const e of events) if (!timeOf.has(e.auditID) || e.stage === "ResponseStarted") timeOf.set(e.auditID, e.stageTimestamp);
  const recordedIds = new Set(exchanges.map((x) => String(x.response.headers["audit-id"])));
  const timed = exchanges.map((x) => ({ id: x.id, time: timeOf.get(String(x.response.headers["audit-id"])) ?? "" }));
  const out: { before: string; uri: string; body: unknown }[] = [];
  for (const e of events) {
    if (e.stage !== "ResponseComplete" || e.userAgent !== "record-apiserver/1.0" || recordedIds.has(e.auditID)) continue;
    if (["get", "list", "watch"].includes(e.verb)) continue; // reads change nothing
    if (e.verb !== "create") throw new Error(`${file}: unrecorded ${e.verb} of ${e.requestURI} (${e.auditID}): the suite only replays unrecorded creates`);
    const next = timed.find((t) => t.time > e.stageTimestamp);
    if (!next) throw new Error(`${file}: unrecorded create of ${e.requestURI} after the last exchange`);
    out.push({ before: next.id, uri: e.requestURI, body: e.requestObject });
  }
  return out;
}

/**
 * The recorder's steps that are not exchanges of their own (recorded-v1.25/README.md, the
 * exchanges' descriptions and the audit log): its unrecorded creates, `etcdctl compact` at the
 * current revision, the wait of more than 75 s before one more PodTemplate evicts the oldest event
 * from the watch cache (here: the cache's clock is moved forward), and its polling until the
 * deleted namespace is gone.
 */
export function scenarioHooks(s: ConformanceServer, exchanges: Exchange[], b: Bindings): ScenarioHooks {
  const before: Record<string, () => Promise<void>> = {
    "compaction/watch-from-rv-before-compaction": async () => s.api.compactEtcd(),
    "compaction/watch-evicted-from-watch-cache": async () => s.clock.advance(76_000),
    "namespaces/get-after-delete": async () => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await fetch(`${s.api.url}/api/v1/namespaces/rec`, { headers: { authorization: `Bearer ${IDENTITIES.admin!.token}` } });
        await r.arrayBuffer();
        if (r.status === 404 || Date.now() > deadline) return;
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
  for (const w of unrecordedWrites(exchanges)) {
    const prior = before[w.before];
    before[w.before] = async () => {
      await prior?.();
      await adminPost(s.api, w.uri, w.body);
    };
  }
  // The recorded build had ServerSideFieldValidation off, so fieldValidation=Strict writes with
  // unknown or duplicate fields succeeded there. The test server keeps the released behaviour and
  // refuses them (allow-listed); to keep the state in step with the recording, the same write is
  // then made again as that build made it: with the parameter ignored.
  const after: Record<string, () => Promise<void>> = {};
  for (const x of exchanges) {
    const gateOff = typeof x.notes === "string" && x.notes.includes("ServerSideFieldValidation");
    if (gateOff && x.request.query?.fieldValidation === "Strict" && x.response.status < 300)
      after[x.id] = async () => {
        const again: Exchange = { ...x, request: { ...x.request, query: { ...x.request.query, fieldValidation: "Ignore" } } };
        const r = await plainExchange(s.api.url, again, b, credentials);
        if (r.status >= 300) throw new Error(`${x.id} again with fieldValidation=Ignore: ${r.status} ${JSON.stringify(r.body)}`);
      };
  }
  return { before, after };
}

/** Consecutive BOOKMARKs become one: their count depends on timing, their presence and place do not. */
function collapseBookmarks(frames: WatchFrame[]): WatchFrame[] {
  return frames.filter((f, i) => !(f.type === "BOOKMARK" && frames[i - 1]?.type === "BOOKMARK"));
}

/** The synthetic ADDED frames a watch from RV 0 (or none) starts with come in no particular order. */
function initialBatchUnordered(x: Exchange): boolean {
  const rv = x.request.query?.resourceVersion;
  return rv === undefined || rv === "0";
}

function sortInitial(frames: WatchFrame[]): WatchFrame[] {
  let n = 0;
  while (n < frames.length && frames[n]!.type === "ADDED") n++;
  const key = (f: WatchFrame) => {
    const m = (f.object as { metadata?: { namespace?: string; name?: string } }).metadata;
    return `${m?.namespace ?? ""}/${m?.name ?? ""}`;
  };
  return [...frames.slice(0, n).sort((a, b) => key(a).localeCompare(key(b))), ...frames.slice(n)];
}

/** Lists served from the watch cache (resourceVersion=0, NotOlderThan) are unsorted. */
function cacheServed(x: Exchange): boolean {
  const q = x.request.query ?? {};
  return q.watch !== "true" && (q.resourceVersion === "0" || q.resourceVersionMatch === "NotOlderThan");
}

/** Table "Age" cells ("32s", "5m") depend on when the table was read: compared by format only. */
function maskAges(body: unknown): unknown {
  const t = body as { kind?: string; columnDefinitions?: { name?: string }[]; rows?: { cells?: unknown[] }[] } | null;
  if (t?.kind !== "Table" || !Array.isArray(t.columnDefinitions) || !Array.isArray(t.rows)) return body;
  const ages = t.columnDefinitions.map((c, i) => (c.name === "Age" ? i : -1)).filter((i) => i >= 0);
  const copy = structuredClone(t);
  for (const row of copy.rows ?? [])
    for (const i of ages) if (typeof row.cells?.[i] === "string" && /^(\d+[smhdy])+$|^<unknown>$/.test(row.cells[i] as string)) row.cells[i] = "<age>";
  return copy;
}

/** A YAML answer is compared as the object it encodes, like the test server's (replay.ts parseBody). */
function yamlAsObject(x: Exchange): unknown {
  const ct = x.response.headers["content-type"];
  return typeof ct === "string" && ct.startsWith("application/yaml") && typeof x.response.body === "string" ? { yaml: YAML.parse(x.response.body) as unknown } : x.response.body;
}

export function compareExchange(x: Exchange, actual: ActualResponse, b: Bindings): Difference[] {
  const recordedBody = maskAges(yamlAsObject(x));
  actual = { ...actual, body: maskAges(actual.body) };
  x = { ...x, response: { ...x.response, body: recordedBody } };
  const write = ["POST", "PUT", "PATCH", "DELETE"].includes(x.request.method);
  const unordered = cacheServed(x) ? [/^body\.items$/] : [];
  // managedFields entries are sorted by operation, then time (seconds), then manager: with times
  // compared by format only, their order is compared as a set too.
  unordered.push(/\.metadata\.managedFields$/);
  // A rules review lists the rules of each binding in map order, which differs from call to call.
  if ((x.response.body as { kind?: string } | null)?.kind === "SelfSubjectRulesReview") unordered.push(/^body\.status\.(nonResourceRules|resourceRules)$/);
  const c = new Comparer(b, { unordered, orderedRv: write ? ["body.metadata.resourceVersion"] : [] });
  const out: Difference[] = [];
  const rec = x.response;
  if (rec.status !== actual.status) out.push({ path: "status", recorded: rec.status, actual: actual.status });
  for (const h of ["content-type", "retry-after"]) {
    if (rec.headers[h] !== actual.headers[h]) out.push({ path: `headers.${h}`, recorded: rec.headers[h], actual: actual.headers[h] });
  }
  for (const h of ["audit-id", "x-kubernetes-pf-flowschema-uid", "x-kubernetes-pf-prioritylevel-uid"]) {
    if ((rec.headers[h] === undefined) !== (actual.headers[h] === undefined))
      out.push({ path: `headers.${h}`, recorded: rec.headers[h], actual: actual.headers[h], why: "present in one answer only" });
  }
  c.compare(rec.headers.warning ?? [], actual.headers.warning ?? [], "headers.warning", out);
  if (rec.events !== undefined || actual.events !== undefined) {
    let re = collapseBookmarks(rec.events ?? []);
    let ae = collapseBookmarks(actual.events ?? []);
    if (initialBatchUnordered(x)) {
      re = sortInitial(re);
      ae = sortInitial(ae);
    }
    c.compare(re, ae, "events", out);
    if (rec.endedBy !== actual.endedBy) out.push({ path: "endedBy", recorded: rec.endedBy, actual: actual.endedBy });
    if (rec.events === undefined || rec.events.length === 0) c.compare(rec.body ?? null, actual.body ?? null, "body", out);
  } else c.compare(rec.body, actual.body, "body", out);
  return out;
}

export { Bindings };

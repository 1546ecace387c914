// The conformance suite's rig: the test server started as the recorded one was (users, RBAC,
// realistic watch timing), and the comparison of one replayed exchange with its recording.
import { RECORDED_VERSION, startTestApiServer, type TestApiServer } from "../kube-apiserver/index.js";
import { Bindings } from "./bindings.js";
import { Comparer, type Difference } from "./compare.js";
import type { Exchange, WatchFrame } from "./recording.js";
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

/**
 * The recorder's steps that are not exchanges of their own (recorded-v1.25/README.md and the
 * exchanges' descriptions): the 99 unrecorded PodTemplates after the first, `etcdctl compact` at
 * the current revision, and the wait of more than 75 s before one more PodTemplate evicts the
 * oldest event from the watch cache (here: the cache's clock is moved forward).
 */
export function scenarioHooks(s: ConformanceServer, exchanges: Exchange[], b: Bindings): ScenarioHooks {
  const first = exchanges.find((x) => x.id === "watchcache/podtemplates-create-first");
  if (!first) throw new Error("the recording has no watchcache/podtemplates-create-first exchange");
  const fill = (n: number) => {
    const body = structuredClone(first.request.body) as { metadata: { name: string } };
    body.metadata.name = `fill-${String(n).padStart(3, "0")}`;
    return adminPost(s.api, first.request.path, body);
  };
  // The recorded build had ServerSideFieldValidation off, so fieldValidation=Strict writes with
  // unknown or duplicate fields succeeded there. The test server keeps the released behaviour and
  // refuses them (allow-listed); to keep the state in step with the recording, the same write is
  // then made again as that build made it: with the parameter ignored.
  const after: Record<string, () => Promise<void>> = {
    "watchcache/podtemplates-create-first": async () => {
      for (let n = 1; n < 100; n++) await fill(n);
    },
  };
  for (const x of exchanges) {
    const gateOff = typeof x.notes === "string" && x.notes.includes("ServerSideFieldValidation");
    if (gateOff && x.request.query?.fieldValidation === "Strict" && x.response.status < 300)
      after[x.id] = async () => {
        const again: Exchange = { ...x, request: { ...x.request, query: { ...x.request.query, fieldValidation: "Ignore" } } };
        const r = await plainExchange(s.api.url, again, b, credentials);
        if (r.status >= 300) throw new Error(`${x.id} again with fieldValidation=Ignore: ${r.status} ${JSON.stringify(r.body)}`);
      };
  }
  return {
    after,
    before: {
      "compaction/watch-from-rv-before-compaction": async () => s.api.compactEtcd(),
      "compaction/watch-evicted-from-watch-cache": async () => {
        s.clock.advance(76_000);
        await fill(100);
      },
    },
  };
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

export function compareExchange(x: Exchange, actual: ActualResponse, b: Bindings): Difference[] {
  const write = ["POST", "PUT", "PATCH", "DELETE"].includes(x.request.method);
  const unordered = cacheServed(x) ? [/^body\.items$/] : [];
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

// Replays the recorded exchanges, in recording order, against a server over real HTTP, and
// collects what it answered. Exchanges made while a watch was open (a watch's `during`) are
// recorded before the watch itself: the replay opens that watch first, makes them, then reads
// the watch to its end as the recording says it ended.
import { request as httpRequest, type IncomingMessage } from "node:http";
import YAML from "yaml";
import type { Bindings } from "./bindings.js";
import { REDACTED_TOKEN, UUID } from "./bindings.js";
import type { Exchange, RecordedRequest, WatchFrame } from "./recording.js";

export interface ActualResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  events?: WatchFrame[];
  endedBy?: string;
}

export interface Credentials {
  /** Bearer token per recorded identity ("admin", "developer", …); undefined = no header. */
  tokenFor(as: string): string | undefined;
}

const USER_AGENT = "record-apiserver/1.0";
/** Response headers the recording kept (README: "headers that matter"). */
const KEPT_HEADERS = ["content-type", "audit-id", "retry-after", "x-kubernetes-pf-flowschema-uid", "x-kubernetes-pf-prioritylevel-uid"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The request to send for a recorded one: recorded resourceVersions, uids, names and tokens translated. */
export function translateRequest(req: RecordedRequest, b: Bindings): { path: string; query: Record<string, string>; body: string | undefined } {
  const path = req.path
    .split("/")
    .map((seg) => b.translateText(seg, false))
    .join("/");
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (k === "resourceVersion") query[k] = b.rv.toActual(v);
    else if (k === "continue") query[k] = b.continueToSend(v);
    else query[k] = v;
  }
  const walk = (v: unknown, key: string): unknown => {
    if (typeof v === "string") {
      if (v === REDACTED_TOKEN && b.issuedToken) return b.issuedToken;
      if (key === "resourceVersion") return b.rv.toActual(v);
      if (UUID.test(v)) return b.uid.actual(v) ?? v;
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  let body: string | undefined;
  if (typeof req.body === "string") body = req.body;
  else if (req.body !== null && req.body !== undefined) body = JSON.stringify(walk(req.body, ""));
  return { path, query, body };
}

function headersOf(res: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const h of KEPT_HEADERS) {
    const v = res.headers[h];
    if (typeof v === "string") out[h] = v;
  }
  // One entry per Warning header line, as the recording keeps them.
  const warnings: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === "warning") warnings.push(res.rawHeaders[i + 1]!);
  if (warnings.length > 0) out.warning = warnings;
  return out;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (contentType?.startsWith("application/yaml")) {
    // Compared as the objects they encode (the layout is tested in kube-apiserver-representation.test.ts).
    try {
      return { yaml: YAML.parse(text) as unknown };
    } catch {
      return text;
    }
  }
  if (contentType?.startsWith("application/json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

interface OpenWatch {
  done: Promise<ActualResponse>;
  close(): void;
}

function send(base: string, x: Exchange, b: Bindings, creds: Credentials): { req: ReturnType<typeof httpRequest>; response: Promise<IncomingMessage> } {
  const t = translateRequest(x.request, b);
  const url = new URL(t.path, base);
  for (const [k, v] of Object.entries(t.query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = { "user-agent": USER_AGENT, ...x.request.headers };
  const token = creds.tokenFor(x.as);
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (t.body !== undefined) headers["content-length"] = String(Buffer.byteLength(t.body));
  const req = httpRequest(url, { method: x.request.method, headers });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  req.end(t.body);
  return { req, response };
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function plainExchange(base: string, x: Exchange, b: Bindings, creds: Credentials): Promise<ActualResponse> {
  const { response } = send(base, x, b, creds);
  const res = await response;
  const text = await readAll(res);
  const headers = headersOf(res);
  return { status: res.statusCode ?? 0, headers, body: parseBody(text, headers["content-type"] as string | undefined) };
}

/** Opens a watch and reads its frames until the server ends it, or close() is called. */
function openWatch(base: string, x: Exchange, b: Bindings, creds: Credentials): OpenWatch {
  const { req, response } = send(base, x, b, creds);
  let closedByClient = false;
  const started = Date.now();
  const done = (async (): Promise<ActualResponse> => {
    const res = await response;
    const headers = headersOf(res);
    if (res.statusCode !== 200) {
      const text = await readAll(res);
      return { status: res.statusCode ?? 0, headers, body: parseBody(text, headers["content-type"] as string | undefined), endedBy: "server-response" };
    }
    let text = "";
    try {
      for await (const c of res) text += (c as Buffer).toString("utf8");
    } catch (err) {
      if (!closedByClient) throw err;
    }
    // A stream of {type, object} frames, one per line; anything else is a plain answer (as for
    // ?watch on a single object's path, which the server treats as a GET).
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return undefined;
      }
    });
    const framed = parsed.every((v) => isObject(v) && "type" in v && "object" in v && Object.keys(v).length === 2);
    const events: WatchFrame[] = framed ? (parsed as WatchFrame[]) : [];
    const nonFrame = framed ? "" : text;
    const timeout = Number(x.request.query?.timeoutSeconds ?? NaN);
    const endedBy = closedByClient ? "client-close" : Number.isFinite(timeout) && Date.now() - started >= timeout * 1000 - 250 ? "server-timeout" : "server-close";
    return { status: 200, headers, body: nonFrame ? parseBody(nonFrame, "application/json") : null, events, endedBy };
  })();
  return {
    done,
    close() {
      closedByClient = true;
      req.destroy();
    },
  };
}

export function isWatch(x: Exchange): boolean {
  return x.response.events !== undefined || x.request.query?.watch === "true" || x.request.path.includes("/watch/");
}

export interface ReplayResult {
  exchange: Exchange;
  actual?: ActualResponse;
  error?: string;
}

/**
 * Replays every exchange. `onEach` runs right after an exchange's answer is in (so bindings made
 * by comparing it are there for the next request).
 */
/** What the recorder did outside the recorded exchanges (etcdctl compact, unrecorded writes, waiting). */
export interface ScenarioHooks {
  before?: Record<string, () => Promise<void>>;
  after?: Record<string, () => Promise<void>>;
}

export async function replayAll(
  base: string,
  exchanges: Exchange[],
  b: Bindings,
  creds: Credentials,
  onEach: (r: ReplayResult) => void,
  hooks: ScenarioHooks = {},
): Promise<void> {
  const watchOf = new Map<string, Exchange>();
  for (const x of exchanges) for (const d of x.during ?? []) watchOf.set(d, x);
  const open = new Map<string, OpenWatch>();
  const startWatch = async (w: Exchange): Promise<OpenWatch> => {
    const ow = openWatch(base, w, b, creds);
    open.set(w.id, ow);
    // Let the server register the watch (and send initial events) before the writes it must see.
    await new Promise((r) => setTimeout(r, 150));
    return ow;
  };
  for (const x of exchanges) {
    try {
      await hooks.before?.[x.id]?.();
    } catch (err) {
      onEach({ exchange: x, error: `scenario step before ${x.id} failed: ${(err as Error).message}` });
      continue;
    }
    await replayOne(x);
    try {
      await hooks.after?.[x.id]?.();
    } catch (err) {
      onEach({ exchange: x, error: `scenario step after ${x.id} failed: ${(err as Error).message}` });
    }
  }

  async function replayOne(x: Exchange): Promise<void> {
    try {
      const w = watchOf.get(x.id);
      if (w && !open.has(w.id)) await startWatch(w);
      if (!isWatch(x)) {
        onEach({ exchange: x, actual: await plainExchange(base, x, b, creds) });
        return;
      }
      const ow = open.get(x.id) ?? (await startWatch(x));
      if (x.response.endedBy === "client-close") {
        await new Promise((r) => setTimeout(r, 300));
        ow.close();
      }
      const timeoutSeconds = Number(x.request.query?.timeoutSeconds ?? 10);
      const limit = new Promise<never>((_, reject) => {
        const t = setTimeout(() => {
          ow.close();
          reject(new Error(`watch did not end within ${timeoutSeconds + 5}s`));
        }, (timeoutSeconds + 5) * 1000);
        t.unref();
      });
      onEach({ exchange: x, actual: await Promise.race([ow.done, limit]) });
    } catch (err) {
      onEach({ exchange: x, error: (err as Error).stack ?? String(err) });
    }
  }
}

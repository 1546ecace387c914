// Health endpoints (/healthz, /livez, /readyz) as kube-apiserver v1.25 serves them
// (k8s.io/apiserver/pkg/server/healthz), checked byte for byte against
// ../shared/kube/recorded-v1.25/health/*.txt in test/support/kube-apiserver-health.test.ts.
//
// - `/<endpoint>` runs its checks in order (the lists below are the recorded ones; livez and healthz
//   lack informer-sync and shutdown). All ok: 200 `ok`, or with `?verbose` (any value) one line
//   `[+]<check> ok` per check and `<endpoint> check passed\n`. A failing check: always the verbose
//   body, the line `[-]<check> failed: reason withheld`, trailer `<endpoint> check failed\n`, 500.
//   `?exclude=<check>` (repeatable) skips a check: `[+]<check> excluded: ok`; a name that matches no
//   check adds `warn: some health checks cannot be excluded: no matches for "a","b"` (sorted).
//   Content-Type text/plain; charset=utf-8 and X-Content-Type-Options: nosniff.
// - `/<endpoint>/<check>` (check names may contain "/"): 200 `ok` (Content-Type sniffed by Go as
//   text/plain; charset=utf-8, no nosniff), or 500 `internal server error: <error>\n` (http.Error).
//   Any other path under the endpoint (an unknown check, a trailing slash): 404 `404 page not found\n`.
// - Any method is served (the real handlers do not look at it; authorization does: non-resource
//   verbs are the lower-case method, and system:public-info-viewer grants `get` on the three root
//   paths only, so anonymous `/readyz/etcd` or `HEAD /readyz` get 403 under RBAC, as on a real server).
// - The etcd check is ok unless the server was started with `etcd: { healthUrl }`: then each run is
//   a live `GET <healthUrl>` (a real etcd's /health) with the real 2 s timeout, so a frozen
//   (SIGSTOPped) etcd gives `[-]etcd failed: reason withheld` and, on `/readyz/etcd`,
//   `internal server error: error getting data from etcd: context deadline exceeded` after ~2 s.
//   The real check is a KV Get of /registry/health through clientv3, which keeps retrying a refused
//   connection until the deadline: a refused connection here also fails at the deadline with the
//   same text. An etcd that answers /health with anything but {"health":"true"} (not recorded) fails
//   at once with `error getting data from etcd: etcd /health answered HTTP <status>: <body>`.
// - `setCheck(name, ok | errorText, { delayMs })` forces any named check (etcd, informer-sync,
//   shutdown, poststarthook/…) for tests without a real etcd; `resetCheck()` undoes it.
import { get as httpGet, type ServerResponse } from "node:http";
import { get as httpsGet } from "node:https";
import type { RequestRecord } from "./server.js";

export type HealthEndpoint = "healthz" | "livez" | "readyz";

/** The post-start hooks and other checks common to the three endpoints, in the recorded order. */
const HOOKS = [
  "poststarthook/start-kube-apiserver-admission-initializer",
  "poststarthook/generic-apiserver-start-informers",
  "poststarthook/priority-and-fairness-config-consumer",
  "poststarthook/priority-and-fairness-filter",
  "poststarthook/storage-object-count-tracker-hook",
  "poststarthook/start-apiextensions-informers",
  "poststarthook/start-apiextensions-controllers",
  "poststarthook/crd-informer-synced",
  "poststarthook/bootstrap-controller",
  "poststarthook/rbac/bootstrap-roles",
  "poststarthook/scheduling/bootstrap-system-priority-classes",
  "poststarthook/priority-and-fairness-config-producer",
  "poststarthook/start-cluster-authentication-info-controller",
  "poststarthook/start-kube-aggregator-informers",
  "poststarthook/apiservice-registration-controller",
  "poststarthook/apiservice-status-available-controller",
  "poststarthook/kube-apiserver-autoregistration",
  "autoregister-completion",
  "poststarthook/apiservice-openapi-controller",
  "poststarthook/apiservice-openapiv3-controller",
] as const;

/** Each endpoint's checks, in the order the recorded v1.25 server runs and prints them. */
export const HEALTH_CHECKS: Readonly<Record<HealthEndpoint, readonly string[]>> = {
  healthz: ["ping", "log", "etcd", ...HOOKS],
  livez: ["ping", "log", "etcd", ...HOOKS],
  readyz: ["ping", "log", "etcd", "informer-sync", ...HOOKS, "shutdown"],
};

const ALL_CHECKS = new Set(Object.values(HEALTH_CHECKS).flat());

/** The real check's error for `setCheck(name, false)` (what `/readyz/<name>` prints after `internal server error: `). */
function defaultError(name: string): string | undefined {
  if (name.startsWith("poststarthook/")) return "not finished";
  return {
    log: "logging blocked",
    etcd: "error getting data from etcd: context deadline exceeded",
    // The format of informerSync.Check; which informers are missing is an example.
    "informer-sync": "1 informers not started yet: [*v1.Namespace]",
    shutdown: "process is shutting down",
    "autoregister-completion": "missing APIService: [v1.apps]",
  }[name];
}

/** The real etcd health check's timeout (storagebackend.DefaultHealthcheckTimeout). */
export const ETCD_HEALTHCHECK_TIMEOUT_MS = 2000;

export interface EtcdHealthProbe {
  /** A real etcd's health URL, e.g. `${etcd.clientUrl}/health` (test/support/etcd.ts). */
  healthUrl: string;
  /** Default 2000 ms, as the real server. */
  timeoutMs?: number;
}

interface Forced {
  /** undefined: ok. */
  error: string | undefined;
  delayMs: number;
}

const TEXT = "text/plain; charset=utf-8";

export class HealthChecks {
  private readonly forced = new Map<string, Forced>();
  private readonly etcd: EtcdHealthProbe | undefined;

  constructor(opts: { etcd?: EtcdHealthProbe } = {}) {
    if (opts.etcd) {
      new URL(opts.etcd.healthUrl); // fail at start on a malformed URL
      this.etcd = opts.etcd;
    }
  }

  /**
   * Forces check `name` (any endpoint that has it): `true` ok, `false` failing with the real
   * check's error, a string failing with that error. `delayMs`: the check takes that long first
   * (`setCheck("etcd", false, { delayMs: 2000 })` answers as a frozen etcd does, without one).
   * Overrides the live etcd probe until `resetCheck`.
   */
  setCheck(name: string, state: boolean | string, opts: { delayMs?: number } = {}): void {
    if (!ALL_CHECKS.has(name)) throw new Error(`no health check ${JSON.stringify(name)}; the checks are ${[...ALL_CHECKS].join(", ")}`);
    let error: string | undefined;
    if (typeof state === "string") error = state;
    else if (!state) {
      error = defaultError(name);
      if (error === undefined) throw new Error(`the ${name} check never fails on a real server: give the error text (setCheck("${name}", "<error>"))`);
    }
    this.forced.set(name, { error, delayMs: opts.delayMs ?? 0 });
  }

  /** Undoes `setCheck` for `name` (or every check): ok again, or the live etcd probe. */
  resetCheck(name?: string): void {
    if (name === undefined) this.forced.clear();
    else this.forced.delete(name);
  }

  /** Runs one check: undefined when ok, else its error (the text after `internal server error: `). */
  async run(name: string): Promise<string | undefined> {
    const f = this.forced.get(name);
    if (f) {
      if (f.delayMs > 0) await sleep(f.delayMs);
      return f.error;
    }
    if (name === "etcd" && this.etcd) return probeEtcd(this.etcd.healthUrl, this.etcd.timeoutMs ?? ETCD_HEALTHCHECK_TIMEOUT_MS);
    return undefined;
  }

  /**
   * Answers the request of `res` when its path is a health path (true), else leaves it (false).
   * The answer may come later (the etcd probe); errors are logged and the socket destroyed.
   */
  serve(res: ServerResponse, record: RequestRecord): boolean {
    const raw = res.req?.url ?? "/";
    let url: URL;
    let path: string;
    try {
      url = new URL(`http://localhost${raw.startsWith("/") ? raw : `/${raw}`}`);
      path = decodeURIComponent(url.pathname); // Go matches r.URL.Path, which is decoded
    } catch {
      return false;
    }
    const m = /^\/(healthz|livez|readyz)(?:\/(.*))?$/s.exec(path);
    if (!m) return false;
    const endpoint = m[1] as HealthEndpoint;
    const sub = m[2];
    const answer = (code: number, body: string, nosniff: boolean): void => {
      record.status = code;
      if (res.destroyed || res.headersSent) return;
      res.writeHead(code, {
        "Content-Type": TEXT,
        ...(nosniff && { "X-Content-Type-Options": "nosniff" }),
        "Content-Length": Buffer.byteLength(body),
      });
      res.end(body);
    };
    const work = async (): Promise<void> => {
      if (sub === undefined) {
        const r = await this.root(endpoint, url.searchParams);
        return answer(r.code, r.body, true);
      }
      if (!HEALTH_CHECKS[endpoint].includes(sub)) return answer(404, "404 page not found\n", true);
      const err = await this.run(sub);
      if (err === undefined) answer(200, "ok", false);
      else answer(500, `internal server error: ${err}\n`, true);
    };
    work().catch((err: unknown) => {
      console.error("kube-apiserver: health check error", err);
      res.destroy();
    });
    return true;
  }

  /** handleRootHealth: the checks in order (sequentially, as the real server runs them). */
  private async root(endpoint: HealthEndpoint, q: URLSearchParams): Promise<{ code: number; body: string }> {
    const excluded = new Set(q.getAll("exclude"));
    let out = "";
    let failed = false;
    for (const check of HEALTH_CHECKS[endpoint]) {
      if (excluded.delete(check)) {
        out += `[+]${check} excluded: ok\n`;
        continue;
      }
      if ((await this.run(check)) !== undefined) {
        out += `[-]${check} failed: reason withheld\n`;
        failed = true;
      } else out += `[+]${check} ok\n`;
    }
    if (excluded.size > 0) out += `warn: some health checks cannot be excluded: no matches for ${[...excluded].sort().map(goQuote).join(",")}\n`;
    // "always be verbose on failure"; http.Error adds the final newline.
    if (failed) return { code: 500, body: `${out}${endpoint} check failed\n` };
    if (!q.has("verbose")) return { code: 200, body: "ok" };
    return { code: 200, body: `${out}${endpoint} check passed\n` };
  }
}

/** Go's %q for the names of unmatched exclusions (printable ASCII as JSON; others escaped alike). */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * One run of the etcd check against a real etcd's /health: undefined when healthy, else the
 * check's error. Nothing answering within `timeoutMs` (a frozen etcd, a refused connection that
 * clientv3 would retry) is `context deadline exceeded` at the deadline.
 */
function probeEtcd(healthUrl: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const u = new URL(healthUrl);
    let done = false;
    const finish = (err: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(err === undefined ? undefined : `error getting data from etcd: ${err}`);
    };
    const timer = setTimeout(() => finish("context deadline exceeded"), timeoutMs);
    timer.unref();
    // A fresh connection per probe (no pooling): a frozen etcd accepts it and answers nothing.
    const req = (u.protocol === "https:" ? httpsGet : httpGet)(u, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("error", () => undefined); // the deadline decides
      res.on("end", () => {
        let healthy = false;
        try {
          healthy = res.statusCode === 200 && (JSON.parse(body) as { health?: unknown }).health === "true";
        } catch {
          healthy = false;
        }
        finish(healthy ? undefined : `etcd /health answered HTTP ${res.statusCode ?? 0}: ${body.trim()}`);
      });
    });
    req.on("socket", (s) => s.unref());
    req.on("error", () => undefined); // refused/reset: clientv3 retries until the deadline
  });
}

const fallback = new HealthChecks();

/** The one call from server.ts's nonResource(): serves health paths with `health` (else all-ok checks). */
export function serveHealth(health: HealthChecks | undefined, res: ServerResponse, record: RequestRecord): boolean {
  return (health ?? fallback).serve(res, record);
}

// GET /metrics: kube-apiserver's Prometheus exposition (a nonResourceURL). By default the text the
// recorded v1.25 server answered (../shared/kube/recorded-v1.25/metrics/kube-apiserver.prom, read
// once, lazily); `setMetrics(text | () => text)` serves another version's sample or a changing one.
// Authorization is the server's ordinary non-resource check, done before this is reached: under
// RBAC a user needs `get` on `/metrics` (recorded: developer → 403 `cannot get path "/metrics"`,
// anonymous → 403). Content-Type as Go's expfmt writes the text format; HEAD gets the headers only.
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { RECORDED_DIR } from "./openapi.js";
import type { RequestRecord } from "./server.js";

export const RECORDED_METRICS_FILE = `${RECORDED_DIR}metrics/kube-apiserver.prom`;
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class MetricsEndpoint {
  private source: string | (() => string) | undefined;
  private recorded: string | undefined;

  /** Replaces what /metrics answers (undefined: the recorded v1.25 text again). */
  setMetrics(source: string | (() => string) | undefined): void {
    this.source = source;
  }

  private text(): string {
    if (this.source !== undefined) return typeof this.source === "function" ? this.source() : this.source;
    return (this.recorded ??= readFileSync(RECORDED_METRICS_FILE, "utf8"));
  }

  /** Answers GET/HEAD /metrics (true); any other path is left alone (false). */
  serve(method: string, path: string, res: ServerResponse, record: RequestRecord): boolean {
    if (path !== "/metrics") return false;
    const body = this.text();
    record.status = 200;
    res.writeHead(200, { "Content-Type": CONTENT_TYPE, "Content-Length": Buffer.byteLength(body) });
    res.end(method === "HEAD" ? undefined : body);
    return true;
  }
}

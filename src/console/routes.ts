// Every route of the console: the page (public: it holds no data) and the JSON under
// /api/console/ (behind the same gate as the rest of the process's API).
import { Counter, Histogram, type Registry } from "prom-client";
import type { RouteHandler } from "../core/http-server.js";
import { PACKAGE_VERSION } from "../core/package-version.js";
import type { ConsoleContext } from "./context.js";
import { jsonRoute } from "./http.js";
import { loadStaticAssets } from "./static.js";
import { auditRoutes } from "./api/audit.js";
import { auditorRoutes } from "./api/auditor.js";
import { controlplaneRoutes } from "./api/controlplane.js";
import { trafficRoutes } from "./api/traffic.js";


export interface ConsoleRoutes {
  /** The page and its files: served without a token. */
  publicRoutes: Record<string, RouteHandler>;
  /** /api/console/...: data, behind the gate. */
  routes: Record<string, RouteHandler>;
  /** Bytes of the page's script and style (said in the start log). */
  size: { js: number; css: number; jsGzip: number; cssGzip: number };
}

/**
 * Counts and times every data route (label `route` = its path: bounded by the route table). The
 * duration is to the last byte, so a slow DuckDB query or Prometheus shows up per route.
 */
function instrument(routes: Record<string, RouteHandler>, registry: Registry): Record<string, RouteHandler> {
  const requests = new Counter({ name: "watch_auditor_console_requests_total", help: "Console data requests (/api/console/...) by route and HTTP status code.", labelNames: ["route", "code"], registers: [registry] });
  const seconds = new Histogram({
    name: "watch_auditor_console_request_duration_seconds",
    help: "Time to answer a console data request, by route (to the last byte).",
    labelNames: ["route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const out: Record<string, RouteHandler> = {};
  for (const [route, handler] of Object.entries(routes)) {
    out[route] = (req, res) => {
      const end = seconds.startTimer({ route });
      res.once("close", () => {
        end();
        requests.inc({ route, code: String(res.statusCode) });
      });
      return handler(req, res);
    };
  }
  return out;
}

/** With a registry, the data routes are counted and timed (watch_auditor_console_*). */
export function consoleRoutes(ctx: ConsoleContext, registry?: Registry): ConsoleRoutes {
  const assets = loadStaticAssets();
  const info = {
    version: PACKAGE_VERSION,
    sources: { audit: ctx.store !== undefined, prometheus: ctx.prometheus !== undefined, auditor: ctx.auditor !== undefined, etcdUsage: ctx.etcdUsageFile !== undefined },
  };
  const routes: Record<string, RouteHandler> = {
    "/api/console/info": jsonRoute(async () => info),
    ...(ctx.store ? auditRoutes(ctx) : {}),
    ...auditorRoutes(ctx),
    ...controlplaneRoutes(ctx),
    ...trafficRoutes(ctx),
  };
  return { publicRoutes: assets.routes, routes: registry ? instrument(routes, registry) : routes, size: assets.manifest.bytes };
}

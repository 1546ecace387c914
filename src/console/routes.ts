// Every route of the console: the page (public: it holds no data) and the JSON under
// /api/console/ (behind the same gate as the rest of the process's API).
import { readFileSync } from "node:fs";
import type { RouteHandler } from "../core/http-server.js";
import type { ConsoleContext } from "./context.js";
import { jsonRoute } from "./http.js";
import { loadStaticAssets } from "./static.js";
import { auditRoutes } from "./api/audit.js";
import { auditorRoutes } from "./api/auditor.js";
import { controlplaneRoutes } from "./api/controlplane.js";
import { trafficRoutes } from "./api/traffic.js";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface ConsoleRoutes {
  /** The page and its files: served without a token. */
  publicRoutes: Record<string, RouteHandler>;
  /** /api/console/...: data, behind the gate. */
  routes: Record<string, RouteHandler>;
  /** Bytes of the page's script and style (said in the start log). */
  size: { js: number; css: number; jsGzip: number; cssGzip: number };
}

export function consoleRoutes(ctx: ConsoleContext): ConsoleRoutes {
  const assets = loadStaticAssets();
  const info = {
    version: VERSION,
    sources: { audit: ctx.store !== undefined, prometheus: ctx.prometheus !== undefined, auditor: ctx.auditor !== undefined, etcdUsage: ctx.etcdUsageFile !== undefined },
  };
  const routes: Record<string, RouteHandler> = {
    "/api/console/info": jsonRoute(async () => info),
    ...(ctx.store ? auditRoutes(ctx) : {}),
    ...auditorRoutes(ctx),
    ...controlplaneRoutes(ctx),
    ...trafficRoutes(ctx),
  };
  return { publicRoutes: assets.routes, routes, size: assets.manifest.bytes };
}

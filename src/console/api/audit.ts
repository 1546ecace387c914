// The audit area of the console's JSON API: GET /api/console/audit/<what> (docs/console.md,
// "Audit API"). Every route reads the one shared store connection through serialized(); every
// user-supplied value reaches DuckDB as a bound parameter.
import type { IncomingMessage } from "node:http";
import { serialized, type AuditStore } from "../../audit/public.js";
import type { RouteHandler } from "../../core/http-server.js";
import type { ConsoleContext } from "../context.js";
import { NotConfigured, int, jsonRoute, required, str } from "../http.js";
import { parseFilter } from "./audit-filter.js";
import { events, histogram, summary } from "./audit-search.js";
import { auditEvent, history } from "./audit-event.js";
import { timeline } from "./audit-timeline.js";
import { INSIGHTS, insight } from "./audit-insights.js";

const PREFIX = "/api/console/audit";

/** The client went away while its request waited for the store: its query is not run. */
class ClientGone extends Error {}

/** Runs `fn` on the store when the request's turn comes. */
type WithStore = <T>(fn: (store: AuditStore) => Promise<T>) => Promise<T>;

export function auditRoutes(ctx: ConsoleContext): Record<string, RouteHandler> {
  /**
   * Rows (the results table, one event, a history) and aggregates (summary, histogram, timeline,
   * insights) queue on two connections: a filter change's first rows never wait behind the scans
   * of the histogram and summary a page asks for at the same time.
   */
  const route = (fn: (u: URLSearchParams, withStore: WithStore) => Promise<unknown>, queue: "rows" | "aggregates" = "aggregates"): RouteHandler => {
    const handler = jsonRoute(async (u, req: IncomingMessage) => {
      const withStore: WithStore = (run) => {
        const store = queue === "aggregates" ? (ctx.aggregateStore ?? ctx.store) : ctx.store;
        if (!store) throw new NotConfigured("no audit store: start the console with --audit-db FILE");
        // One connection serves every request in turn. A page that changed its filters aborted its
        // older requests (their sockets are closed): their queries are skipped, not run ahead of the new ones.
        return serialized(store, () => {
          if (req.socket.destroyed) throw new ClientGone("client closed the connection");
          return run(store);
        });
      };
      return fn(u, withStore);
    });
    return async (req, res) => {
      try {
        await handler(req, res);
      } catch (err) {
        // Nobody reads the answer: 499 (client closed request) for the request metrics, not a 500.
        if (!(err instanceof ClientGone)) throw err;
        res.statusCode = 499;
        res.end();
      }
    };
  };
  const routes: Record<string, RouteHandler> = {
    [`${PREFIX}/summary`]: route((_u, withStore) => withStore((s) => summary(s))),
    [`${PREFIX}/histogram`]: route((u, withStore) => {
      const f = parseFilter(u);
      const buckets = int(u, "buckets", 10, 400, 120);
      return withStore((s) => histogram(s, f, buckets));
    }),
    [`${PREFIX}/events`]: route((u, withStore) => {
      const f = parseFilter(u);
      const offset = int(u, "offset", 0, 1_000_000_000, 0);
      const limit = int(u, "limit", 1, 1000, 200);
      return withStore((s) => events(s, f, offset, limit));
    }, "rows"),
    [`${PREFIX}/event`]: route((u, withStore) => {
      const id = required(u, "audit_id");
      const stage = str(u, "stage");
      return withStore((s) => auditEvent(s, id, stage));
    }, "rows"),
    [`${PREFIX}/timeline`]: route((u, withStore) => {
      const f = parseFilter(u);
      const lanes = int(u, "lanes", 1, 2000, 300);
      return withStore((s) => timeline(s, f, lanes));
    }),
    [`${PREFIX}/history`]: route((u, withStore) => {
      const resource = required(u, "resource");
      const name = required(u, "name");
      const namespace = str(u, "namespace");
      return withStore((s) => history(s, resource, namespace, name));
    }, "rows"),
  };
  for (const kind of INSIGHTS) {
    routes[`${PREFIX}/insights/${kind}`] = route((u, withStore) => {
      const f = parseFilter(u);
      const limit = int(u, "limit", 1, 10_000, 1000);
      return withStore((s) => insight(s, kind, f, limit));
    });
  }
  return routes;
}

// Placeholder until its owner lands the routes (replace the whole file).
import type { RouteHandler } from "../../core/http-server.js";
import type { ConsoleContext } from "../context.js";

export function auditRoutes(_ctx: ConsoleContext): Record<string, RouteHandler> {
  return {};
}

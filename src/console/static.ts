// Serves the built page (dist/console/web, made by scripts/build-console.mjs): index.html for "/"
// and the hashed files it names. Only files in the build's manifest are served — a request path
// never reaches the file system — and the page gets a Content-Security-Policy that allows nothing
// but this origin's script, style and JSON.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RouteHandler } from "../core/http-server.js";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** On every response of a process that serves the console (JSON too). */
export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** Both from src/console (tests through tsx) and dist/console (the package): <root>/dist/console/web. */
export const WEB_ROOT = fileURLToPath(new URL("../../dist/console/web/", import.meta.url));

interface Manifest {
  js: string;
  css: string;
  bytes: { js: number; css: number; jsGzip: number; cssGzip: number };
}

export interface StaticAssets {
  routes: Record<string, RouteHandler>;
  manifest: Manifest;
}

function send(res: ServerResponse, req: IncomingMessage, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(200, { ...headers, "content-length": String(body.length) });
  res.end(req.method === "HEAD" ? undefined : body);
}

const acceptsGzip = (req: IncomingMessage): boolean => /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));

/** A hashed file, gzip-compressed at build time for clients that take it. */
function asset(plain: Buffer, gzipped: Buffer, type: string): RouteHandler {
  // Content-hashed names: a new build has new names, so these can be cached for good.
  const headers = { "content-type": type, "cache-control": "public, max-age=31536000, immutable", vary: "accept-encoding" };
  return (req, res) => (acceptsGzip(req) ? send(res, req, gzipped, { ...headers, "content-encoding": "gzip" }) : send(res, req, plain, headers));
}

/** Reads the build once at start; throws naming the directory when the page was not built. */
export function loadStaticAssets(root: string = WEB_ROOT): StaticAssets {
  const manifestFile = `${root}manifest.json`;
  if (!existsSync(manifestFile)) throw new Error(`the web console is not built: ${manifestFile} is missing (run npm run build)`);
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
  const html = readFileSync(`${root}index.html`);
  const file = (name: string): Buffer => readFileSync(`${root}assets/${name}`);
  const page: RouteHandler = (req, res) =>
    send(res, req, html, { "content-type": "text/html; charset=utf-8", "content-security-policy": CONTENT_SECURITY_POLICY, "cache-control": "no-cache" });
  return {
    manifest,
    routes: {
      "/": page,
      "/index.html": page,
      [`/assets/${manifest.js}`]: asset(file(manifest.js), file(`${manifest.js}.gz`), "text/javascript; charset=utf-8"),
      [`/assets/${manifest.css}`]: asset(file(manifest.css), file(`${manifest.css}.gz`), "text/css; charset=utf-8"),
    },
  };
}

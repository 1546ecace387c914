#!/usr/bin/env node
// Builds the web console (src/console/web) into dist/console/web: one JS and one CSS file, named by
// content hash (cached for a year; index.html never), with everything inlined from node_modules —
// the page fetches nothing from anywhere else, so it works offline and under a strict CSP.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { gzipSync, constants as zlib } from "node:zlib";
import { mkdirSync, readFileSync, rmSync, writeFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src/console/web");
const out = join(root, "dist/console/web");

const result = await build({
  entryPoints: [join(src, "main.tsx")],
  bundle: true,
  write: false,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: "out",
  legalComments: "eof",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const names = {};
for (const f of result.outputFiles) {
  const ext = f.path.endsWith(".css") ? "css" : "js";
  const hash = createHash("sha256").update(f.contents).digest("hex").slice(0, 12);
  const name = `app-${hash}.${ext}`;
  writeFileSync(join(out, "assets", name), f.contents);
  // Pre-compressed once here, so the server never compresses per request.
  writeFileSync(join(out, "assets", `${name}.gz`), gzipSync(f.contents, { level: zlib.Z_BEST_COMPRESSION }));
  names[ext] = name;
}
if (!names.js || !names.css) throw new Error(`build-console: expected one .js and one .css output, got ${Object.keys(names).join(", ")}`);
const html = readFileSync(join(src, "index.html"), "utf8").replace("__JS__", names.js).replace("__CSS__", names.css);
writeFileSync(join(out, "index.html"), html);
const size = (n) => statSync(join(out, "assets", n)).size;
const manifest = {
  js: names.js,
  css: names.css,
  bytes: { js: size(names.js), css: size(names.css), jsGzip: size(`${names.js}.gz`), cssGzip: size(`${names.css}.gz`) },
};
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
if (process.argv.includes("--verbose")) console.log(JSON.stringify(manifest));

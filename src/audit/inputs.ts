import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { UsageError } from "../core/errors.js";

export interface ResolvedInput {
  /** What the user named (file path, or "-" for stdin) — used in file:line reports. */
  label: string;
  /** Where the bytes are (a spool file for stdin). */
  path: string;
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) {
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Rotated logs sort oldest first: audit.log.3, audit.log.2, audit.log.1, audit.log. */
function rotationOrder(a: string, b: string): number {
  const ra = /^(.*)\.(\d+)(\.gz)?$/.exec(a);
  const rb = /^(.*)\.(\d+)(\.gz)?$/.exec(b);
  const baseA = ra ? ra[1]! : a.replace(/\.gz$/, "");
  const baseB = rb ? rb[1]! : b.replace(/\.gz$/, "");
  if (baseA === baseB) return (rb ? Number(rb[2]) : 0) - (ra ? Number(ra[2]) : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

async function filesIn(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && !d.name.startsWith(".")).map((d) => d.name);
  return names.sort(rotationOrder).map((n) => join(dir, n));
}

/**
 * Expands PATH arguments: files, directories (every regular file in them: audit.log, audit.log.1,
 * audit-2024-01-01T00-00-00.000.log.gz ...), globs in the last path segment, and "-" for stdin.
 * A path that matches nothing is a usage error naming it, never silently skipped.
 */
export async function resolveInputs(paths: string[], stdin: Readable = process.stdin): Promise<{ inputs: ResolvedInput[]; cleanup: () => Promise<void> }> {
  const inputs: ResolvedInput[] = [];
  const temps: string[] = [];
  const cleanup = async (): Promise<void> => {
    for (const t of temps) await rm(t, { recursive: true, force: true });
  };
  try {
    for (const p of paths) {
      if (p === "-") {
        // DuckDB reads files, not pipes: spool stdin to a private temp file.
        const dir = await mkdtemp(join(tmpdir(), "watch-auditor-stdin-"));
        temps.push(dir);
        const spool = join(dir, "stdin.log");
        await pipeline(stdin, createWriteStream(spool, { mode: 0o600 }));
        inputs.push({ label: "-", path: spool });
        continue;
      }
      if (/[*?]/.test(basename(p))) {
        const dir = dirname(p);
        const re = globToRegExp(basename(p));
        let names: string[];
        try {
          names = (await readdir(dir)).filter((n) => re.test(n));
        } catch {
          throw new UsageError(`PATH ${p}: directory ${dir} cannot be read`);
        }
        if (names.length === 0) throw new UsageError(`PATH ${p}: no file matches`);
        for (const n of names.sort(rotationOrder)) {
          const full = join(dir, n);
          if ((await stat(full)).isFile()) inputs.push({ label: full, path: full });
        }
        continue;
      }
      let st;
      try {
        st = await stat(p);
      } catch {
        throw new UsageError(`PATH ${p}: no such file or directory`);
      }
      if (st.isDirectory()) {
        const files = await filesIn(p);
        if (files.length === 0) throw new UsageError(`PATH ${p}: directory has no files`);
        for (const f of files) inputs.push({ label: f, path: f });
      } else {
        inputs.push({ label: p, path: p });
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { inputs, cleanup };
}

// A minor GC (scavenge) on demand, for the usage scan's receive path (see h2.ts afterAnswer).
// Node exposes `gc` only with --expose-gc; a CLI cannot rely on node flags (npm's bin shims,
// `#!/usr/bin/env node`), so the flag is turned on just long enough to fetch the function from a
// fresh context, and off again (contexts made later get no `gc` global). When that is not possible
// the scan runs the same, only with more dead buffers waiting for V8's own schedule.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type GcFunction = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

let gcFn: GcFunction | null | undefined;

function find(): GcFunction | null {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as GcFunction;
  try {
    setFlagsFromString("--expose-gc");
    const f: unknown = runInNewContext("gc");
    return typeof f === "function" ? (f as GcFunction) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

/** Runs a young-generation GC when one can be asked for; otherwise does nothing. */
export function minorGc(): void {
  if (gcFn === undefined) gcFn = find();
  gcFn?.({ type: "minor" });
}

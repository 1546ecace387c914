// Field-level diff of two Kubernetes objects. Paths are dotted; list items are named by their
// `name` when every item of both lists has a unique string name (containers, env, ports, volumes:
// `spec.template.spec.containers[cart].image`), else by a unique `type` (conditions:
// `status.conditions[Available].status`), else by index (`args[0]`).

export type ChangeOp = "added" | "removed" | "changed";

export interface Change {
  path: string;
  op: ChangeOp;
  old?: unknown;
  new?: unknown;
}

/** Paths hidden unless --all-fields: bookkeeping every write changes. */
export function isNoise(path: string): boolean {
  return path === "metadata.resourceVersion" || path === "metadata.managedFields" || path.startsWith("metadata.managedFields[") || path.startsWith("metadata.managedFields.");
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The key that names list items: `name` (containers, env, ports...), else `type` (conditions). */
function itemKey(a: unknown[], b: unknown[]): string | null {
  if (a.length + b.length === 0) return null;
  next: for (const key of ["name", "type"]) {
    for (const list of [a, b]) {
      const seen = new Set<string>();
      for (const it of list) {
        if (!isObj(it) || typeof it[key] !== "string" || seen.has(it[key])) continue next;
        seen.add(it[key]);
      }
    }
    return key;
  }
  return null;
}

/** Whether a key can stand after a dot (most do: checked by char codes, a regex per key costs). */
function plainKey(k: string): boolean {
  if (k.length === 0) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95)) return false;
  }
  return true;
}

const field = (base: string, k: string): string => (base === "" ? k : plainKey(k) ? `${base}.${k}` : `${base}["${k}"]`);

function walk(a: unknown, b: unknown, path: string, out: Change[]): void {
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) {
      const av = a[k];
      if (!(k in b)) out.push({ path: field(path, k), op: "removed", old: av });
      // Equal scalars (most fields of most revisions) cost no path string.
      else if (av !== b[k] || typeof av === "object") walk(av, b[k], field(path, k), out);
    }
    for (const k of Object.keys(b)) if (!(k in a)) out.push({ path: field(path, k), op: "added", new: b[k] });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const key = itemKey(a, b);
    if (key !== null) {
      const am = new Map(a.map((it) => [(it as Record<string, string>)[key]!, it]));
      const bm = new Map(b.map((it) => [(it as Record<string, string>)[key]!, it]));
      for (const [n, it] of am) {
        const p = `${path}[${n}]`;
        if (!bm.has(n)) out.push({ path: p, op: "removed", old: it });
        else walk(it, bm.get(n), p, out);
      }
      for (const [n, it] of bm) if (!am.has(n)) out.push({ path: `${path}[${n}]`, op: "added", new: it });
      return;
    }
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i < a.length && i < b.length && a[i] === b[i] && typeof a[i] !== "object") continue;
      const p = `${path}[${i}]`;
      if (i >= b.length) out.push({ path: p, op: "removed", old: a[i] });
      else if (i >= a.length) out.push({ path: p, op: "added", new: b[i] });
      else if (a[i] !== b[i] || typeof a[i] === "object") walk(a[i], b[i], p, out);
    }
    return;
  }
  if (a === b) return;
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  out.push({ path, op: "changed", old: a, new: b });
}

/** Changes from `a` to `b`, in document order of `a` then additions of `b`. */
export function diffObjects(a: unknown, b: unknown): Change[] {
  const out: Change[] = [];
  walk(a, b, "", out);
  return out;
}

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

/** One step of a path: an object key or a list item (its name or index). */
type Step = { key: string; item: false } | { key: string | number; item: true };

function pathOf(steps: Step[]): string {
  let out = "";
  for (const st of steps) {
    if (st.item) out += `[${st.key}]`;
    else if (out === "") out = st.key;
    else out += plainKey(st.key) ? `.${st.key}` : `["${st.key}"]`;
  }
  return out;
}

/**
 * Walks two values side by side. Paths are built only for changes (most nodes are equal), and
 * under a counted-only subtree (the noise, unless --all-fields) changes are only counted.
 */
class Walker {
  readonly changes: Change[] = [];
  hidden = 0;
  private readonly steps: Step[] = [];
  private counting = 0;

  constructor(private readonly countNoise: boolean) {}

  private push(op: ChangeOp, old: unknown, neu: unknown): void {
    if (this.counting > 0) {
      this.hidden++;
      return;
    }
    const path = pathOf(this.steps);
    if (this.countNoise && isNoise(path)) this.hidden++;
    else if (op === "added") this.changes.push({ path, op, new: neu });
    else if (op === "removed") this.changes.push({ path, op, old });
    else this.changes.push({ path, op, old, new: neu });
  }

  /** Whether the step just entered starts a noise subtree (metadata.managedFields). */
  private enteringNoise(): boolean {
    const n = this.steps.length;
    return this.countNoise && n === 2 && this.steps[0]!.key === "metadata" && this.steps[1]!.key === "managedFields";
  }

  private child(a: unknown, b: unknown, st: Step, op: ChangeOp | null): void {
    this.steps.push(st);
    const noise = this.counting === 0 && this.enteringNoise();
    if (noise) this.counting++;
    if (op === null) this.walk(a, b);
    else this.push(op, a, b);
    if (noise) this.counting--;
    this.steps.pop();
  }

  walk(a: unknown, b: unknown): void {
    if (isObj(a) && isObj(b)) {
      for (const k of Object.keys(a)) {
        const av = a[k];
        if (!(k in b)) this.child(av, undefined, { key: k, item: false }, "removed");
        // Equal scalars (most fields of most revisions) cost nothing.
        else if (av !== b[k] || typeof av === "object") this.child(av, b[k], { key: k, item: false }, null);
      }
      for (const k of Object.keys(b)) if (!(k in a)) this.child(undefined, b[k], { key: k, item: false }, "added");
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      const key = itemKey(a, b);
      if (key !== null) {
        const am = new Map(a.map((it) => [(it as Record<string, string>)[key]!, it]));
        const bm = new Map(b.map((it) => [(it as Record<string, string>)[key]!, it]));
        for (const [n, it] of am) {
          if (!bm.has(n)) this.child(it, undefined, { key: n, item: true }, "removed");
          else this.child(it, bm.get(n), { key: n, item: true }, null);
        }
        for (const [n, it] of bm) if (!am.has(n)) this.child(undefined, it, { key: n, item: true }, "added");
        return;
      }
      const n = Math.max(a.length, b.length);
      for (let i = 0; i < n; i++) {
        if (i < a.length && i < b.length && a[i] === b[i] && typeof a[i] !== "object") continue;
        if (i >= b.length) this.child(a[i], undefined, { key: i, item: true }, "removed");
        else if (i >= a.length) this.child(undefined, b[i], { key: i, item: true }, "added");
        else this.child(a[i], b[i], { key: i, item: true }, null);
      }
      return;
    }
    if (a === b) return;
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    this.push("changed", a, b);
  }
}

/** Changes from `a` to `b`, in document order of `a` then additions of `b`. */
export function diffObjects(a: unknown, b: unknown): Change[] {
  const w = new Walker(false);
  w.walk(a, b);
  return w.changes;
}

/**
 * Changes from `a` to `b` without the noise (metadata.managedFields, metadata.resourceVersion),
 * which is only counted: the same changes and count as filtering diffObjects, for less work.
 */
export function diffObjectsHidingNoise(a: unknown, b: unknown): { changes: Change[]; hidden: number } {
  const w = new Walker(true);
  w.walk(a, b);
  return { changes: w.changes, hidden: w.hidden };
}

import type { History } from "./history.js";

const val = (v: unknown): string => {
  const s = v === undefined ? "" : JSON.stringify(v);
  return s.length > 100 ? s.slice(0, 97) + "..." : s;
};

/** Human output of `audit history`. */
export function renderHistory(h: History, allFields: boolean): string {
  const what = `${h.resource}${h.api_group ? "." + h.api_group : ""} ${h.namespace ? h.namespace + "/" : ""}${h.name}`;
  if (h.revisions.length === 0) return `${what}: no successful writes in the store (create/update/patch/apply/delete)\n`;
  const out: string[] = [`${what}: ${h.revisions.length} revision(s) in ${h.lifetimes.length} lifetime(s)`];
  for (const l of h.lifetimes) {
    const start = l.created_before_window
      ? `first seen at ${l.first_seen} (created before the window${l.created_at ? `, creationTimestamp ${l.created_at}` : ""})`
      : `created at ${l.created_at} by ${l.created_by ?? "?"}`;
    const requested = l.deletion_requested_at ? `deletion requested at ${l.deletion_requested_at} by ${l.deletion_requested_by ?? "?"}` : "";
    const end = l.deleted_at
      ? `deleted at ${l.deleted_at} by ${l.deleted_by ?? "?"}${requested && l.deletion_requested_at !== l.deleted_at ? ` (${requested})` : ""}`
      : requested
        ? `${requested}, not gone in the window`
        : "not deleted in the window";
    out.push(`lifetime ${l.index}: ${start}; ${end}`);
  }
  for (const n of h.notes) out.push(`note: ${n}`);
  for (const r of h.revisions) {
    const verb = r.subresource ? `${r.verb} ${r.subresource}` : r.verb;
    const mgr = r.field_manager ? ` manager ${r.field_manager}` : "";
    const rv = r.resource_version ? ` rv ${r.resource_version}` : "";
    out.push("", `#${r.index} ${r.time} ${verb} by ${r.user ?? "?"}${mgr}${rv}`, `    agent: ${r.user_agent ?? ""}`);
    if (r.note) out.push(`    ${r.note}`);
    for (const c of r.changes ?? []) {
      if (c.op === "added") out.push(`    + ${c.path}: ${val(c.new)}`);
      else if (c.op === "removed") out.push(`    - ${c.path}: ${val(c.old)}`);
      else out.push(`    ~ ${c.path}: ${val(c.old)} → ${val(c.new)}`);
    }
    if (r.changes && r.changes.length === 0 && r.hidden_changes === 0) out.push("    no field changes");
    if (r.hidden_changes > 0 && !allFields) out.push(`    (${r.hidden_changes} managedFields/resourceVersion change(s) hidden; --all-fields shows them)`);
  }
  return out.join("\n") + "\n";
}

// The diff of one revision (`rev`) of the selected object (`sel`): `history?resource&namespace&name`
// (what `audit history -o json` prints), the revision matched by audit_id, its changes as text.
import { useEffect, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { errorText, parseObjectKey, qualifiedResource, shortTime } from "./filters.js";
import type { HistoryResult, Lane, SetState } from "./types.js";

/** A changed value as shown in the diff: JSON (strings quoted), nothing when absent. */
export function diffValue(v: unknown): string {
  return v === undefined ? "" : JSON.stringify(v);
}

export function DiffPanel({ sel, rev, lane, setState }: { sel: string; rev: string; lane: Lane | undefined; setState: SetState }) {
  const obj = parseObjectKey(sel);
  const resource = obj ? qualifiedResource(obj.resource, lane?.apiGroup) : "";
  const hkey = `${resource}|${obj?.namespace ?? ""}|${obj?.name ?? ""}`;
  // The history and error belong to one object: another one shows neither until its own arrives.
  const [historyOf, setHistoryOf] = useState<{ key: string; history: HistoryResult } | null>(null);
  const [errorOf, setErrorOf] = useState<{ key: string; error: string } | null>(null);
  const history = historyOf?.key === hkey ? historyOf.history : null;
  const error = errorOf?.key === hkey ? errorOf.error : null;
  useEffect(() => {
    if (!obj) {
      setErrorOf({ key: hkey, error: `sel: expected resource/namespace/name, got ${sel}` });
      return;
    }
    const ac = new AbortController();
    getJson<HistoryResult>("audit/history", { resource, namespace: obj.namespace ?? "-", name: obj.name }, ac.signal)
      .then((h) => setHistoryOf({ key: hkey, history: h }))
      .catch((err: unknown) => {
        if (!isAbort(err)) setErrorOf({ key: hkey, error: errorText(err) });
      });
    return () => ac.abort();
  }, [hkey]);

  const revision = history?.revisions.find((r) => r.audit_id === rev);
  return (
    <section class="audit-panel audit-diff" data-testid="diff-panel" data-rev={rev}>
      <header>
        <strong>revision</strong> <code>{sel}</code>
        <span class="spacer" />
        <button type="button" data-testid="diff-close" onClick={() => setState({ rev: undefined })}>
          close
        </button>
      </header>
      {error !== null && <p class="error">{error}</p>}
      {history === null && error === null && <p class="hint">loading history…</p>}
      {history !== null && !revision && <p class="error">revision {rev} is not in this object's history</p>}
      {revision && (
        <>
          <p data-testid="diff-meta">
            #{revision.index} (lifetime {revision.lifetime}) · {shortTime(revision.time)} · {revision.verb}
            {revision.subresource ? `/${revision.subresource}` : ""} by {revision.user ?? "?"} · {revision.code ?? ""}
          </p>
          {revision.note && <p class="hint">{revision.note}</p>}
          {revision.changes === null ? (
            <p class="hint" data-testid="diff-none">
              No earlier revision with a body in this lifetime to compare with{revision.index === 0 || revision.verb === "create" ? " (the object's first revision)" : ""}.
            </p>
          ) : revision.changes.length === 0 ? (
            <p class="hint" data-testid="diff-empty">
              No field changed{revision.hidden_changes > 0 ? ` (${revision.hidden_changes} bookkeeping changes hidden)` : ""}.
            </p>
          ) : (
            <table class="diff-table" data-testid="diff-table">
              <thead>
                <tr>
                  <th>path</th>
                  <th>op</th>
                  <th>old → new</th>
                </tr>
              </thead>
              <tbody>
                {revision.changes.map((c, i) => (
                  <tr key={`${i}:${c.path}`} data-testid="diff-change" data-path={c.path} data-op={c.op} class={`diff-${c.op}`}>
                    <td class="mono">{c.path}</td>
                    <td>{c.op}</td>
                    <td class="mono diff-values">
                      <span class="diff-old" data-testid="diff-old">{diffValue(c.old)}</span>
                      {c.op === "changed" ? " → " : ""}
                      <span class="diff-new" data-testid="diff-new">{diffValue(c.new)}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {revision.changes !== null && revision.hidden_changes > 0 && revision.changes.length > 0 && (
            <p class="hint">{revision.hidden_changes} bookkeeping changes (resourceVersion, managedFields) hidden.</p>
          )}
        </>
      )}
    </section>
  );
}

// The insights tab: who deleted, who changed, top callers, error causes (with the likely cause),
// latency by resource and verb, detections: tables from `insights/<kind>` over the current filters,
// each row about an object linking into its timeline (`sel`, tab=timeline, same time range).
import { useEffect, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { errorText, hrefFor, objectKey, valueText } from "./filters.js";
import type { InsightResult, SetState, State } from "./types.js";

export const INSIGHTS: { id: string; label: string; about: string }[] = [
  { id: "who-deleted", label: "who deleted", about: "delete requests: who, what, when, and whether it worked" },
  { id: "who-changed", label: "who changed", about: "writes (create, update, patch, apply) by user and object" },
  { id: "top-callers", label: "top callers", about: "the users and agents with the most requests" },
  { id: "errors", label: "error causes", about: "failed requests grouped, with their likely cause" },
  { id: "latency", label: "latency", about: "latency by resource and verb" },
  { id: "detections", label: "detections", about: "built-in detection rules that matched" },
];

/** The raw event a row names (audit_id and stage), for the event panel. */
function rowEvent(row: Record<string, unknown>): string | undefined {
  return typeof row.audit_id === "string" && typeof row.stage === "string" ? `${row.audit_id}:${row.stage}` : undefined;
}

function rowLink(row: Record<string, unknown>): Record<string, string | undefined> | null {
  const resource = typeof row.resource === "string" && row.resource !== "" ? row.resource : null;
  if (!resource) return null;
  const name = typeof row.name === "string" && row.name !== "" ? row.name : null;
  const namespace = typeof row.namespace === "string" && row.namespace !== "" ? row.namespace : null;
  // The object's lane, with the row's own event opened next to it when the row names one.
  if (name) return { tab: "timeline", sel: objectKey(resource, namespace, name), rev: undefined, ev: rowEvent(row) };
  // A row about a kind (latency, errors by resource): the timeline of that kind.
  return { tab: "timeline", resource, namespace: namespace ?? undefined, sel: undefined, rev: undefined, ev: undefined };
}

export function InsightsTab({ state, setState }: { state: State; setState: SetState }) {
  const kind = INSIGHTS.some((i) => i.id === state.insight) ? state.insight! : INSIGHTS[0]!.id;
  // The answer and error belong to one question (kind + filters): a new one shows neither at once.
  const [dataOf, setDataOf] = useState<{ key: string; data: InsightResult } | null>(null);
  const [errorOf, setErrorOf] = useState<{ key: string; error: string } | null>(null);
  const params: Record<string, string> = {};
  for (const k of ["from", "to", "user", "useragent", "verb", "resource", "namespace", "name", "code", "q"]) if (state[k]) params[k] = state[k]!;
  const key = `${kind}?${new URLSearchParams(params).toString()}`;
  const data = dataOf?.key === key ? dataOf.data : null;
  const error = errorOf?.key === key ? errorOf.error : null;
  useEffect(() => {
    const ac = new AbortController();
    getJson<InsightResult>(`audit/insights/${kind}`, params, ac.signal)
      .then((d) => setDataOf({ key, data: d }))
      .catch((err: unknown) => {
        if (!isAbort(err)) setErrorOf({ key, error: errorText(err) });
      });
    return () => ac.abort();
  }, [key]);

  const about = INSIGHTS.find((i) => i.id === kind)!.about;
  return (
    <div class="audit-insights" data-testid="audit-insights">
      <nav class="subtabs" aria-label="insights">
        {INSIGHTS.map((i) => (
          <a
            key={i.id}
            href={hrefFor(state, { insight: i.id })}
            class={i.id === kind ? "active" : ""}
            data-testid={`insight-${i.id}`}
            onClick={(e) => {
              e.preventDefault();
              setState({ insight: i.id });
            }}
          >
            {i.label}
          </a>
        ))}
      </nav>
      <p class="hint">{about}</p>
      {error !== null && <p class="error">{error}</p>}
      {data === null && error === null && <p class="hint">loading…</p>}
      {data !== null && data.rows.length === 0 && (
        <p class="hint" data-testid="insight-empty">
          Nothing with these filters.
        </p>
      )}
      {data !== null && data.rows.length > 0 && (
        <div class="insight-table-box">
          <table class="insight-table" data-testid="insight-table" data-kind={kind} data-rows={data.rows.length}>
            <thead>
              <tr>
                <th />
                {data.columns.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.rows.map((row, i) => {
                const link = rowLink(row);
                const ev = rowEvent(row);
                const evLink = ev ? { tab: "search", ev } : null;
                return (
                  <tr key={i} data-testid="insight-row">
                    <td>
                      {link && (
                        <a
                          href={hrefFor(state, link)}
                          data-testid="insight-timeline-link"
                          onClick={(e) => {
                            e.preventDefault();
                            setState(link);
                          }}
                        >
                          timeline
                        </a>
                      )}
                      {link && evLink && " · "}
                      {evLink && (
                        <a
                          href={hrefFor(state, evLink)}
                          data-testid="insight-event-link"
                          onClick={(e) => {
                            e.preventDefault();
                            setState(evLink);
                          }}
                        >
                          event
                        </a>
                      )}
                    </td>
                    {data.columns.map((c) => {
                      const v = row[c];
                      const text = v === null || v === undefined ? "" : valueText(v);
                      return (
                        <td key={c} title={text} class={c === "likely_cause" || c === "cause" ? "wrap" : ""}>
                          {text}
                        </td>
                      );
                    })}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

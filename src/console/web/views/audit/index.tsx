// The audit view: search (histogram, filters, virtual results, raw event), timeline (lanes of
// objects, diffs, marks) and insights. All state is in the URL (tab, filters, sel, rev, ev, insight).
import { useEffect, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { FilterBar } from "./filter-bar.js";
import { errorText, hrefFor } from "./filters.js";
import { InsightsTab } from "./insights.js";
import { SearchTab } from "./search.js";
import { TimelineTab } from "./timeline.js";
import type { Summary, ViewProps } from "./types.js";
import "./audit.css";

const TABS = [
  { id: "search", label: "Search" },
  { id: "timeline", label: "Timeline" },
  { id: "insights", label: "Insights" },
];

export function AuditView({ state, setState }: ViewProps) {
  const tab = TABS.some((t) => t.id === state.tab) ? state.tab! : "search";
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    // After the tab's own first request (the server answers one query at a time): data first.
    const timer = setTimeout(() => {
      getJson<Summary>("audit/summary", {}, ac.signal)
        .then(setSummary)
        .catch((err: unknown) => {
          if (!isAbort(err)) setError(errorText(err));
        });
    }, 0);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, []);

  return (
    <div class="audit-view" data-testid="audit-view" data-tab={tab}>
      <div class="audit-top">
        <nav class="subtabs" aria-label="audit">
          {TABS.map((t) => (
            <a
              key={t.id}
              href={hrefFor(state, { tab: t.id })}
              class={t.id === tab ? "active" : ""}
              data-testid={`tab-${t.id}`}
              onClick={(e) => {
                e.preventDefault();
                setState({ tab: t.id });
              }}
            >
              {t.label}
            </a>
          ))}
        </nav>
        <span class="hint" data-testid="audit-summary">
          {summary ? `${summary.events.toLocaleString("en-US")} requests in the store${summary.from ? ` · ${summary.from} → ${summary.to}` : ""}` : ""}
        </span>
        {error !== null && <span class="error">{error}</span>}
      </div>
      {tab !== "search" && <FilterBar state={state} setState={setState} summary={summary} />}
      {tab === "search" && <SearchTab state={state} setState={setState} summary={summary} />}
      {tab === "timeline" && <TimelineTab state={state} setState={setState} />}
      {tab === "insights" && <InsightsTab state={state} setState={setState} />}
    </div>
  );
}

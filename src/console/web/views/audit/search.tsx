// The search tab: histogram (time range), filters, the virtual results table and the selected event.
import { Histogram } from "./histogram.js";
import { FilterBar } from "./filter-bar.js";
import { ResultsTable } from "./results.js";
import { EventPanel } from "./event-panel.js";
import { filterParams, shortTime } from "./filters.js";
import type { SetState, State, Summary } from "./types.js";

export function SearchTab({ state, setState, summary }: { state: State; setState: SetState; summary: Summary | null }) {
  const params = filterParams(state);
  return (
    <div class="audit-search" data-testid="audit-search">
      <Histogram state={state} setState={setState} />
      {(state.from || state.to) && (
        <p class="hint" data-testid="time-range">
          time range: {state.from ? shortTime(state.from) : "start"} → {state.to ? shortTime(state.to) : "end"} (UTC)
        </p>
      )}
      <FilterBar state={state} setState={setState} summary={summary} />
      <div class={`audit-split${state.ev ? " with-panel" : ""}`}>
        <ResultsTable params={params} selected={state.ev} onSelect={(row) => setState({ ev: `${row.audit_id}:${row.stage}` })} />
        {state.ev && <EventPanel ev={state.ev} state={state} setState={setState} />}
      </div>
    </div>
  );
}

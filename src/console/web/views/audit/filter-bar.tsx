// The filter inputs. Typing updates the URL after ~250 ms: the first change of an edit pushes a
// history entry (back returns to the filter before it), later keystrokes replace it.
import { useEffect, useRef, useState } from "preact/hooks";
import type { FilterKey } from "./filters.js";
import type { SetState, State, Summary } from "./types.js";

const FIELDS: { key: Exclude<FilterKey, "from" | "to">; label: string; placeholder: string; list?: keyof Summary; width: string }[] = [
  { key: "user", label: "user", placeholder: "exact user", width: "w-l" },
  { key: "useragent", label: "user agent", placeholder: "contains", width: "w-l" },
  { key: "verb", label: "verb", placeholder: "any", list: "verbs", width: "w-s" },
  { key: "resource", label: "resource", placeholder: "any", list: "resources", width: "w-m" },
  { key: "namespace", label: "namespace", placeholder: "any", list: "namespaces", width: "w-m" },
  { key: "name", label: "name", placeholder: "exact name", width: "w-m" },
  { key: "code", label: "code", placeholder: "403, 5xx", list: "codes", width: "w-s" },
  { key: "q", label: "request URI", placeholder: "contains", width: "w-l" },
];

const DEBOUNCE_MS = 250;
/** An edit is over once its field is left (blur) or after this pause: the next change pushes again. */
const EDIT_GAP_MS = 2000;

export function FilterBar({ state, setState, summary }: { state: State; setState: SetState; summary: Summary | null }) {
  const [draft, setDraft] = useState<Record<string, string>>({});
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pending = useRef<Record<string, string>>({});
  const lastCommit = useRef({ at: 0, keys: "" });

  // The URL changed from outside (back button, a link, reset): show it.
  const urlKey = FIELDS.map((f) => state[f.key] ?? "").join("\u0000");
  useEffect(() => {
    if (Object.keys(pending.current).length === 0) setDraft({});
  }, [urlKey]);

  const commit = (): void => {
    timer.current = null;
    const patch: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(pending.current)) patch[k] = v.trim() === "" ? undefined : v.trim();
    pending.current = {};
    // Keystrokes continuing the same field's edit replace the entry its first change pushed.
    const now = Date.now();
    const keys = Object.keys(patch).sort().join(",");
    const replace = keys === lastCommit.current.keys && now - lastCommit.current.at < EDIT_GAP_MS;
    lastCommit.current = { at: now, keys };
    setState({ ...patch, ev: undefined }, { replace });
    setDraft({});
  };

  const onInput = (key: string, value: string): void => {
    setDraft((d) => ({ ...d, [key]: value }));
    pending.current[key] = value;
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = setTimeout(commit, DEBOUNCE_MS);
  };

  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  const anySet = FIELDS.some((f) => state[f.key]);
  return (
    <form
      class="audit-filters"
      data-testid="audit-filters"
      onSubmit={(e) => {
        e.preventDefault();
        if (timer.current !== null) {
          clearTimeout(timer.current);
          commit();
        }
      }}
    >
      {FIELDS.map((f) => {
        const value = draft[f.key] ?? state[f.key] ?? "";
        const listId = f.list ? `audit-list-${f.list}` : undefined;
        return (
          <label key={f.key} class={`audit-filter ${f.width}`}>
            <span>{f.label}</span>
            <input
              type="search"
              name={f.key}
              data-testid={`filter-${f.key}`}
              value={value}
              placeholder={f.placeholder}
              list={listId}
              autocomplete="off"
              spellcheck={false}
              onInput={(e) => onInput(f.key, (e.currentTarget as HTMLInputElement).value)}
              onBlur={() => {
                lastCommit.current = { at: 0, keys: "" };
              }}
            />
          </label>
        );
      })}
      {anySet && (
        <button
          type="button"
          data-testid="filters-clear"
          onClick={() => {
            pending.current = {};
            if (timer.current !== null) clearTimeout(timer.current);
            setState(Object.fromEntries(FIELDS.map((f) => [f.key, undefined])));
          }}
        >
          clear filters
        </button>
      )}
      {summary && (
        <>
          <datalist id="audit-list-verbs">{summary.verbs.map((v) => <option key={v} value={v} />)}</datalist>
          <datalist id="audit-list-resources">{summary.resources.map((v) => <option key={v} value={v} />)}</datalist>
          <datalist id="audit-list-namespaces">{summary.namespaces.map((v) => <option key={v} value={v} />)}</datalist>
          <datalist id="audit-list-codes">
            {["2xx", "3xx", "4xx", "5xx", ...summary.codes.map(String)].map((v) => (
              <option key={v} value={v} />
            ))}
          </datalist>
        </>
      )}
    </form>
  );
}

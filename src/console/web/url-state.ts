// The URL's query string is the whole state of the page (view, filters, time range, selection),
// so a link pasted into an incident channel opens the same view, and the back button works.
import { useEffect, useState } from "preact/hooks";
import type { SetState, UrlState } from "./types.js";

export function readUrlState(search: string = location.search): UrlState {
  const out: UrlState = {};
  for (const [k, v] of new URLSearchParams(search)) if (v !== "") out[k] = v;
  return out;
}

/** The query string for a state: keys sorted so the same view always has the same link. */
export function toSearch(state: UrlState): string {
  const u = new URLSearchParams();
  for (const k of Object.keys(state).sort()) {
    const v = state[k];
    if (v !== undefined && v !== "") u.set(k, v);
  }
  const s = u.toString();
  return s === "" ? "" : `?${s}`;
}

const listeners = new Set<() => void>();

/** Changes the URL: pushState (a back-button step) unless replace (typing, dragging). */
export const setUrlState: SetState = (patch, opts = {}) => {
  const next = { ...readUrlState() };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === "") delete next[k];
    else next[k] = v;
  }
  const search = toSearch(next);
  if (search === location.search) return;
  const url = `${location.pathname}${search}`;
  if (opts.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const l of listeners) l();
};

export function useUrlState(): [UrlState, SetState] {
  const [state, set] = useState<UrlState>(() => readUrlState());
  useEffect(() => {
    const update = (): void => set(readUrlState());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return [state, setUrlState];
}

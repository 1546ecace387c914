// Loads one JSON route and reloads it every `everyMs` (the auditor, control-plane and traffic views
// show live sources). A new key (other parameters) aborts the request in flight.
import { useEffect, useState } from "preact/hooks";
import { getJson, isAbort, type Params } from "../api.js";
import { errorText } from "./ops-format.js";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** When the data shown was fetched. */
  at: Date | null;
}

export function usePolled<T>(path: string, params: Params, everyMs: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null, loading: true, at: null });
  const key = `${path}?${JSON.stringify(params)}`;
  useEffect(() => {
    let ac = new AbortController();
    let stopped = false;
    setState((s) => ({ ...s, loading: true }));
    const load = (): void => {
      ac = new AbortController();
      getJson<T>(path, params, ac.signal)
        .then((data) => {
          if (!stopped) setState({ data, error: null, loading: false, at: new Date() });
        })
        .catch((err: unknown) => {
          if (!stopped && !isAbort(err)) setState((s) => ({ ...s, error: errorText(err), loading: false }));
        });
    };
    load();
    const timer = setInterval(load, everyMs);
    return () => {
      stopped = true;
      clearInterval(timer);
      ac.abort();
    };
  }, [key, everyMs]);
  return state;
}

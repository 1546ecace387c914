// The audit filters as they live in the URL state, and the helpers the views share.
import type { State } from "./types.js";

export const FILTER_KEYS = ["from", "to", "user", "useragent", "verb", "resource", "namespace", "name", "code", "q"] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** The filter params of the state (only those set), ready for getJson. */
export function filterParams(state: State): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = state[k];
    if (v !== undefined && v !== "") out[k] = v;
  }
  return out;
}

/** A stable string naming the filter set (cache keys, effect dependencies). */
export function filterKey(state: State): string {
  return new URLSearchParams(filterParams(state)).toString();
}

/** The link (query string) for the state with a patch applied: "" or undefined removes a key. */
export function hrefFor(state: State, patch: Record<string, string | undefined>): string {
  const merged: Record<string, string> = { ...state };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === "") delete merged[k];
    else merged[k] = v;
  }
  const qs = new URLSearchParams(merged).toString();
  return qs ? `?${qs}` : location.pathname;
}

/** The `sel` key of an object: resource/namespace/name, namespace "-" when cluster-scoped. */
export function objectKey(resource: string, namespace: string | null | undefined, name: string): string {
  return `${resource}/${namespace ? namespace : "-"}/${name}`;
}

export function parseObjectKey(key: string): { resource: string; namespace: string | null; name: string } | null {
  const a = key.indexOf("/");
  const b = a < 0 ? -1 : key.indexOf("/", a + 1);
  if (a <= 0 || b < 0 || b === key.length - 1) return null;
  const ns = key.slice(a + 1, b);
  return { resource: key.slice(0, a), namespace: ns === "-" || ns === "" ? null : ns, name: key.slice(b + 1) };
}

/** The resource as `audit history` takes it: `deployments.apps` (the API may already include the group). */
export function qualifiedResource(resource: string, apiGroup: string | null | undefined): string {
  if (!apiGroup || resource.endsWith(`.${apiGroup}`)) return resource;
  return `${resource}.${apiGroup}`;
}

/** "2026-12-07T11:38:04.959Z" → "2026-12-07 11:38:04.959" (UTC, as the store keeps it). */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/Z$/, "");
}

export function errorText(err: unknown): string {
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return String(err);
}

/** Any value as one line of text (diffs, table cells). */
export function valueText(v: unknown): string {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

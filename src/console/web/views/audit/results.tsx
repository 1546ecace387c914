// The results table: virtual scrolling over the whole filtered set. Fixed row height, a spacer
// sized to `total` rows (scaled down past what a browser can lay out), only the visible rows in the
// DOM, fetched by page (`events?offset&limit`), pages cached per filter set, superseded fetches aborted.
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { errorText, shortTime } from "./filters.js";
import type { EventRow, EventsPage } from "./types.js";

export const ROW_H = 24;
const PAGE = 200;
const OVERSCAN = 10;
/** Browsers cap an element's height (Chromium ~33M px): past this the scroll position maps proportionally. */
const MAX_SPACER = 8_000_000;
const MAX_CACHED_PAGES = 60;

const COLUMNS: { key: keyof EventRow | "object"; label: string; cls: string }[] = [
  { key: "ts", label: "time (UTC)", cls: "c-ts" },
  { key: "verb", label: "verb", cls: "c-verb" },
  { key: "code", label: "code", cls: "c-code" },
  { key: "user", label: "user", cls: "c-user" },
  { key: "object", label: "resource / namespace / name", cls: "c-obj" },
  { key: "latency_ms", label: "ms", cls: "c-lat" },
  { key: "user_agent", label: "user agent", cls: "c-ua" },
  { key: "request_uri", label: "request URI", cls: "c-uri" },
];

function cell(row: EventRow, key: (typeof COLUMNS)[number]["key"]): string {
  switch (key) {
    case "ts":
      return shortTime(row.ts);
    case "object": {
      const res = row.resource ? row.resource + (row.subresource ? `/${row.subresource}` : "") : "";
      return [res, row.namespace ?? "", row.name ?? ""].filter((s) => s !== "").join(" / ");
    }
    case "latency_ms":
      return row.latency_ms === null ? "" : String(Math.round(row.latency_ms * 10) / 10);
    default: {
      const v = row[key];
      return v === null || v === undefined ? "" : String(v);
    }
  }
}

function codeClass(code: number | null): string {
  if (code === null) return "";
  if (code === 403) return "denied";
  return code >= 400 ? "bad" : "";
}

interface PageCache {
  key: string;
  pages: Map<number, EventRow[]>;
  inflight: Map<number, AbortController>;
}

export function ResultsTable({ params, selected, onSelect }: { params: Record<string, string>; selected: string | undefined; onSelect: (row: EventRow) => void }) {
  const key = new URLSearchParams(params).toString();
  const scroller = useRef<HTMLDivElement>(null);
  const cache = useRef<PageCache>({ key: "", pages: new Map(), inflight: new Map() });
  // Total, error and scroll position belong to one filter set: a new set starts with none, at the top.
  const [totalOf, setTotalOf] = useState<{ key: string; total: number } | null>(null);
  const [errorOf, setErrorOf] = useState<{ key: string; error: string } | null>(null);
  const [scrollOf, setScrollOf] = useState({ key: "", top: 0 });
  const total = totalOf?.key === key ? totalOf.total : null;
  const error = errorOf?.key === key ? errorOf.error : null;
  const scrollTop = scrollOf.key === key ? scrollOf.top : 0;
  const [viewH, setViewH] = useState(480);
  const [, setVersion] = useState(0);

  // The previous filter set's rows, shown dimmed until the new set's first page arrives (no blank flash).
  const stale = useRef<{ pages: Map<number, EventRow[]>; total: number } | null>(null);
  const lastTotal = useRef<number | null>(null);
  // A new filter set: drop the cache, abort what is in flight, go back to the top.
  if (cache.current.key !== key) {
    for (const ac of cache.current.inflight.values()) ac.abort();
    if (cache.current.pages.size > 0 && lastTotal.current !== null) stale.current = { pages: cache.current.pages, total: lastTotal.current };
    cache.current = { key, pages: new Map(), inflight: new Map() };
  }
  useLayoutEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [key]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    setViewH(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const showStale = total === null && stale.current !== null;
  const n = total ?? (showStale ? stale.current!.total : 0);
  const fullH = n * ROW_H;
  const scaled = fullH > MAX_SPACER;
  const spacerH = Math.min(fullH, MAX_SPACER);
  const visibleRows = Math.ceil(viewH / ROW_H) + 1;
  // Map the scroll position to a (fractional) first row: identity until the spacer is capped, then
  // proportional, so that the end of the spacer shows the last row at the bottom of the view.
  const maxScroll = Math.max(1, spacerH - viewH);
  const clampedTop = Math.min(scrollTop, maxScroll);
  const firstFloat = scaled ? (clampedTop / maxScroll) * Math.max(0, n - viewH / ROW_H) : scrollTop / ROW_H;
  const first = Math.max(0, Math.floor(firstFloat));
  const start = Math.max(0, first - OVERSCAN);
  // Scaled, rows never reach below the spacer's end (they would make it scroll further).
  const end = total === null && !showStale ? PAGE : Math.min(n, scaled ? Math.ceil(firstFloat + viewH / ROW_H) : first + visibleRows + OVERSCAN);
  const firstPage = Math.floor(start / PAGE);
  const lastPage = Math.max(firstPage, Math.floor(Math.max(start, end - 1) / PAGE));

  useEffect(() => {
    const c = cache.current;
    const wanted = new Set<number>();
    for (let p = firstPage; p <= lastPage; p++) wanted.add(p);
    // Abort fetches of pages scrolled past.
    for (const [p, ac] of c.inflight) {
      if (!wanted.has(p)) {
        ac.abort();
        c.inflight.delete(p);
      }
    }
    for (const p of wanted) {
      if (c.pages.has(p) || c.inflight.has(p)) continue;
      const ac = new AbortController();
      c.inflight.set(p, ac);
      getJson<EventsPage>("audit/events", { ...params, offset: p * PAGE, limit: PAGE }, ac.signal)
        .then((res) => {
          if (cache.current !== c) return;
          c.inflight.delete(p);
          c.pages.set(p, res.rows);
          if (c.pages.size > MAX_CACHED_PAGES) {
            for (const old of c.pages.keys()) {
              if (c.pages.size <= MAX_CACHED_PAGES) break;
              if (!wanted.has(old)) c.pages.delete(old);
            }
          }
          stale.current = null;
          lastTotal.current = res.total;
          setTotalOf({ key: c.key, total: res.total });
          setErrorOf(null);
          setVersion((v) => v + 1);
        })
        .catch((err: unknown) => {
          if (cache.current === c) c.inflight.delete(p);
          if (!isAbort(err) && cache.current === c) {
            stale.current = null;
            setErrorOf({ key: c.key, error: errorText(err) });
          }
        });
    }
  }, [key, firstPage, lastPage]);

  useEffect(() => () => {
    for (const ac of cache.current.inflight.values()) ac.abort();
  }, []);

  const rows: JSX.Element[] = [];
  const pages = showStale ? stale.current!.pages : cache.current.pages;
  const rowsTop = scaled ? clampedTop - (firstFloat - start) * ROW_H : start * ROW_H;
  for (let i = start; i < end && i < (total === null && !showStale ? PAGE : n); i++) {
    const page = pages.get(Math.floor(i / PAGE));
    const row = page?.[i % PAGE];
    const top = rowsTop + (i - start) * ROW_H;
    if (!row) {
      if (total === null) break;
      rows.push(
        <div key={`p${i}`} class="audit-row pending" role="row" style={{ top: `${top}px` }}>
          <span class="hint">…</span>
        </div>,
      );
      continue;
    }
    const id = `${row.audit_id}:${row.stage}`;
    rows.push(
      <div
        key={id}
        role="row"
        tabIndex={0}
        class={`audit-row${selected === id ? " selected" : ""}${showStale ? " stale" : ""}`}
        style={{ top: `${top}px` }}
        data-testid="event-row"
        data-row={i}
        data-audit-id={row.audit_id}
        onClick={() => onSelect(row)}
        onKeyDown={(e) => {
          if (e.key === "Enter") onSelect(row);
        }}
      >
        {COLUMNS.map((col) => (
          <span key={col.key} role="cell" class={`${col.cls} ${col.key === "code" ? codeClass(row.code) : ""}`} title={cell(row, col.key)}>
            {cell(row, col.key)}
          </span>
        ))}
      </div>,
    );
  }

  return (
    <section class="audit-results" data-testid="audit-results">
      <div class="audit-results-head">
        <strong data-testid="results-total" data-total={total ?? ""}>
          {total === null ? "loading…" : `${total.toLocaleString("en-US")} events`}
        </strong>
        {error !== null && <span class="error"> {error}</span>}
        {total === 0 && (
          <span class="hint" data-testid="results-empty">
            {" "}
            No request matches these filters.
          </span>
        )}
      </div>
      <div class="audit-row header" role="row">
        {COLUMNS.map((col) => (
          <span key={col.key} role="columnheader" class={col.cls}>
            {col.label}
          </span>
        ))}
      </div>
      <div
        class="audit-scroller"
        ref={scroller}
        role="table"
        aria-rowcount={n}
        data-testid="results-scroller"
        onScroll={(e) => setScrollOf({ key, top: (e.currentTarget as HTMLDivElement).scrollTop })}
      >
        <div class="audit-spacer" style={{ height: `${Math.max(spacerH, 1)}px` }} />
        {rows}
      </div>
    </section>
  );
}

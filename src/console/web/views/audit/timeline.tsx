// The timeline tab (KHI-like): one lane per object grouped by kind and namespace, revisions as bars,
// deletes/errors/denials/detections as marks, drawn on a canvas that only draws the visible lanes
// (one requestAnimationFrame per scroll burst). Click a revision → `rev` + its diff; click a mark →
// `ev` + the raw event. A visually hidden list of the visible revisions and marks as buttons does the
// same for keyboards and tests.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { DiffPanel } from "./diff-panel.js";
import { EventPanel } from "./event-panel.js";
import { errorText, filterParams, parseObjectKey, shortTime } from "./filters.js";
import { AXIS_H, LABEL_W, LANE_H, MARK_STYLE, buildRows, draw, hitTest, tOf, type Row } from "./timeline-draw.js";
import type { Lane, MarkType, SetState, State, TimelineResult } from "./types.js";

const LANE_LIMITS = [300, 1000, 2000];
const VIEW_H = 560;

function useTimeline(state: State, lanes: number): { data: TimelineResult | null; error: string | null; loading: boolean } {
  const params = filterParams(state);
  const key = new URLSearchParams(params).toString();
  const [data, setData] = useState<TimelineResult | null>(null);
  const [extra, setExtra] = useState<Lane | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    getJson<TimelineResult>("audit/timeline", { ...params, lanes }, ac.signal)
      .then((d) => {
        setData(d);
        setError(null);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (isAbort(err)) return;
        setError(errorText(err));
        setLoading(false);
      });
    return () => ac.abort();
  }, [key, lanes]);
  // The selected object may be past the lane limit or outside the filters: fetch its lane alone (same time range).
  const sel = state.sel;
  const missing = !!data && !!sel && !data.lanes.some((l) => l.key === sel);
  useEffect(() => {
    setExtra(null);
    const obj = sel ? parseObjectKey(sel) : null;
    if (!missing || !data || !obj) return;
    const ac = new AbortController();
    getJson<TimelineResult>("audit/timeline", { from: data.from, to: data.to, resource: obj.resource, namespace: obj.namespace ?? "-", name: obj.name, lanes: 1 }, ac.signal)
      .then((one) => setExtra(one.lanes.find((l) => l.key === sel) ?? null))
      .catch(() => setExtra(null));
    return () => ac.abort();
  }, [data, sel, missing]);
  const merged = useMemo(() => {
    if (!data || !extra || data.lanes.some((l) => l.key === extra.key)) return data;
    const cmp = (a: Lane, b: Lane): number =>
      a.resource.localeCompare(b.resource) || (a.namespace ?? "").localeCompare(b.namespace ?? "") || a.name.localeCompare(b.name);
    return { ...data, lanes: [...data.lanes, extra].sort(cmp) };
  }, [data, extra]);
  return { data: merged, error, loading };
}

function Legend() {
  return (
    <ul class="tl-legend" data-testid="timeline-legend">
      <li>
        <span class="tl-key tl-key-rev" /> revision (until the next one)
      </li>
      {(Object.keys(MARK_STYLE) as MarkType[]).map((t) => (
        <li key={t}>
          <span class={`tl-key tl-key-${t}`} /> {MARK_STYLE[t].label}
        </li>
      ))}
    </ul>
  );
}

export function TimelineTab({ state, setState }: { state: State; setState: SetState }) {
  const [laneLimit, setLaneLimit] = useState(LANE_LIMITS[0]!);
  const { data, error, loading } = useTimeline(state, laneLimit);
  const scroller = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const frame = useRef(0);
  const [width, setWidth] = useState(900);
  const [range, setRange] = useState({ first: 0, last: -1 });
  const shownRange = useRef({ first: 0, last: -1 });
  const rangeTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const [hover, setHover] = useState<{ text: string; kind: string }>({ text: "", kind: "" });

  // An empty store (or filter) has no range: from/to are null.
  const fromMs = data?.from ? Date.parse(data.from) : 0;
  const toMs = data?.to ? Date.parse(data.to) : 1;
  const rows: Row[] = useMemo(() => (data ? buildRows(data.lanes, toMs) : []), [data]);
  const contentH = AXIS_H + rows.length * LANE_H;
  const viewH = Math.min(VIEW_H, Math.max(contentH, 120));

  // What a frame needs, read at draw time (the rAF callback outlives renders).
  const live = useRef({ rows, fromMs, toMs, sel: state.sel, rev: state.rev, ev: state.ev, width, viewH });
  live.current = { rows, fromMs, toMs, sel: state.sel, rev: state.rev, ev: state.ev, width, viewH };

  const paint = (): void => {
    frame.current = 0;
    const c = canvas.current;
    const s = scroller.current;
    if (!c || !s) return;
    const L = live.current;
    const dpr = window.devicePixelRatio || 1;
    const w = L.width;
    const h = L.viewH;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const res = draw({ ctx, width: w, height: h, rows: L.rows, scrollTop: s.scrollTop, fromMs: L.fromMs, toMs: L.toMs, selKey: L.sel, rev: L.rev, evId: L.ev });
    c.dataset.lanes = String(res.lanes);
    c.dataset.events = String(res.events);
    c.dataset.frames = String(Number(c.dataset.frames ?? "0") + 1);
    // The accessible list of visible lanes follows once scrolling settles (not on every frame).
    if (res.first !== shownRange.current.first || res.last !== shownRange.current.last) {
      shownRange.current = { first: res.first, last: res.last };
      if (rangeTimer.current !== null) clearTimeout(rangeTimer.current);
      rangeTimer.current = setTimeout(() => {
        rangeTimer.current = null;
        setRange(shownRange.current);
      }, 120);
    }
  };
  const schedule = (): void => {
    if (frame.current === 0) frame.current = requestAnimationFrame(paint);
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(500, el.clientWidth)));
    ro.observe(el);
    setWidth(Math.max(500, el.clientWidth));
    return () => ro.disconnect();
  }, [data !== null]);

  useEffect(() => {
    schedule();
  }, [rows, width, viewH, state.sel, state.rev, state.ev]);

  useEffect(
    () => () => {
      cancelAnimationFrame(frame.current);
      if (rangeTimer.current !== null) clearTimeout(rangeTimer.current);
    },
    [],
  );

  // `sel` scrolls its lane into view (once per selection and data set).
  const scrolledFor = useRef("");
  useEffect(() => {
    const s = scroller.current;
    if (!s || !state.sel || rows.length === 0) return;
    const mark = `${state.sel}|${data?.from}|${rows.length}`;
    if (scrolledFor.current === mark) return;
    const i = rows.findIndex((r) => r.kind === "lane" && r.lane.key === state.sel);
    if (i < 0) return;
    scrolledFor.current = mark;
    const top = i * LANE_H;
    if (top < s.scrollTop || top + LANE_H > s.scrollTop + viewH - AXIS_H) {
      s.scrollTop = Math.max(0, top - (viewH - AXIS_H) / 3);
      schedule();
    }
  }, [rows, state.sel]);

  // Dragging across the lanes selects a time range (`from`/`to`), as on the search histogram.
  const drag = useRef<{ x0: number; moved: boolean } | null>(null);
  const suppressClick = useRef(false);
  const [band, setBand] = useState<{ left: number; width: number; top: number } | null>(null);
  const canvasX = (e: MouseEvent): number => e.clientX - (canvas.current?.getBoundingClientRect().left ?? 0);
  const onDown = (e: MouseEvent): void => {
    const x = canvasX(e);
    if (e.button !== 0 || x < LABEL_W) return;
    drag.current = { x0: x, moved: false };
  };
  const onUp = (e: MouseEvent): void => {
    const d = drag.current;
    drag.current = null;
    setBand(null);
    if (!d || !d.moved) return;
    const x1 = canvasX(e);
    const a = tOf(Math.min(d.x0, x1), fromMs, toMs, width);
    const b = tOf(Math.max(d.x0, x1), fromMs, toMs, width);
    suppressClick.current = true;
    if (b - a >= 1) setState({ from: new Date(Math.floor(a)).toISOString(), to: new Date(Math.ceil(b)).toISOString() });
  };

  const onClick = (e: MouseEvent): void => {
    const c = canvas.current;
    const s = scroller.current;
    if (suppressClick.current) {
      suppressClick.current = false;
      return;
    }
    if (!c || !s) return;
    const box = c.getBoundingClientRect();
    const hit = hitTest(rows, e.clientX - box.left, e.clientY - box.top, s.scrollTop, width, fromMs, toMs);
    if (!hit) return;
    if (hit.kind === "revision") selectRevision(hit.lane, hit.index);
    else if (hit.kind === "mark") selectMark(hit.lane, hit.index);
    else setState({ sel: hit.lane.key, rev: undefined, ev: undefined });
  };
  const onMove = (e: MouseEvent): void => {
    const c = canvas.current;
    const s = scroller.current;
    if (!c || !s) return;
    const d = drag.current;
    if (d) {
      const x = Math.max(LABEL_W, canvasX(e));
      if (Math.abs(x - d.x0) > 4) d.moved = true;
      if (d.moved) setBand({ left: Math.min(d.x0, x), width: Math.abs(x - d.x0), top: s.scrollTop });
      return;
    }
    const box = c.getBoundingClientRect();
    const hit = hitTest(rows, e.clientX - box.left, e.clientY - box.top, s.scrollTop, width, fromMs, toMs);
    let text = "";
    if (hit?.kind === "revision") {
      const r = hit.lane.revisions[hit.index]!;
      text = `${hit.lane.key} · ${shortTime(r.ts)} · ${r.verb} by ${r.user ?? "?"} (${r.code ?? "?"})`;
    } else if (hit?.kind === "mark") {
      const m = hit.lane.marks[hit.index]!;
      text = `${hit.lane.key} · ${shortTime(m.ts)} · ${m.type}: ${m.label}`;
    } else if (hit?.kind === "lane") text = hit.lane.key;
    if (text !== hover.text) setHover({ text, kind: hit?.kind ?? "" });
  };
  const selectRevision = (lane: Lane, index: number): void => {
    setState({ sel: lane.key, rev: lane.revisions[index]!.audit_id, ev: undefined });
  };
  const selectMark = (lane: Lane, index: number): void => {
    const m = lane.marks[index]!;
    setState({ sel: lane.key, ev: `${m.audit_id}:${m.stage}`, rev: undefined });
  };

  // The time range of one object's events, with a margin, as the filter's from/to.
  const zoomTo = (lane: Lane): void => {
    const ts = [...lane.revisions.map((r) => Date.parse(r.ts)), ...lane.marks.map((m) => Date.parse(m.ts))];
    if (ts.length === 0) return;
    const lo = Math.min(...ts);
    const hi = Math.max(...ts);
    const pad = Math.max(1000, (hi - lo) * 0.05);
    setState({ from: new Date(lo - pad).toISOString(), to: new Date(hi + pad).toISOString() });
  };

  const visibleLanes: Lane[] = [];
  for (let i = range.first; i <= range.last && i < rows.length; i++) {
    const r = rows[i]!;
    if (r.kind === "lane") visibleLanes.push(r.lane);
  }
  const selLane = state.sel ? data?.lanes.find((l) => l.key === state.sel) : undefined;
  const laneCount = data?.lanes.length ?? 0;
  const eventCount = data ? data.lanes.reduce((s, l) => s + l.revisions.length + l.marks.length, 0) : 0;

  return (
    <div class="audit-timeline" data-testid="audit-timeline">
      <div class="tl-head">
        <span class="hint" data-testid="timeline-summary">
          {data
            ? `${laneCount} objects${data.truncated ? ` of ${data.totalObjects} (the busiest)` : ""} · ${eventCount} revisions and marks · ${shortTime(data.from)} → ${shortTime(data.to)} UTC`
            : loading
              ? "loading timeline…"
              : ""}
        </span>
        {data?.truncated && laneCount < data.totalObjects && (
          <label>
            lanes{" "}
            <select value={String(laneLimit)} onChange={(e) => setLaneLimit(Number((e.currentTarget as HTMLSelectElement).value))}>
              {LANE_LIMITS.map((n) => (
                <option key={n} value={String(n)}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        )}
        {selLane && (
          <button type="button" data-testid="timeline-zoom-object" onClick={() => zoomTo(selLane)}>
            zoom to {selLane.name}
          </button>
        )}
        {(state.from || state.to) && (
          <button type="button" data-testid="timeline-reset" onClick={() => setState({ from: undefined, to: undefined })}>
            reset time range
          </button>
        )}
        <Legend />
      </div>
      {error !== null && <p class="error">{error}</p>}
      {data && data.lanes.length === 0 && <p class="hint" data-testid="timeline-empty">No object was written, deleted or refused with these filters.</p>}
      <div class={`audit-split${state.rev || state.ev ? " with-panel" : ""}`}>
        <div class="tl-main">
          <div class="tl-scroller" ref={scroller} data-testid="timeline-scroller" onScroll={schedule} style={{ height: `${viewH}px` }}>
            <canvas
              ref={canvas}
              class="tl-canvas"
              style={{ width: `${width}px`, height: `${viewH}px` }}
              data-testid="timeline-canvas"
              aria-label="timeline of objects: revisions and marks; use the list of buttons below for keyboard access"
              onClick={onClick}
              onMouseMove={onMove}
              onMouseDown={onDown}
              onMouseUp={onUp}
              onMouseLeave={() => {
                drag.current = null;
                setBand(null);
              }}
            />
            {band && <div class="tl-band" style={{ left: `${band.left}px`, width: `${band.width}px`, top: `${band.top}px`, height: `${viewH}px` }} />}
            <div class="tl-spacer" style={{ height: `${Math.max(0, contentH - viewH)}px` }} />
          </div>
          <p class="tl-hover hint" data-testid="timeline-hover" data-hit={hover.kind}>
            {hover.text || (selLane ? `selected: ${selLane.key}` : "click a bar (revision) for its diff, a mark for its raw event, a name to select the object; drag across the lanes to zoom in time")}
          </p>
          <nav class="visually-hidden tl-a11y" aria-label="visible revisions and marks" data-testid="timeline-a11y">
            {visibleLanes.map((lane) => (
              <ul key={lane.key} aria-label={lane.key} data-testid={`lane-${lane.key}`}>
                {lane.revisions.map((r, i) => (
                  <li key={r.audit_id}>
                    <button type="button" data-testid={`rev-${r.audit_id}`} data-lane={lane.key} onClick={() => selectRevision(lane, i)}>
                      revision {shortTime(r.ts)} {r.verb} by {r.user ?? "?"}
                    </button>
                  </li>
                ))}
                {lane.marks.map((m, i) => (
                  <li key={`${m.audit_id}:${m.type}`}>
                    <button type="button" data-testid={`mark-${m.audit_id}`} data-type={m.type} data-lane={lane.key} onClick={() => selectMark(lane, i)}>
                      {m.type} {shortTime(m.ts)} {m.label}
                    </button>
                  </li>
                ))}
              </ul>
            ))}
          </nav>
        </div>
        {state.rev && state.sel && <DiffPanel sel={state.sel} rev={state.rev} lane={selLane} setState={setState} />}
        {state.ev && !state.rev && <EventPanel ev={state.ev} state={state} setState={setState} />}
      </div>
    </div>
  );
}
